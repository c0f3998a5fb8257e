"""This device's personal-safety lists: muted words, muted channels, dismissed reports.

Local, like `blocked`: never synced, never part of an export, no signature. The
texts are what the user typed (at most `MAX_MUTED_WORD` characters); matching
folds them (sync/personal.py).
"""

from __future__ import annotations

import sqlite3

PERSONAL_SCHEMA = """
CREATE TABLE muted_words (word TEXT PRIMARY KEY);
CREATE TABLE muted_channels (
    community BLOB NOT NULL, channel BLOB NOT NULL, PRIMARY KEY (community, channel)
);
CREATE TABLE dismissed_reports (
    community BLOB NOT NULL, post TEXT NOT NULL, dismissed_ms INTEGER NOT NULL,
    PRIMARY KEY (community, post)
);
"""


class PersonalTables:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def add_word(self, word: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO muted_words VALUES (?)", (word,))

    def remove_word(self, word: str) -> bool:
        return self.db.execute("DELETE FROM muted_words WHERE word=?", (word,)).rowcount > 0

    def words(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT word FROM muted_words ORDER BY word")]

    def add_channel(self, community: bytes, channel: bytes) -> None:
        self.db.execute("INSERT OR IGNORE INTO muted_channels VALUES (?, ?)", (community, channel))

    def remove_channel(self, community: bytes, channel: bytes) -> bool:
        cursor = self.db.execute(
            "DELETE FROM muted_channels WHERE community=? AND channel=?", (community, channel)
        )
        return cursor.rowcount > 0

    def channels(self, community: bytes) -> set[bytes]:
        rows = self.db.execute("SELECT channel FROM muted_channels WHERE community=?", (community,))
        return {bytes(r[0]) for r in rows}

    def dismiss(self, community: bytes, post: str, now_ms: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO dismissed_reports VALUES (?, ?, ?)", (community, post, now_ms)
        )

    def dismissed(self, community: bytes) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT post, dismissed_ms FROM dismissed_reports WHERE community=?", (community,)
        )
        return {str(post): int(ms) for post, ms in rows}
