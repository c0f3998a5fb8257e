"""The full-text index of posts (`posts_fts`): what it holds of a post, and when.

Writing the FTS index per post more than doubled the pages each post
commits (benchmarks/RESULTS.md), so new posts are indexed in bulk, before a
search and when the node is idle; `indexed_upto` (a rowid in `meta`) says
how far. Rows at or below it are kept in step with edits and deletions as
they happen; rows above it wait for the next slice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager

SEARCHED_TEXT = (
    "coalesce((SELECT t.title || char(10) FROM topic_meta t WHERE t.post_id = p.id "
    "AND t.author = p.author), '') || p.text"
)
"""What search indexes of post `p`: a topic's title (issue 14) before its text. A title
that arrives or changes later is indexed again by a trigger (topic_stats.py)."""

# Posts per search-indexing transaction. A cold join can leave tens of
# thousands pending; one transaction for all of them held the node's trio
# loop for seconds. Per slice it is a few milliseconds (issue 12).
SEARCH_SLICE = 500


class PostSearch:
    """The index of one store's posts (the read model's `posts` table)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
    ) -> None:
        self.db = db
        self.transaction = transaction

    def indexed_upto(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key='search_indexed_upto'").fetchone()
        return int(row[0]) if row else 0

    def reindex(self, rowid: int) -> None:
        """A post's text or title changed: index it again if it was indexed."""
        if rowid <= self.indexed_upto():
            self.db.execute("DELETE FROM posts_fts WHERE rowid=?", (rowid,))
            self.db.execute(
                f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {SEARCHED_TEXT} FROM posts p "
                "WHERE rowid=?",
                (rowid,),
            )

    def unindex(self, rowids: Iterable[int]) -> None:
        self.db.executemany("DELETE FROM posts_fts WHERE rowid=?", ((r,) for r in rowids))

    def index_pending(self) -> int:
        """Index every post added since the last call, one transaction per slice;
        returns how many. The node, which must not hold its loop for a cold
        join's worth of posts, calls `index_slice` itself and yields in between
        (net/node.py `Node.index_search`)."""
        total = 0
        while True:
            indexed, more = self.index_slice()
            total += indexed
            if not more:
                return total

    def index_slice(self, max_posts: int = SEARCH_SLICE) -> tuple[int, bool]:
        """Index the next `max_posts` posts (by rowid) not yet indexed, in one
        transaction; returns (how many were indexed, whether more are pending).

        Posts are taken in rowid order and `search_indexed_upto` moves to the
        last one taken, deleted or not, so edits and deletions (which re-index
        rows at or below it) and later slices agree on what is indexed.
        """
        upto = self.indexed_upto()
        top = self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM posts").fetchone()[0]
        if top <= upto:
            return 0, False
        with self.transaction() as db:
            end = db.execute(
                "SELECT MAX(rowid) FROM (SELECT rowid FROM posts WHERE rowid > ? "
                "ORDER BY rowid LIMIT ?)",
                (upto, max_posts),
            ).fetchone()[0]
            cursor = db.execute(
                f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {SEARCHED_TEXT} FROM posts p "
                "WHERE rowid > ? AND rowid <= ? AND deleted=0",
                (upto, end),
            )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('search_indexed_upto', ?)", (str(end),))
        return cursor.rowcount, end < top
