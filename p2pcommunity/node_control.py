"""The node's control handlers: the command table run against a live node.

`NodeControl.handle` is the control server's handler. It looks the method up
in `commands.TABLE`, validates the params (a missing or ill-typed one is
JSON-RPC -32602 naming it) and runs the same `call` the offline CLI runs,
with this node as its `Context`: the node knows its listen addresses, its
connected peers and its sessions, which the offline CLI does not.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pcommunity import archive
from p2pcommunity.command_spec import Outcome, Result, Where, validate
from p2pcommunity.commands import lookup
from p2pcommunity.control.protocol import MethodNotFound
from p2pcommunity.net.blobs import preparing_attachments
from p2pcommunity.net.node import Node
from p2pcommunity.sync.peerid import public_key_from_peer_id
from p2pcommunity.sync.service import Service


class NodeControl:
    """Answers control API requests with the same commands the offline CLI runs."""

    def __init__(
        self,
        node: Node,
        addrs: Callable[[], list[str]] | None = None,
        publishable: Callable[[], list[str]] | None = None,
    ) -> None:
        self.node = node
        self._addrs = addrs or node.host.listen_addrs
        self._publishable = publishable or (lambda: [])

    async def handle(self, method: str, params: dict[str, Any]) -> Result:
        command = lookup(method)
        if command.where is not Where.ANYWHERE or command.call is None:
            raise MethodNotFound(f"{method!r} does not run through the node")
        args = validate(command, params)
        async with preparing_attachments(self.node, args):  # issue 15: off the trio thread
            outcome = command.call(self, args)
            if command.name == "status" and isinstance(outcome, dict):
                # CLI.md "Reach": only a running node has connections to tell
                return {**outcome, "connections": self.node.connections()}
            if inspect.isawaitable(outcome):
                result: Result = await outcome
                return result
            return outcome

    # -- the Context of commands.py ------------------------------------------

    @property
    def service(self) -> Service:
        return self.node.service

    def addrs(self) -> list[str]:
        return self._addrs()

    def online(self) -> frozenset[bytes]:
        return frozenset(public_key_from_peer_id(p) for p in self.node.host.connected_peers())

    def publishable(self) -> list[str]:
        return self._publishable()

    def init(self, name: str | None) -> Outcome:
        if name:
            self.service.set_display_name(name)
        return self.service.whoami(self.addrs())

    def join(
        self, community: str, bootstrap: list[str], timeout: float, acknowledge: bool
    ) -> Outcome:
        from p2pcommunity.joining import join  # joining imports process, which imports us

        return join(self.node, community, bootstrap, timeout, acknowledge)

    def leave(self, community: str) -> Outcome:
        return self._leave(community)

    async def _leave(self, ref: str) -> Result:
        community = self.service.community(ref, rules_gate=False)
        for runner in self.node.sessions_of(community.id):
            await runner.stream.close()
        return self.service.leave(ref)

    def export(self, community: str, directory: str) -> Outcome:
        return archive.export_community(self.service, community, Path(directory))

    def import_(self, directory: str) -> Outcome:
        result = archive.import_community(self.service, Path(directory))
        self.node._on_local_change(self.service.community(result["community_id"]), "import")
        return result

    def identity_export(self, file: str) -> Outcome:
        raise MethodNotFound("identity export runs in the CLI, on the key file")

    def identity_import(self, file: str) -> Outcome:
        raise MethodNotFound("identity import runs in the CLI, on the key file")
