"""Project a segment's new journal entries into the SQLite read models.

Runs inside the transaction that stores the changes, so the read models and
the changes they came from are saved together or not at all. Only journal
entries past the stored position are read: O(new changes). The journal and
the values it points to come from another member and may hold anything;
entries that do not parse are skipped, never trusted.
"""

from __future__ import annotations

import cbor2

from p2pcommunity.sync.memberdoc import (
    J_ADDRS,
    J_DELETE,
    J_EDIT,
    J_POST,
    J_PROFILE,
    J_REACT,
    J_REPORT,
    SegmentDoc,
    post_id_for,
)
from p2pcommunity.sync.store import PostRow, Store

MAX_EMOJI_CHARS = 32
_NO_MENTIONS = cbor2.dumps([])


def project_new_entries(store: Store, segment: SegmentDoc, position: int, now_ms: int) -> int:
    """Apply journal entries from `position` on; returns the new position.

    Runs of posts (most of any journal) are read from the document and
    inserted together; every other entry is applied in journal order after
    the posts before it, exactly as if each entry were applied alone.
    """
    ref = segment.ref
    entries = segment.journal_since(position)
    records = segment.read_posts(
        [key for kind, _, key in (e.partition(":") for e in entries) if kind == J_POST]
    )
    posts: list[PostRow] = []
    for index, entry in enumerate(entries, start=position):
        kind, _, key = entry.partition(":")
        if kind == J_POST:
            post = records.get(key)
            if post is not None:
                posts.append(
                    PostRow(
                        id=post_id_for(ref.owner, key),
                        community_id=ref.community_id,
                        channel_id=post.channel_id,
                        author=ref.owner,
                        local_id=key,
                        segment=ref.segment,
                        text=post.text,
                        reply_to=post.reply_to,
                        mentions=cbor2.dumps(list(post.mentions))
                        if post.mentions
                        else _NO_MENTIONS,
                        author_ms=post.author_ms,
                        edited=False,
                        deleted=False,
                        first_seen_ms=now_ms,
                        journal_index=index,
                    )
                )
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
    new_position = position + len(entries)
    store.set_journal_pos(ref.doc_id, new_position)
    return new_position
