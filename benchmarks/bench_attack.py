"""Issue 11's attacks replayed against a `p2pcommunity-node run` while a member posts.

A victim node (the community's owner) and a member node run as their own
`run` processes on loopback; the member posts once a second through its
control API, and each post's delay is the time until the victim's store has
it (`posts.first_seen_ms`, read from the victim's SQLite file). This process
plays the attacker, one phase at a time, for `--seconds` each:

- `none`: no attack (the floor of every figure);
- `summaries` (finding 3): a member sends big summary frames (1 MiB, ~14k
  document entries each), over and over;
- `connections` (4): 300 idle TCP sockets, Noise handshakes left hanging,
  and strangers opening Yamux streams in a loop, all from 127.0.0.2;
- `hellos` (4b): strangers' sync streams that announce a 1 MiB - 1 first
  frame and send only part of it;
- `cpu` (5): a member sends 1 MiB frames that are slow to decode (a million
  empty CBOR arrays), reconnecting after each refusal.

Printed per phase: the member's post delay p50/p99 and the victim's RSS
before, peak (sampled) and after; then `BENCH <name> <value> <unit>
floor=<value>` lines, the floor being the `none` phase's figure. The
scripted attackers reuse tests/net/attack.py.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cbor2
import trio
from bench_sustained_procs import Node, Visibility, cli, status_mb, text_of
from benchlib import bench, percentile

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.framing import FrameReader, write_frame
from p2pcommunity.net.host import running_host
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.sync.protocol.frames import DocSummary, HelloFrame, SummaryFrame, encode_frame
from tests.net.attack import (
    frame_header,
    noise_handshake,
    open_protocol_stream,
    open_tcp,
    yamux_connection,
)

PHASES = ["none", "summaries", "connections", "hellos", "cpu"]
MIB = 1024 * 1024
Attack = Callable[[str, str, bytes, DeviceIdentity], Awaitable[None]]


async def _drain(stream: Any) -> None:
    reader = FrameReader(stream)
    with contextlib.suppress(Exception):
        while await reader.read_frame() is not None:
            pass


async def _member_stream(
    addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity, frames: list[bytes]
) -> None:
    """As a member: open sync streams and send `frames` after the hello, again and again."""
    async with running_host(identity, ["/ip4/127.0.0.1/tcp/0"]) as host:
        while True:
            try:
                stream = await host.open_stream(peer_id, [addr], SYNC_PROTOCOL)
            except Exception:  # noqa: BLE001 -- not listening yet, or refused: retry
                await trio.sleep(0.2)
                continue
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, stream)
                with contextlib.suppress(Exception):
                    await write_frame(stream, encode_frame(HelloFrame(cid, ())))
                    for frame in frames:
                        await write_frame(stream, frame)
                await stream.close()
                nursery.cancel_scope.cancel()


async def attack_none(addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity) -> None:
    await trio.sleep_forever()


async def attack_summaries(addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity) -> None:
    docs = tuple(
        DocSummary(i.to_bytes(32, "big"), 0, 1 + i, (i + 1).to_bytes(32, "big"))
        for i in range(14_000)
    )
    frame = encode_frame(SummaryFrame(docs, last=False))
    await _member_stream(addr, peer_id, cid, identity, [frame] * 300)


async def attack_cpu(addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity) -> None:
    frame = cbor2.dumps({"t": "heads", "heads": [[]] * (MIB - 64)})
    await _member_stream(addr, peer_id, cid, identity, [frame] * 4)


async def attack_connections(addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity) -> None:
    held: list[Any] = []

    async def idle() -> None:
        for _ in range(300):
            with contextlib.suppress(OSError):
                held.append(await open_tcp(addr))

    async def stalled_handshakes() -> None:
        while True:
            with contextlib.suppress(Exception):
                sock, _ = await noise_handshake(addr, peer_id)
                held.append(sock)
            await trio.sleep(0)

    async def streams() -> None:
        while True:
            with contextlib.suppress(Exception):
                async with yamux_connection(addr, peer_id) as muxed:
                    for _ in range(200):
                        await muxed.open_stream()
            await trio.sleep(0.05)

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(idle)
            for _ in range(8):
                nursery.start_soon(stalled_handshakes)
            for _ in range(4):
                nursery.start_soon(streams)
    finally:
        for sock in held:
            with contextlib.suppress(Exception):
                await sock.aclose()


async def attack_hellos(addr: str, peer_id: str, cid: bytes, identity: DeviceIdentity) -> None:
    async def stranger() -> None:
        while True:
            with contextlib.suppress(Exception):
                async with yamux_connection(addr, peer_id) as muxed:
                    for _ in range(8):
                        stream = await open_protocol_stream(muxed, SYNC_PROTOCOL)
                        await stream.write(frame_header(MIB - 1) + b"\0" * (256 * 1024 - 4))
                    await trio.sleep(10)
            await trio.sleep(0.05)

    async with trio.open_nursery() as nursery:
        for _ in range(20):
            nursery.start_soon(stranger)


ATTACKS: dict[str, Attack] = {
    "none": attack_none,
    "summaries": attack_summaries,
    "connections": attack_connections,
    "hellos": attack_hellos,
    "cpu": attack_cpu,
}


def run_attack(attack: Attack, stop: threading.Event, *args: Any) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attack, *args)
            while not stop.is_set():
                await trio.sleep(0.1)
            nursery.cancel_scope.cancel()

    trio.run(main)


def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-attack-"))
    victim, member = Node(0, tmp / "victim"), Node(1, tmp / "member")
    attacker = DeviceIdentity.generate()
    try:
        cli(victim.data_dir, "init", "--name", "victim")
        member_pid = cli(member.data_dir, "init", "--name", "member")["peer_id"]
        cid = cli(victim.data_dir, "community", "create", "Bench")["community_id"]
        for peer in (member_pid, attacker.peer_id):
            cli(victim.data_dir, "member", "add", cid, peer)
        victim.start([])
        cli(member.data_dir, "join", cid, "--bootstrap", victim.addr, "--timeout", "60")
        member.start([victim.addr])
        poster = member.connect()
        visibility = Visibility([victim])
        assert victim.proc is not None
        pid = victim.proc.pid
        results: dict[str, dict[str, float]] = {}
        index = 0
        for phase in args.phases:
            stop = threading.Event()
            thread = threading.Thread(
                target=run_attack,
                args=(
                    ATTACKS[phase],
                    stop,
                    victim.addr,
                    victim.addr.rsplit("/", 1)[1],
                    bytes.fromhex(cid),
                    attacker,
                ),
                daemon=True,
            )
            rss_before = status_mb(pid, "VmRSS")
            thread.start()
            sent: dict[int, float] = {}
            peak = rss_before
            start = time.monotonic()
            while time.monotonic() - start < args.seconds:
                sent[index] = time.time()
                with contextlib.suppress(Exception):
                    poster.call(
                        "post",
                        {"community": cid, "channel": "general", "text": text_of(index)},
                        timeout=30,
                    )
                index += 1
                tick = time.monotonic()
                while time.monotonic() - tick < 1.0:
                    peak = max(peak, status_mb(pid, "VmRSS"))
                    time.sleep(0.1)
            stop.set()
            thread.join(30)
            deadline = time.monotonic() + args.drain
            while visibility.undelivered(list(sent)) and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)
            seen = visibility.seen()[0]
            delays = [seen[i] - t for i, t in sent.items() if i in seen]
            lost = len(sent) - len(delays)
            # A post that never arrived counts as the whole drain window.
            delays += [args.seconds + args.drain] * lost
            results[phase] = {
                "p50": percentile(delays, 50),
                "p99": percentile(delays, 99),
                "rss_before": rss_before,
                "rss_peak": peak,
                "rss_after": status_mb(pid, "VmRSS"),
                "lost": lost,
            }
            r = results[phase]
            print(
                f"{phase:12s} post delay p50 {r['p50']:.3f} s p99 {r['p99']:.3f} s "
                f"({len(sent)} posts, {lost} lost); victim RSS {r['rss_before']:.0f} -> "
                f"peak {r['rss_peak']:.0f} -> {r['rss_after']:.0f} MB; "
                f"alive={victim.proc.poll() is None}",
                flush=True,
            )
        floor = results.get("none")
        for phase, r in results.items():
            if phase == "none":
                continue
            for key, unit in (("p50", "s"), ("p99", "s"), ("rss_peak", "MB"), ("rss_after", "MB")):
                base = floor[key] if floor else "n/a"
                bench(f"attack_{phase}_{key}", r[key], unit, base)
        poster.close()
    finally:
        member.stop()
        victim.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="per phase")
    parser.add_argument("--drain", type=float, default=10, help="wait for late posts")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=PHASES)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
