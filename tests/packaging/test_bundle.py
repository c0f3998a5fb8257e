"""The PyInstaller bundle, run as a user would: `.ci/run` runs this after `make dist`.

    P2PCOMMUNITY_BUNDLE=dist/p2pcommunity .venv/bin/python -m pytest -q tests/packaging/test_bundle.py

Skipped (with the reason) unless P2PCOMMUNITY_BUNDLE names a bundle folder,
so `make test` never tests a stale `dist/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from p2pcommunity import __version__

BUNDLE_ENV = "P2PCOMMUNITY_BUNDLE"
_bundle = os.environ.get(BUNDLE_ENV, "")
pytestmark = pytest.mark.skipif(
    not _bundle, reason=f"{BUNDLE_ENV} is not set (the bundle is tested by .ci/run after make dist)"
)

BUNDLE = Path(_bundle).absolute()
APP = BUNDLE / "p2pcommunity"
NODE = BUNDLE / "p2pcommunity-node"
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=ENV
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_bundle_has_both_programs() -> None:
    for exe in (APP, NODE):
        assert exe.is_file() and os.access(exe, os.X_OK), exe


def test_versions() -> None:
    assert run(NODE, "--version").stdout.strip() == f"p2pcommunity-node {__version__}"
    assert run(APP, "--version").stdout.strip() == f"p2pcommunity {__version__}"


def test_the_bundled_node_runs_its_signature_worker() -> None:
    from p2pcommunity import sigworker

    done = subprocess.run(
        [str(NODE)],
        input=b"",
        capture_output=True,
        timeout=60,
        env={**ENV, sigworker.BUNDLE_SWITCH: "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == sigworker.READY  # up, then stdin closed: it exits quietly


def test_node_init_and_community_create(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(NODE, "--data-dir", data, "init", "--name", "ci")
    community_id = run(NODE, "--data-dir", data, "community", "create", "X").stdout.strip()
    assert community_id
    listed = json.loads(run(NODE, "--data-dir", data, "--json", "community", "list").stdout)
    assert "X" in json.dumps(listed)
    run(NODE, "--data-dir", data, "post", "X", "general", "hello from the bundle")
    assert "hello from the bundle" in run(NODE, "--data-dir", data, "read", "X", "general").stdout


def _node_pids(data: Path) -> list[int]:
    """Running bundled nodes of `data` (by their command line and executable)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if str(data).encode() in argv and Path(os.readlink(proc / "exe")) == NODE.resolve():
                pids.append(int(proc.name))
    return pids


@contextlib.contextmanager
def _app(data: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as err:
        app = subprocess.Popen(
            [str(APP), "--data-dir", str(data), "--listen", "/ip4/127.0.0.1/tcp/0"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        yield app
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=30)
        for pid in _node_pids(data):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_app_starts_and_stops_the_bundled_node(tmp_path: Path) -> None:
    from p2pcommunity.control.protocol import resolve_socket_path

    data = tmp_path / "data"
    run(NODE, "--data-dir", data, "init", "--name", "ci")
    log = tmp_path / "app.log"
    with _app(data, log) as app:
        deadline = time.monotonic() + 60
        while resolve_socket_path(data) is None:
            assert app.poll() is None, f"the app exited: {log.read_text()}"
            assert time.monotonic() < deadline, "the app did not start its node within 60 s"
            time.sleep(0.1)
        assert _node_pids(data), "the node answering is not the bundle's p2pcommunity-node"
        status = json.loads(run(NODE, "--data-dir", data, "--json", "status").stdout)
        assert status
        app.send_signal(signal.SIGTERM)  # quits, and stops the node it started
        assert app.wait(timeout=30) == 0, log.read_text()
        deadline = time.monotonic() + 15
        while _node_pids(data):
            assert time.monotonic() < deadline, "the app left its node running"
            time.sleep(0.1)
