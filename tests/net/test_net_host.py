"""Real libp2p hosts on 127.0.0.1 port 0 (ARCHITECTURE §5.1, §5.4, §6)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.dial import dial_with_backoff
from p2pcommunity.net.framing import FrameReader, write_frame
from p2pcommunity.net.host import DialError, NodeHost, StreamOpenError, running_host
from p2pcommunity.net.stream import PeerStream

TEST_PROTOCOL = "/p2pcommunity/test/1.0.0"
LOOPBACK = ["/ip4/127.0.0.1/tcp/0"]
PING = "/ipfs/ping/1.0.0"
IDENTIFY = "/ipfs/id/1.0.0"


def run(main: Any) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await main()

    trio.run(bounded)


def tcp_port(addr: str) -> int:
    parts = addr.split("/")
    return int(parts[parts.index("tcp") + 1])


def transport_addr(addr: str) -> str:
    return addr.split("/p2p/")[0]


@asynccontextmanager
async def two_hosts() -> AsyncIterator[tuple[NodeHost, NodeHost]]:
    async with (
        running_host(DeviceIdentity.generate(), LOOPBACK) as a,
        running_host(DeviceIdentity.generate(), LOOPBACK) as b,
    ):
        yield a, b


@asynccontextmanager
async def foreign_host(sec_opt_name: str | None, listen: bool = False) -> AsyncIterator[Any]:
    """A stock py-libp2p host: default security (None), plaintext only, or secio only."""
    from libp2p import new_swarm
    from libp2p.custom_types import TProtocol
    from libp2p.host.basic_host import BasicHost
    from libp2p.network.config import RetryConfig
    from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
    from libp2p.security.secio import transport as secio
    from multiaddr import Multiaddr

    key_pair = DeviceIdentity.generate().to_libp2p_key_pair()
    sec_opt: Any = {
        None: None,
        "plaintext": {PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)},
        "secio": {TProtocol(secio.ID): secio.Transport(key_pair)},
    }[sec_opt_name]
    swarm = new_swarm(key_pair=key_pair, sec_opt=sec_opt, retry_config=RetryConfig(max_retries=0))
    host = BasicHost(network=swarm)
    async with host.run([Multiaddr(a) for a in LOOPBACK] if listen else []):
        try:
            yield host
        finally:
            with trio.CancelScope(shield=True):
                await host.close()


def test_frames_both_ways_and_noise_authenticated_peer_ids() -> None:
    seen: list[str] = []

    async def echo_reversed(stream: PeerStream) -> None:
        seen.append(stream.remote_peer_id)
        reader = FrameReader(stream)
        while (frame := await reader.read_frame()) is not None:
            await write_frame(stream, frame[::-1])

    async def main() -> None:
        async with two_hosts() as (a, b):
            b.set_stream_handler(TEST_PROTOCOL, echo_reversed)
            stream = await a.open_stream(b.peer_id, b.listen_addrs(), TEST_PROTOCOL)
            assert stream.remote_peer_id == b.peer_id
            reader = FrameReader(stream)
            for payload in (b"hello", b"", b"x" * 200_000 + b"y"):
                await write_frame(stream, payload)
                assert await reader.read_frame() == payload[::-1]
            assert seen == [a.peer_id]
            assert a.connected_peers() == [b.peer_id]
            assert b.connected_peers() == [a.peer_id]
            await stream.close()

    run(main)


def test_handler_sees_dialer_peer_id() -> None:
    async def main() -> None:
        async with two_hosts() as (a, b):
            got = trio.Event()
            seen: list[str] = []

            async def handler(stream: PeerStream) -> None:
                seen.append(stream.remote_peer_id)
                got.set()

            b.set_stream_handler(TEST_PROTOCOL, handler)
            stream = await a.open_stream(b.peer_id, b.listen_addrs(), TEST_PROTOCOL)
            await got.wait()
            assert seen == [a.peer_id]
            await stream.close()

    run(main)


def test_listen_addrs_have_real_ports_and_our_peer_id() -> None:
    async def main() -> None:
        identity = DeviceIdentity.generate()
        async with running_host(identity, LOOPBACK) as host:
            assert host.peer_id == identity.peer_id
            (addr,) = host.listen_addrs()
            assert addr.startswith("/ip4/127.0.0.1/tcp/")
            assert addr.endswith(f"/p2p/{identity.peer_id}")
            assert tcp_port(addr) != 0

    run(main)


def test_only_noise_and_yamux_are_offered_identify_and_ping_are_served() -> None:
    async def main() -> None:
        async with running_host(DeviceIdentity.generate(), LOOPBACK) as host:
            assert host.security_protocols() == ["/noise"]
            assert host.muxer_protocols() == ["/yamux/1.0.0"]
            assert {PING, IDENTIFY} <= set(host.supported_protocols())

    run(main)


def test_a_stock_libp2p_peer_can_ping_and_identify_us() -> None:
    from libp2p.custom_types import TProtocol
    from libp2p.peer.id import ID
    from multiaddr import Multiaddr

    async def main() -> None:
        async with (
            running_host(DeviceIdentity.generate(), LOOPBACK) as ours,
            foreign_host(None) as stranger,
        ):
            addr = Multiaddr(transport_addr(ours.listen_addrs()[0]))
            await stranger.get_network().dial_addr(addr, ID.from_base58(ours.peer_id))
            ping = await stranger.new_stream(ID.from_base58(ours.peer_id), [TProtocol(PING)])
            payload = os.urandom(32)
            await ping.write(payload)
            echoed = b""
            while len(echoed) < 32:
                echoed += await ping.read(32 - len(echoed))
            assert echoed == payload
            await ping.close()
            ident = await stranger.new_stream(ID.from_base58(ours.peer_id), [TProtocol(IDENTIFY)])
            assert len(await ident.read()) > 0
            await ident.close()
            assert ours.connected_peers() == [str(stranger.get_id())]

    run(main)


@pytest.mark.parametrize("security", ["plaintext", "secio"])
def test_non_noise_dialer_cannot_connect(security: str) -> None:
    """§5.1: over plaintext a dialer could claim any peer id; we must refuse it."""
    from libp2p.network.exceptions import SwarmException
    from libp2p.peer.id import ID
    from libp2p.transport.exceptions import SecurityUpgradeFailure
    from multiaddr import Multiaddr

    called = False

    async def handler(stream: PeerStream) -> None:
        nonlocal called
        called = True

    async def main() -> None:
        async with (
            running_host(DeviceIdentity.generate(), LOOPBACK) as ours,
            foreign_host(security) as attacker,
        ):
            ours.set_stream_handler(TEST_PROTOCOL, handler)
            # Our side's half of the upgrade ends on its own time: wait for it to
            # end, so "no peers" below is checked after it could have added one.
            upgrader = ours._swarm.upgrader
            upgrade_security = upgrader.upgrade_security
            our_half_done = trio.Event()

            async def watched_upgrade(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await upgrade_security(*args, **kwargs)
                finally:
                    our_half_done.set()

            upgrader.upgrade_security = watched_upgrade  # type: ignore[method-assign]
            addr = Multiaddr(transport_addr(ours.listen_addrs()[0]))
            with pytest.raises(SwarmException) as info:
                await attacker.get_network().dial_addr(addr, ID.from_base58(ours.peer_id))
            assert isinstance(info.value.__cause__, SecurityUpgradeFailure)
            with trio.fail_after(10):
                await our_half_done.wait()
            assert ours.connected_peers() == []
            assert attacker.get_connected_peers() == []

    run(main)
    assert not called


@pytest.mark.parametrize("security", ["plaintext", "secio"])
def test_we_do_not_dial_a_non_noise_listener(security: str) -> None:
    async def main() -> None:
        async with (
            running_host(DeviceIdentity.generate(), LOOPBACK) as ours,
            foreign_host(security, listen=True) as other,
        ):
            addrs = [f"{a}/p2p/{other.get_id()}" for a in other.get_transport_addrs()]
            with pytest.raises(DialError, match="negotiate"):
                await ours.open_stream(str(other.get_id()), addrs, TEST_PROTOCOL)
            assert ours.connected_peers() == []

    run(main)


def test_peer_with_another_key_at_the_address_is_refused() -> None:
    async def main() -> None:
        async with two_hosts() as (a, b):
            b.set_stream_handler(TEST_PROTOCOL, lambda s: trio.lowlevel.checkpoint())
            impostor_target = DeviceIdentity.generate().peer_id
            addrs = [transport_addr(x) for x in b.listen_addrs()]
            with pytest.raises(DialError):
                await a.open_stream(impostor_target, addrs, TEST_PROTOCOL)
            assert a.connected_peers() == []
            with pytest.raises(ValueError, match="is for peer"):
                await a.open_stream(impostor_target, b.listen_addrs(), TEST_PROTOCOL)

    run(main)


def test_unknown_protocol_and_failing_handler_leave_the_connection_up() -> None:
    async def boom(stream: PeerStream) -> None:
        await stream.receive_some(10)
        raise RuntimeError("handler bug")

    async def echo(stream: PeerStream) -> None:
        await write_frame(stream, b"still here")

    async def main() -> None:
        async with two_hosts() as (a, b):
            b.set_stream_handler("/boom/1.0.0", boom)
            b.set_stream_handler(TEST_PROTOCOL, echo)
            with pytest.raises(StreamOpenError):
                await a.open_stream(b.peer_id, b.listen_addrs(), "/nobody/1.0.0")
            bad = await a.open_stream(b.peer_id, [], "/boom/1.0.0")
            await bad.send_all(b"x")
            # The handler's failure resets the stream. py-libp2p 0.8.1's Yamux
            # drops a reset stream's state at once, so a read sees EOF, not a reset.
            with contextlib.suppress(trio.BrokenResourceError):
                assert await bad.receive_some(10) == b""
            await bad.close()
            good = await a.open_stream(b.peer_id, [], TEST_PROTOCOL)
            assert await FrameReader(good).read_frame() == b"still here"
            await good.close()
            assert a.connected_peers() == [b.peer_id]

    run(main)


def test_second_stream_reuses_the_connection() -> None:
    async def main() -> None:
        async with two_hosts() as (a, b):
            b.set_stream_handler(TEST_PROTOCOL, lambda s: write_frame(s, b"hi"))
            s1 = await a.open_stream(b.peer_id, b.listen_addrs(), TEST_PROTOCOL)
            s2 = await a.open_stream(b.peer_id, [], TEST_PROTOCOL)
            assert await FrameReader(s1).read_frame() == b"hi"
            assert await FrameReader(s2).read_frame() == b"hi"
            assert len(a._swarm.get_connections()) == 1
            await s1.close()
            await s2.close()

    run(main)


def test_dial_with_backoff_reaches_a_host_that_starts_late() -> None:
    """A failed dial must not poison the next one (libp2p's 60 s negative cache)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    identity_b = DeviceIdentity.generate()
    addr_b = f"/ip4/127.0.0.1/tcp/{port}/p2p/{identity_b.peer_id}"
    errors: list[BaseException] = []

    async def main() -> None:
        async with running_host(DeviceIdentity.generate(), LOOPBACK) as a:

            async def open_fn() -> PeerStream:
                try:
                    return await a.open_stream(identity_b.peer_id, [addr_b], TEST_PROTOCOL)
                except DialError as e:
                    errors.append(e)
                    raise

            async def serve_b(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                async with running_host(identity_b, [f"/ip4/127.0.0.1/tcp/{port}"]) as b:
                    b.set_stream_handler(TEST_PROTOCOL, lambda s: write_frame(s, b"up"))
                    task_status.started()
                    await trio.sleep_forever()

            async with trio.open_nursery() as nursery:

                async def start_b_instead_of_sleeping(delay: float) -> None:
                    await nursery.start(serve_b)

                stream = await dial_with_backoff(
                    open_fn, attempts=2, base_delay=1.0, sleep=start_b_instead_of_sleeping
                )
                assert await FrameReader(stream).read_frame() == b"up"
                await stream.close()
                nursery.cancel_scope.cancel()

    run(main)
    assert len(errors) == 1  # the first attempt, before B listened


def test_loopback_dial_and_stream_open_skips_the_dial_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ARCHITECTURE §7: libp2p's `Swarm.dial_peer` waits 250 ms (happy eyeballs);
    ours dials each address with `dial_addr` and never goes through it. Checked
    by making `dial_peer` fail, not by timing the dial (machines are noisy)."""
    from libp2p.network.swarm import Swarm

    async def no_dial_peer(self: Swarm, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Swarm.dial_peer was called: the 250 ms delay is back")

    monkeypatch.setattr(Swarm, "dial_peer", no_dial_peer)

    async def main() -> None:
        async with two_hosts() as (a, b):
            b.set_stream_handler(TEST_PROTOCOL, lambda s: write_frame(s, b"hi"))
            stream = await a.open_stream(b.peer_id, b.listen_addrs(), TEST_PROTOCOL)
            assert await FrameReader(stream).read_frame() == b"hi"
            await stream.close()

    run(main)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_shutdown_leaves_no_tasks_sockets_or_listeners() -> None:
    ports: list[int] = []

    async def main() -> None:
        await trio.sleep(0)
        tasks_before = trio.lowlevel.current_statistics().tasks_living
        fds_before = _open_fds()
        async with two_hosts() as (a, b):
            b.set_stream_handler(TEST_PROTOCOL, lambda s: write_frame(s, b"bye"))
            stream = await a.open_stream(b.peer_id, b.listen_addrs(), TEST_PROTOCOL)
            assert await FrameReader(stream).read_frame() == b"bye"
            ports.extend(tcp_port(x) for x in a.listen_addrs() + b.listen_addrs())
            assert trio.lowlevel.current_statistics().tasks_living > tasks_before
            # Leave the stream and connection open: shutdown must close them.
        for _ in range(50):
            if trio.lowlevel.current_statistics().tasks_living == tasks_before:
                break
            await trio.sleep(0.01)
        assert trio.lowlevel.current_statistics().tasks_living == tasks_before
        assert _open_fds() == fds_before

    run(main)
    for port in ports:
        with socket.socket() as s, pytest.raises(ConnectionRefusedError):
            s.connect(("127.0.0.1", port))
