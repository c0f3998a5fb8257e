"""`p2pcommunity://join/` links: parsing, and the handoff to an app already running
(issue 13, item 6). The handoff runs over a real local socket, once in process and
once from a second `p2pcommunity URL` process, which must hand over and exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalSocket

from p2pcommunity.ui.links import (
    InstanceServer,
    LinkError,
    hand_to_running,
    instance_address,
    make_link,
    parse_link,
)

CODE = "p2pc1-" + "A1b2_C3-d4" * 60  # the shape of a real code: base64url, ~600 characters


def test_a_link_carries_the_code_and_back() -> None:
    link = make_link(CODE)
    assert link == f"p2pcommunity://join/{CODE}"
    assert parse_link(link) == CODE
    assert parse_link(f"  P2PCommunity://join/{CODE}/  ") == CODE  # case, spaces, a slash
    assert parse_link(link.replace("_", "%5F")) == CODE  # percent-encoded by a browser


@pytest.mark.parametrize(
    "bad",
    [
        "https://example.org/join/abc",
        "p2pcommunity://leave/abc",
        "p2pcommunity://join/",
        "p2pcommunity://join/abc def",
        "p2pcommunity://join/abc<script>",
        "p2pcommunity://join/" + "a" * 9000,
    ],
)
def test_a_bad_link_is_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(LinkError) as exc:
        parse_link(bad)
    assert "link" in str(exc.value)


def test_no_running_app_means_no_handoff(qtbot, tmp_path: Path) -> None:
    assert hand_to_running(tmp_path / "nobody", make_link(CODE), timeout_ms=200) is False


def test_the_running_app_receives_a_link_and_ignores_garbage(qtbot, tmp_path: Path) -> None:
    data_dir = tmp_path / "alice"
    stale = Path(instance_address(data_dir))
    data_dir.mkdir()
    stale.write_text("")  # left behind by an app that died: replaced
    server = InstanceServer(data_dir)
    assert server.listen()
    received: list[str] = []
    shown: list[bool] = []
    server.link_received.connect(received.append)
    server.shown.connect(lambda: shown.append(True))
    try:
        garbage = QLocalSocket()
        garbage.connectToServer(server.address)
        assert garbage.waitForConnected(1000)
        garbage.write(b"rm -rf /\n")
        garbage.flush()
        assert hand_to_running(data_dir, "") is True
        qtbot.waitUntil(lambda: shown == [True], timeout=5_000)
        assert hand_to_running(data_dir, make_link(CODE)) is True
        qtbot.waitUntil(lambda: received == [make_link(CODE)], timeout=5_000)
        assert shown == [True]  # the garbage line did nothing
        garbage.abort()
        if os.name != "nt":
            assert (stale.stat().st_mode & 0o077) == 0  # only its owner can hand it links
    finally:
        server.close()


def test_a_second_start_with_a_link_hands_it_over_and_exits(qtbot, tmp_path: Path) -> None:
    data_dir = tmp_path / "alice"
    server = InstanceServer(data_dir)
    assert server.listen()
    received: list[str] = []
    server.link_received.connect(received.append)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "p2pcommunity.ui.app", "--data-dir", str(data_dir), make_link(CODE)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None and bool(received), timeout=30_000)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else b""
        assert received == [make_link(CODE)]
        # it handed over instead of starting a node of its own
        assert not (data_dir / "identity.key").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()
        server.close()


def test_a_link_handed_to_the_app_opens_the_join_flow_with_its_code(qtbot, make_app) -> None:
    from PySide6.QtWidgets import QApplication

    from p2pcommunity.ui.join import JoinDialog

    from .conftest import start_with_name

    app = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    server = app.serve_links()
    try:
        assert hand_to_running(app.data_dir, "p2pcommunity://join/bad code!") is True
        qtbot.waitUntil(lambda: "link" in app.window.statusBar().currentMessage(), timeout=5_000)
        assert hand_to_running(app.data_dir, make_link(CODE)) is True

        def dialogs() -> list[JoinDialog]:
            return [
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, JoinDialog) and w.isVisible()
            ]

        qtbot.waitUntil(lambda: bool(dialogs()), timeout=5_000)
        assert len(dialogs()) == 1  # the bad link opened nothing
        assert dialogs()[0].code.toPlainText() == CODE
        dialogs()[0].reject()
    finally:
        server.close()
