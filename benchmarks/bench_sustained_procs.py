"""Issue 3's sustained figure with one OS process per node.

`bench_sync.py --only sustained` runs every node in one process (one GIL);
a deployment runs one `p2pcommunity-node run` per device. This benchmark:

1. creates `--nodes` data dirs; node 0 creates a community with the offline
   CLI and admits the others (`member add`), starts, and the others take the
   community up with `join COMMUNITY --bootstrap <node 0>`;
2. starts every node as its own `run` process on loopback, node i
   bootstrapping to 2-3 random earlier nodes (seeded connected mesh, degree
   at most 6);
3. posts `--rate` posts/s for `--seconds` from random nodes through the
   control API, then waits up to `--drain` seconds for the rest;
4. reads, from each node's store, when each post became visible there
   (`posts.first_seen_ms`, stamped in the transaction that makes it readable).

Latency is send time -> visible at every node (one wall clock: all nodes run
on this machine). CPU is the nodes' utime+stime
from /proc over the posting+drain window; RSS is the max VmHWM.

Each figure ends with one line `BENCH <name> <value> <unit> floor=<value>`.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from benchlib import bench, percentile

from p2pcommunity.control.client import ControlClient

NODE = [sys.executable, "-m", "p2pcommunity.cli"]
# Set: every node runs under a CPU-time cProfile (benchmarks/profile_node.py), one file each.
PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")
LOOPBACK = "/ip4/127.0.0.1/tcp/0"
MAX_DEGREE = 6
TEXT_RE = re.compile(r"^bench post (-?\d+):")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def text_of(i: int) -> str:
    return f"bench post {i}: the quick brown fox jumps over the lazy dog"


def cli(data_dir: Path, *args: str, timeout: float = 120) -> Any:
    proc = subprocess.run(
        [*NODE, "--data-dir", str(data_dir), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{args} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # fields[0] is state (field 3); utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_mb(pid: int, field: str) -> float:
    """A memory figure of /proc/PID/status (VmRSS: now, VmHWM: peak), in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


