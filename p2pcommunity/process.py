"""The node process: `run`, and the in-process node that an offline `join` uses.

`serve` wires one node together: the libp2p host and relay, the sync `Node`,
the metrics endpoint, the control API (`node_control`), the dialer and
circuit-relay reservations. `run` holds the data dir lock for its whole
life, serves the control API so the CLI and the app act through it, keeps
sync sessions with the peers it knows of, and on SIGINT/SIGTERM saves
snapshots and exits 0. Everything it reports as saved is already committed
to SQLite (ARCHITECTURE §5.8), so a kill loses nothing either; the snapshots
only make the next start faster.

Nothing here blocks the trio loop: this host's own addresses (for a
wildcard listen address) are resolved once, in a thread, at start.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from p2pcommunity.addrs import host_addresses, is_wildcard, peer_of, publishable
from p2pcommunity.config import NodeConfig
from p2pcommunity.control.server import ControlServer, serve_control
from p2pcommunity.datadir import DataDir, now_ms
from p2pcommunity.dialer import Dialer
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.blobs import BLOB_PROTOCOL, BlobExchange
from p2pcommunity.net.gate import MEMBER
from p2pcommunity.net.host import running_host
from p2pcommunity.net.lan import LanDiscovery
from p2pcommunity.net.metrics import NodeMetrics, serve_metrics
from p2pcommunity.net.node import SYNC_PROTOCOL, Node
from p2pcommunity.net.relay import Relay, Reservations, running_relay
from p2pcommunity.node_control import NodeControl
from p2pcommunity.sync.peerid import peer_id_from_public_key

log = logging.getLogger(__name__)


async def serve(
    data_dir: Path,
    opened: DataDir,
    identity: DeviceIdentity,
    listen: list[str],
    bootstrap: list[str],
    on_ready: Callable[[Node, ControlServer | None], None],
    control: bool,
    body: Callable[[Node], Any] | None = None,
    config: NodeConfig | None = None,
) -> Any:
    service = opened.service
    assert service is not None
    config = config or NodeConfig(listen=listen, bootstrap=bootstrap)
    host_ips: list[str] = []
    if any(is_wildcard(addr) for addr in listen):
        host_ips = await trio.to_thread.run_sync(host_addresses)
    async with running_host(identity, listen) as host, running_relay(host, config.relay) as relay:
        metrics = NodeMetrics()
        node = Node(identity, service, host, now_ms, config.limits, metrics)
        host.set_stream_handler(SYNC_PROTOCOL, node.handle_sync_stream)
        blobs = BlobExchange(node)  # issue 15
        service.files.quota = config.limits.blob_quota_bytes
        host.set_stream_handler(BLOB_PROTOCOL, blobs.handle)
        dialer = Dialer(node, bootstrap)
        node.lan = dialer.lan  # the same dict: `status` tells LAN connections by it

        def own() -> list[str]:
            return publishable(host.listen_addrs(), host_ips)

        reservations = _reservations(node, relay, own) if control and not listen else None
        metrics.relay_reservations.set_function(relay.reservations_served)
        if reservations is not None:
            metrics.relay_reservations_made.set_function(reservations.count)

        def addrs() -> list[str]:
            relayed = reservations.addrs() if reservations is not None else []
            return host.listen_addrs() + relayed

        async with trio.open_nursery() as nursery:
            node.nursery = nursery
            if config.metrics is not None:
                await nursery.start(serve_metrics, metrics, *config.metrics)
            server: ControlServer | None = None
            if control:
                handler = NodeControl(node, addrs, lambda: publishable(addrs(), host_ips)).handle
                server = await nursery.start(serve_control, data_dir, handler)
                node.notify = server.broadcast
            service.node_support.publish_addrs(own())
            if reservations is not None:
                nursery.start_soon(reservations.run)
            if config.relay:
                log.info("serving circuit relay v2 (HOP) for other peers")
            on_ready(node, server)
            if body is not None:
                result = await body(node)
                nursery.cancel_scope.cancel()
                return result
            if config.mdns:
                lan = LanDiscovery(
                    identity.peer_id,
                    own,
                    lambda peer: node.classify_peers([peer]).get(peer) == MEMBER,
                    dialer.found_on_lan,
                    dialer.lost_on_lan,
                )
                await nursery.start(lan.run)
            nursery.start_soon(dialer.run)
            nursery.start_soon(blobs.keep)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("received %s; stopping", signal.Signals(signum).name)
                    break
            nursery.cancel_scope.cancel()
    return None


def _reservations(node: Node, relay: Relay, own: Callable[[], list[str]]) -> Reservations:
    """A --no-listen node: reservations with the listed nodes, relayed addresses published."""

    def relays() -> dict[str, str]:
        found: dict[str, str] = {}
        for community in node.service.communities():
            for key, addr in community.state.nodes.items():
                found.setdefault(peer_id_from_public_key(key), addr)
        return found

    def publish(relayed: list[str]) -> None:
        node.service.node_support.publish_addrs(own() + relayed)

    return Reservations(relay, node.identity.peer_id, relays, publish)


def _print_addrs(addrs: list[str]) -> None:
    """The listen addresses on stdout (CLI.md), surviving a reader that went away."""
    try:
        for addr in addrs:
            sys.stdout.write(addr + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # `run | head -1`: the node keeps running; later writes go nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_node(
    data_dir: Path,
    identity_loader: Callable[[DataDir], DeviceIdentity],
    config: NodeConfig,
) -> int:
    listen, bootstrap = config.listen, config.bootstrap
    for addr in bootstrap:
        peer_of(addr)
    with DataDir(data_dir) as opened:
        identity = identity_loader(opened)
        opened.open(identity)

        def ready(node: Node, server: ControlServer | None) -> None:
            _print_addrs(node.host.listen_addrs())
            log.info("node %s running on %s", identity.peer_id, data_dir)

        trio_run(serve, data_dir, opened, identity, listen, bootstrap, ready, True, None, config)
    return 0


def trio_run(*args: Any) -> Any:
    """trio.run, re-raising a lone exception out of the nurseries' exception groups."""
    try:
        return trio.run(*args)
    except BaseExceptionGroup as group:
        exc: BaseException = group
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        raise exc from None


__all__ = ["run_node", "serve", "trio_run"]
