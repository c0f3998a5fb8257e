from __future__ import annotations

import contextlib
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.community_log import (
    MAX_OP_SIZE,
    AddStatus,
    CommunityLog,
    Role,
    SignedOp,
    decode_op,
    make_genesis,
    make_op,
)
from p2pcommunity.sync.log.ops import decode_canonical
from tests.sync.logtools import (
    ALICE,
    BOB,
    CAROL,
    NONCE,
    OWNER,
    act,
    genesis,
    new_log,
    pk,
    record_of,
    sign_bytes,
    sign_record,
    snapshot,
)

# --- the op record ----------------------------------------------------------


def test_genesis_round_trip() -> None:
    g = genesis()
    op = decode_op(g.data, g.signature, None)
    assert op.hash == g.hash == sha256(g.data)
    assert op.community_id == op.hash and op.is_genesis
    assert (op.author, op.type, op.ms, op.parents) == (pk(OWNER), "genesis", 1, ())
    assert op.body == {"name": "Birders", "description": "about birds", "nonce": NONCE}
    assert "c" not in record_of(g)
    state = CommunityLog.from_genesis(g).state()
    assert (state.community_id, state.owner, state.name) == (g.hash, pk(OWNER), "Birders")
    assert state.role_of(pk(OWNER)) is Role.OWNER and state.is_member(pk(OWNER))
    assert make_genesis(OWNER, "Birders", "", 1).hash != make_genesis(OWNER, "Birders", "", 1).hash


def test_from_genesis_needs_a_genesis() -> None:
    log = new_log()
    op = make_op(OWNER, log.community_id, log.heads(), "member_add", {"member": pk(ALICE)}, 5)
    assert op.hash == sha256(op.data)
    with pytest.raises(Rejected, match="malformed_op"):
        CommunityLog.from_genesis(op)


def test_op_round_trip() -> None:
    log = new_log()
    parents = log.heads()
    signed = make_op(OWNER, log.community_id, parents, "member_add", {"member": pk(ALICE)}, 5)
    op = decode_op(signed.data, signed.signature, log.community_id)
    assert (op.version, op.community_id, op.author) == (1, log.community_id, pk(OWNER))
    assert (op.parents, op.type, op.body, op.ms) == (
        tuple(parents),
        "member_add",
        {"member": pk(ALICE)},
        5,
    )
    assert signed.data == canonical_cbor(record_of(signed))


def test_non_canonical_encoding_rejected() -> None:
    log = new_log()
    signed = make_op(OWNER, log.community_id, log.heads(), "member_add", {"member": pk(ALICE)}, 5)
    record = record_of(signed)
    # Same value, keys in another order; signed correctly, so only canonicity can refuse it.
    shuffled = cbor2.dumps(dict(reversed(list(record.items()))))
    assert shuffled != signed.data and cbor2.loads(shuffled) == record
    with pytest.raises(Rejected) as err:
        log.add(sign_bytes(OWNER, shuffled, log.community_id))
    assert err.value.reason == "malformed_op"
    # An integer written with a longer head than needed.
    long_ms = signed.data.replace(b"\x62ms\x05", b"\x62ms\x1b" + (5).to_bytes(8, "big"))
    assert long_ms != signed.data
    with pytest.raises(Rejected, match="malformed_op"):
        log.add(sign_bytes(OWNER, long_ms, log.community_id))
    assert len(log) == 1


def test_signature_by_another_key_rejected() -> None:
    log = new_log()
    signed = make_op(OWNER, log.community_id, log.heads(), "member_add", {"member": pk(ALICE)}, 5)
    forged = sign_bytes(ALICE, signed.data, log.community_id)  # claims OWNER as author
    with pytest.raises(Rejected) as err:
        log.add(forged)
    assert err.value.reason == "bad_signature"
    with pytest.raises(Rejected, match="bad_signature"):
        log.add(SignedOp(signed.data, b"\x00" * 64))
    # Trusted reloads skip exactly this check.
    assert log.add(forged, trusted=True).status is AddStatus.ADDED


