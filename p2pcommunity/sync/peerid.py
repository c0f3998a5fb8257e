"""libp2p peer ids of Ed25519 keys, computed without importing libp2p.

sync/ must not import libp2p (ARCHITECTURE §2), yet it has to name members by
the same peer id a Noise handshake authenticates. For an Ed25519 key that id
is just the key in a fixed envelope (an identity multihash of the protobuf
`PublicKey`), so both directions are a prefix and base58btc. Decoding accepts
only the exact canonical form: a peer id is compared as a string elsewhere,
so two spellings of one key must never both pass.
"""

from __future__ import annotations

from functools import lru_cache

import base58

from p2pcommunity.sync.errors import Invalid

PUBLIC_KEY_SIZE = 32
# multihash (identity, 36 bytes) + protobuf PublicKey{Type: Ed25519, Data: 32 bytes}
_PREFIX = bytes([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])
_ENCODED_SIZE = len(_PREFIX) + PUBLIC_KEY_SIZE
# base58 decoding is quadratic: refuse long input before decoding it.
# A canonical Ed25519 peer id is 52 characters.
_MAX_TEXT = 64


def peer_id_from_public_key(public_key: bytes) -> str:
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise Invalid(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(public_key)}")
    return _encode(bytes(public_key))


# Every post shown names its author: without a cache, base58 (pure Python,
# quadratic) is the biggest cost of a timeline page.
@lru_cache(maxsize=4096)
def _encode(public_key: bytes) -> str:
    return base58.b58encode(_PREFIX + public_key).decode("ascii")


def public_key_from_peer_id(peer_id: str) -> bytes:
    if not isinstance(peer_id, str) or len(peer_id) > _MAX_TEXT:
        raise Invalid(f"not a peer id: {peer_id!r:.80}")
    try:
        raw = base58.b58decode(peer_id)
    except ValueError:  # bad alphabet character; UnicodeEncodeError is a ValueError
        raise Invalid(f"not a peer id: {peer_id!r}") from None
    if len(raw) != _ENCODED_SIZE or not raw.startswith(_PREFIX):
        raise Invalid(f"not a peer id: {peer_id!r} (not an Ed25519 identity peer id)")
    public_key = raw[len(_PREFIX) :]
    # b58decode strips trailing whitespace and tolerates nothing else; the
    # re-encoding check makes the accepted spelling unique.
    if peer_id_from_public_key(public_key) != peer_id:
        raise Invalid(f"not a peer id: {peer_id!r} (not in canonical form)")
    return public_key
