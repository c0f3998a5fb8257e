"""Services over real SQLite files, and the moves a sync session makes between them.

The service-level tests run several nodes in one process with no network:
`sync_log` and `sync_docs` hand one node's signed ops and changes to another
the way a session would (`receive_ops`, `receive_changes`), so each test can
decide who learns what, and when.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from automerge.core import Document
from nacl.signing import SigningKey

from p2pcommunity.sync.community import Community
from p2pcommunity.sync.crypto import CHANGE_TAG, sign
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef, PostRecord, SegmentDoc
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

# One clock for every test: a second a tick, so each call is later than the last.
_clock = itertools.count(1_700_000_000_000, 1000)


def clock() -> int:
    return next(_clock)


class MovableClock:
    """A clock of its own: a millisecond later at each call, and a test may move `ms`."""

    def __init__(self, ms: int = 1_700_000_000_000) -> None:
        self.ms = ms

    def __call__(self) -> int:
        self.ms += 1
        return self.ms


def new_service(
    tmp_path: Path,
    name: str,
    key: SigningKey | None = None,
    now: Callable[[], int] = clock,
) -> Service:
    """A node's service over its own SQLite file `tmp_path/<name>.sqlite3`."""
    return Service(Store(tmp_path / f"{name}.sqlite3"), key or SigningKey.generate(), now)


def named_service(tmp_path: Path, name: str) -> Service:
    """A service whose member goes by `name`."""
    made = new_service(tmp_path, name)
    made.set_display_name(name)
    return made


def peer_of(who: Service) -> str:
    return peer_id_from_public_key(who.me)


def sync_log(source: Service, target: Service, cid: str) -> Community:
    """Every op of `source`'s log of `cid`, into `target` (which takes the community up)."""
    community = target.node_support.take_up(bytes.fromhex(cid))
    community.receive_ops(source.community(cid).log.ops_in_order())
    return community


def signed_changes(rows: Iterable[tuple[int, bytes, bytes, bytes]]) -> list[SignedChange]:
    """`Store.changes_after` rows as the signed changes a session would send."""
    return [SignedChange(data, signature) for _, _, data, signature in rows]


def sync_docs(
    source: Service, target: Service, cid: str, owner: bytes | None = None, ms: int | None = None
) -> None:
    """The changes `source` holds of `owner`'s documents in `cid` (everyone's if None)
    that `target` lacks, into `target`, received at `ms` (the clock if None)."""
    community = target.community(cid)
    for row in source.store.docs_of(bytes.fromhex(cid), owner):
        held = target.store.doc(row.doc_id)
        rows = source.store.changes_after(row.doc_id, held.max_seq if held else 0)
        if rows:
            community.receive_changes(
                DocRef(bytes.fromhex(cid), row.owner, row.segment),
                signed_changes(rows),
                clock() if ms is None else ms,
            )


def sign_change(key: SigningKey, ref: DocRef, change: Any) -> SignedChange:
    """An Automerge `change` (its `raw_bytes` and `hash`) signed by `key` for `ref`."""
    return SignedChange(change.raw_bytes, sign(key, CHANGE_TAG, ref.doc_id, change.hash))


def last_change(doc: Document) -> Any:
    """The change `doc`'s last transaction made."""
    change = doc.get_last_local_change()
    assert change is not None
    return change


def post_chain(key: SigningKey, count: int, ref: DocRef) -> list[SignedChange]:
    """`count` posts written into a new segment `ref` and signed by `key`: a valid chain
    of seqs 1 to `count` when `key` owns `ref`."""
    segment = SegmentDoc.new(ref)
    out = []
    for i in range(count):
        change = segment.write_post(
            PostRecord(os.urandom(8).hex(), bytes(32), f"post {i}", None, (), 1_000 + i)
        )
        out.append(sign_change(key, ref, change))
    return out


def forge(items: list[SignedChange], index: int) -> list[SignedChange]:
    """`items` with the signature of the one at `index` replaced by zeros."""
    return [*items[:index], SignedChange(items[index].data, bytes(64)), *items[index + 1 :]]


def texts(who: Service, cid: str, channel: str = "general") -> list[str]:
    return [p["text"] for p in who.read(cid, channel)["posts"]]


def member_club(
    tmp_path: Path, *names: str, moderator: str | None = None, rule: str | None = None
) -> tuple[list[Service], str]:
    """An admin (the first name) who creates "Club" and adds the others; `moderator`
    gets that role (citing `rule`); then each member holds the log. Returns the
    services, in the order named, and the community id."""
    services = [new_service(tmp_path, name) for name in names]
    admin, members = services[0], services[1:]
    cid = admin.community_create("Club")["community_id"]
    for who in members:
        admin.member_add(cid, peer_of(who))
    if moderator is not None:
        admin.role_set(cid, peer_of(services[names.index(moderator)]), "moderator", rule=rule)
    for who in members:
        sync_log(admin, who, cid)
    return services, cid


def snapshot(path: Path) -> list[Any]:
    """Every row of every table of the SQLite file at `path`, read on a connection of
    its own (WAL allows it while the store is open), to compare before and after."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, sorted(db.execute(f"SELECT * FROM {t}").fetchall())) for t in sorted(tables)]
    finally:
        db.close()