def test_op_of_another_community_rejected() -> None:
    log = new_log()
    other = CommunityLog.from_genesis(make_genesis(OWNER, "Other", "", 1, nonce=b"\x08" * 16))
    signed = make_op(
        OWNER, other.community_id, other.heads(), "member_add", {"member": pk(ALICE)}, 5
    )
    with pytest.raises(Rejected, match="wrong_community"):
        log.add(signed)
    with pytest.raises(Rejected, match="wrong_community"):
        log.add(make_genesis(OWNER, "Other", "", 1, nonce=b"\x08" * 16))
    # Signed for another community id but naming ours: the signature does not hold.
    record = record_of(signed) | {"c": log.community_id, "p": log.heads()}
    data = canonical_cbor(record)
    with pytest.raises(Rejected, match="bad_signature"):
        log.add(SignedOp(data, sign(OWNER, OP_TAG, other.community_id, sha256(data))))


def test_oversize_op_rejected() -> None:
    log = new_log()
    record = record_of(
        make_op(OWNER, log.community_id, log.heads(), "community_set", {"name": "x"}, 1)
    )
    record["v"] = 2
    record["b"] = {"blob": b"x" * MAX_OP_SIZE}
    with pytest.raises(Rejected, match="oversize_op"):
        log.add(sign_record(OWNER, record, log.community_id))


def _base_record(log: CommunityLog) -> dict[str, Any]:
    return {
        "v": 1,
        "c": log.community_id,
        "a": pk(OWNER),
        "p": log.heads(),
        "t": "member_add",
        "b": {"member": pk(ALICE)},
        "ms": 3,
    }


MALFORMED_EDITS: list[tuple[str, Any]] = [
    ("extra top-level key", lambda r: r | {"x": 1}),
    ("missing type", lambda r: {k: v for k, v in r.items() if k != "t"}),
    ("missing ms", lambda r: {k: v for k, v in r.items() if k != "ms"}),
    ("missing community", lambda r: {k: v for k, v in r.items() if k != "c"}),
    ("version zero", lambda r: r | {"v": 0}),
    ("version bool", lambda r: r | {"v": True}),
    ("author too short", lambda r: r | {"a": pk(OWNER)[:31]}),
    ("parents not a list", lambda r: r | {"p": r["p"][0]}),
    ("parents unsorted", lambda r: r | {"p": [b"\xff" * 32, b"\x00" * 32]}),
    ("parents duplicated", lambda r: r | {"p": [r["p"][0], r["p"][0]]}),
    ("non-genesis without parents", lambda r: r | {"p": []}),
    ("genesis type with parents", lambda r: r | {"t": "genesis"}),
    ("body not a map", lambda r: r | {"b": [1]}),
    ("negative ms", lambda r: r | {"ms": -1}),
    ("type not text", lambda r: r | {"t": b"member_add"}),
]


@pytest.mark.parametrize(("name", "edit"), MALFORMED_EDITS, ids=[n for n, _ in MALFORMED_EDITS])
def test_malformed_envelopes_rejected(name: str, edit: Any) -> None:
    log = new_log()
    assert log.add(sign_record(OWNER, _base_record(log), log.community_id)).added
    log = new_log()
    with pytest.raises(Rejected) as err:
        log.add(sign_record(OWNER, edit(_base_record(log)), log.community_id))
    assert err.value.reason == "malformed_op"


def test_genesis_shape_enforced() -> None:
    record = record_of(genesis())
    for bad in (record | {"c": b"\x00" * 32}, record | {"t": "member_add"}, record | {"v": 2}):
        with pytest.raises(Rejected) as err:
            signed = sign_record(OWNER, bad, None)
            decode_op(signed.data, signed.signature, None)
        assert err.value.reason in {"malformed_op", "unsupported_version"}


@pytest.mark.parametrize(
    "encoded",
    [
        b"\xd8\x23\x63a+b",  # tag 35: cbor2 would compile a regex
        b"\xc1\x1a\x00\x00\x00\x01",  # tag 1: a datetime
        b"\xd8\x1c\x80",  # tag 28: a shared object
        b"\xd9\x27\x0f\x01",  # a tag cbor2 does not know
        b"\xc2\x49\x01" + b"\x00" * 8,  # tag 2: a bignum
        b"\xf7",  # undefined
        b"\xf0",  # a simple value
        b"\xa1\xf4\x01",  # a map keyed by a bool
        b"\x18\x01",  # 1, not in its shortest form
        b"\xf9\x3c\x00",  # a float
        b"\x9f\x01\xff",  # indefinite length
        b"\x01\x02",  # trailing bytes
        b"\x62\xc3\x28",  # invalid UTF-8
        b"\xa2\x61a\x01\x61a\x02",  # duplicate key
        b"\x9b" + b"\xff" * 8,  # an absurd length
        b"\x81" * 100 + b"\x01",  # too deep
    ],
)
def test_strict_cbor_reader(encoded: bytes) -> None:
    with pytest.raises(Rejected, match="malformed_op"):
        decode_canonical(encoded)


