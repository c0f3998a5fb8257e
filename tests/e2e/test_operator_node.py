"""The headless node as an operator runs it: config, always-on member, metrics, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.e2e.conftest import NODE
from tests.e2e.nodes import RunningNode, community_with, init_all, start_node, wait_for


def _texts(cli: Any, community: str) -> list[str]:
    return [p["text"] for p in cli.json("read", community, "general", "--limit", "1000")["posts"]]


def _log(cli: Any) -> str:
    return Path(str(cli.data_dir) + ".log").read_text()


def _metrics_url(cli: Any) -> str:
    def port() -> str | None:
        for line in _log(cli).splitlines():
            try:
                message = json.loads(line)["message"]
            except (ValueError, KeyError):
                continue
            found = re.search(r"metrics on (http://\S+)/metrics", message)
            if found:
                return found.group(1)
        return None

    url: str = wait_for(port, timeout=15)
    return url


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_config_file_unknown_key_is_a_clear_invalid_error(make_cli: Any, tmp_path: Path) -> None:
    alice = make_cli("alice")
    alice("init")
    config = tmp_path / "node.toml"
    config.write_text('listen = ["/ip4/127.0.0.1/tcp/0"]\nlisen = []\n[limits]\nmax_peer = 3\n')
    result = alice("--json", "run", "--config", str(config), check=False)
    assert result.code == 1
    error = result.error()
    assert error["code"] == "invalid"
    assert "`lisen`" in error["error"]
    config.write_text("[limits]\nmax_peer = 3\n")
    error = alice("--json", "run", "--config", str(config), check=False).error()
    assert error["code"] == "invalid" and "`limits.max_peer`" in error["error"]
    config.write_text('[limits]\nmax_peers = "many"\n')
    error = alice("--json", "run", "--config", str(config), check=False).error()
    assert error["code"] == "invalid" and "max_peers" in error["error"]


def test_config_file_with_flags_overriding_and_json_logs(make_cli: Any, tmp_path: Path) -> None:
    alice = make_cli("alice")
    alice("init")
    config = tmp_path / "node.toml"
    # The file's listen address is overridden by start_node's --listen flag.
    config.write_text(
        'listen = ["/ip4/127.0.0.1/tcp/1"]\nlog_format = "json"\nmetrics = "127.0.0.1:0"\n'
        "[limits]\nmax_peers = 8\nmax_frames_per_second = 100\n"
    )
    node = start_node(alice, "--config", str(config))
    try:
        assert not node.addr.startswith("/ip4/127.0.0.1/tcp/1/")
        url = _metrics_url(alice)
        assert _get(url + "/healthz") == (200, "ok\n")
        lines = [json.loads(line) for line in _log(alice).splitlines() if line.strip()]
        assert lines and all({"time", "level", "logger", "message"} <= set(e) for e in lines)
    finally:
        assert node.stop() == 0


def test_store_and_forward_through_an_always_on_node(make_cli: Any) -> None:
    """A and B are never online at the same time; N always is."""
    alice, bob, always = make_cli("alice"), make_cli("bob"), make_cli("n")
    init_all(alice, bob, always, named=True)
    community = community_with(alice, "Night shift", bob, always)
    n = start_node(always)
    a: RunningNode | None = None
    b: RunningNode | None = None
    try:
        a = start_node(alice)
        assert always.json("join", community, "--bootstrap", a.addr)["community_id"] == community
        alice("node", "add", community, always.json("whoami")["peer_id"], n.addr)
        wait_for(lambda: always.json("community", "show", community)["nodes"])
        assert a.stop() == 0
        # B joins from N alone (A is offline) and learns N is the community's node.
        assert bob.json("join", community, "--bootstrap", n.addr)["community_id"] == community
        assert bob.json("community", "show", community)["nodes"][0]["addr"] == n.addr
        # A comes back with no bootstrap flag: it dials the listed node, posts, leaves.
        a = start_node(alice)
        alice("post", community, "general", "left for bob")
        wait_for(lambda: "left for bob" in _texts(always, community), timeout=30)
        assert a.stop() == 0
        # B comes back with no bootstrap flag either and finds the post at N.
        b = start_node(bob)
        wait_for(lambda: "left for bob" in _texts(bob, community), timeout=30)
    finally:
        codes = [x.stop() for x in (a, b, n) if x is not None]
    assert codes == [0] * len(codes)


def test_metrics_endpoint_counts_posts_that_flow(make_cli: Any, tmp_path: Path) -> None:
    alice, always = make_cli("alice"), make_cli("n")
    init_all(alice, always)
    community = community_with(alice, "Metered", always)
    a = start_node(alice)
    n = start_node(always, "--metrics", "127.0.0.1:0", "--log-format", "json")
    try:
        url = _metrics_url(always)
        assert _get(url + "/healthz") == (200, "ok\n")
        always("join", community, "--bootstrap", a.addr)
        status, before = _get(url + "/metrics")
        assert status == 200
        assert _metric(before, "p2pcommunity_communities") == 1
        assert _metric(before, "p2pcommunity_connected_peers") >= 1
        assert _metric(before, "p2pcommunity_ops_applied_total") > 0
        changes = _metric(before, "p2pcommunity_changes_applied_total")
        received = _metric(before, "p2pcommunity_bytes_received_total")
        for i in range(3):
            alice("post", community, "general", f"metered {i}")

        def moved() -> bool:
            text = _get(url + "/metrics")[1]
            return (
                _metric(text, "p2pcommunity_changes_applied_total") >= changes + 3
                and _metric(text, "p2pcommunity_bytes_received_total") > received
            )

        wait_for(moved, timeout=20)
        text = _get(url + "/metrics")[1]
        assert _metric(text, "p2pcommunity_sync_round_seconds_count") >= 1
        assert _metric(text, "p2pcommunity_bytes_sent_total") > 0
        assert _metric(text, "p2pcommunity_documents") >= 1
        assert urllib_status(url + "/nope") == 404
    finally:
        codes = [x.stop() for x in (a, n)]
    assert codes == [0, 0]


def urllib_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _bulk_posts(data_dir: Path, community: str, count: int) -> None:
    """Many posts written straight into a stopped node's store (fast, no CLI per post)."""
    from p2pcommunity.datadir import DataDir

    with DataDir(data_dir) as opened:
        identity = opened.identity(None)
        assert identity is not None
        service = opened.open(identity)
        for i in range(count):
            service.post(community, "general", f"bulk {i:05d} " + "x" * 200)


