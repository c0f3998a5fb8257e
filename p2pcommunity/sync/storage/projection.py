"""Project a segment's new journal entries into the SQLite read models.

Runs inside the transaction that stores the changes, so the read models and
the changes they came from are saved together or not at all. Only journal
entries past the stored position are read: O(new changes). The journal and
the values it points to come from another member and may hold anything.

Received changes are projected `strict`: a journal entry whose value breaks
a rule of content.py (a 200,000-character post, a name of bidi overrides,
7,000 mentions, more than MAX_REACTIONS_PER_POST reactions on one post in
the segment) raises `Rejected("invalid_content")` inside the transaction,
which rolls back, and the caller drops the in-memory segment: nothing is
stored and every peer decides the same. What this covers and what not:

- Covered: every value a journal entry of the batch points to, as it is
  after the batch. That is every value an honest writer changes, since each
  domain write journals what it touched (memberdoc.SegmentDoc._commit).
- Not covered: values a malicious writer changes without journaling them
  (the binding does not expose a change's ops, and `Document.diff` patches
  expose only their Debug text). Those are stored and forwarded (bounded by
  MAX_CHANGE_SIZE and SEGMENT_MAX_CHANGES) but never projected as they are:
  every read goes through the same content rules, so a bad value reads as
  absent, on this peer now and when a removal rebuilds the rows (non-strict
  projection skips instead of raising). A later journal entry for it gets
  it refused then.
- Journal entries of kinds this release does not know are ignored.

A segment of a newer document schema (`SegmentDoc.interpretable` False) is
neither checked nor projected; its journal position stays where it was, so
a release that understands it projects it from there.

A change this device just wrote is projected from what it wrote
(`project_own_change`), not read back from Automerge: on the hot path of
posting, reading back cost more binding calls than the write itself. The
rows are the same as `project_new_entries` writes on a peer receiving the
change (the convergence tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence

import cbor2

from p2pcommunity.sync.docs import content
from p2pcommunity.sync.docs.content import MAX_EMOJI_CHARS as MAX_EMOJI_CHARS
from p2pcommunity.sync.docs.memberdoc import (
    DELETED,
    EDITS,
    J_ADDRS,
    J_DELETE,
    J_EDIT,
    J_POST,
    J_PROFILE,
    J_REACT,
    J_REPORT,
    POSTS,
    REPORTS,
    CommittedChange,
    DocRef,
    PostRecord,
    SegmentDoc,
    parse_edit,
    parse_post,
    post_id_for,
    post_is_valid,
)
from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.storage import knowledge_projection
from p2pcommunity.sync.storage.store import PostRow, Store

INVALID_CONTENT = "invalid_content"
_NO_MENTIONS = cbor2.dumps([])


def _post_row(ref: DocRef, post: PostRecord, now_ms: int, index: int) -> PostRow:
    return PostRow(
        id=post_id_for(ref.owner, post.local_id),
        community_id=ref.community_id,
        channel_id=post.channel_id,
        author=ref.owner,
        local_id=post.local_id,
        segment=ref.segment,
        text=post.text,
        reply_to=post.reply_to,
        mentions=cbor2.dumps(list(post.mentions)) if post.mentions else _NO_MENTIONS,
        author_ms=post.author_ms,
        edited=False,
        deleted=False,
        first_seen_ms=now_ms,
        journal_index=index,
    )


def _index_attachments(store: Store, ref: DocRef, posts: Sequence[PostRecord]) -> None:
    """Issue 15: the files a post attaches, for `read` and the blob exchange."""
    for post in posts:
        if post.attachments:
            post_id = post_id_for(ref.owner, post.local_id)
            store.blobs.add_refs(ref.community_id, post_id, post.attachments)


def project_new_entries(
    store: Store, segment: SegmentDoc, position: int, now_ms: int, strict: bool = False
) -> int:
    """Apply journal entries from `position` on; returns the new position.

    `strict` (received changes): an entry whose value breaks a content rule
    raises `Rejected`; otherwise such an entry is skipped.
    """
    if not segment.interpretable:
        return position
    entries = segment.journal_since(position)
    if strict:
        check_entries(segment, entries)
    _project(store, segment, position, entries, now_ms)
    new_position = position + len(entries)
    store.set_journal_pos(segment.ref.doc_id, new_position)
    return new_position


def project_own_change(
    store: Store, segment: SegmentDoc, position: int, change: CommittedChange, now_ms: int
) -> None:
    """Apply a change this device just wrote, whose journal entries start at `position`.

    The caller stores the new journal position with the change. A post comes
    from the record written, checked as a received one would be; its id is
    fresh, so no edit or deletion can be waiting for it. Other changes (rare:
    edits, reactions, profile) read their values back like received ones.
    """
    post = change.post
    if post is not None and change.entries == (f"{J_POST}:{post.local_id}",):
        if post_is_valid(post):
            store.read_model.upsert_post(_post_row(segment.ref, post, now_ms, position), fresh=True)
            _index_attachments(store, segment.ref, [post])
    else:
        _project(store, segment, position, change.entries, now_ms)


def _refuse(entry: str, problem: str) -> Rejected:
    return Rejected(INVALID_CONTENT, f"{entry[:80]!r}: {problem}")


def _entry_problem(segment: SegmentDoc, kind: str, key: str, entry: str) -> str | None:
    """What is wrong with one journal entry and the value it points to (posts aside)."""
    if kind == J_EDIT:
        edit = parse_edit(key, segment.scalar(EDITS, key))
        return content.key_problem(key) or (edit if isinstance(edit, str) else None)
    if kind == J_DELETE:
        return content.key_problem(key) or content.ms_problem(segment.scalar(DELETED, key))
    if kind == J_REACT:
        post_id, _, emoji = key.partition("/")
        if segment.read_reaction(key) is None:
            return "a reaction must be true or false"
        return content.key_problem(post_id) or content.emoji_problem(emoji)
    if kind == J_REPORT:
        return content.key_problem(key) or content.report_problem(segment.scalar(REPORTS, key))
    if entry == J_PROFILE:
        return segment.profile_problem()
    if entry == J_ADDRS:
        return segment.addrs_problem()
    if kind in knowledge_projection.KINDS:
        return knowledge_projection.entry_problem(segment, kind, key)
    return None


def check_entries(segment: SegmentDoc, entries: Sequence[str]) -> None:
    """Raise `Rejected` if any entry, or the value it points to, breaks a content rule.

    Posts are checked one by one only when some post of the run is bad (a
    bulk read of the map is cheaper, and `_project` reads them again anyway;
    a cold sync of 1000 posts a batch must not pay twice per post).
    """
    post_keys = [key for kind, _, key in (e.partition(":") for e in entries) if kind == J_POST]
    if post_keys and len(segment.read_posts(post_keys)) != len(set(post_keys)):
        for key in post_keys:
            post = parse_post(key, segment.scalar(POSTS, key))
            problem = content.key_problem(key) or (post if isinstance(post, str) else None)
            if problem is not None:
                raise _refuse(f"{J_POST}:{key}", problem)
    reacted: set[str] = set()
    for entry in entries:
        kind, _, key = entry.partition(":")
        if kind == J_POST and content.key_problem(key) is not None:
            raise _refuse(entry, "bad post id")
        problem = _entry_problem(segment, kind, key, entry)
        if problem is not None:
            raise _refuse(entry, problem)
        if kind == J_REACT and segment.read_reaction(key):
            reacted.add(key.partition("/")[0])
    if reacted:
        for post_id, count in segment.reactions_on(reacted).items():
            if count > content.MAX_REACTIONS_PER_POST:
                raise _refuse(
                    f"{J_REACT}:{post_id}",
                    f"more than {content.MAX_REACTIONS_PER_POST} reactions on one post",
                )


def own_change_problem(segment: SegmentDoc, change: CommittedChange) -> str | None:
    """What a receiver would refuse in a change this device just made (None: nothing).

    The writer checks with the receivers' rules, so that it never stores a
    change every peer refuses (its document would be stuck there for good).
    A post is checked from its record, without reading Automerge back.
    """
    post = change.post
    if post is not None and change.entries == (f"{J_POST}:{post.local_id}",):
        return content.key_problem(post.local_id) or content.post_problem(
            post.channel_id, post.text, post.reply_to, list(post.mentions), post.author_ms
        )
    try:
        check_entries(segment, change.entries)
    except Rejected as exc:
        return str(exc)
    return None


def _project(
    store: Store, segment: SegmentDoc, position: int, entries: Sequence[str], now_ms: int
) -> None:
    """Apply `entries`, the journal from `position` on.

    Runs of posts (most of any journal) are read from the document and
    inserted together; every other entry is applied in journal order after
    the posts before it, exactly as if each entry were applied alone.
    """
    ref = segment.ref
    records = segment.read_posts(
        [key for kind, _, key in (e.partition(":") for e in entries) if kind == J_POST]
    )
    posts: list[PostRow] = []
    for index, entry in enumerate(entries, start=position):
        kind, _, key = entry.partition(":")
        if kind == J_POST:
            post = records.get(key)
            if post is not None:
                posts.append(_post_row(ref, post, now_ms, index))
                _index_attachments(store, ref, [post])
            continue
        if posts:
            store.read_model.insert_posts(posts)
            posts = []
        _project_other(store, segment, entry)
    if posts:
        store.read_model.insert_posts(posts)


def _project_other(store: Store, segment: SegmentDoc, entry: str) -> None:
    """Apply one journal entry that is not a post."""
    ref = segment.ref
    kind, _, key = entry.partition(":")
    if kind == J_EDIT:
        edit = segment.read_edit(key)
        if edit is not None:
            store.read_model.edit_post(key, ref.owner, edit.text, ref.segment)
    elif kind == J_DELETE:
        if segment.read_deleted(key):
            store.read_model.delete_post(key, ref.owner, ref.segment)
    elif kind == J_REACT:
        post_id, _, emoji = key.partition("/")
        on = segment.read_reaction(key)
        if on is not None and post_id and content.emoji_problem(emoji) is None:
            store.read_model.set_reaction(post_id, ref.owner, emoji, on, ref.segment)
    elif kind == J_REPORT:
        body = segment.read_report(key)
        if body is not None:
            store.add_report(ref.community_id, ref.owner, key, body)
    elif entry == J_PROFILE:
        store.read_model.set_profile(
            ref.community_id, ref.owner, segment.read_profile(), ref.segment
        )
    elif entry == J_ADDRS:
        addrs = "\n".join(segment.read_addrs())
        store.read_model.set_addrs(ref.community_id, ref.owner, addrs, ref.segment)
    elif kind in knowledge_projection.KINDS:
        knowledge_projection.project_entry(store, segment, kind, key)
