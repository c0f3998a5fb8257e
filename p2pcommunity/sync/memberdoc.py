"""Member documents: one member's content as a chain of Automerge segments.

Only one member writes a member document, so Automerge's concurrent-merge
semantics inside a post buy nothing; what it gives us is a signed,
hash-chained, standard, replicable change log. The layout is therefore
chosen for write cost (each Automerge op costs ~30 µs in this binding): a
post is one map entry whose value is a small CBOR record, plus one journal
entry. The journal is an append-only list of what each change touched, so a
peer that applies new changes updates its read models in O(new changes)
instead of rescanning the document.

Segment documents roll over every SEGMENT_MAX_CHANGES changes because
transactions get slower as a document grows; a segment's id is derived from
(community, member, segment number), so nobody can plant a document under
someone else's name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cbor2
from automerge.core import ROOT, Document, ObjType, ScalarType

from p2pcommunity.sync.crypto import SEGMENT_DOMAIN as SEGMENT_DOMAIN
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.crypto import segment_doc_id as segment_doc_id

SCHEMA_VERSION = 1
SEGMENT_MAX_CHANGES = 2000
MAX_POST_CHARS = 8000
# Read a list or map with one call for all its items when at least 1/4 of them are wanted.
_BULK_READ_RATIO = 4

# Root keys of a segment document.
POSTS, EDITS, DELETED, REACTIONS, PROFILE, ADDRS, JOURNAL, REPORTS = (
    "posts",
    "edits",
    "deleted",
    "reactions",
    "profile",
    "addrs",
    "journal",
    "reports",
)
_MAPS = (POSTS, EDITS, DELETED, REACTIONS, PROFILE)


def post_id_for(author: bytes, local_id: str) -> str:
    """Global post id: bound to its author, so no one can claim another's id."""
    return hashlib.blake2b(author + local_id.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True)
class DocRef:
    community_id: bytes
    owner: bytes
    segment: int

    @cached_property  # a hash, wanted several times per write: computed once per ref
    def doc_id(self) -> bytes:
        return segment_doc_id(self.community_id, self.owner, self.segment)


@dataclass(frozen=True)
class PostRecord:
    local_id: str
    channel_id: bytes
    text: str
    reply_to: str | None
    mentions: tuple[bytes, ...]
    author_ms: int


@dataclass(frozen=True)
class EditRecord:
    post_id: str
    text: str
    ms: int


@dataclass(frozen=True)
class CommittedChange:
    """A local change just made: what is signed, stored and sent, and what it
    wrote (its journal entries, the post it added), so that the writer can
    update its read models without reading the change back from Automerge."""

    seq: int
    hash: bytes
    raw_bytes: bytes
    entries: tuple[str, ...]
    post: PostRecord | None = None


# Journal entries: "<kind>:<key>"
J_POST, J_EDIT, J_DELETE, J_REACT, J_PROFILE, J_ADDRS, J_REPORT = (
    "p",
    "e",
    "d",
    "r",
    "profile",
    "addrs",
    "report",
)


