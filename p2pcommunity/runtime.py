"""The node process: `run`, and the in-process node that an offline `join` uses.

`run` holds the data dir lock for its whole life, serves the control API so
the CLI and the app act through it, keeps sync sessions with the peers it
knows of, and on SIGINT/SIGTERM saves snapshots and exits 0. Everything it
reports as saved is already committed to SQLite (ARCHITECTURE §5.8), so a
kill loses nothing either; the snapshots only make the next start faster.
"""

from __future__ import annotations

import logging
import random
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from p2pcommunity import archive
from p2pcommunity.commands import execute
from p2pcommunity.config import NodeConfig
from p2pcommunity.control.server import ControlServer, serve_control
from p2pcommunity.datadir import DataDir, now_ms
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.dial import backoff_delays
from p2pcommunity.net.host import running_host
from p2pcommunity.net.metrics import NodeMetrics, serve_metrics
from p2pcommunity.net.node import SYNC_PROTOCOL, Node, SessionRunner
from p2pcommunity.net.relay import Relay, Reservations, running_relay
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import DomainError, Invalid, Rejected
from p2pcommunity.sync.invite import PREFIX as INVITE_PREFIX
from p2pcommunity.sync.invite import InviteCode, encode_presented, invite_proof
from p2pcommunity.sync.log import decode_op
from p2pcommunity.sync.peerid import peer_id_from_public_key, public_key_from_peer_id

log = logging.getLogger(__name__)

DIAL_INTERVAL_S = 5.0
DIAL_TIMEOUT_S = 5.0
DEFAULT_JOIN_TIMEOUT_S = 30.0
JOIN_ACK_TIMEOUT_S = 5.0


class NetworkError(DomainError):
    code = "network"


class TimeoutFailure(DomainError):
    code = "timeout"


def peer_of(multiaddr: str) -> str:
    """The peer id at the end of a `/p2p/<id>` multiaddr."""
    parts = multiaddr.rstrip("/").split("/")
    if len(parts) < 3 or parts[-2] != "p2p":
        raise Invalid(f"{multiaddr!r} does not end in /p2p/<peer id>")
    public_key_from_peer_id(parts[-1])
    return parts[-1]


def publishable(addrs: list[str]) -> list[str]:
    """Listen addresses as others can dial them: a wildcard becomes this host's addresses."""
    out: list[str] = []
    for addr in addrs:
        if addr.startswith("/ip4/0.0.0.0/"):
            try:
                hosts = socket.gethostbyname_ex(socket.gethostname())[2]
            except OSError:
                hosts = []
            out += [addr.replace("/ip4/0.0.0.0/", f"/ip4/{ip}/", 1) for ip in hosts]
        elif not addr.startswith("/ip6/::/"):
            out.append(addr)
    return list(dict.fromkeys(out))


