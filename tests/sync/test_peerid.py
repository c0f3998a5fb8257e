from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import Ed25519PublicKey, create_new_key_pair
from libp2p.peer.id import ID

from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.peerid import peer_id_from_public_key, public_key_from_peer_id


def _libp2p_peer_id(public_key: bytes) -> str:
    return ID.from_pubkey(Ed25519PublicKey.from_bytes(public_key)).to_base58()


def test_agrees_with_libp2p_for_random_keys() -> None:
    for _ in range(50):
        pk = create_new_key_pair().public_key.to_bytes()
        peer_id = peer_id_from_public_key(pk)
        assert peer_id == _libp2p_peer_id(pk)
        assert peer_id.startswith("12D3KooW")
        assert public_key_from_peer_id(peer_id) == pk


@given(st.binary(min_size=32, max_size=32))
def test_round_trip_any_32_bytes(pk: bytes) -> None:
    assert public_key_from_peer_id(peer_id_from_public_key(pk)) == pk


def test_wrong_key_size_is_invalid() -> None:
    with pytest.raises(Invalid):
        peer_id_from_public_key(b"\x01" * 31)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12D3KooW",
        "0OIl",  # characters outside the base58 alphabet
        "héllo",
        "x" * 10_000,
        # an RSA-style sha256 multihash peer id ("Qm...")
        "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N",
    ],
)
def test_garbage_is_invalid(text: str) -> None:
    with pytest.raises(Invalid):
        public_key_from_peer_id(text)


def test_non_canonical_spellings_are_invalid() -> None:
    peer_id = peer_id_from_public_key(os.urandom(32))
    for variant in (peer_id + " ", peer_id + "\n", "1" + peer_id, peer_id[:-1]):
        with pytest.raises(Invalid):
            public_key_from_peer_id(variant)


@given(st.text(max_size=80))
def test_random_text_round_trips_or_is_invalid(text: str) -> None:
    try:
        pk = public_key_from_peer_id(text)
    except Invalid:
        return
    assert peer_id_from_public_key(pk) == text


@given(st.text(alphabet="123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", max_size=60))
def test_random_base58_round_trips_or_is_invalid(text: str) -> None:
    try:
        pk = public_key_from_peer_id("12D3KooW" + text)
    except Invalid:
        return
    assert peer_id_from_public_key(pk) == "12D3KooW" + text
