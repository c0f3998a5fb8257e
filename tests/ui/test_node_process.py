"""`NodeProcess.stop` never blocks the GUI: the Qt loop runs while the node stops.

One test with a stand-in node that ignores SIGTERM (so the stop has to wait
for its bound and then kill), one with a real node. Each checks that `stop()`
returns while the node still runs and that a zero-delay timer queued right
after it fires before the node is reported stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer

from p2pcommunity.control.protocol import resolve_socket_path
from p2pcommunity.ui.node_process import NodeProcess, NodeState, _pid_alive

from .conftest import LOCAL, START_MS

STUBBORN = (
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def test_stop_returns_at_once_and_kills_a_node_that_ignores_sigterm(qtbot, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"  # its SIGTERM handler is in place
        node = NodeProcess(tmp_path)
        node.pid, node.started_by_us, node.state = proc.pid, True, NodeState.READY
        seen: list[tuple[bool, bool]] = []
        with qtbot.waitSignal(node.stopped, timeout=15_000) as stopped:
            node.stop(timeout_ms=1_000)
            assert node.stopping and _pid_alive(proc.pid)  # stop() did not wait
            QTimer.singleShot(0, lambda: seen.append((node.stopping, _pid_alive(proc.pid))))
        assert seen == [(True, True)]  # the loop ran while the node was still up
        assert stopped.args == [False]  # it would not go: killed at the bound
        assert proc.wait(5) == -signal.SIGKILL
        assert node.state is NodeState.STOPPED and node.pid is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_real_node_stops_while_the_loop_runs(qtbot, tmp_path: Path) -> None:
    node = NodeProcess(tmp_path / "alice", LOCAL)
    try:
        with qtbot.waitSignal(node.ready, timeout=START_MS):
            node.start()
        pid = node.pid
        assert pid is not None and _pid_alive(pid)
        seen: list[bool] = []
        with qtbot.waitSignal(node.stopped, timeout=15_000) as stopped:
            node.stop()
            assert node.stopping
            QTimer.singleShot(0, lambda: seen.append(node.stopping))
        assert seen == [True]
        assert stopped.args == [True]  # it exited on SIGTERM
        assert not _pid_alive(pid)
        assert resolve_socket_path(node.data_dir) is None
        # Stopping again, or a node never started: `stopped` all the same.
        with qtbot.waitSignal(node.stopped, timeout=5_000) as again:
            node.stop()
        assert again.args == [True]
    finally:
        if node.pid is not None and _pid_alive(node.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
