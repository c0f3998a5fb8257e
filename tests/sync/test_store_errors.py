"""A full disk, another program's lock and a damaged file, on real SQLite files.

Each is the environment's fault, not a bug: it gets its own error code
(`disk_full`, `db_locked`, `corrupt`), a message that says what was lost,
and leaves the file as it was. The disk fills through SQLite's own
`max_page_count`, the lock is a second connection's write transaction, the
damage is pages overwritten on disk. tests/e2e/test_store_errors_cli.py
does the same through the CLI.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.errors import DatabaseLocked, DiskFull, StoreCorrupt, StoreIOError
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage import migrations
from p2pcommunity.sync.storage.store import Store, environment_error
from tests.sync.builders import MovableClock, texts


@pytest.fixture
def made(tmp_path: Path) -> Iterator[tuple[Path, SigningKey, str]]:
    """A store with a community and one post, closed (its WAL checkpointed)."""
    path, key = tmp_path / "store.sqlite3", SigningKey.generate()
    service = Service(Store(path), key, MovableClock())
    cid = service.community_create("garden")["community_id"]
    service.post(cid, "general", "first")
    service.close()
    service.store.close()
    assert not Path(f"{path}-wal").exists()
    yield path, key, cid


def test_disk_full_saves_nothing_of_the_change(made: tuple[Path, SigningKey, str]) -> None:
    path, key, cid = made
    store = Store(path)
    service = Service(store, key, MovableClock())
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(DiskFull) as full:
        for n in range(100):  # each post needs a few pages; the first that cannot have them fails
            service.post(cid, "general", f"{n} " + "x" * 7000)
    assert full.value.code == "disk_full"
    assert "was not saved" in str(full.value) and "Free some disk space" in str(full.value)
    assert texts(service, cid)[0] == "first"
    saved = texts(service, cid)
    # Space again: the node goes on from what was saved, as if the post was never tried.
    store.db.execute("PRAGMA max_page_count=1073741823")
    service.post(cid, "general", "second")
    assert texts(service, cid) == [*saved, "second"]
    service.close()
    store.close()
    reopened = Service(Store(path), key, MovableClock())
    assert texts(reopened, cid) == [*saved, "second"]
    reopened.close()
    reopened.store.close()


def test_a_write_lock_held_elsewhere_is_db_locked(made: tuple[Path, SigningKey, str]) -> None:
    path, key, cid = made
    store = Store(path, busy_timeout=0.1)
    service = Service(store, key, MovableClock())
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseLocked) as locked:
            service.post(cid, "general", "while locked")
        assert locked.value.code == "db_locked"
        assert "Nothing was lost" in str(locked.value)
        assert texts(service, cid) == ["first"]  # reads go on under another's write lock
    finally:
        other.execute("ROLLBACK")
        other.close()
    service.post(cid, "general", "after")
    assert texts(service, cid) == ["first", "after"]
    service.close()
    store.close()


def test_a_migration_waiting_for_a_lock_changes_nothing(made: tuple[Path, SigningKey, str]) -> None:
    path, _, _ = made
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA user_version=1")  # as 0.1.0 left it: opening must migrate
    db.execute("DROP TABLE schema_history")
    db.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseLocked):
            Store(path, busy_timeout=0.1)
    finally:
        db.execute("ROLLBACK")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()
    assert Store(path).schema_version() == migrations.CURRENT


def overwrite(path: Path, first_page: int, pages: int | None = None) -> None:
    """Garbage over pages `first_page`.. (1-based), as a failing disk leaves them."""
    size = path.stat().st_size
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    end = size if pages is None else min(size, (first_page - 1 + pages) * page_size)
    with path.open("r+b") as f:
        f.seek((first_page - 1) * page_size)
        f.write(b"\x55" * (end - (first_page - 1) * page_size))


def test_a_damaged_header_is_refused_and_left_as_it_is(made: tuple[Path, SigningKey, str]) -> None:
    path, _, _ = made
    overwrite(path, 1, 1)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt) as damaged:
        Store(path)
    assert damaged.value.code == "corrupt"
    assert "will not repair, overwrite or recreate it" in str(damaged.value)
    assert path.read_bytes() == before


def test_damaged_pages_are_corrupt_not_a_bug(made: tuple[Path, SigningKey, str]) -> None:
    path, key, cid = made
    with sqlite3.connect(path) as db:
        roots = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name IN ('posts', 'posts_timeline')"
        ).fetchall()
    db.close()
    for (root,) in roots:  # the schema is intact: the store opens, reading posts fails
        overwrite(path, root, 1)
    before = path.read_bytes()
    with pytest.raises(sqlite3.DatabaseError) as raw:
        service = Service(Store(path), key, MovableClock())
        texts(service, cid)
    failure = environment_error(raw.value, path)
    assert isinstance(failure, StoreCorrupt)
    assert str(path) in str(failure) and "Nothing was changed" in str(failure)
    assert path.read_bytes() == before


def test_a_write_into_a_damaged_store_is_corrupt(made: tuple[Path, SigningKey, str]) -> None:
    path, _, _ = made
    store = Store(path)
    with sqlite3.connect(path) as db:
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='meta'").fetchone()[0]
    db.close()
    store.close()
    overwrite(path, root, 1)
    store = Store(path)
    with pytest.raises(StoreCorrupt, match="This change was not saved"), store.transaction():
        store.set_meta("k", b"v")
    store.close()


def test_bugs_stay_bugs() -> None:
    assert environment_error(sqlite3.ProgrammingError("closed")) is None
    assert environment_error(ValueError("x")) is None
    db = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as missing:
        db.execute("SELECT * FROM nowhere")
    assert environment_error(missing.value) is None


def test_a_store_that_cannot_be_opened_is_io_error(tmp_path: Path) -> None:
    with pytest.raises(StoreIOError) as refused:
        Store(tmp_path / "no such dir" / "store.sqlite3")
    assert refused.value.code == "io_error"
    assert not (tmp_path / "no such dir").exists()
