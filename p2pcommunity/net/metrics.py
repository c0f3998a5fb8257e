"""Prometheus metrics of a node, and the small HTTP endpoint that serves them.

Each node has its own `CollectorRegistry` (several nodes share a process in
tests and benchmarks). The endpoint is a trio task on the node's own loop,
not a thread: the gauges that read the store (communities, documents) run
where the SQLite connection lives, and an answer from `/healthz` proves the
node loop itself is alive.

    GET /metrics  Prometheus text format
    GET /healthz  200 "ok"
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import trio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from p2pcommunity.net.stream import DEFAULT_RECEIVE_SIZE, PeerStream

if TYPE_CHECKING:
    # trio-typing's stale stubs (pulled in by libp2p) lack `trio.TaskStatus`.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

PREFIX = "p2pcommunity"
REQUEST_TIMEOUT_S = 5.0
MAX_REQUEST_BYTES = 8192


class NodeMetrics:
    """The counters the node updates; gauges that read state are bound with `bind_*`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connected_peers = self._gauge("connected_peers", "Peers with a live libp2p connection")
        self.sync_sessions = self._gauge("sync_sessions", "Open sync sessions (peer x community)")
        self.communities = self._gauge("communities", "Communities held")
        self.documents = self._gauge("documents", "Documents held, all communities")
        self.changes_applied = self._counter(
            "changes_applied", "Document changes received and applied"
        )
        self.ops_applied = self._counter("ops_applied", "Community log ops received and applied")
        self.rejected = self._counter(
            "rejected",
            "Sessions closed or frames refused because of the peer, by reason",
            ("reason",),
        )
        self.bytes_received = self._counter("bytes_received", "Sync stream bytes received")
        self.bytes_sent = self._counter("bytes_sent", "Sync stream bytes sent")
        self.frames_received = self._counter("frames_received", "Sync frames received")
        self.throttled = self._counter(
            "throttled", "Frames read late because the peer exceeded its rate"
        )
        self.sessions_opened = self._counter(
            "sessions_opened", "Sync sessions opened", ("direction",)
        )
        self.sync_round = Histogram(
            f"{PREFIX}_sync_round_seconds",
            "From a session's start to both sides caught up",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.relay_reservations = self._gauge(
            "relay_reservations",
            "Circuit relay v2 reservations held by peers on this node (--relay)",
        )
        self.relay_reservations_made = self._gauge(
            "relay_reservations_made", "Reservations this node holds on relays (--no-listen)"
        )

    def _gauge(self, name: str, help_text: str) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", help_text, registry=self.registry)

    def _counter(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(f"{PREFIX}_{name}", help_text, labels, registry=self.registry)

    def bind(
        self,
        connected_peers: Callable[[], float],
        sync_sessions: Callable[[], float],
        communities: Callable[[], float],
        documents: Callable[[], float],
    ) -> None:
        self.connected_peers.set_function(connected_peers)
        self.sync_sessions.set_function(sync_sessions)
        self.communities.set_function(communities)
        self.documents.set_function(documents)

    def reject(self, reason: str) -> None:
        self.rejected.labels(reason=reason).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class CountingStream:
    """A `PeerStream` that counts the bytes through it into `metrics`."""

    def __init__(self, stream: PeerStream, metrics: NodeMetrics) -> None:
        self.inner = stream
        self.metrics = metrics

    @property
    def remote_peer_id(self) -> str:
        return self.inner.remote_peer_id

    async def send_all(self, data: bytes) -> None:
        await self.inner.send_all(data)
        self.metrics.bytes_sent.inc(len(data))

    async def receive_some(self, max_bytes: int = DEFAULT_RECEIVE_SIZE) -> bytes:
        data = await self.inner.receive_some(max_bytes)
        self.metrics.bytes_received.inc(len(data))
        return data

    async def close(self) -> None:
        await self.inner.close()


def parse_hostport(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:9100`) -> (host, port); ValueError when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"metrics address {value!r} is not HOST:PORT")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"metrics port {port} out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


async def serve_metrics(
    metrics: NodeMetrics,
    host: str,
    port: int,
    *,
    task_status: TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve /metrics and /healthz on host:port until cancelled; reports the bound port."""
    listeners = await trio.open_tcp_listeners(port, host=host)

    async def handle(stream: trio.SocketStream) -> None:
        try:
            with trio.move_on_after(REQUEST_TIMEOUT_S):
                await _answer(stream, metrics)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
            log.debug("metrics client went away: %r", exc)
        finally:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    bound = listeners[0].socket.getsockname()[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    async with trio.open_nursery() as nursery:
        for listener in listeners:
            nursery.start_soon(trio.serve_listeners, handle, [listener])
        task_status.started(bound)


async def _answer(stream: trio.SocketStream, metrics: NodeMetrics) -> None:
    request = bytearray()
    while b"\r\n\r\n" not in request and b"\n\n" not in request:
        if len(request) > MAX_REQUEST_BYTES:
            await _respond(stream, 431, b"request too large\n")
            return
        data = await stream.receive_some(4096)
        if not data:
            return
        request += data
    line = bytes(request).split(b"\n", 1)[0].decode("latin-1").strip()
    parts = line.split()
    if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
        await _respond(stream, 405, b"only GET\n")
        return
    path = parts[1].split("?", 1)[0]
    if path == "/metrics":
        await _respond(stream, 200, metrics.exposition(), CONTENT_TYPE_LATEST)
    elif path == "/healthz":
        await _respond(stream, 200, b"ok\n")
    else:
        await _respond(stream, 404, b"not found\n")


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 431: "Too Large"}


async def _respond(
    stream: trio.SocketStream, status: int, body: bytes, content_type: str = "text/plain"
) -> None:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    await stream.send_all(head + body)