class Node:
    def __init__(self, index: int, data_dir: Path) -> None:
        self.index = index
        self.data_dir = data_dir
        self.proc: subprocess.Popen[str] | None = None
        self.addr = ""

    def start(self, bootstrap: list[str], timeout: float = 60.0) -> None:
        extra: list[str] = []
        for addr in bootstrap:
            extra += ["--bootstrap", addr]
        log = open(str(self.data_dir) + ".log", "w")  # noqa: SIM115
        command = NODE
        if PROFILE_DIR:
            profile = Path(PROFILE_DIR) / f"node{self.index}.prof"
            command = [sys.executable, str(Path(__file__).parent / "profile_node.py"), str(profile)]
        self.proc = subprocess.Popen(
            [*command, "--data-dir", str(self.data_dir), "run", "--listen", LOOPBACK, *extra],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(
                f"node {self.index} exited: {Path(str(self.data_dir) + '.log').read_text()}"
            )
        self.addr = line.strip()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            client = ControlClient.connect(self.data_dir)
            if client is not None:
                client.close()
                return
            time.sleep(0.05)
        raise RuntimeError(f"node {self.index}: no control socket")

    def connect(self) -> ControlClient:
        client = ControlClient.connect(self.data_dir, timeout=30.0)
        if client is None:
            raise RuntimeError(f"node {self.index}: no control socket")
        return client

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        self.proc = None


class Visibility:
    """When each bench post became visible on each node, read from the node's store.

    `posts.first_seen_ms` is stamped in the transaction that puts a post into
    the read model, i.e. the moment any reader (the app, `read`) can see it.
    Reading it from the store (SQLite WAL: a reader never blocks the node)
    costs the nodes nothing, unlike polling them through the control API.
    """

    def __init__(self, nodes: list[Node]) -> None:
        self.paths = [node.data_dir / "store.sqlite3" for node in nodes]

    def seen(self) -> list[dict[int, float]]:
        """Per node: bench post index -> first-seen time (seconds, wall clock)."""
        out = []
        for path in self.paths:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                rows = db.execute(
                    "SELECT text, first_seen_ms FROM posts WHERE text LIKE 'bench post %'"
                ).fetchall()
            finally:
                db.close()
            found: dict[int, float] = {}
            for text, ms in rows:
                m = TEXT_RE.match(text)
                if m:
                    found[int(m.group(1))] = ms / 1000
            out.append(found)
        return out

    def undelivered(self, indices: Sequence[int]) -> int:
        seen = self.seen()
        return sum(1 for i in indices if not all(i in s for s in seen))


def random_mesh(n: int, rnd: random.Random) -> list[list[int]]:
    """For node i > 0, 2-3 earlier nodes to bootstrap to, degree <= MAX_DEGREE."""
    degree = [0] * n
    picks: list[list[int]] = [[]]
    for i in range(1, n):
        candidates = [j for j in range(i) if degree[j] < MAX_DEGREE]
        k = min(len(candidates), rnd.choice([2, 3]))
        chosen = rnd.sample(candidates, k)
        for j in chosen:
            degree[j] += 1
            degree[i] += 1
        picks.append(chosen)
    return picks


def run(args: argparse.Namespace) -> None:  # noqa: C901 -- one scenario: set up, load, measure, tear down
    rnd = random.Random(args.seed)
    n = args.nodes
    tmp = Path(tempfile.mkdtemp(prefix="bench-procs-"))
    nodes = [Node(i, tmp / f"n{i}") for i in range(n)]
    posters: list[ControlClient] = []
    joins: list[subprocess.Popen[str]] = []
    try:
        t0 = time.perf_counter()
        peer_ids = [
            cli(node.data_dir, "init", "--name", f"n{node.index}")["peer_id"] for node in nodes
        ]
        owner = nodes[0]
        cid = cli(owner.data_dir, "community", "create", "Bench")["community_id"]
        for peer in peer_ids[1:]:
            cli(owner.data_dir, "member", "add", cid, peer)
        owner.start([])
        joins += [
            subprocess.Popen(
                [
                    *NODE,
                    "--data-dir",
                    str(node.data_dir),
                    "--json",
                    "join",
                    cid,
                    "--bootstrap",
                    owner.addr,
                    "--timeout",
                    "60",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for node in nodes[1:]
        ]
        for node, join in zip(nodes[1:], joins, strict=True):
            _out, err = join.communicate(timeout=120)
            if join.returncode != 0:
                raise RuntimeError(f"node {node.index} join failed: {err}")
        mesh = random_mesh(n, rnd)
        edges = sum(len(p) for p in mesh)
        for node, picks in zip(nodes[1:], mesh[1:], strict=True):
            node.start([nodes[j].addr for j in picks])
        print(
            f"setup: {n} node processes, {edges} bootstrap edges, {time.perf_counter() - t0:.1f} s",
            flush=True,
        )

        visibility = Visibility(nodes)
        posters = [node.connect() for node in nodes]
        # warm-up: one post from each node must reach everyone before timing
        warm = list(range(-n, 0))
        for w, node in zip(warm, nodes, strict=True):
            posters[node.index].call(
                "post", {"community": cid, "channel": "general", "text": text_of(w)}
            )
        deadline = time.monotonic() + 60
        while visibility.undelivered(warm) and time.monotonic() < deadline:
            time.sleep(0.2)
        if visibility.undelivered(warm):
            for node, seen in zip(nodes, visibility.seen(), strict=True):
                print(f"  node {node.index} saw {sorted(seen)}", flush=True)
            raise RuntimeError("warm-up posts did not reach every node in 60 s")
        status = [posters[i].call("status") for i in range(n)]
        degrees = [len(s.get("peers", [])) for s in status]
        print(f"  mesh up; connected peers per node {degrees}", flush=True)

        total = int(args.rate * args.seconds)
        indices = list(range(total))
        cpu0 = [cpu_seconds(node.proc.pid) for node in nodes if node.proc]
        rss0 = [status_mb(node.proc.pid, "VmRSS") for node in nodes if node.proc]
        self_cpu0 = time.process_time()
        wall0 = time.perf_counter()
        start = time.monotonic()
        call_times: list[float] = []
        sent: dict[int, float] = {}
        queues: list[queue.Queue[int | None]] = [queue.Queue() for _ in range(n)]

        def poster(k: int) -> None:
            # open loop: one thread per node so a slow node does not hold back the others
            while (i := queues[k].get()) is not None:
                begun = time.monotonic()
                posters[k].call(
                    "post", {"community": cid, "channel": "general", "text": text_of(i)}
                )
                call_times.append(time.monotonic() - begun)

        threads = [threading.Thread(target=poster, args=(k,), daemon=True) for k in range(n)]
        for thread in threads:
            thread.start()
        for i in indices:
            target = start + i / args.rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            origin = rnd.randrange(n)
            sent[i] = time.time()
            queues[origin].put(i)
        for q in queues:
            q.put(None)
        for thread in threads:
            thread.join()
        posting = time.perf_counter() - wall0
        drain_deadline = time.monotonic() + args.drain
        while visibility.undelivered(indices) and time.monotonic() < drain_deadline:
            time.sleep(0.5)
        window = time.perf_counter() - wall0
        cpu1 = [cpu_seconds(node.proc.pid) for node in nodes if node.proc]
        self_cpu = time.process_time() - self_cpu0
        rss = [status_mb(node.proc.pid, "VmHWM") for node in nodes if node.proc]
        rss1 = [status_mb(node.proc.pid, "VmRSS") for node in nodes if node.proc]
        alive = [node.proc.poll() is None for node in nodes if node.proc]

        seen = visibility.seen()
        lat: list[float] = []
        for i in indices:
            times = [s.get(i) for s in seen]
            if all(t is not None for t in times):
                lat.append(max(times) - sent[i])  # type: ignore[type-var]
        delivered = len(lat)
        node_cpu = sum(cpu1) - sum(cpu0)
        print(
            f"  posted {total} in {posting:.1f} s ({total / posting:.1f}/s achieved, open loop; post call "
            f"p50 {percentile(call_times, 50) * 1000:.0f} ms p99 "
            f"{percentile(call_times, 99) * 1000:.0f} ms); window until drained {window:.1f} s; "
            f"{delivered}/{total} delivered to all {n} nodes",
            flush=True,
        )
        print(
            f"  latency post->visible everywhere: p50 {percentile(lat, 50) * 1000:.0f} ms, "
            f"p99 {percentile(lat, 99) * 1000:.0f} ms, max {max(lat, default=0) * 1000:.0f} ms",
            flush=True,
        )
        print(
            f"  node CPU {node_cpu:.1f} s over {window:.1f} s = {node_cpu / window:.2f} "
            f"CPU-s per wall-s (machine has {os.cpu_count()} cores); per node "
            f"{[round(b - a, 1) for a, b in zip(cpu0, cpu1, strict=True)]}; "
            f"this bench process {self_cpu:.1f} s",
            flush=True,
        )
        per_node = [
            percentile([s[i] - sent[i] for i in indices if i in s], 50) * 1000 for s in seen
        ]
        print(f"  p50 latency to each node (ms): {[round(v) for v in per_node]}", flush=True)
        print(
            f"  RSS per node MB at start {[round(r) for r in rss0]}, at end "
            f"{[round(r) for r in rss1]}, peak {[round(r) for r in rss]}; alive {all(alive)}",
            flush=True,
        )
        bench("sustained_procs_p50_ms", percentile(lat, 50) * 1000, "ms", "n/a")
        bench("sustained_procs_p99_ms", percentile(lat, 99) * 1000, "ms", "n/a")
        bench("sustained_procs_max_ms", max(lat, default=float("nan")) * 1000, "ms", "n/a")
        bench("sustained_procs_delivered", delivered / total * 100, "%", "100")
        bench("sustained_procs_achieved_rate", total / posting, "posts/s", float(args.rate))
        bench("sustained_procs_cpu_s", node_cpu, "s", "n/a")
        bench("sustained_procs_cpu_per_wall_s", node_cpu / window, "cores", "n/a")
        bench("sustained_procs_rss_start_mb", max(rss0, default=0.0), "MB", "n/a")
        bench("sustained_procs_rss_end_mb", max(rss1, default=0.0), "MB", "n/a")
        bench("sustained_procs_rss_max_mb", max(rss, default=0.0), "MB", "n/a")
    finally:
        for client in posters:
            client.close()
        for join in joins:
            if join.poll() is None:
                os.kill(join.pid, signal.SIGKILL)
                join.wait(5)
        for node in nodes:
            try:
                node.stop()
            except Exception as exc:  # noqa: BLE001 -- stop the others anyway
                print(f"  stopping node {node.index}: {exc!r}", flush=True)
        if args.keep:
            print(f"  kept {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--drain", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    print(
        f"sustained_procs: {args.nodes} node processes, {args.rate} posts/s for "
        f"{args.seconds} s (drain up to {args.drain} s)",
        flush=True,
    )
    run(args)


if __name__ == "__main__":
    main()
