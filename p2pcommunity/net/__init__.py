"""py-libp2p + trio: the node's host, streams, framing and dialling (ARCHITECTURE §2, §6).

- `stream`: `PeerStream`, the only stream type protocol code sees, with a
  libp2p adapter and an in-memory pair for tests;
- `host`: a Noise-only TCP/Yamux libp2p host (`running_host`, `NodeHost`);
- `framing`: length-prefixed frames with a size limit;
- `dial`: retry with backoff.
"""
