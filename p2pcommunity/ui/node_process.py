"""Find or start the node of a data dir, and stop it again if we started it.

A small state machine driven by one `QTimer`, never a blocking wait while the
window lives: `start()` attaches to a node that already answers on the data
dir's control socket (someone else's: left alone at the end), or launches
`python -m p2pcommunity.cli --data-dir DIR run --listen ADDR` (in a bundle:
the sibling `p2pcommunity-node` executable) and polls
`resolve_address` until the node listens (bounded), then emits `ready`.

The node is started detached (`QProcess.startDetached`) on purpose: with
"keep syncing when the window is closed" it must outlive the app, which a
child `QProcess` cannot (its destructor kills it), and so no `QProcess`
signal tells us when it exits. `stop()` is what `QProcess.terminate` does,
a SIGTERM, and returns at once; the same timer then polls until the process
is gone (SIGKILL past a bound) and `stopped` is emitted. The window's event
loop runs all the while: a node that takes seconds to close its store never
freezes the GUI, and the app quits on `stopped`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from p2pcommunity.control.transport import resolve_address

LOG_FILE = "node.log"
DEFAULT_LISTEN = "/ip4/0.0.0.0/tcp/0"
START_TIMEOUT_MS = 30_000
STOP_TIMEOUT_MS = 10_000
POLL_MS = 50


_EXEC_WITH_LOG = (
    "import os, sys\n"
    "log = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
    "null = os.open(os.devnull, os.O_RDWR)\n"
    "os.dup2(null, 0); os.dup2(null, 1); os.dup2(log, 2)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


_SH_EXEC_WITH_LOG = '(umask 077; : >"$0") && exec "$@" </dev/null >/dev/null 2>"$0"'


def node_command() -> list[str]:
    """How to run `p2pcommunity-node`: this Python's module, or the bundle's sibling executable."""
    if getattr(sys, "frozen", False):
        name = "p2pcommunity-node.exe" if os.name == "nt" else "p2pcommunity-node"
        return [str(Path(sys.executable).resolve().parent / name)]
    return [sys.executable, "-m", "p2pcommunity.cli"]


class NodeState(Enum):
    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


def _pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone: nobody may reap a detached child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class NodeProcess(QObject):
    ready = Signal(str)  # control address: socket path or `tcp` endpoint file
    failed = Signal(str)  # a readable reason
    stopped = Signal(bool)  # after stop(): True if the node exited, False if it was killed

    def __init__(
        self,
        data_dir: Path,
        listen: list[str] | None = None,
        start_timeout_ms: int = START_TIMEOUT_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.data_dir = data_dir.absolute()
        self.listen = listen or [DEFAULT_LISTEN]
        self.mdns = False  # `run --mdns`: LAN discovery, from the preferences
        self.start_timeout_ms = start_timeout_ms
        self.state = NodeState.IDLE
        self.pid: int | None = None
        self.started_by_us = False
        self._deadline = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    # ------------------------------------------------------------------ start

    def running_elsewhere(self) -> bool:
        return resolve_address(self.data_dir) is not None

    def start(self) -> None:
        """Attach to the running node, or launch one; `ready` or `failed` follows."""
        path = resolve_address(self.data_dir)
        if path is not None:
            self.state = NodeState.READY
            QTimer.singleShot(0, lambda: self.ready.emit(str(path)))
            return
        self._launch()

    def restart(self) -> None:
        """After the attached node went away: start our own."""
        self.state = NodeState.IDLE
        self.start()

    def run_args(self) -> list[str]:
        """`run` and its flags, as the next start passes them to the node."""
        args = ["--data-dir", str(self.data_dir), "run"]
        for addr in self.listen:
            args += ["--listen", addr]
        return [*args, "--mdns"] if self.mdns else args

    def _launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        node = node_command()
        args = [*node[1:], *self.run_args()]
        # The static startDetached returns the pid (PySide6's member overload
        # does not); it cannot redirect output, so a two-line exec wrapper
        # sends stdout to /dev/null and stderr to the log, keeping the pid.
        log = str(self.data_dir / LOG_FILE)
        if getattr(sys, "frozen", False):
            # A bundle has no `python -c`: the same wrapper in sh.
            program, wrapper = "/bin/sh", ["-c", _SH_EXEC_WITH_LOG, log, node[0], *args]
        else:
            program, wrapper = sys.executable, ["-c", _EXEC_WITH_LOG, log, node[0], *args]
        ok, pid = QProcess.startDetached(program, wrapper, str(self.data_dir))
        if not ok or not pid:
            self._fail("could not start the node process")
            return
        self.pid = int(pid)
        self.started_by_us = True
        self.state = NodeState.STARTING
        self._deadline = time.monotonic() + self.start_timeout_ms / 1000
        self._timer.start()

    def _on_timer_timeout(self) -> None:
        if self.state is NodeState.STOPPING:
            self._poll_stopping()
            return
        path = resolve_address(self.data_dir)
        if path is not None:
            self._timer.stop()
            self.state = NodeState.READY
            self.ready.emit(str(path))
            return
        if self.pid is not None and not _pid_alive(self.pid):
            self._timer.stop()
            self.pid = None
            self.started_by_us = False
            self._fail(f"the node stopped: {self.log_tail() or 'no reason given'}")
            return
        if time.monotonic() > self._deadline:
            self._timer.stop()
            self._fail(f"the node did not start within {self.start_timeout_ms / 1000:g} s")

    def _fail(self, reason: str) -> None:
        self.state = NodeState.FAILED
        self.failed.emit(reason)

    def log_tail(self) -> str:
        """The last error line of the node's log, for a message box."""
        try:
            lines = (self.data_dir / LOG_FILE).read_text(errors="replace").splitlines()
        except OSError:
            return ""
        for line in reversed(lines):
            if line.startswith("error:") or " ERROR " in line or "Error" in line:
                return line.removeprefix("error:").strip()
        return lines[-1].strip() if lines else ""

    # ------------------------------------------------------------------ stop

    @property
    def stopping(self) -> bool:
        return self.state is NodeState.STOPPING

    def stop(self, timeout_ms: int = STOP_TIMEOUT_MS) -> None:
        """SIGTERM the node we started; `stopped` follows once it is gone. Never waits.

        The same QTimer polls until the process is gone; past `timeout_ms` it
        gets SIGKILL and `stopped(False)`. A node we merely attached to is left
        alone (`stopped(True)` at once). Calling it again while stopping does
        nothing.
        """
        if self.state is NodeState.STOPPING:
            return
        self._timer.stop()
        if not self.started_by_us or self.pid is None:
            QTimer.singleShot(0, lambda: self.stopped.emit(True))
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        self.state = NodeState.STOPPING
        self._deadline = time.monotonic() + timeout_ms / 1000
        self._timer.start()

    def _poll_stopping(self) -> None:
        assert self.pid is not None
        if _pid_alive(self.pid):
            if time.monotonic() <= self._deadline:
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            gone = False
        else:
            gone = True
        self._timer.stop()
        self.pid = None
        self.started_by_us = False
        self.state = NodeState.STOPPED
        self.stopped.emit(gone)

    def detach(self) -> None:
        """Leave the node running after the app quits (the tray's keep-syncing setting)."""
        self._timer.stop()
        self.started_by_us = False
