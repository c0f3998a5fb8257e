"""The projection of journals into read models: bulk paths agree with one-by-one reads."""

from __future__ import annotations

import os
from pathlib import Path

from automerge.core import ObjType, ScalarType

from p2pcommunity.sync.docs.apply import apply_to_document
from p2pcommunity.sync.docs.memberdoc import (
    JOURNAL,
    POSTS,
    DocRef,
    PostRecord,
    SegmentDoc,
    post_id_for,
)
from p2pcommunity.sync.storage.projection import project_new_entries
from p2pcommunity.sync.storage.store import Store

COMMUNITY = bytes(32)
CHANNEL = bytes(range(32))


def _segment(posts: int) -> SegmentDoc:
    segment = SegmentDoc.new(DocRef(COMMUNITY, os.urandom(32), 0))
    for i in range(posts):
        segment.write_post(PostRecord(f"{i:016x}", CHANNEL, f"post {i}", None, (), 1_000 + i))
    return segment


def _vandalise(segment: SegmentDoc, *, overwrite: bool = True) -> None:
    """What a hostile writer can put in its own document: values of every wrong shape,
    journal entries that are not strings or name a post twice, and (`overwrite`) a
    post deleted from the map."""
    posts = segment._objs[POSTS]
    journal = segment._objs[JOURNAL]
    with segment.doc.transaction() as tx:
        tx.put(posts, "text-not-bytes", ScalarType.Str, "hello")
        tx.put(posts, "garbage", ScalarType.Bytes, b"\xff\x00")
        tx.put_object(posts, "an-object", ObjType.Map)
        if overwrite:
            tx.delete(posts, f"{3:016x}")
        length = tx.length(journal)
        tx.insert(journal, length, ScalarType.Int, 7)
        tx.insert_object(journal, length + 1, ObjType.List)
        for key in ("text-not-bytes", "garbage", "an-object", f"{3:016x}", "absent", f"{1:016x}"):
            tx.insert(journal, tx.length(journal), ScalarType.Str, f"p:{key}")
    segment.refresh()


def _journal_one_by_one(segment: SegmentDoc, position: int) -> list[str]:
    journal = segment._objs[JOURNAL]
    out = []
    for i in range(position, segment.doc.length(journal)):
        got = segment.doc.get(journal, i)
        # A non-string item reads as "", so that positions stay the journal's.
        if got is not None and not isinstance(got[0], ObjType) and isinstance(got[0][1], str):
            out.append(got[0][1])
        else:
            out.append("")
    return out


def test_bulk_reads_agree_with_one_by_one_reads_even_on_hostile_values() -> None:
    segment = _segment(40)
    _vandalise(segment)
    keys = [*(f"{i:016x}" for i in range(40)), "text-not-bytes", "garbage", "an-object", "absent"]
    one_by_one = {k: r for k in keys if (r := segment.read_post(k)) is not None}
    assert len(one_by_one) == 39  # the deleted post and the vandalised values are not posts
    keys.append(f"{1:016x}")  # named twice
    assert segment.read_posts(keys) == one_by_one  # bulk: every key wanted
    assert segment.read_posts(keys[:3]) == {k: one_by_one[k] for k in keys[:3]}  # one by one
    length = segment.journal_length()
    for position in range(length + 2):
        assert segment.journal_since(position) == _journal_one_by_one(segment, position)


def test_projection_in_bulk_matches_projection_change_by_change(tmp_path: Path) -> None:
    segment = _segment(30)
    owner = segment.ref.owner
    # An edit and a deletion in between the posts. (The projection reads the
    # document as it is when it runs, so a post that its writer overwrote or
    # removed from the map within one batch is not compared here.)
    segment.write_edit(post_id_for(owner, f"{4:016x}"), "edited four", 5_000)
    segment.write_post(PostRecord(f"{30:016x}", CHANNEL, "post 30", None, (CHANNEL,), 9_000))
    segment.write_delete(post_id_for(owner, f"{5:016x}"), 5_001)
    segment.write_post(PostRecord(f"{31:016x}", CHANNEL, "post 31", "x", (), 9_001))
    _vandalise(segment, overwrite=False)
    changes = segment.doc.get_changes([])

    bulk = Store(tmp_path / "bulk.sqlite3")
    single = Store(tmp_path / "single.sqlite3")
    stranger = os.urandom(32)
    for store in (bulk, single):
        store.ensure_doc(segment.ref.doc_id, COMMUNITY, owner, 0)
        # Someone else's edit of one of these ids waits forever; the owner's own apply.
        store.read_model.edit_post(post_id_for(owner, f"{7:016x}"), stranger, "not yours", 0)
        store.read_model.edit_post(post_id_for(owner, f"{8:016x}"), owner, "early edit", 1)
        store.read_model.delete_post(post_id_for(owner, f"{9:016x}"), owner, 1)
    at_once = SegmentDoc.new(segment.ref)
    apply_to_document(at_once, [c.raw_bytes for c in changes], changes[-1].hash)
    with bulk.transaction():
        project_new_entries(bulk, at_once, 0, 42)
    one_by_one = SegmentDoc.new(segment.ref)
    position = 0
    for change in changes:
        apply_to_document(one_by_one, [change.raw_bytes], change.hash)
        with single.transaction():
            position = project_new_entries(single, one_by_one, position, 42)

    def rows(store: Store) -> list[tuple[object, ...]]:
        return store.db.execute(
            "SELECT id, author, local_id, text, mentions, author_ms, edited, deleted, "
            "journal_index FROM posts ORDER BY id"
        ).fetchall()

    assert rows(bulk) == rows(single)
    by_id = {r[0]: r for r in rows(bulk)}
    assert len(by_id) == 32
    assert by_id[post_id_for(owner, f"{4:016x}")][3] == "edited four"
    assert by_id[post_id_for(owner, f"{5:016x}")][7] == 1
    assert by_id[post_id_for(owner, f"{7:016x}")][3] == "post 7"
    assert by_id[post_id_for(owner, f"{8:016x}")][3] == "early edit"
    assert by_id[post_id_for(owner, f"{8:016x}")][6] == 1
    assert by_id[post_id_for(owner, f"{9:016x}")][7] == 1
    pending = bulk.db.execute("SELECT post_id, author FROM pending_updates").fetchall()
    assert pending == [(post_id_for(owner, f"{7:016x}"), stranger)]
