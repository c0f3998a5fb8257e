"""The search index catches up in slices, one transaction each (issue 12).

A cold join leaves every post it brought pending for the index; indexing
them in one transaction held the node's loop. `PostSearch.index_slice` takes a
bounded number of posts per call; these tests check that the slices
together index everything exactly once, deleted posts excepted, and that
edits and deletions between slices leave the index right.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2pcommunity.sync.storage import post_search
from p2pcommunity.sync.storage.read_model import PostRow
from p2pcommunity.sync.storage.store import Store

COMMUNITY = b"c" * 32
CHANNEL = b"h" * 32
AUTHOR = b"a" * 32


def row(i: int) -> PostRow:
    return PostRow(
        id=f"post-{i:05d}",
        community_id=COMMUNITY,
        channel_id=CHANNEL,
        author=AUTHOR,
        local_id=f"local-{i}",
        segment=0,
        text=f"word{i} common",
        reply_to=None,
        mentions=b"",
        author_ms=1_000 + i,
        edited=False,
        deleted=False,
        first_seen_ms=2_000 + i,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store.sqlite3")
    try:
        yield s
    finally:
        s.close()


def add(store: Store, first: int, count: int) -> None:
    with store.transaction():
        store.read_model.insert_posts([row(i) for i in range(first, first + count)])


def fts_rows(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM posts_fts").fetchone()[0])


def found(store: Store, word: str) -> list[str]:
    return [r.id for r in store.read_model.search(COMMUNITY, word, limit=10_000)]


def test_a_big_pending_set_is_indexed_completely_in_several_slices(store: Store) -> None:
    add(store, 0, 1_234)
    slices = []
    while True:
        indexed, more = store.read_model.search_index.index_slice(max_posts=500)
        slices.append(indexed)
        if not more:
            break
    assert slices == [500, 500, 234]
    assert fts_rows(store) == 1_234
    assert store.read_model.search_index.index_slice(max_posts=500) == (0, False)
    assert found(store, "word0") == ["post-00000"]
    assert found(store, "word1233") == ["post-01233"]
    assert len(found(store, "common")) == 1_234


def test_each_slice_is_its_own_transaction(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    add(store, 0, 120)
    commits = 0
    real = store.read_model.search_index.transaction

    def counting():  # type: ignore[no-untyped-def]
        nonlocal commits
        commits += 1
        return real()

    monkeypatch.setattr(store.read_model.search_index, "transaction", counting)
    total = 0
    while True:
        indexed, more = store.read_model.search_index.index_slice(50)
        total += indexed
        if not more:
            break
    assert (total, commits) == (120, 3)


def test_index_pending_search_still_does_everything(store: Store) -> None:
    add(store, 0, post_search.SEARCH_SLICE * 2 + 7)
    assert store.read_model.search_index.index_pending() == post_search.SEARCH_SLICE * 2 + 7
    assert store.read_model.search_index.index_pending() == 0


def test_posts_added_edited_and_deleted_between_slices(store: Store) -> None:
    add(store, 0, 30)
    assert store.read_model.search_index.index_slice(max_posts=10) == (10, True)
    # An indexed post and a pending one change between slices.
    store.read_model.edit_post("post-00003", AUTHOR, "edited3 now", 1)
    store.read_model.edit_post("post-00025", AUTHOR, "edited25 now", 1)
    store.read_model.delete_post("post-00004", AUTHOR, 1)
    store.read_model.delete_post("post-00026", AUTHOR, 1)
    add(store, 30, 5)  # arrives while the index catches up
    while store.read_model.search_index.index_slice(max_posts=10)[1]:
        pass
    assert found(store, "edited3") == ["post-00003"]
    assert found(store, "edited25") == ["post-00025"]
    assert found(store, "word3") == found(store, "word4") == found(store, "word26") == []
    assert found(store, "word34") == ["post-00034"]
    assert fts_rows(store) == 35 - 2
