"""The store's schema version, and the steps that bring an older store up to date.

`PRAGMA user_version` holds a (major, minor) pair as major * 1000 + minor,
as qutebrowser's sql.py keeps one (it packs major << 16 | minor; a decimal
packing reads as itself in an `sqlite3` shell, 1001 is 1.1, and still
orders like the pair while minor < 1000). Release 0.1.0 wrote a bare 1,
before the pair existed: raw values below 1000 are that era, and 1 reads
as (1, 0).

The rule every schema change follows:

- A **minor** step is additive: a new table, index or nullable column, or a
  backfill that the previous release of the same major ignores. That
  release can still open and write the migrated store, so an older minor
  never refuses a newer one (and never lowers its version).
- Anything else (a column that changes meaning, a table rebuilt) is a
  **major** step. A release refuses a store of a newer major: it names both
  versions and changes nothing.

Each step is a small function, listed once in `STEPS` under the version it
brings the store to. A fresh store is made from the DDL of today (store.py
and tables.py) and stamped `CURRENT`; an older one runs every pending step
in the one transaction that also stamps the new version, so a failed step
leaves the store exactly as it was. tests/sync/test_migrations.py checks
that a migrated 0.1.0 store and a fresh one have the same schema: a change
to the DDL without its step (or the reverse) fails there.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

from p2pcommunity.sync.errors import NewerStore

Version = tuple[int, int]

_PACK = 1000
LEGACY: dict[int, Version] = {1: (1, 0)}
"""Raw user_version values of the single-number era (release 0.1.0)."""


def _add_schema_history(db: sqlite3.Connection) -> None:
    """1.1: which versions this store went through and when, for operators and bug reports."""
    db.execute(
        "CREATE TABLE schema_history (version INTEGER PRIMARY KEY, "
        "applied_ms INTEGER NOT NULL, how TEXT NOT NULL)"
    )


_IDEMPOTENT = re.compile(r"CREATE (TABLE|INDEX|VIRTUAL TABLE) (?!IF NOT EXISTS)")


def _create(db: sqlite3.Connection, schema: str) -> None:
    """Runs a module's DDL as a step. IF NOT EXISTS: a store whose version was set back
    by hand (tests do) may already hold its tables."""
    for statement in schema.split(";"):
        if statement.strip():
            db.execute(_IDEMPOTENT.sub(r"CREATE \1 IF NOT EXISTS ", statement))


def _add_knowledge(db: sqlite3.Connection) -> None:
    """1.2 (issue 14): topic titles and tags, votes, accepted answers; all start empty,
    as no earlier release wrote them (channels of earlier ops are chat channels)."""
    from p2pcommunity.sync.storage.knowledge_tables import KNOWLEDGE_SCHEMA

    _create(db, KNOWLEDGE_SCHEMA)


def _add_pages(db: sqlite3.Connection) -> None:
    """1.3: wiki pages (issue 14): their signed changes and derived rows, empty at first."""
    from p2pcommunity.sync.storage.page_tables import PAGE_SCHEMA

    _create(db, PAGE_SCHEMA)


def _add_blobs(db: sqlite3.Connection) -> None:
    """1.4 (issue 15): blobs, their chunks and the attachments posts carry (all empty:
    no older release could attach a file)."""
    from p2pcommunity.sync.storage.blob_store import BLOB_SCHEMA

    _create(db, BLOB_SCHEMA)


def _add_personal(db: sqlite3.Connection) -> None:
    """1.5 (issue 16): muted words and channels, dismissed reports; local, empty at first."""
    from p2pcommunity.sync.storage.personal_tables import PERSONAL_SCHEMA

    _create(db, PERSONAL_SCHEMA)


def _add_safety_index(db: sqlite3.Connection) -> None:
    """1.6 (issue 16): posts by author in document order, for the incremental verdicts."""
    from p2pcommunity.sync.storage.safety_tables import SAFETY_SCHEMA

    _create(db, SAFETY_SCHEMA)


def _add_topic_stats(db: sqlite3.Connection) -> None:
    """1.7 (issue 14): per-topic counters kept by triggers, filled from the posts held,
    and topic titles in search;
    the index they replace goes. An older 1.x release writing here keeps them right:
    the triggers are in the store, not in the code."""
    from p2pcommunity.sync.storage import topic_stats

    db.execute("DROP INDEX IF EXISTS posts_topics")
    _create(db, topic_stats.TOPIC_STATS_SCHEMA)
    topic_stats.create_triggers(db)
    topic_stats.backfill(db)
    db.execute("UPDATE topic_meta SET title = title")  # titles into search, by the trigger
    # A page's heads next to its text (`page show` without an Automerge load); NULL
    # until the page next changes. 1.3 of today's DDL already has the column.
    if "heads" not in {row[1] for row in db.execute("PRAGMA table_info(pages)")}:
        db.execute("ALTER TABLE pages ADD COLUMN heads BLOB")


def _add_page_sizes(db: sqlite3.Connection) -> None:
    """1.8 (issue 14): what each page change added and removed, for `page history`;
    empty at first, measured as changes arrive or the history asks (sync/page_diff.py)."""
    from p2pcommunity.sync.storage.page_tables import PAGE_SIZES_SCHEMA

    _create(db, PAGE_SIZES_SCHEMA)


STEPS: dict[Version, Callable[[sqlite3.Connection], None]] = {
    (1, 1): _add_schema_history,
    (1, 2): _add_knowledge,
    (1, 3): _add_pages,
    (1, 4): _add_blobs,
    (1, 5): _add_personal,
    (1, 6): _add_safety_index,
    (1, 7): _add_topic_stats,
    (1, 8): _add_page_sizes,
}
"""Version a step brings the store to -> the step. Append only; never edit a released step."""

CURRENT: Version = max(STEPS)


def encode(version: Version) -> int:
    major, minor = version
    if not (1 <= major < 2_000_000 and 0 <= minor < _PACK):
        raise ValueError(f"not a schema version: {version}")
    return major * _PACK + minor


def decode(raw: int) -> Version:
    """The (major, minor) of a raw user_version; 0 (a fresh file) has none."""
    if raw in LEGACY:
        return LEGACY[raw]
    if raw < _PACK:
        raise ValueError(f"unknown schema version {raw}")
    major, minor = divmod(raw, _PACK)
    return major, minor


def text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def pending(stored: Version) -> list[Version]:
    """The steps a store at `stored` still needs, in order."""
    return [v for v in sorted(STEPS) if stored < v <= CURRENT]


def check_openable(stored: Version, path: object) -> None:
    if stored[0] > CURRENT[0]:
        raise NewerStore(
            f"{path} was written by a newer p2pcommunity: its store format is "
            f"{text(stored)}, this release reads format {CURRENT[0]}.x and older. "
            "Nothing was changed; open it with a newer p2pcommunity."
        )


def migrate(db: sqlite3.Connection, stored: Version, now_ms: int) -> list[Version]:
    """Run the pending steps in the caller's transaction; returns the versions reached.

    The caller holds the write transaction (BEGIN IMMEDIATE) and commits;
    the version stamp is part of it, so the steps and the stamp land
    together or not at all.
    """
    done = pending(stored)
    for version in done:
        STEPS[version](db)
        _record(db, version, now_ms, "migrated")
    if done:
        db.execute(f"PRAGMA user_version={encode(done[-1])}")
    return done


def stamp_fresh(db: sqlite3.Connection, now_ms: int) -> None:
    """A store just made from today's DDL is at CURRENT."""
    _record(db, CURRENT, now_ms, "created")
    db.execute(f"PRAGMA user_version={encode(CURRENT)}")


def _record(db: sqlite3.Connection, version: Version, now_ms: int, how: str) -> None:
    # Every step from 1.1 on finds schema_history: 1.1 makes it.
    db.execute(
        "INSERT OR REPLACE INTO schema_history VALUES (?, ?, ?)", (encode(version), now_ms, how)
    )


__all__ = [
    "CURRENT",
    "STEPS",
    "Version",
    "check_openable",
    "decode",
    "encode",
    "migrate",
    "pending",
    "stamp_fresh",
]
