"""UI tests drive the real app against real nodes on temporary data dirs.

Each `make_app(name)` is an `App` on `tmp_path/name` whose node listens on
127.0.0.1 only. Every app is shut down and every node it started is stopped
(and, failing that, killed) in the fixture's finally, so a failing test
leaves no process behind. Where Qt does not import, the UI tests are
skipped, except in CI (CI=true), where that is an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


# Without Qt (PySide6 missing, or a system library it needs such as libEGL)
# the UI tests are skipped on a developer's machine, but in CI a skip would
# hide that nothing of the GUI was tested: there it is an error.
try:
    import PySide6.QtWidgets  # noqa: F401
except ImportError as exc:
    if _in_ci():
        raise RuntimeError(f"CI: the UI tests need Qt, and it does not import: {exc}") from exc
    pytest.skip(f"Qt does not import here: {exc}", allow_module_level=True)

from pytestqt.exceptions import TimeoutError as QtTimeoutError  # noqa: E402

from p2pcommunity.ui.app import App  # noqa: E402
from p2pcommunity.ui.node_process import _pid_alive  # noqa: E402

LOCAL = ["/ip4/127.0.0.1/tcp/0"]
START_MS = 45_000
STOP_WAIT_MS = 15_000  # NodeProcess.STOP_TIMEOUT_MS and some


@pytest.fixture
def make_app(qtbot: object, tmp_path: Path) -> Iterator[Callable[[str], App]]:
    apps: list[App] = []
    pids: list[int] = []

    def make(name: str) -> App:
        app = App(tmp_path / name, LOCAL)
        app.node.ready.connect(lambda _p, a=app: a.node.pid and pids.append(a.node.pid))
        qtbot.addWidget(app.window)  # type: ignore[attr-defined]
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            app.shutdown()
        # Nodes stop while the loop runs (NodeProcess.stop never waits): give
        # them their bound, then kill what is left.
        with contextlib.suppress(QtTimeoutError):
            qtbot.waitUntil(  # type: ignore[attr-defined]
                lambda: not any(app.node.stopping for app in apps), timeout=STOP_WAIT_MS
            )
        for pid in pids:
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_with_name(qtbot: object, app: App, name: str) -> None:
    """Run the first-run flow up to the welcome page."""
    app.start()
    assert app.stage == "name"
    app.window.name_page.name.setText(name)
    app.window.name_page.button.click()
    qtbot.waitUntil(lambda: app.stage == "welcome", timeout=START_MS)  # type: ignore[attr-defined]


def answer_text(qtbot: object, parent: object, text: str) -> None:
    """Type `text` into the open `ask_text` question under `parent` and accept it."""
    from PySide6.QtWidgets import QInputDialog

    def open_dialogs() -> list[QInputDialog]:
        return [d for d in parent.findChildren(QInputDialog) if d.isVisible()]  # type: ignore[attr-defined]

    qtbot.waitUntil(lambda: bool(open_dialogs()), timeout=5_000)  # type: ignore[attr-defined]
    dialog = open_dialogs()[0]
    dialog.setTextValue(text)
    dialog.accept()
