"""The sync protocol without I/O: frames and one session per (peer, community)."""