class SegmentDoc:
    """One segment of a member document, held in memory while it is used."""

    def __init__(self, ref: DocRef, doc: Document) -> None:
        self.ref = ref
        self.doc = doc
        self._objs: dict[str, bytes] = {}
        # Length of the journal, kept here because each binding call costs
        # 10-30 µs: set by refresh() (after a load or remote changes), advanced
        # by our own commits.
        self._journal_len = 0
        self.refresh()

    @classmethod
    def new(cls, ref: DocRef) -> SegmentDoc:
        return cls(ref, Document(actor_id=ref.owner))

    @classmethod
    def load(cls, ref: DocRef, saved: bytes) -> SegmentDoc:
        doc = Document.load(saved)
        doc.set_actor(ref.owner)
        return cls(ref, doc)

    def refresh(self) -> None:
        for key in (*_MAPS, JOURNAL, REPORTS):
            got = self.doc.get(ROOT, key)
            if got is not None and isinstance(got[0], ObjType):
                self._objs[key] = got[1]
        journal = self._objs.get(JOURNAL)
        self._journal_len = 0 if journal is None else self.doc.length(journal)

    @property
    def initialised(self) -> bool:
        return JOURNAL in self._objs

    def heads(self) -> list[bytes]:
        return self.doc.get_heads()

    # -- writes (the owner's device only) -------------------------------------

    def _commit(
        self, touched: list[str], write: Any, post: PostRecord | None = None
    ) -> CommittedChange:
        first = not self.initialised
        with self.doc.transaction() as tx:
            if first:
                tx.put(ROOT, "schema", ScalarType.Uint, SCHEMA_VERSION)
                for key in _MAPS:
                    self._objs[key] = tx.put_object(ROOT, key, ObjType.Map)
                self._objs[JOURNAL] = tx.put_object(ROOT, JOURNAL, ObjType.List)
            write(tx)
            journal = self._objs[JOURNAL]
            start = self._journal_len
            for i, entry in enumerate(touched):
                tx.insert(journal, start + i, ScalarType.Str, entry)
        self._journal_len = start + len(touched)
        change = self.doc.get_last_local_change()
        assert change is not None
        return CommittedChange(change.seq, change.hash, change.raw_bytes, tuple(touched), post)

    def write_post(self, post: PostRecord) -> CommittedChange:
        """A new post; its local id must be fresh (`new_local_id`), never reused."""
        body = canonical_cbor(
            {
                "ch": post.channel_id,
                "text": post.text,
                "re": post.reply_to,
                "mn": list(post.mentions),
                "ms": post.author_ms,
            }
        )

        def write(tx: Any) -> None:
            tx.put(self._objs[POSTS], post.local_id, ScalarType.Bytes, body)

        return self._commit([f"{J_POST}:{post.local_id}"], write, post)

    def write_edit(self, post_id: str, text: str, ms: int) -> CommittedChange:
        body = canonical_cbor({"text": text, "ms": ms})

        def write(tx: Any) -> None:
            tx.put(self._objs[EDITS], post_id, ScalarType.Bytes, body)

        return self._commit([f"{J_EDIT}:{post_id}"], write)

    def write_delete(self, post_id: str, ms: int) -> CommittedChange:
        def write(tx: Any) -> None:
            tx.put(self._objs[DELETED], post_id, ScalarType.Int, ms)

        return self._commit([f"{J_DELETE}:{post_id}"], write)

    def write_reaction(self, post_id: str, emoji: str, on: bool) -> CommittedChange:
        key = f"{post_id}/{emoji}"

        def write(tx: Any) -> None:
            tx.put(self._objs[REACTIONS], key, ScalarType.Boolean, on)

        return self._commit([f"{J_REACT}:{key}"], write)

    def write_profile(self, name: str | None, bio: str | None, ms: int) -> CommittedChange:
        def write(tx: Any) -> None:
            profile = self._objs[PROFILE]
            if name is not None:
                tx.put(profile, "name", ScalarType.Str, name)
            if bio is not None:
                tx.put(profile, "bio", ScalarType.Str, bio)
            tx.put(profile, "ms", ScalarType.Int, ms)

        return self._commit([J_PROFILE], write)

    def write_report(self, report_id: str, body: bytes) -> CommittedChange:
        """A sealed report (see reports.py); the map appears with the first report."""

        def write(tx: Any) -> None:
            reports = self._objs.get(REPORTS)
            if reports is None:
                reports = self._objs[REPORTS] = tx.put_object(ROOT, REPORTS, ObjType.Map)
            tx.put(reports, report_id, ScalarType.Bytes, body)

        return self._commit([f"{J_REPORT}:{report_id}"], write)

    def read_report(self, report_id: str) -> bytes | None:
        value = self._scalar(REPORTS, report_id)
        return value if isinstance(value, bytes) and len(value) <= 64 * 1024 else None

    def write_addrs(self, addrs: list[str]) -> CommittedChange:
        body = canonical_cbor(addrs)

        def write(tx: Any) -> None:
            tx.put(ROOT, ADDRS, ScalarType.Bytes, body)

        return self._commit([J_ADDRS], write)

    # -- reads (any peer; contents come from a member and are validated) -------

    def journal_object(self) -> bytes | None:
        return self._objs.get(JOURNAL)

    def journal_length(self) -> int:
        return self._journal_len

    def journal_since(self, position: int) -> list[str]:
        journal = self._objs.get(JOURNAL)
        if journal is None:
            return []
        length = self.doc.length(journal)
        if position >= length:
            return []
        got: list[Any] = []
        if _bulk(length - position, length):
            got = self.doc.values(journal)[position:]
        if len(got) != length - position:
            got = [self.doc.get(journal, i) for i in range(position, length)]
        return [
            value[0][1]
            for value in got
            if value is not None
            and not isinstance(value[0], ObjType)
            and isinstance(value[0][1], str)
        ]

    def _scalar(self, map_key: str, key: str) -> Any:
        obj = self._objs.get(map_key)
        if obj is None:
            return None
        got = self.doc.get(obj, key)
        if got is None or isinstance(got[0], ObjType):
            return None
        return got[0][1]

    def read_post(self, local_id: str) -> PostRecord | None:
        return _post_record(local_id, self._scalar(POSTS, local_id))

    def read_posts(self, local_ids: Sequence[str]) -> dict[str, PostRecord]:
        """The valid posts among `local_ids`, as `read_post` reads them one by one.

        Many posts at once (a cold sync) are read with one call for the whole
        map: a `get` costs ~5 us in this binding, a value of `values` < 1 us.
        """
        posts = self._objs.get(POSTS)
        if posts is None or not local_ids:
            return {}
        raws: dict[str, Any] = {}
        if _bulk(len(local_ids), self.doc.length(posts)):
            keys, values = self.doc.keys(posts), self.doc.values(posts)
            if len(keys) == len(values):
                wanted = set(local_ids)
                raws = {
                    key: value[0][1]
                    for key, value in zip(keys, values, strict=True)
                    if key in wanted and not isinstance(value[0], ObjType)
                }
        if not raws:
            raws = {key: self._scalar(POSTS, key) for key in local_ids}
        records = {}
        for key, raw in raws.items():
            record = _post_record(key, raw)
            if record is not None:
                records[key] = record
        return records

    def read_edit(self, post_id: str) -> EditRecord | None:
        raw = self._scalar(EDITS, post_id)
        if not isinstance(raw, bytes):
            return None
        try:
            value = cbor2.loads(raw)
            text, ms = value["text"], value["ms"]
        except Exception:
            return None
        if not (isinstance(text, str) and len(text) <= MAX_POST_CHARS and isinstance(ms, int)):
            return None
        return EditRecord(post_id, text, ms)

    def read_deleted(self, post_id: str) -> bool:
        return isinstance(self._scalar(DELETED, post_id), int)

    def read_reaction(self, key: str) -> bool | None:
        value = self._scalar(REACTIONS, key)
        return value if isinstance(value, bool) else None

    def read_profile(self) -> dict[str, str]:
        profile: dict[str, str] = {}
        for key in ("name", "bio"):
            value = self._scalar(PROFILE, key)
            if isinstance(value, str):
                profile[key] = value[:1024]
        return profile

    def read_addrs(self) -> list[str]:
        got = self.doc.get(ROOT, ADDRS)
        if got is None or isinstance(got[0], ObjType) or not isinstance(got[0][1], bytes):
            return []
        try:
            value = cbor2.loads(got[0][1])
        except Exception:
            return []
        if not isinstance(value, list):
            return []
        return [a for a in value if isinstance(a, str) and len(a) < 512][:16]

    def save(self) -> bytes:
        return self.doc.save()


