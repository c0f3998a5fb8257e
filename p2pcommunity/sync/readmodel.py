"""Project a segment's new journal entries into the SQLite read models.

Runs inside the transaction that stores the changes, so the read models and
the changes they came from are saved together or not at all. Only journal
entries past the stored position are read: O(new changes). The journal and
the values it points to come from another member and may hold anything;
entries that do not parse are skipped, never trusted.

A change this device just wrote is projected from what it wrote
(`project_own_change`), not read back from Automerge: on the hot path of
posting, reading back cost more binding calls than the write itself. The
rows are the same as `project_new_entries` writes on a peer receiving the
change (the convergence tests compare them).
"""

from __future__ import annotations

from collections.abc import Sequence

import cbor2

from p2pcommunity.sync.memberdoc import (
    J_ADDRS,
    J_DELETE,
    J_EDIT,
    J_POST,
    J_PROFILE,
    J_REACT,
    J_REPORT,
    CommittedChange,
    DocRef,
    PostRecord,
    SegmentDoc,
    post_id_for,
    post_is_valid,
)
from p2pcommunity.sync.store import PostRow, Store

MAX_EMOJI_CHARS = 32
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


def project_new_entries(store: Store, segment: SegmentDoc, position: int, now_ms: int) -> int:
    """Apply journal entries from `position` on; returns the new position."""
    entries = segment.journal_since(position)
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
            store.upsert_post(_post_row(segment.ref, post, now_ms, position), fresh=True)
    else:
        _project(store, segment, position, change.entries, now_ms)


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
            continue
        if posts:
            store.insert_posts(posts)
            posts = []
        if kind == J_EDIT:
            edit = segment.read_edit(key)
            if edit is not None:
                store.edit_post(key, ref.owner, edit.text, ref.segment)
        elif kind == J_DELETE:
            if segment.read_deleted(key):
                store.delete_post(key, ref.owner, ref.segment)
        elif kind == J_REACT:
            post_id, _, emoji = key.partition("/")
            on = segment.read_reaction(key)
            if on is not None and post_id and 0 < len(emoji) <= MAX_EMOJI_CHARS:
                store.set_reaction(post_id, ref.owner, emoji, on, ref.segment)
        elif kind == J_REPORT:
            body = segment.read_report(key)
            if body is not None:
                store.add_report(ref.community_id, ref.owner, key, body)
        elif entry == J_PROFILE:
            store.set_profile(ref.community_id, ref.owner, segment.read_profile(), ref.segment)
        elif entry == J_ADDRS:
            addrs = "\n".join(segment.read_addrs())
            store.set_addrs(ref.community_id, ref.owner, addrs, ref.segment)
    if posts:
        store.insert_posts(posts)
