"""The offline CLI on a full disk, a locked database and a damaged file.

Each gives its own error code (never `internal`, never a traceback), exit
1, a message that says what was lost, and leaves the store file as it was.
The full disk is SQLite's `max_page_count`, set on every connection of the
CLI process by a wrapper that runs the real `p2pcommunity.cli.main`.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import Cli, Result

# The CLI, with every SQLite connection capped at the pages its file has when
# opened plus P2PCOMMUNITY_TEST_SPARE_PAGES: a disk that is full.
FULL_DISK_CLI = """
import os, sqlite3, sys
connect = sqlite3.connect
def capped(*args, **kwargs):
    db = connect(*args, **kwargs)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    spare = int(os.environ["P2PCOMMUNITY_TEST_SPARE_PAGES"])
    db.execute(f"PRAGMA max_page_count={max(pages, 1) + spare}")
    return db
sqlite3.connect = capped
from p2pcommunity.cli import main
sys.exit(main(sys.argv[1:]))
"""


def made(cli: Cli) -> Path:
    cli("init", "--name", "alice")
    cli("community", "create", "garden")
    cli("post", "garden", "general", "first")
    return cli.data_dir / "store.sqlite3"


def failed(result: Result, code: str) -> str:
    assert result.code == 1, result
    assert "Traceback" not in result.err
    error = result.error()
    assert error["code"] == code, error
    return error["error"]


def texts(cli: Cli) -> list[str]:
    return [p["text"] for p in cli.json("read", "garden", "general")["posts"]]


def test_disk_full(cli: Cli) -> None:
    made(cli)
    args = ["--data-dir", str(cli.data_dir), "--json", "post", "garden", "general", "x" * 7000]
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK_CLI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "P2PCOMMUNITY_TEST_SPARE_PAGES": "0"},
    )
    message = failed(Result(proc.returncode, proc.stdout, proc.stderr), "disk_full")
    assert "was not saved" in message and "Free some disk space" in message
    assert texts(cli) == ["first"]
    cli("post", "garden", "general", "second")  # space again: nothing to repair
    assert texts(cli) == ["first", "second"]


def test_database_locked_by_another_program(cli: Cli) -> None:
    path = made(cli)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        # SQLite waits 5 s for the lock, then gives up.
        message = failed(
            cli("--json", "post", "garden", "general", "blocked", check=False), "db_locked"
        )
        assert "Nothing was lost" in message
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert texts(cli) == ["first"]


def overwrite_pages(path: Path, names: tuple[str, ...]) -> None:
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        marks = ",".join("?" * len(names))
        roots = db.execute(
            f"SELECT rootpage FROM sqlite_master WHERE name IN ({marks})", names
        ).fetchall()
    db.close()
    with path.open("r+b") as f:
        for (root,) in roots:
            f.seek((root - 1) * page_size)
            f.write(b"\x55" * page_size)


def test_damaged_pages(cli: Cli) -> None:
    path = made(cli)
    overwrite_pages(path, ("posts", "posts_timeline"))
    before = path.read_bytes()
    message = failed(cli("--json", "read", "garden", "general", check=False), "corrupt")
    assert str(path) in message and "will not repair, overwrite or recreate it" in message
    failed(cli("--json", "post", "garden", "general", "more", check=False), "corrupt")
    assert path.read_bytes() == before


def test_damaged_header_is_not_recreated(cli: Cli) -> None:
    path = made(cli)
    with path.open("r+b") as f:
        f.write(b"\x55" * 100)
    before = path.read_bytes()
    failed(cli("--json", "whoami", check=False), "corrupt")
    failed(cli("--json", "init", check=False), "corrupt")
    assert path.read_bytes() == before


def test_store_of_a_newer_major_is_refused(cli: Cli) -> None:
    path = made(cli)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version=2000")
    db.close()
    message = failed(cli("--json", "read", "garden", "general", check=False), "too_new")
    assert "2.0" in message and "1.x" in message
    human = cli("read", "garden", "general", check=False)
    assert human.code == 1 and human.err.startswith("error: ") and "newer" in human.err