INVALID_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("channel_create", {"name": "", "topic": ""}),
    ("channel_create", {"name": " general", "topic": ""}),
    ("channel_create", {"name": "x" * 65, "topic": ""}),
    ("channel_create", {"name": "a\nb", "topic": ""}),
    ("channel_create", {"name": "general", "topic": "t" * 1025}),
    ("channel_create", {"name": "general"}),
    ("channel_create", {"name": "general", "topic": "", "extra": 1}),
    ("channel_rename", {"channel": b"\x00" * 31, "name": "x"}),
    ("community_set", {}),
    ("community_set", {"description": 5}),
    ("member_add", {"member": "not bytes"}),
    ("role_set", {"member": b"\x00" * 32, "role": "owner"}),
    ("no_such_type", {}),
]


@pytest.mark.parametrize(("op_type", "body"), INVALID_BODIES)
def test_invalid_bodies_rejected(op_type: str, body: dict[str, Any]) -> None:
    log = new_log()
    record = _base_record(log) | {"t": op_type, "b": body}
    with pytest.raises(Rejected) as err:
        log.add(sign_record(OWNER, record, log.community_id))
    assert err.value.reason == "invalid_op"
    assert len(log) == 1


# --- fuzz: only Rejected ever leaves decode_op ------------------------------


def _decode_or_reject(data: bytes, community_id: bytes | None, check_sig: bool) -> None:
    with contextlib.suppress(Rejected):
        decode_op(data, b"\x00" * 64, community_id, check_sig)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes(data: bytes, check_sig: bool) -> None:
    _decode_or_reject(data, None, check_sig)


_VALID_OPS = [
    genesis().data,
    make_op(
        OWNER,
        genesis().hash,
        [genesis().hash],
        "role_set",
        {"member": pk(ALICE), "role": "admin"},
        3,
    ).data,
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_VALID_OPS),
    st.lists(
        st.tuples(st.integers(0, 400), st.integers(0, 255), st.sampled_from("sid")), max_size=4
    ),
    st.booleans(),
)
def test_fuzz_mutated_ops(base: bytes, edits: list[tuple[int, int, str]], check_sig: bool) -> None:
    data = bytearray(base)
    for pos, byte, kind in edits:
        pos %= len(data) + 1
        if kind == "s" and pos < len(data):
            data[pos] = byte
        elif kind == "i":
            data.insert(pos, byte)
        elif pos < len(data):
            del data[pos]
    _decode_or_reject(bytes(data), genesis().hash, check_sig)


_leaf = st.one_of(
    st.integers(-(2**64), 2**64 - 1),
    st.binary(max_size=40),
    st.text(max_size=70),
    st.booleans(),
    st.none(),
    st.sampled_from([b"\x00" * 32, b"\xff" * 32, "admin", "genesis", "member_add"]),
)
_values = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.sampled_from(["v", "c", "a", "p", "t", "b", "ms", "x"])
_body_keys = st.sampled_from(["name", "topic", "description", "nonce", "member", "role", "channel"])


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(_fields, _values, max_size=8),
    st.dictionaries(_body_keys, _values, max_size=4),
    st.sampled_from(["genesis", "channel_create", "role_set", "member_add", "community_set"]),
)
def test_fuzz_structured_records(
    record: dict[str, Any], body: dict[str, Any], op_type: str
) -> None:
    # Mostly-valid shapes reach the field and body checks, not just the CBOR reader.
    base = {
        "v": 1,
        "a": b"\x01" * 32,
        "p": [b"\x02" * 32],
        "c": b"\x03" * 32,
        "t": op_type,
        "ms": 1,
    }
    _decode_or_reject(canonical_cbor(base | {"b": body}), None, False)
    _decode_or_reject(canonical_cbor(base | record), None, False)
    log = CommunityLog(b"\x03" * 32)
    with contextlib.suppress(Rejected):
        log.add(SignedOp(canonical_cbor(base | record | {"b": body}), b""), trusted=True)