class Dialer:
    """Keeps each community's sessions up: its listed always-on nodes always,
    then up to `mesh_peers` more: the bootstrap peers first, then members
    picked at random.

    A random subset rather than every member: each change reaches a node once
    per session it has, so a full mesh makes every node's cost per post grow
    with the community, while a few random links already keep the mesh
    connected (changes are forwarded hop by hop)."""

    def __init__(self, node: Node, bootstrap: list[str], rng: random.Random | None = None) -> None:
        self.node = node
        self.bootstrap = bootstrap
        self.rng = rng or random.Random()
        self._failures: dict[str, int] = {}
        self._next_try: dict[str, float] = {}

    def targets(self) -> dict[str, list[str]]:
        """peer id -> addresses: the communities' listed always-on nodes first, then
        bootstrap flags and members' published addresses (dials start in this order)."""
        found: dict[str, list[str]] = {}
        for peer, addr in self._listed():
            bucket = found.setdefault(peer, [])
            if addr and addr not in bucket:
                bucket.append(addr)
        for addr in self.bootstrap:
            found.setdefault(peer_of(addr), []).append(addr)
        for peer, addrs in self.node.service.member_addrs().items():
            found.setdefault(peer, []).extend(a for a in addrs if a not in found.get(peer, []))
        found.pop(self.node.identity.peer_id, None)
        return {peer: addrs for peer, addrs in found.items() if addrs}

    def _listed(self, community: Community | None = None) -> list[tuple[str, str]]:
        out = []
        for held in [community] if community else self.node.service.communities():
            for key, addr in sorted(held.state.nodes.items()):
                try:
                    out.append((peer_id_from_public_key(key), addr))
                except Exception:  # a listed key we cannot use is skipped, not fatal
                    continue
        return out

    def plan(self, now: float) -> list[tuple[str, list[str], Community]]:
        """The sessions to open this round: (peer, its addresses, community)."""
        targets = self.targets()
        me = self.node.identity.peer_id
        bootstrap = [peer_of(addr) for addr in self.bootstrap]
        sessions: list[tuple[str, list[str], Community]] = []
        for community in self.node.service.communities():
            have = {r.peer_id for r in self.node.sessions_of(community.id)}
            listed = {peer for peer, _ in self._listed(community)}
            members = [
                peer_id_from_public_key(key)
                for key in sorted(community.state.members)
                if community.state.is_member(key)
            ]
            self.rng.shuffle(members)
            room = self.node.limits.mesh_peers - len(have - listed)
            for peer in dict.fromkeys([*sorted(listed), *bootstrap, *members]):
                counted = peer not in listed
                if counted and room <= 0:
                    break
                if peer == me or peer in have or peer not in targets:
                    continue
                if self._next_try.get(peer, 0) > now or not self.node.room_for(peer):
                    continue
                sessions.append((peer, targets[peer], community))
                room -= counted
        return sessions

    async def run(self) -> None:
        while True:
            await self.dial_round()
            # Idle time: catch the search index up with posts that arrived.
            await self.node.index_search()
            await trio.sleep(DIAL_INTERVAL_S)

    async def dial_round(self) -> None:
        by_peer: dict[str, tuple[list[str], list[Community]]] = {}
        for peer, addrs, community in self.plan(trio.current_time()):
            by_peer.setdefault(peer, (addrs, []))[1].append(community)
        async with trio.open_nursery() as nursery:
            for peer, (addrs, communities) in by_peer.items():
                nursery.start_soon(self._sync_with, peer, addrs, communities)

    async def _sync_with(self, peer: str, addrs: list[str], communities: list[Community]) -> None:
        node = self.node
        for community in communities:
            if node.has_session(peer, community.id):
                continue
            try:
                with trio.fail_after(DIAL_TIMEOUT_S):
                    await node.open_session(peer, addrs, community)
            except Exception as exc:  # unreachable peers are normal
                failures = self._failures.get(peer, 0) + 1
                self._failures[peer] = failures
                # backoff_delays(n) gives the n-1 waits between n tries: the last is ours.
                delay = backoff_delays(min(failures, 8) + 1, DIAL_INTERVAL_S, 300.0, lambda: 1.0)[
                    -1
                ]
                self._next_try[peer] = trio.current_time() + delay
                log.info("cannot reach %s (%s); next try in %.0f s", peer, exc, delay)
                return
            self._failures.pop(peer, None)


