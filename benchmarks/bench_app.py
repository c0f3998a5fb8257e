"""Desktop app benchmark: launch-to-first-painted-timeline, RSS, scrolling frame time.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_app.py [--posts N]

Seeds a data dir with N posts (default 100,000) through a real node, then
runs the app in a fresh child process (so imports count) twice: with the node
already running, and with the app starting it. The child reports, as BENCH
lines: the time from its launch to the first paint of a non-empty timeline,
its peak RSS, and the mean frame time while scrolling through 10,000 rows
(each frame a synchronous `repaint` after a scroll step).

Goals (issue 6): <= 1.0 s with the node running, <= 2.5 s when the app starts
it, <= 200 MB peak RSS, <= 16 ms mean frame time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NODE = [sys.executable, "-m", "p2pcommunity.cli"]
LOCAL = "/ip4/127.0.0.1/tcp/0"

CHILD = r"""
import json, os, resource, sys, time
t0 = float(sys.argv[1]); data_dir = sys.argv[2]; scroll_rows = int(sys.argv[3])
from PySide6.QtCore import QEvent, QObject, QTimer, QModelIndex
from PySide6.QtWidgets import QApplication
qt = QApplication([])
from pathlib import Path
from typing import Any
from p2pcommunity.ui.app import App
from p2pcommunity.ui.theme import apply_theme
apply_theme(qt, False)
app = App(Path(data_dir), ["/ip4/127.0.0.1/tcp/0"])
out = {}
view = app.chat.timeline_view

class PaintWatch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "first_paint_s" not in out:
            if app.chat.timeline.rowCount() > 0:
                out["first_paint_s"] = time.time() - t0
                QTimer.singleShot(0, after_first_paint)
        return False

watch = PaintWatch()
view.viewport().installEventFilter(watch)

def after_first_paint():
    model = app.chat.timeline
    model.page = 500
    def more():
        if model.rowCount() >= scroll_rows or not model._has_older:
            QTimer.singleShot(0, scroll)
            return
        if model.canFetchMore(QModelIndex()):
            model.fetchMore(QModelIndex())
        QTimer.singleShot(5, more)
    more()

def scroll():
    bar = view.verticalScrollBar()
    view.scrollToBottom()
    qt.processEvents()
    frames = []
    step = max(view.viewport().height() // 3, 40)
    value = bar.maximum()
    while value > 0:
        value = max(value - step, 0)
        start = time.perf_counter()
        bar.setValue(value)
        view.viewport().repaint()
        frames.append(time.perf_counter() - start)
    out["rows"] = app.chat.timeline.rowCount()
    out["frames"] = len(frames)
    out["mean_frame_ms"] = 1000 * sum(frames) / max(len(frames), 1)
    out["max_frame_ms"] = 1000 * max(frames or [0])
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out), flush=True)
    app.shutdown()
    qt.quit()

app.window.resize(1280, 800)
app.window.show()
app.start()
QTimer.singleShot(300_000, qt.quit)
qt.exec()
"""


def start_node(data_dir: Path) -> subprocess.Popen[bytes]:
    """`run` on loopback; back once it listens (its first line is the address)."""
    proc = subprocess.Popen(
        [*NODE, "--data-dir", str(data_dir), "run", "--listen", LOCAL],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc


def seed(data_dir: Path, posts: int) -> None:
    from p2pcommunity.control.client import ControlClient

    subprocess.run(
        [*NODE, "--data-dir", str(data_dir), "init", "--name", "Bench"],
        check=True,
        capture_output=True,
    )
    proc = start_node(data_dir)
    try:
        client = None
        for _ in range(200):
            client = ControlClient.connect(data_dir)
            if client:
                break
            time.sleep(0.05)
        assert client is not None
        with client:
            cid = client.call("community create", {"name": "Bench"})["community_id"]
            t = time.perf_counter()
            for i in range(posts):
                client.call(
                    "post",
                    {
                        "community": cid,
                        "channel": "general",
                        "text": f"post {i}: " + "lorem ipsum dolor sit amet " * (1 + i % 5),
                    },
                )
                if i and i % 10_000 == 0:
                    print(f"# seeded {i} posts in {time.perf_counter() - t:.0f} s", flush=True)
    finally:
        proc.terminate()
        proc.wait(30)


def run_child(data_dir: Path, scroll_rows: int) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.time()
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(t0), str(data_dir), str(scroll_rows)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    for line in result.stdout.splitlines():
        if line.startswith("RESULT "):
            return dict(json.loads(line[7:]))
    raise RuntimeError(f"the app child failed:\n{result.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--scroll-rows", type=int, default=10_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="p2pc-bench-app-"))
    try:
        warm, cold = measure(root / "node", args.posts, args.scroll_rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    n = args.posts
    print(f"  {n} posts stored; {warm['rows']} rows scrolled in {warm['frames']} frames")
    print(f"BENCH app_first_paint_node_running_s {warm['first_paint_s']:.3f} s floor=n/a")
    print(f"BENCH app_first_paint_app_starts_node_s {cold['first_paint_s']:.3f} s floor=n/a")
    print(f"BENCH app_peak_rss_mb {warm['peak_rss_mb']:.0f} MB floor=n/a")
    print(
        f"BENCH app_scroll_mean_frame_ms {warm['mean_frame_ms']:.2f} ms "
        f"floor=n/a (max {warm['max_frame_ms']:.1f} ms)"
    )


def measure(data_dir: Path, posts: int, scroll_rows: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Launch-to-paint with the node running, then with the app starting it."""
    seed(data_dir, posts)
    node = start_node(data_dir)
    try:
        warm = run_child(data_dir, scroll_rows)
    finally:
        node.terminate()
        node.wait(30)
        if node.stdout is not None:
            node.stdout.close()
    cold = run_child(data_dir, 50)
    return warm, cold


if __name__ == "__main__":
    main()
