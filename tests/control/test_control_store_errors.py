"""The node's control API answers a store failure with its code, not `internal`.

A real SQLite file filled to its `max_page_count` behind a handler: the
client gets `disk_full` and the message, as the offline CLI would.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
import trio

from p2pcommunity.control.client import ControlClient, ControlError
from p2pcommunity.control.server import serve_control


def test_a_full_disk_is_disk_full_over_the_control_api() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        db = sqlite3.connect(data_dir / "full.sqlite3", isolation_level=None)
        db.execute("CREATE TABLE t (x BLOB)")
        db.execute("PRAGMA max_page_count=2")

        async def handler(method: str, params: dict[str, Any]) -> dict[str, Any]:
            db.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))  # outside Store: raw SQLite
            return {}

        def client_side() -> ControlError:
            with ControlClient.connect(data_dir, timeout=10.0) as client:  # type: ignore[union-attr]
                with pytest.raises(ControlError) as failed:
                    client.call("post", {}, timeout=10.0)
                return failed.value

        async def main() -> ControlError:
            async with trio.open_nursery() as nursery:
                await nursery.start(serve_control, data_dir, handler)
                with trio.fail_after(20):
                    error: ControlError = await trio.to_thread.run_sync(client_side)
                nursery.cancel_scope.cancel()
            return error

        error = trio.run(main)
        db.close()
    assert error.code == "disk_full"
    assert "Free some disk space" in str(error)
