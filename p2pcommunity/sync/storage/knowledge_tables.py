"""Read models of issue 14: topic titles and tags, votes, authors' accepted answers.

Like read_model.py, everything here is rebuilt from replicated data, and
each row is a function of the changes it came from alone, so it is the same
on every peer in any arrival order: a value from a lower segment of one
member never overwrites one from a higher segment (a member's later segment
is later in time), one vote row per (post, voter) whatever was sent, and
whose vote or accept counts is decided when reading, by joining with the
posts (a vote on one's own post counts nowhere; an answer counts only if it
is a live reply to its topic). Reading is where log state (pins, tags,
moderators' accepts, channel kinds) meets these rows: see sync/knowledge.py.

The topic list reads per-topic counters that SQLite triggers keep from these
tables and the posts table (topic_stats.py); the covering index
`posts_topic_replies` makes a topic's reply count and last activity an
index-only lookup when a counter is recomputed. Tags are stored
newline-joined: a tag holds no space.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

KNOWLEDGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS topic_meta (
    post_id TEXT PRIMARY KEY,
    community_id BLOB NOT NULL,
    author BLOB NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    segment INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS votes (
    post_id TEXT NOT NULL,
    voter BLOB NOT NULL,
    community_id BLOB NOT NULL,
    value INTEGER NOT NULL,
    segment INTEGER NOT NULL,
    PRIMARY KEY (post_id, voter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS author_accepts (
    topic_id TEXT PRIMARY KEY,
    community_id BLOB NOT NULL,
    author BLOB NOT NULL,
    answer TEXT NOT NULL,
    segment INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS posts_topic_replies ON posts (reply_to, deleted, author_ms)
    WHERE reply_to IS NOT NULL;
"""
"""Today's DDL of these tables; migrations.py step 1.2 runs the same statements
(IF NOT EXISTS: a store stamped older than its tables, as tests fake one, still opens)."""


class KnowledgeTables:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    # -- writes (projection, inside the batch's transaction) --------------------

    def set_topic_meta(
        self,
        post_id: str,
        community_id: bytes,
        author: bytes,
        title: str,
        tags: Sequence[str],
        segment: int,
    ) -> None:
        self.db.execute(
            "INSERT INTO topic_meta VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (post_id) DO UPDATE "
            "SET title=excluded.title, tags=excluded.tags, segment=excluded.segment "
            "WHERE excluded.segment >= segment AND excluded.author = author",
            (post_id, community_id, author, title, "\n".join(tags), segment),
        )

    def set_vote(
        self, post_id: str, voter: bytes, community_id: bytes, value: int, segment: int
    ) -> None:
        self.db.execute(
            "INSERT INTO votes VALUES (?, ?, ?, ?, ?) ON CONFLICT (post_id, voter) DO UPDATE "
            "SET value=excluded.value, segment=excluded.segment WHERE excluded.segment >= segment",
            (post_id, voter, community_id, value, segment),
        )

    def set_author_accept(
        self, topic_id: str, community_id: bytes, author: bytes, answer: str, segment: int
    ) -> None:
        self.db.execute(
            "INSERT INTO author_accepts VALUES (?, ?, ?, ?, ?) ON CONFLICT (topic_id) DO UPDATE "
            "SET answer=excluded.answer, segment=excluded.segment "
            "WHERE excluded.segment >= segment AND excluded.author = author",
            (topic_id, community_id, author, answer, segment),
        )

    def clear_member_rows(self, community_id: bytes, member: bytes) -> None:
        """Drop what a member's documents produced (a removal rebuilds them)."""
        for table, column in (
            ("topic_meta", "author"),
            ("votes", "voter"),
            ("author_accepts", "author"),
        ):
            self.db.execute(
                f"DELETE FROM {table} WHERE community_id=? AND {column}=?", (community_id, member)
            )

    # -- reads -------------------------------------------------------------------

    def vote_of(self, post_id: str, voter: bytes) -> int:
        row = self.db.execute(
            "SELECT value FROM votes WHERE post_id=? AND voter=?", (post_id, voter)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def totals(self, post_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(up, down) per post; a vote on one's own post counts nowhere."""
        rows = self._for_posts(
            "SELECT v.post_id, SUM(v.value = 1), SUM(v.value = -1) FROM votes v "
            "JOIN posts p ON p.id = v.post_id AND p.author != v.voter "
            "WHERE v.post_id IN ({marks}) GROUP BY v.post_id",
            post_ids,
        )
        return {post_id: (int(up), int(down)) for post_id, up, down in rows}

    def topic_meta(self, post_ids: Sequence[str]) -> dict[str, tuple[str, tuple[str, ...]]]:
        rows = self._for_posts(
            "SELECT t.post_id, t.title, t.tags FROM topic_meta t "
            "JOIN posts p ON p.id = t.post_id AND p.author = t.author "
            "WHERE t.post_id IN ({marks})",
            post_ids,
        )
        return {post_id: (title, _tags(tags)) for post_id, title, tags in rows}

    def _for_posts(self, sql: str, post_ids: Sequence[str]) -> list[Any]:
        """Rows of `sql` for the posts, asked 500 at a time (SQLite's bound on
        parameters); `sql` holds `{marks}` where the placeholders go."""
        ids = list(dict.fromkeys(post_ids))
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows += self.db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)
        return rows

    def author_answer(self, topic_id: str) -> str | None:
        """The topic author's accepted answer, if it is a live reply to the topic."""
        row = self.db.execute(
            "SELECT a.answer FROM author_accepts a JOIN posts p ON p.id = a.topic_id "
            "AND p.author = a.author JOIN posts r ON r.id = a.answer AND r.reply_to = p.id "
            "AND r.deleted = 0 WHERE a.topic_id = ?",
            (topic_id,),
        ).fetchone()
        return None if row is None else str(row[0])


def _tags(joined: str | None) -> tuple[str, ...]:
    return tuple(joined.split("\n")) if joined else ()