class NodeControl:
    """Answers control API requests with the same commands the offline CLI runs."""

    def __init__(
        self, node: Node, dialer: Dialer, addrs: Callable[[], list[str]] | None = None
    ) -> None:
        self.node = node
        self.dialer = dialer
        self.addrs = addrs or node.host.listen_addrs

    async def handle(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        node, service = self.node, self.node.service
        if method in ("whoami", "init"):
            if params.get("name"):
                service.set_display_name(params["name"])
            return service.whoami(self.addrs())
        if method == "status":
            return service.status(self.addrs(), self._online())
        if method == "member list":
            return service.member_list(params["community"], frozenset(self._online()))
        if method == "invite create":
            params = {**params, "addrs": publishable(self.addrs())}
        if method == "join":
            return await join(
                node,
                params["community"],
                params.get("bootstrap") or [],
                float(params.get("timeout") or DEFAULT_JOIN_TIMEOUT_S),
            )
        if method == "export":
            return archive.export_community(service, params["community"], Path(params["dir"]))
        if method == "import":
            result = archive.import_community(service, Path(params["dir"]))
            node._on_local_change(service.community(result["community_id"]), "import")
            return result
        if method == "leave":
            community = service.community(params["community"])
            for runner in node.sessions_of(community.id):
                await runner.stream.close()
            return service.leave(params["community"])
        return execute(service, method, params)

    def _online(self) -> list[bytes]:
        return [public_key_from_peer_id(p) for p in self.node.host.connected_peers()]


async def join(
    node: Node, community_ref: str, bootstrap: list[str], timeout: float
) -> dict[str, Any]:
    """Take up a community: with an invite code, or an id we were added to directly.

    Syncs the log and documents from the first peer that admits us; with an
    invite, then signs our join op and acknowledges the rules, and pushes both
    before returning.
    """
    service = node.service
    code: InviteCode | None = None
    presented: bytes | None = None
    if community_ref.strip().startswith(INVITE_PREFIX):
        code = InviteCode.decode(community_ref)
        community_id = code.community_id
        bootstrap = [*bootstrap, *code.addrs]
        _check_invite_locally(code, node.clock())
        proof = invite_proof(code.invite_key, community_id, service.me, code.invite_op.hash)
        presented = encode_presented(code.invite_op, proof)
    else:
        try:
            community_id = bytes.fromhex(community_ref.strip())
        except ValueError:
            community_id = b""
        if len(community_id) != 32:
            raise Invalid("join needs an invite code, or a community id (64 hex characters)")
    if not bootstrap:
        raise Invalid("join COMMUNITY needs --bootstrap MULTIADDR")
    peers = list(dict.fromkeys((peer_of(addr), addr) for addr in bootstrap))
    created = community_id not in service.store.community_ids()
    community = service.take_up(community_id)
    runners: list[SessionRunner] = []
    try:
        with trio.move_on_after(timeout) as scope:
            for peer, addr in peers:
                if peer == node.identity.peer_id:
                    continue
                try:
                    runners.append(await node.open_session(peer, [addr], community, presented))
                except Exception as exc:
                    log.warning("cannot reach %s: %s", addr, exc)
            if not runners:
                raise NetworkError(f"could not reach any of {', '.join(bootstrap)}")
            async with trio.open_nursery() as nursery:
                for runner in runners:
                    nursery.start_soon(_wait_either, runner, nursery.cancel_scope)
        done = [r for r in runners if r.caught_up.is_set()]
        if not done:
            refused = [r.refused for r in runners if r.refused]
            if refused:
                code_name = refused[0] if refused[0] in _REFUSAL_CODES else "forbidden"
                raise DomainError(f"refused by the peer: {refused[0]}", code=code_name)
            if scope.cancelled_caught:
                raise TimeoutFailure(f"no peer finished syncing within {timeout:g} s")
            raise NetworkError("the peer closed the connection before the sync finished")
        if code is not None:
            service.accept_invite(community, code)
        if not community.state.is_member(service.me):
            raise DomainError("the community log does not list this key as a member", "forbidden")
    except BaseException:
        if created:
            for runner in runners:
                await runner.stream.close()
            service.leave(community_id.hex())
        raise
    service.after_join(community)
    mine = community.log.heads()
    for runner in runners:
        if not runner.finished.is_set():
            await runner.flush()
            # The process may exit next: our join must be stored by the peer, not in flight.
            for head in mine:
                await runner.wait_acknowledged(head, JOIN_ACK_TIMEOUT_S)
    state = community.state
    return {
        "community_id": community_id.hex(),
        "rules": state.rules,
        "rules_version": state.rules_version,
    }


_REFUSAL_CODES = {"expired", "revoked", "used_up", "not_found"}


def _check_invite_locally(code: InviteCode, now_ms: int) -> None:
    """What the joiner can tell alone: a damaged or expired invite fails before dialing."""
    try:
        op = decode_op(code.invite_op.data, code.invite_op.signature, code.community_id)
    except Rejected as exc:
        raise Invalid(f"the invite in this code is damaged: {exc}") from exc
    if op.type != "invite_create":
        raise Invalid("this code carries no invite")
    if int(op.body["expires_ms"]) < now_ms:
        raise DomainError("this invite has expired", "expired")


async def _wait_either(runner: SessionRunner, scope: trio.CancelScope) -> None:
    async with trio.open_nursery() as nursery:

        async def caught() -> None:
            await runner.caught_up.wait()
            scope.cancel()

        nursery.start_soon(caught)
        await runner.finished.wait()
        nursery.cancel_scope.cancel()


async def _serve(
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
    async with running_host(identity, listen) as host, running_relay(host, config.relay) as relay:
        metrics = NodeMetrics()
        node = Node(identity, service, host, now_ms, config.limits, metrics)
        host.set_stream_handler(SYNC_PROTOCOL, node.handle_sync_stream)
        dialer = Dialer(node, bootstrap)
        reservations = _reservations(node, relay) if control and not listen else None
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
                server = await nursery.start(
                    serve_control, data_dir, NodeControl(node, dialer, addrs).handle
                )
                node.notify = server.broadcast
            service.publish_addrs(publishable(host.listen_addrs()))
            if reservations is not None:
                nursery.start_soon(reservations.run)
            if config.relay:
                log.info("serving circuit relay v2 (HOP) for other peers")
            on_ready(node, server)
            if body is not None:
                result = await body(node)
                nursery.cancel_scope.cancel()
                return result
            nursery.start_soon(dialer.run)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("received %s; stopping", signal.Signals(signum).name)
                    break
            nursery.cancel_scope.cancel()
    return None


def _reservations(node: Node, relay: Relay) -> Reservations:
    """A --no-listen node: reservations with the listed nodes, relayed addresses published."""

    def relays() -> dict[str, str]:
        found: dict[str, str] = {}
        for community in node.service.communities():
            for key, addr in community.state.nodes.items():
                found.setdefault(peer_id_from_public_key(key), addr)
        return found

    def publish(relayed: list[str]) -> None:
        node.service.publish_addrs(publishable(node.host.listen_addrs()) + relayed)

    return Reservations(relay, node.identity.peer_id, relays, publish)


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
            for addr in node.host.listen_addrs():
                sys.stdout.write(addr + "\n")
            sys.stdout.flush()
            log.info("node %s running on %s", identity.peer_id, data_dir)

        _trio_run(_serve, data_dir, opened, identity, listen, bootstrap, ready, True, None, config)
    return 0


def _trio_run(*args: Any) -> Any:
    """trio.run, re-raising a lone exception out of the nurseries' exception groups."""
    try:
        return trio.run(*args)
    except BaseExceptionGroup as group:
        exc: BaseException = group
        while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
            exc = exc.exceptions[0]
        raise exc from None


def join_in_process(
    data_dir: Path,
    identity_loader: Callable[[DataDir], DeviceIdentity],
    community: str,
    bootstrap: list[str],
    timeout: float,
) -> dict[str, Any]:
    """`join` with no node running: network in-process until synced, then exit."""
    with DataDir(data_dir) as opened:
        identity = identity_loader(opened)
        opened.open(identity)

        async def body(node: Node) -> dict[str, Any]:
            return await join(node, community, bootstrap, timeout)

        result: dict[str, Any] = _trio_run(
            _serve, data_dir, opened, identity, [], bootstrap, lambda n, s: None, False, body
        )
        return result


__all__ = ["join", "join_in_process", "run_node"]