def post_is_valid(post: PostRecord) -> bool:
    """What a post must be to enter the read models, on every peer alike."""
    channel, reply, ms = post.channel_id, post.reply_to, post.author_ms
    return (
        isinstance(channel, bytes)
        and len(channel) == 32
        and isinstance(post.text, str)
        and len(post.text) <= MAX_POST_CHARS
        and (reply is None or (isinstance(reply, str) and len(reply) <= 64))
        and all(isinstance(m, bytes) and len(m) == 32 for m in post.mentions)
        and isinstance(ms, int)
        and 0 <= ms < 2**53
    )


def _bulk(wanted: int, total: int) -> bool:
    """Whether reading `wanted` of `total` items is cheaper with one call for all."""
    return wanted * _BULK_READ_RATIO >= total


def _post_record(local_id: str, raw: Any) -> PostRecord | None:
    """A post as its author wrote it, or None if the value is not a valid post."""
    if not isinstance(raw, bytes):
        return None
    try:
        value = cbor2.loads(raw)
        channel, text, reply, mentions, ms = (
            value["ch"],
            value["text"],
            value["re"],
            value["mn"],
            value["ms"],
        )
    except Exception:  # content from a peer: any shape is possible
        return None
    if not isinstance(mentions, list):
        return None
    post = PostRecord(local_id, channel, text, reply, tuple(mentions), ms)
    return post if post_is_valid(post) else None


def new_local_id() -> str:
    return os.urandom(8).hex()