# --- governance ---------------------------------------------------------------


@pytest.mark.parametrize("actor", [ALICE, CAROL], ids=["plain member", "non-member"])
@pytest.mark.parametrize(
    ("op_type", "body"),
    [
        ("channel_create", {"name": "mine", "topic": ""}),
        ("member_add", {"member": pk(BOB)}),
        ("role_set", {"member": pk(ALICE), "role": "admin"}),
        ("community_set", {"name": "Taken over"}),
    ],
)
def test_non_admin_is_forbidden(actor: SigningKey, op_type: str, body: dict[str, Any]) -> None:
    log = new_log()
    act(log, OWNER, "member_add", {"member": pk(ALICE)})
    before = snapshot(log)
    with pytest.raises(Rejected) as err:
        act(log, actor, op_type, body)
    assert err.value.reason == "forbidden"
    assert snapshot(log) == before


def test_promoted_admin_acts_and_demoted_admin_cannot() -> None:
    log = new_log()
    act(log, OWNER, "member_add", {"member": pk(ALICE)})
    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    general = act(log, ALICE, "channel_create", {"name": "general", "topic": "hi"})
    act(log, ALICE, "member_add", {"member": pk(BOB)})
    state = log.state()
    assert state.channels[general.hash].name == "general"
    assert state.role_of(pk(ALICE)) is Role.ADMIN and state.role_of(pk(BOB)) is Role.MEMBER

    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "moderator"})
    before = snapshot(log)
    with pytest.raises(Rejected, match="forbidden"):
        act(log, ALICE, "channel_rename", {"channel": general.hash, "name": "lobby"})
    assert snapshot(log) == before
    state = log.state()
    assert state.role_of(pk(ALICE)) is Role.MODERATOR
    # What she did while admin stands.
    assert state.channels[general.hash].name == "general" and state.is_member(pk(BOB))

    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    act(log, ALICE, "channel_rename", {"channel": general.hash, "name": "lobby"})
    assert log.state().channels[general.hash].name == "lobby"


def test_owner_cannot_be_demoted() -> None:
    log = new_log()
    act(log, OWNER, "member_add", {"member": pk(ALICE)})
    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    before = snapshot(log)
    for key in (ALICE, OWNER):
        with pytest.raises(Rejected) as err:
            act(log, key, "role_set", {"member": pk(OWNER), "role": "member"})
        assert err.value.reason == "invalid_op"
    assert snapshot(log) == before
    assert log.state().role_of(pk(OWNER)) is Role.OWNER


def test_member_add_of_a_member_is_invalid() -> None:
    log = new_log()
    act(log, OWNER, "member_add", {"member": pk(ALICE)})
    act(log, OWNER, "role_set", {"member": pk(ALICE), "role": "admin"})
    with pytest.raises(Rejected, match="invalid_op"):  # it must not demote her
        act(log, OWNER, "member_add", {"member": pk(ALICE)})
    with pytest.raises(Rejected, match="invalid_op"):
        act(log, OWNER, "role_set", {"member": pk(BOB), "role": "admin"})


def test_channels_rename_archive_and_names_in_causal_past() -> None:
    log = new_log()
    general = act(log, OWNER, "channel_create", {"name": "general", "topic": ""})
    with pytest.raises(Rejected, match="invalid_op"):
        act(log, OWNER, "channel_create", {"name": "general", "topic": "again"})
    act(log, OWNER, "channel_rename", {"channel": general.hash, "name": "lobby"})
    again = act(log, OWNER, "channel_create", {"name": "general", "topic": "freed"})
    act(log, OWNER, "channel_archive", {"channel": general.hash})
    with pytest.raises(Rejected, match="invalid_op"):
        act(log, OWNER, "channel_rename", {"channel": b"\x00" * 32, "name": "x"})
    state = log.state()
    assert state.channel_by_name("lobby") == state.channels[general.hash]
    assert state.channels[general.hash].archived
    assert state.channel_by_name("general") == state.channels[again.hash]
    act(log, OWNER, "community_set", {"description": "new"})
    assert (log.state().name, log.state().description) == ("Birders", "new")
