"""Shared helpers for the community-log tests."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable
from typing import Any

import cbor2
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.log.community_log import (
    CommunityLog,
    SignedOp,
    decode_op,
    make_genesis,
    make_op,
)

OWNER, ALICE, BOB, CAROL = (SigningKey(bytes([i]) * 32) for i in range(1, 5))
KEYS = (OWNER, ALICE, BOB, CAROL)
NONCE = b"\x07" * 16


def pk(key: SigningKey) -> bytes:
    return bytes(key.verify_key)


def genesis() -> SignedOp:
    return make_genesis(OWNER, "Birders", "about birds", 1, nonce=NONCE)


def new_log() -> CommunityLog:
    return CommunityLog.from_genesis(genesis())


def act(
    log: CommunityLog,
    key: SigningKey,
    op_type: str,
    body: dict[str, Any],
    parents: list[bytes] | None = None,
    ms: int = 10,
) -> SignedOp:
    op = make_op(key, log.community_id, parents or log.heads(), op_type, body, ms)
    log.add(op)
    return op


def offered(view: CommunityLog, op: SignedOp) -> bool:
    """Add `op` to `view` if the rules of that view accept it; whether they did."""
    try:
        view.add(op)
    except Rejected:
        return False
    return True


def replayed(community_id: bytes, feed: Iterable[SignedOp]) -> CommunityLog:
    """A new log of the community `community_id`, fed `feed` in its order (ops whose
    parents have not come yet wait in its buffer)."""
    log = CommunityLog(community_id)
    for op in feed:
        log.add(op)
    return log


def shuffled(ops: Iterable[SignedOp], rnd: random.Random) -> list[SignedOp]:
    out = list(ops)
    rnd.shuffle(out)
    return out


def complete_replays(ops: list[SignedOp], feeds: Iterable[list[SignedOp]]) -> list[CommunityLog]:
    """One log a feed, each feed `ops` in some order (maybe some twice); every log must
    end up holding exactly `ops`, nothing left waiting for a parent."""
    logs = []
    for feed in feeds:
        log = replayed(ops[0].hash, feed)
        assert len(log) == len(ops) and log.buffered() == 0
        logs.append(log)
    return logs


def sign_record(key: SigningKey, record: dict[str, Any], community_id: bytes | None) -> SignedOp:
    data = canonical_cbor(record)
    return sign_bytes(key, data, community_id)


def sign_bytes(key: SigningKey, data: bytes, community_id: bytes | None) -> SignedOp:
    op_hash = sha256(data)
    return SignedOp(data, sign(key, OP_TAG, community_id or op_hash, op_hash))


def record_of(op: SignedOp) -> dict[str, Any]:
    value: dict[str, Any] = cbor2.loads(op.data)
    return value


def snapshot(log: CommunityLog) -> tuple[Any, ...]:
    return (len(log), log.heads(), log.state(), log.ops_in_order())


def reference_order(log: CommunityLog) -> list[bytes]:
    """Kahn's sort from scratch, smallest hash first, to check the incremental one."""
    ops = {op.hash: decode_op(op.data, op.signature, None, False) for op in log.ops_in_order()}
    children: dict[bytes, list[bytes]] = {h: [] for h in ops}
    pending = {h: len(op.parents) for h, op in ops.items()}
    for h, op in ops.items():
        for p in op.parents:
            children[p].append(h)
    ready = [h for h, n in pending.items() if n == 0]
    out: list[bytes] = []
    while ready:
        h = heapq.heappop(ready)
        out.append(h)
        for c in children[h]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(ready, c)
    return out
