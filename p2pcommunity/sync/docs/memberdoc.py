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
transactions get slower as a document grows (a received change beyond it is
refused, `Community.receive_changes`); a segment's id is derived from
(community, member, segment number), so nobody can plant a document under
someone else's name.

Everything read here came from a member and may be anything: records are
CBOR read with the strict reader (`cbor.decode_or_none`) and checked with
the rules of `content.py`, the same ones the writer's service applied. The
`parse_*` functions say what is wrong (a received change is refused with
it); the `read_*` methods return None instead (projection skips the value).

A segment whose root `schema` is newer than `SCHEMA_VERSION` is stored and
forwarded but not interpreted: `interpretable` is False and the read models
neither check nor project it (readmodel.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType

from p2pcommunity.sync.blobs.manifest import Ref, parse_refs
from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.crypto import SEGMENT_DOMAIN as SEGMENT_DOMAIN
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.crypto import segment_doc_id as segment_doc_id
from p2pcommunity.sync.docs import content
from p2pcommunity.sync.docs.content import MAX_POST_CHARS as MAX_POST_CHARS

SCHEMA_VERSION = 1
SEGMENT_MAX_CHANGES = 2000
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
# Issue 14, made with their first entry (like reports), so that older segments
# and older releases see nothing new: a topic's title and tags (by the post's
# local id, written in the post's own change), votes (by post id) and the answer
# the author accepts on their own question (by its local id: no one can accept
# on someone else's question, by construction).
TOPICS, VOTES, ACCEPTS = ("topics", "votes", "accepts")
_LAZY_MAPS = (REPORTS, TOPICS, VOTES, ACCEPTS)


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
    # Issue 15: files attached (blobs/manifest.py); written as the optional key "at".
    attachments: tuple[Ref, ...] = ()


@dataclass(frozen=True)
class EditRecord:
    post_id: str
    text: str
    ms: int  # the author's own claim, shown as 'edited'; the document's last write wins, not this


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
J_TOPIC, J_VOTE, J_ACCEPT = ("t", "v", "a")


class SegmentDoc:
    """One segment of a member document, held in memory while it is used."""

    def __init__(self, ref: DocRef, doc: Document) -> None:
        self.ref = ref
        self.doc = doc
        self._objs: dict[str, bytes] = {}
        self.schema: int | None = None
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
        for key in (*_MAPS, JOURNAL, *_LAZY_MAPS):
            got = self.doc.get(ROOT, key)
            if got is not None and isinstance(got[0], ObjType):
                self._objs[key] = got[1]
        journal = self._objs.get(JOURNAL)
        self._journal_len = 0 if journal is None else self.doc.length(journal)
        got = self.doc.get(ROOT, "schema")
        value = None if got is None or isinstance(got[0], ObjType) else got[0][1]
        self.schema = value if type(value) is int else None

    @property
    def interpretable(self) -> bool:
        """Whether this release understands the segment (no schema yet: nothing to read)."""
        return self.schema is None or self.schema <= SCHEMA_VERSION

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
                self.schema = SCHEMA_VERSION
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
        body = _post_body(post)

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

    def _lazy_map(self, tx: Any, key: str) -> bytes:
        obj = self._objs.get(key)
        if obj is None:
            obj = self._objs[key] = tx.put_object(ROOT, key, ObjType.Map)
        return obj

    def write_topic(self, post: PostRecord, meta: bytes) -> CommittedChange:
        """A topic: its post and its title and tags (`meta`, CBOR) in one change."""
        body = _post_body(post)

        def write(tx: Any) -> None:
            tx.put(self._objs[POSTS], post.local_id, ScalarType.Bytes, body)
            tx.put(self._lazy_map(tx, TOPICS), post.local_id, ScalarType.Bytes, meta)

        return self._commit([f"{J_POST}:{post.local_id}", f"{J_TOPIC}:{post.local_id}"], write)

    def write_vote(self, post_id: str, value: int) -> CommittedChange:
        def write(tx: Any) -> None:
            tx.put(self._lazy_map(tx, VOTES), post_id, ScalarType.Int, value)

        return self._commit([f"{J_VOTE}:{post_id}"], write)

    def write_accept(self, topic_local_id: str, answer: str) -> CommittedChange:
        def write(tx: Any) -> None:
            tx.put(self._lazy_map(tx, ACCEPTS), topic_local_id, ScalarType.Str, answer)

        return self._commit([f"{J_ACCEPT}:{topic_local_id}"], write)

    def read_report(self, report_id: str) -> bytes | None:
        value = self._scalar(REPORTS, report_id)
        return value if content.report_problem(value) is None else None

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
        # An item that is not a string reads as "" (an entry nobody interprets),
        # so that the i-th entry returned is the journal's (position + i)-th.
        return [
            value[0][1]
            if value is not None
            and not isinstance(value[0], ObjType)
            and isinstance(value[0][1], str)
            else ""
            for value in got
        ]

    def scalar(self, map_key: str, key: str) -> Any:
        """The raw value under `key` of the root map `map_key`; None if absent or an object."""
        return self._scalar(map_key, key)

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
        edit = parse_edit(post_id, self._scalar(EDITS, post_id))
        return edit if isinstance(edit, EditRecord) else None

    def read_deleted(self, post_id: str) -> bool:
        return content.ms_problem(self._scalar(DELETED, post_id)) is None

    def read_reaction(self, key: str) -> bool | None:
        value = self._scalar(REACTIONS, key)
        return value if isinstance(value, bool) else None

    def reactions_on(self, post_ids: set[str]) -> dict[str, int]:
        """How many reactions this segment holds switched on, for each of `post_ids`."""
        reactions = self._objs.get(REACTIONS)
        counts = dict.fromkeys(post_ids, 0)
        if reactions is None:
            return counts
        keys, values = self.doc.keys(reactions), self.doc.values(reactions)
        for key, value in zip(keys, values, strict=False):
            post_id = key.partition("/")[0]
            if post_id in counts and not isinstance(value[0], ObjType) and value[0][1] is True:
                counts[post_id] += 1
        return counts

    def profile_problem(self) -> str | None:
        name, bio = self._scalar(PROFILE, "name"), self._scalar(PROFILE, "bio")
        if name is not None and (problem := content.name_problem(name)) is not None:
            return problem
        return None if bio is None else content.bio_problem(bio)

    def read_profile(self) -> dict[str, str]:
        """The valid fields of the profile (a bad one reads as absent)."""
        profile: dict[str, str] = {}
        name, bio = self._scalar(PROFILE, "name"), self._scalar(PROFILE, "bio")
        if content.name_problem(name) is None:
            profile["name"] = name
        if content.bio_problem(bio) is None:
            profile["bio"] = bio
        return profile

    def _addrs_value(self) -> Any:
        got = self.doc.get(ROOT, ADDRS)
        if got is None or isinstance(got[0], ObjType):
            return None
        return decode_or_none(got[0][1])

    def addrs_problem(self) -> str | None:
        return content.addrs_problem(self._addrs_value())

    def read_addrs(self) -> list[str]:
        value = self._addrs_value()
        return value if content.addrs_problem(value) is None else []

    def save(self) -> bytes:
        return self.doc.save()


def _post_body(post: PostRecord) -> bytes:
    value: dict[str, Any] = {
        "ch": post.channel_id,
        "text": post.text,
        "re": post.reply_to,
        "mn": list(post.mentions),
        "ms": post.author_ms,
    }
    if post.attachments:  # issue 15: optional, so a post without files reads as before
        value["at"] = [ref.to_value() for ref in post.attachments]
    return canonical_cbor(value)


def post_is_valid(post: PostRecord) -> bool:
    """What a post must be to enter the read models, on every peer alike."""
    return (
        content.post_problem(
            post.channel_id, post.text, post.reply_to, list(post.mentions), post.author_ms
        )
        is None
    )


def _bulk(wanted: int, total: int) -> bool:
    """Whether reading `wanted` of `total` items is cheaper with one call for all."""
    return wanted * _BULK_READ_RATIO >= total


_POST_FIELDS = frozenset({"ch", "text", "re", "mn", "ms"})
_EDIT_FIELDS = frozenset({"text", "ms"})


def parse_post(local_id: str, raw: Any) -> PostRecord | str:
    """A post as its author wrote it, or what is wrong with the value."""
    value = decode_or_none(raw)
    if not isinstance(value, dict) or set(value) - {"at"} != _POST_FIELDS:
        return "a post must be a strict CBOR map of ch, text, re, mn, ms (and at)"
    channel, text, reply, mentions, ms = (value[k] for k in ("ch", "text", "re", "mn", "ms"))
    problem = content.post_problem(channel, text, reply, mentions, ms)
    if problem is not None:
        return problem
    attachments: tuple[Ref, ...] = ()
    if "at" in value:
        refs = parse_refs(value["at"])
        if isinstance(refs, str):
            return refs
        attachments = refs
    return PostRecord(local_id, channel, text, reply, tuple(mentions), ms, attachments)


def parse_edit(post_id: str, raw: Any) -> EditRecord | str:
    value = decode_or_none(raw)
    if not isinstance(value, dict) or set(value) != _EDIT_FIELDS:
        return "an edit must be a strict CBOR map of text, ms"
    text, ms = value["text"], value["ms"]
    problem = content.text_problem(text) or content.ms_problem(ms)
    return problem if problem is not None else EditRecord(post_id, text, ms)


def _post_record(local_id: str, raw: Any) -> PostRecord | None:
    post = parse_post(local_id, raw)
    return post if isinstance(post, PostRecord) else None


def new_local_id() -> str:
    return os.urandom(8).hex()
