"""A file attached to a post the node refuses: the node prepared it, then removed it.

The node says so with a `blob_progress` "up" event in state "failed" (never
"stored"), and the app says it in words: the status bar names the file that
was not stored, the transfer indicator goes, the chip and its file stay for
the next try. Against a real node; only QFileDialog is replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from p2pcommunity.ui.files.transfers import Transfers, failed_upload_of, upload_of

from .files_helpers import photo, pick_files
from .test_app_flow import send
from .test_files_attach import MS, ready
from .test_two_apps import call


def test_a_refused_post_says_its_file_was_not_stored(qtbot, make_app, tmp_path, monkeypatch):
    app, community = ready(qtbot, make_app)
    call(qtbot, app, "words add", {"community": community, "word": "scam", "action": "block"})
    files = app.chat.files
    states: list[str] = []
    app.chat.client.notified.connect(
        lambda method, params: (
            states.append(params.get("state", ""))
            if method == "blob_progress" and params.get("path")
            else None
        )
    )
    pic = photo(tmp_path / "rope.png", 400, 300)
    pick_files(monkeypatch, [pic])
    qtbot.mouseClick(files.tray.button, Qt.MouseButton.LeftButton)
    send(qtbot, app, "cheap ropes, not a SC4M")

    status = app.window.statusBar()
    qtbot.waitUntil(lambda: "rope.png" in status.currentMessage(), timeout=MS)
    assert status.currentMessage() == "The file rope.png was not stored: nothing was sent."
    notice = app.chat.composer.notice
    qtbot.waitUntil(lambda: "blocked" in notice.text(), timeout=MS)  # the why, in the composer
    assert states[0] == "preparing" and states[-1] == "failed" and "stored" not in states
    assert files.transfers.uploads == {} and not files.indicator.isVisible()
    assert files.tray.files == [pic] and files.tray.button.isEnabled()
    posts = call(qtbot, app, "read", {"community": community, "channel": "general"})["posts"]
    assert posts == []


class _Client(QObject):
    notified = Signal(str, dict)


def _event(path: str, state: str, done: int = 4000) -> dict[str, Any]:
    return {"community_id": "ab" * 32, "direction": "up", "path": path, "done": done} | {
        "size": 4000,
        "state": state,
    }


def test_only_a_file_being_prepared_is_said_to_have_failed(qtbot, tmp_path: Path) -> None:
    client = _Client()
    transfers = Transfers(client, tmp_path)  # type: ignore[arg-type]
    said: list[tuple[str, str]] = []
    transfers.failed.connect(lambda message, code: said.append((message, code)))
    client.notified.emit("blob_progress", _event("/tmp/a.bin", "preparing", 1000))
    assert transfers.running() == 1
    client.notified.emit("blob_progress", _event("/tmp/other.bin", "failed"))  # not ours
    assert said == [] and transfers.running() == 1
    client.notified.emit("blob_progress", _event("/tmp/a.bin", "failed", 1000))
    assert said == [("the file a.bin was not stored: nothing was sent", "invalid")]
    assert transfers.running() == 0 and transfers.uploads == {}
    client.notified.emit("blob_progress", _event("/tmp/a.bin", "failed", 1000))  # once only
    assert len(said) == 1


def test_failed_upload_of_reads_only_the_nodes_shape() -> None:
    failed = _event("/tmp/a.bin", "failed")
    assert failed_upload_of("blob_progress", failed) == "/tmp/a.bin"
    assert upload_of("blob_progress", failed) is None  # a chip never reads it as progress
    assert failed_upload_of("blob_progress", _event("/tmp/a.bin", "stored")) is None
    for bad in (
        failed | {"direction": "down"},
        failed | {"path": ""},
        failed | {"done": -1},
        failed | {"state": 3},
        {k: v for k, v in failed.items() if k != "path"} | {"cid": "bafy"},
    ):
        assert failed_upload_of("blob_progress", bad) is None
    assert failed_upload_of("post_added", failed) is None