def _post_count(data_dir: Path) -> int:
    db = sqlite3.connect(f"file:{data_dir / 'store.sqlite3'}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_sigterm_mid_sync_exits_promptly_and_the_sync_resumes(make_cli: Any) -> None:
    alice, bob = make_cli("alice"), make_cli("bob")
    init_all(alice, bob)
    community = community_with(alice, "Big", bob)
    a = start_node(alice)
    b: RunningNode | None = None
    try:
        bob("join", community, "--bootstrap", a.addr)
        assert a.stop() == 0
        total = 8000  # enough frames that a sync with a signature worker is still mid-way
        _bulk_posts(alice.data_dir, community, total)
        a = start_node(alice)
        b = start_node(bob, "--bootstrap", a.addr)
        wait_for(lambda: _post_count(bob.data_dir) > 50, timeout=30, interval=0.02)
        started = time.monotonic()
        code = b.stop(signal.SIGTERM, timeout=5)
        stopped_in = time.monotonic() - started
        assert code == 0, _log(bob)[-3000:]
        assert stopped_in < 5
        partial = _post_count(bob.data_dir)
        assert 0 < partial < total, "the sync was not interrupted mid-way"
        b = start_node(bob, "--bootstrap", a.addr)
        wait_for(lambda: _post_count(bob.data_dir) == total, timeout=90, interval=0.2)
        assert len(_texts(bob, community)) == 1000  # the newest page reads
        assert b.stop() == 0
        b = None
        db = sqlite3.connect(bob.data_dir / "store.sqlite3")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
    finally:
        for x in (a, b):
            if x is not None:
                x.stop()


def start_no_listen(cli: Any, *extra: str, timeout: float = 30.0) -> subprocess.Popen[str]:
    """`run --no-listen`: it prints no address; ready once its control socket answers."""
    log = open(Path(str(cli.data_dir) + ".log"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [*NODE, "--data-dir", str(cli.data_dir), "run", "--no-listen", *extra],
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
        env=os.environ.copy(),
    )
    log.close()
    deadline = time.monotonic() + timeout
    while " running on " not in _log(cli) or cli("whoami", check=False).code != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(5)
            raise AssertionError(f"no-listen node did not come up: {_log(cli)[-2000:]}")
        time.sleep(0.05)
    return proc


def stop_proc(proc: subprocess.Popen[str], timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode
