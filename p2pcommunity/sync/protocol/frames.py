"""The frames of the sync protocol: canonical CBOR maps, parsed strictly.

Each frame is a CBOR map with a type field "t". `decode_frame` is the only
way from untrusted bytes to a frame, and the only exception that leaves it
is `RemoteProtocolError`: the CBOR must be the canonical encoding (the strict
reader of `sync/cbor.py`, which bounds counts, nesting and lengths before
cbor2 builds anything), the map must hold exactly the fields of its type,
and every field must have its type and size. `encode_frame` never produces a frame that `decode_frame`
would refuse, nor one over `MAX_FRAME_SIZE` when its caller respects the
batch limits below (the session does).

| t          | fields                                                     |
|------------|------------------------------------------------------------|
| "hello"    | v: version, c: community id, heads: [hash], invite?: bytes |
| "heads"    | heads: [hash]                                              |
| "ops"      | ops: [[op bytes, signature]]                               |
| "summary"  | docs: [[owner, segment, max seq, head hash]], last: bool   |
| "changes"  | owner, segment, changes: [[change bytes, signature]]       |
| "refused"  | reason: text                                               |
| "page_summary" | pages: [[page id, [[actor, seq]]]], last: bool (v3)    |
| "page_changes" | page: page id, changes: [[change bytes, signature]] (v3) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2pcommunity.sync.cbor import MAX_I64, decode_canonical
from p2pcommunity.sync.crypto import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, canonical_cbor
from p2pcommunity.sync.docs.apply import MAX_BATCH_CHANGES, SignedChange
from p2pcommunity.sync.docs.chunks import MAX_CHANGE_SIZE
from p2pcommunity.sync.errors import Rejected, RemoteProtocolError
from p2pcommunity.sync.log.community_log import MAX_OP_SIZE, SignedOp
from p2pcommunity.sync.log.ops import HASH_SIZE

# 2: admission by a member's `admit` op (0.2); a 0.1 peer is refused politely.
# 3: wiki pages (page_summary, page_changes frames). A responder still serves a
# version 2 initiator, without page frames; see session.py.
PROTOCOL_VERSION = 3
PAGES_VERSION = 3
ACCEPTED_VERSIONS = frozenset({2, 3})
MAX_SUMMARY_PAGES = 1024
MAX_PAGE_ACTORS = 1024
# The one definition: net/framing refuses a longer length prefix before buffering.
MAX_FRAME_SIZE = 1024 * 1024
# What the session puts into one ops or changes frame, at most (one item always fits).
BATCH_BYTES = 512 * 1024
MAX_OPS_PER_FRAME = 1000
MAX_HEADS = 1024
MAX_SUMMARY_DOCS = 4096
MAX_INVITE_SIZE = 16 * 1024
MAX_REFUSAL_CHARS = 64
MAX_SEGMENT = (1 << 32) - 1  # a segment number is 4 bytes in its document id
# CBOR overhead of one [bytes, signature] item, generously: array head, two byte-string heads.
ITEM_OVERHEAD = 16


@dataclass(frozen=True)
class SessionLimits:
    """What one peer may make a session hold; every bound is checked on receipt.

    An honest peer sends one summary per session, with an entry per document
    of the community, and its ops parents first (so `pending` stays empty);
    300 summary frames of 4,096 entries once took a node from 91 to 369 MB
    (issue 11, finding 3).
    """

    max_summary_entries: int = 100_000
    max_pending_ops: int = 1000
    max_pending_op_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class HelloFrame:
    community_id: bytes
    heads: tuple[bytes, ...]
    invite: bytes | None = None
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True)
class HeadsFrame:
    heads: tuple[bytes, ...]


@dataclass(frozen=True)
class OpsFrame:
    """Log ops, parents first, at most MAX_OPS_PER_FRAME (checked before decoding)."""

    ops: tuple[SignedOp, ...]


@dataclass(frozen=True)
class DocSummary:
    owner: bytes
    segment: int
    max_seq: int  # the sender holds every change of the document up to this seq
    head: bytes  # the hash of the change at max_seq


@dataclass(frozen=True)
class SummaryFrame:
    docs: tuple[DocSummary, ...]
    last: bool  # the summary may span several frames; this is its last one


@dataclass(frozen=True)
class ChangesFrame:
    owner: bytes
    segment: int
    changes: tuple[SignedChange, ...]


@dataclass(frozen=True)
class RefusedFrame:
    reason: str


@dataclass(frozen=True)
class PageSummaryFrame:
    """Version vectors of pages: ((page id, ((actor, seq), ...)), ...)."""

    pages: tuple[tuple[bytes, tuple[tuple[bytes, int], ...]], ...]
    last: bool


@dataclass(frozen=True)
class PageChangesFrame:
    page: bytes
    changes: tuple[SignedChange, ...]


Frame = (
    HelloFrame
    | HeadsFrame
    | OpsFrame
    | SummaryFrame
    | ChangesFrame
    | RefusedFrame
    | PageSummaryFrame
    | PageChangesFrame
)


# --- encoding ---------------------------------------------------------------


def encode_frame(frame: Frame) -> bytes:
    record: dict[str, Any]
    match frame:
        case HelloFrame():
            record = {
                "t": "hello",
                "v": frame.version,
                "c": frame.community_id,
                "heads": list(frame.heads),
            }
            if frame.invite is not None:
                record["invite"] = frame.invite
        case HeadsFrame():
            record = {"t": "heads", "heads": list(frame.heads)}
        case OpsFrame():
            record = {"t": "ops", "ops": [[op.data, op.signature] for op in frame.ops]}
        case SummaryFrame():
            record = {
                "t": "summary",
                "docs": [[d.owner, d.segment, d.max_seq, d.head] for d in frame.docs],
                "last": frame.last,
            }
        case ChangesFrame():
            record = {
                "t": "changes",
                "owner": frame.owner,
                "segment": frame.segment,
                "changes": [[c.data, c.signature] for c in frame.changes],
            }
        case RefusedFrame():
            record = {"t": "refused", "reason": frame.reason}
        case PageSummaryFrame():
            record = {
                "t": "page_summary",
                "pages": [[p, [[a, s] for a, s in vv]] for p, vv in frame.pages],
                "last": frame.last,
            }
        case PageChangesFrame():
            record = {
                "t": "page_changes",
                "page": frame.page,
                "changes": [[c.data, c.signature] for c in frame.changes],
            }
    data = canonical_cbor(record)
    if len(data) > MAX_FRAME_SIZE:  # our own bug: the session batches below this
        raise ValueError(f"frame of {len(data)} bytes exceeds {MAX_FRAME_SIZE}")
    return data


# --- decoding ---------------------------------------------------------------


def _bad(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"malformed frame: {message}")


def _int(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"{what} must be an integer in [{low}, {high}]")
    return value


def _bytes(value: Any, what: str, low: int, high: int) -> bytes:
    if not isinstance(value, bytes) or not low <= len(value) <= high:
        raise _bad(f"{what} must be {low}..{high} bytes")
    return value


def _hash(value: Any, what: str) -> bytes:
    return _bytes(value, what, HASH_SIZE, HASH_SIZE)


def _list(value: Any, what: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _bad(f"{what} must be a list of {low}..{high} items")
    return value


def _signed_pairs(value: Any, what: str, high: int, max_data: int) -> list[tuple[bytes, bytes]]:
    out = []
    for item in _list(value, what, 1, high):
        pair = _list(item, f"an item of {what}", 2, 2)
        data = _bytes(pair[0], f"the data of an item of {what}", 1, max_data)
        signature = _bytes(pair[1], "a signature", SIGNATURE_SIZE, SIGNATURE_SIZE)
        out.append((data, signature))
    return out


def _heads(value: Any) -> tuple[bytes, ...]:
    return tuple(_hash(h, "a head") for h in _list(value, "heads", 0, MAX_HEADS))


def _hello(r: dict[str, Any]) -> HelloFrame:
    invite = r.get("invite")
    return HelloFrame(
        community_id=_hash(r["c"], "the community id"),
        heads=_heads(r["heads"]),
        invite=None if invite is None else _bytes(invite, "the invite", 1, MAX_INVITE_SIZE),
        # Any version parses, so that the session can refuse it politely.
        version=_int(r["v"], "the version", 1, MAX_I64),
    )


def _ops(r: dict[str, Any]) -> OpsFrame:
    pairs = _signed_pairs(r["ops"], "ops", MAX_OPS_PER_FRAME, MAX_OP_SIZE)
    return OpsFrame(tuple(SignedOp(d, s) for d, s in pairs))


def _summary(r: dict[str, Any]) -> SummaryFrame:
    docs = []
    for item in _list(r["docs"], "docs", 0, MAX_SUMMARY_DOCS):
        owner, segment, max_seq, head = _list(item, "a doc summary", 4, 4)
        docs.append(
            DocSummary(
                owner=_bytes(owner, "an owner", PUBLIC_KEY_SIZE, PUBLIC_KEY_SIZE),
                segment=_int(segment, "a segment", 0, MAX_SEGMENT),
                max_seq=_int(max_seq, "a max seq", 1, MAX_I64),
                head=_hash(head, "a head hash"),
            )
        )
    return SummaryFrame(tuple(docs), _last(r))


def _last(r: dict[str, Any]) -> bool:
    last = r["last"]
    if not isinstance(last, bool):
        raise _bad("'last' must be a boolean")
    return last


def _signed_changes(r: dict[str, Any]) -> tuple[SignedChange, ...]:
    pairs = _signed_pairs(r["changes"], "changes", MAX_BATCH_CHANGES, MAX_CHANGE_SIZE)
    return tuple(SignedChange(d, s) for d, s in pairs)


def _changes(r: dict[str, Any]) -> ChangesFrame:
    return ChangesFrame(
        owner=_bytes(r["owner"], "the owner", PUBLIC_KEY_SIZE, PUBLIC_KEY_SIZE),
        segment=_int(r["segment"], "the segment", 0, MAX_SEGMENT),
        changes=_signed_changes(r),
    )


def _refused(r: dict[str, Any]) -> RefusedFrame:
    reason = r["reason"]
    if not isinstance(reason, str) or not 1 <= len(reason) <= MAX_REFUSAL_CHARS:
        raise _bad(f"the reason must be 1..{MAX_REFUSAL_CHARS} characters")
    return RefusedFrame(reason)


def _page_summary(r: dict[str, Any]) -> PageSummaryFrame:
    pages = []
    for item in _list(r["pages"], "pages", 0, MAX_SUMMARY_PAGES):
        page, vv = _list(item, "a page summary", 2, 2)
        actors = []
        for pair in _list(vv, "a version vector", 0, MAX_PAGE_ACTORS):
            actor, seq = _list(pair, "an actor's seq", 2, 2)
            actors.append(
                (
                    _bytes(actor, "an actor", PUBLIC_KEY_SIZE, PUBLIC_KEY_SIZE),
                    _int(seq, "a seq", 1, MAX_I64),
                )
            )
        pages.append((_hash(page, "a page id"), tuple(actors)))
    return PageSummaryFrame(tuple(pages), _last(r))


def _page_changes(r: dict[str, Any]) -> PageChangesFrame:
    return PageChangesFrame(
        page=_hash(r["page"], "the page id"),
        changes=_signed_changes(r),
    )


# type -> (required fields, optional fields, parser)
_PARSERS: dict[str, tuple[frozenset[str], frozenset[str], Callable[[dict[str, Any]], Frame]]] = {
    "hello": (frozenset({"t", "v", "c", "heads"}), frozenset({"invite"}), _hello),
    "heads": (frozenset({"t", "heads"}), frozenset(), lambda r: HeadsFrame(_heads(r["heads"]))),
    "ops": (frozenset({"t", "ops"}), frozenset(), _ops),
    "summary": (frozenset({"t", "docs", "last"}), frozenset(), _summary),
    "changes": (frozenset({"t", "owner", "segment", "changes"}), frozenset(), _changes),
    "refused": (frozenset({"t", "reason"}), frozenset(), _refused),
    "page_summary": (frozenset({"t", "pages", "last"}), frozenset(), _page_summary),
    "page_changes": (frozenset({"t", "page", "changes"}), frozenset(), _page_changes),
}


def decode_frame(data: bytes) -> Frame:
    """Parse one frame from a peer; raises only `RemoteProtocolError`."""
    if not isinstance(data, bytes):
        raise _bad("not bytes")
    if len(data) > MAX_FRAME_SIZE:
        raise _bad(f"{len(data)} bytes exceed {MAX_FRAME_SIZE}")
    try:
        record = decode_canonical(data)
    except Rejected as e:
        raise _bad(f"not canonical CBOR ({e})") from e
    if not isinstance(record, dict):
        raise _bad("not a map")
    frame_type = record.get("t")
    if not isinstance(frame_type, str) or frame_type not in _PARSERS:
        raise _bad(f"unknown frame type {frame_type!r}"[:100])
    required, optional, parse = _PARSERS[frame_type]
    keys = set(record)
    if not required <= keys:
        raise _bad(f"{frame_type} lacks {sorted(required - keys)}")
    if not keys <= required | optional:
        raise _bad(f"unknown field in {frame_type}")
    return parse(record)


def hello_community(data: bytes) -> bytes:
    """The community a hello frame asks for: how net/ picks the session for a new stream."""
    frame = decode_frame(data)
    if not isinstance(frame, HelloFrame):
        raise RemoteProtocolError("the first frame of a sync stream must be a hello")
    return frame.community_id
