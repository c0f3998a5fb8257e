"""Taking up a community: `join` with an invite code, or with an id we were added to.

The join flow lives alone here because its logic changes on its own (who
admits a joiner, what the joiner proves): `join` runs on a node's trio loop,
the running node's (`node_control`) or, with no node running, a short-lived
in-process one (`join_in_process`, which exits once synced). Both dial the
code's or the flags' addresses, sync the log and documents from the first
peer that admits us, then sign our join op and acknowledge the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import trio

from p2pcommunity.addrs import peer_of
from p2pcommunity.datadir import DataDir
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.node import Node, SessionRunner
from p2pcommunity.process import serve as _serve
from p2pcommunity.process import trio_run as _trio_run
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import DomainError, Invalid, Rejected
from p2pcommunity.sync.invite import PREFIX as INVITE_PREFIX
from p2pcommunity.sync.invite import InviteCode, encode_presented, invite_proof
from p2pcommunity.sync.log.community_log import decode_op

log = logging.getLogger(__name__)

DEFAULT_JOIN_TIMEOUT_S = 30.0
JOIN_ACK_TIMEOUT_S = 5.0


class NetworkError(DomainError, code="network"):
    """No peer of the invite could be reached, or the connection broke during the join."""


class TimeoutFailure(DomainError, code="timeout"):
    """No peer finished the join's sync within its --timeout."""


async def join(
    node: Node,
    community_ref: str,
    bootstrap: list[str],
    timeout: float,
    acknowledge: bool = True,
) -> dict[str, Any]:
    """Take up a community: with an invite code, or an id we were added to directly.

    Syncs the log and documents from the first peer that admits us (with an
    invite, its `admit` op makes us a member). `acknowledge`: then sign our
    rules_ack (the CLI: it prints the rules it acknowledged) and push it before
    returning. Without it (the app, which shows the rules first) this node
    writes nothing to the community until `rules accept`.
    """
    service = node.service
    _code, community_id, bootstrap, presented = _target(node, community_ref, bootstrap)
    if not bootstrap:
        raise Invalid("join COMMUNITY needs --bootstrap MULTIADDR")
    peers = list(dict.fromkeys((peer_of(addr), addr) for addr in bootstrap))
    created = community_id not in service.store.community_ids()
    community = service.node_support.take_up(community_id)
    runners: list[SessionRunner] = []
    try:
        with trio.move_on_after(timeout) as scope:
            await _open_sessions(node, peers, community, presented, runners)
            if not runners:
                raise NetworkError(f"could not reach any of {', '.join(bootstrap)}")
            async with trio.open_nursery() as nursery:
                for runner in runners:
                    nursery.start_soon(_wait_either, runner, nursery.cancel_scope)
        if not any(r.caught_up.is_set() for r in runners):
            _raise_unfinished(runners, scope.cancelled_caught, timeout)
        if not community.state.is_member(service.me):
            raise DomainError("the community log does not list this key as a member", "forbidden")
    except BaseException:
        if created:
            for runner in runners:
                await runner.stream.close()
            service.leave(community_id.hex())
        raise
    if acknowledge:
        service.governance.rules_accept(community_id.hex())
        await _push_join(runners, community.log.heads())
    state = community.state
    return {
        "community_id": community_id.hex(),
        "rules": state.rules,
        "rules_version": state.rules_version,
        "rules_acknowledged": not service.rules_pending(community),
    }


_REFUSAL_CODES = {"expired", "revoked", "used_up", "not_found"}


def _target(
    node: Node, community_ref: str, bootstrap: list[str]
) -> tuple[InviteCode | None, bytes, list[str], bytes | None]:
    """What `join` was given: (invite code or None, community id, bootstrap, presented invite)."""
    if not community_ref.strip().startswith(INVITE_PREFIX):
        try:
            community_id = bytes.fromhex(community_ref.strip())
        except ValueError:
            community_id = b""
        if len(community_id) != 32:
            raise Invalid("join needs an invite code, or a community id (64 hex characters)")
        return None, community_id, bootstrap, None
    code = InviteCode.decode(community_ref)
    _check_invite_locally(code, node.clock())
    proof = invite_proof(code.invite_key, code.community_id, node.service.me, code.invite_op.hash)
    return (
        code,
        code.community_id,
        [*bootstrap, *code.addrs],
        encode_presented(code.invite_op, proof),
    )


async def _open_sessions(
    node: Node,
    peers: list[tuple[str, str]],
    community: Community,
    presented: bytes | None,
    runners: list[SessionRunner],
) -> None:
    """Open a session with each peer that answers, into `runners` (the caller's, so that a
    timeout part way still leaves it every session opened, for the cleanup)."""
    for peer, addr in peers:
        if peer == node.identity.peer_id:
            continue
        try:
            runners.append(await node.open_session(peer, [addr], community, presented))
        except Exception as exc:  # noqa: BLE001 -- one peer fails: try the rest
            log.warning("cannot reach %s: %s", addr, exc)


async def _push_join(runners: list[SessionRunner], mine: list[bytes]) -> None:
    for runner in runners:
        if not runner.finished.is_set():
            await runner.flush()
            # The process may exit next: our join must be stored by the peer, not in flight.
            for head in mine:
                await runner.wait_acknowledged(head, JOIN_ACK_TIMEOUT_S)


def _raise_unfinished(runners: list[SessionRunner], timed_out: bool, timeout: float) -> NoReturn:
    """Why no session caught up: the first refusal, else the timeout, else a closed stream."""
    refused = [r.refused for r in runners if r.refused]
    if refused:
        code_name = refused[0] if refused[0] in _REFUSAL_CODES else "forbidden"
        raise DomainError(f"refused by the peer: {refused[0]}", code=code_name)
    if timed_out:
        raise TimeoutFailure(f"no peer finished syncing within {timeout:g} s")
    raise NetworkError("the peer closed the connection before the sync finished")


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


def join_in_process(
    data_dir: Path,
    identity_loader: Callable[[DataDir], DeviceIdentity],
    community: str,
    bootstrap: list[str],
    timeout: float,
    acknowledge: bool = True,
) -> dict[str, Any]:
    """`join` with no node running: network in-process until synced, then exit."""
    with DataDir(data_dir) as opened:
        identity = identity_loader(opened)
        opened.open(identity)

        async def body(node: Node) -> dict[str, Any]:
            return await join(node, community, bootstrap, timeout, acknowledge)

        result: dict[str, Any] = _trio_run(
            _serve, data_dir, opened, identity, [], bootstrap, lambda n, s: None, False, body
        )
        return result


__all__ = ["NetworkError", "TimeoutFailure", "join", "join_in_process"]
