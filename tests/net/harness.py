"""N real nodes in one `trio.run`: libp2p hosts on loopback, each with its own store.

Each `HarnessNode` is what `process.serve` assembles (a Noise-only host on
127.0.0.1 port 0, a `Node` serving the sync protocol, a `Service` over its
own SQLite file in its own temp dir), minus the control API and the Dialer:
sessions are opened explicitly with `connect`, so a test decides the
topology. `cluster(n)` tears everything down on exit: session tasks, hosts
(sockets), stores, temp dirs.

    async with cluster(3) as nodes:
        cid = nodes[0].create_community(members=nodes[1:])
        ...
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from p2pcommunity.datadir import now_ms
from p2pcommunity.identity import DeviceIdentity
from p2pcommunity.net.host import NodeHost, running_host
from p2pcommunity.net.node import SYNC_PROTOCOL, Node, SessionRunner
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

LOOPBACK = ["/ip4/127.0.0.1/tcp/0"]
POLL_S = 0.02


@dataclass(eq=False)
class HarnessNode:
    name: str
    identity: DeviceIdentity
    path: Path  # the SQLite file
    store: Store
    service: Service
    host: NodeHost
    node: Node

    @property
    def peer_id(self) -> str:
        return self.identity.peer_id

    @property
    def pk(self) -> bytes:
        return self.identity.public_key

    @property
    def addrs(self) -> list[str]:
        return self.host.listen_addrs()

    # -- the domain, by community id -----------------------------------------

    def create_community(self, members: Sequence[HarnessNode] = (), name: str = "Net") -> bytes:
        """Create a community owned by this node and add `members` (who take it up)."""
        cid = bytes.fromhex(self.service.community_create(name)["community_id"])
        for member in members:
            self.service.member_add(cid.hex(), member.peer_id)
            member.service.node_support.take_up(cid)
        return cid

    def community(self, cid: bytes) -> Community:
        return self.service.community(cid.hex())

    def post(self, cid: bytes, text: str, channel: str = "general") -> str:
        post_id: str = self.service.post(cid.hex(), channel, text)["post_id"]
        return post_id

    def read(self, cid: bytes, channel: str = "general") -> list[dict[str, Any]]:
        try:
            posts: list[dict[str, Any]] = self.service.read(cid.hex(), channel, 1000)["posts"]
        except Exception:  # noqa: BLE001 -- the channel (or the log) has not arrived yet
            return []
        return posts

    def texts(self, cid: bytes, channel: str = "general") -> list[str]:
        return [p["text"] for p in self.read(cid, channel)]

    def replicated(self, cid: bytes) -> dict[str, Any]:
        """Everything that must be identical on every node once synced (no local fields)."""
        community = self.community(cid)
        state = community.state
        channels = {}
        for channel in sorted(state.channels.values(), key=lambda c: c.id):
            channels[channel.id.hex()] = [
                {
                    "id": p["id"],
                    "author": p["author"],
                    "author_name": p["author_name"],
                    "text": p["text"],
                    "reply_to": p["reply_to"],
                    "edited": p["edited"],
                    "reactions": {e: sorted(keys) for e, keys in sorted(p["reactions"].items())},
                }
                for p in self.read(cid, channel.id.hex())
            ]
        store = community.store
        docs = {
            (row.owner.hex(), row.segment): (
                row.max_seq,
                store.change_hash(row.doc_id, row.max_seq),
            )
            for row in store.docs_of(cid)
        }
        return {
            "ops": [op.data for op in community.log.ops_in_order()],
            "state": state,
            "channels": channels,
            "docs": docs,
        }

    # -- sessions ------------------------------------------------------------

    async def connect(
        self, other: HarnessNode, cid: bytes, *, wait: bool = True, timeout: float = 20.0
    ) -> SessionRunner:
        """Open a sync session from this node to `other`.

        By default wait until both ends caught up (and so have recorded it), so
        that the stores are quiet afterwards.
        """
        with trio.fail_after(timeout):
            runner = await self.node.open_session(
                other.peer_id, other.addrs, self.service.node_support.take_up(cid)
            )
            if wait:
                await wait_caught_up(runner)
                while not (remote := other.session_with(self, cid)):
                    await trio.sleep(POLL_S)
                await wait_caught_up(remote)
        return runner

    def session_with(self, other: HarnessNode, cid: bytes) -> SessionRunner | None:
        for runner in self.node.sessions_of(cid):
            if runner.peer_id == other.peer_id:
                return runner
        return None


async def wait_caught_up(runner: SessionRunner) -> None:
    """Until the session caught up; fails if it ends first."""
    async with trio.open_nursery() as nursery:

        async def ended() -> None:
            await runner.finished.wait()
            raise AssertionError(f"session with {runner.peer_id} ended: {runner.refused}")

        nursery.start_soon(ended)
        await runner.caught_up.wait()
        nursery.cancel_scope.cancel()


async def close_session(runner: SessionRunner, peer: HarnessNode, timeout: float = 10.0) -> None:
    """Close a session from its initiator and wait until both ends have finished."""
    with trio.fail_after(timeout):
        await runner.stream.close()
        await runner.finished.wait()
        while any(
            r.peer_id == runner.node.identity.peer_id and r.community_id == runner.community_id
            for r in peer.node.runners
        ):
            await trio.sleep(POLL_S)


def run(body: Callable[[], Awaitable[None]], timeout: float = 120.0) -> None:
    """`trio.run` a test body, failing it after `timeout` seconds."""

    async def main() -> None:
        with trio.fail_after(timeout):
            await body()

    trio.run(main)


async def wait_until(
    predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll `predicate` until it holds; `trio.TooSlowError` after `timeout` seconds."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(POLL_S)


async def wait_all(
    nodes: Sequence[HarnessNode], predicate: Callable[[HarnessNode], bool], timeout: float = 30.0
) -> None:
    await wait_until(lambda: all(predicate(n) for n in nodes), timeout)


async def start_node(
    stack: AsyncExitStack,
    name: str,
    identity: DeviceIdentity | None = None,
    directory: Path | None = None,
) -> HarnessNode:
    """One node whose resources `stack` releases; its `Node.nursery` is set by `cluster`.

    Its store is `directory`/store.sqlite3 (kept), or in a fresh temp dir (removed).
    """
    identity = identity or DeviceIdentity.generate()
    if directory is None:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"p2pc-{name}-")))
    path = directory / "store.sqlite3"
    store = Store(path)
    stack.callback(store.close)
    service = Service(store, identity.signing_key, now_ms)
    host = await stack.enter_async_context(running_host(identity, LOOPBACK))
    node = Node(identity, service, host, now_ms)
    host.set_stream_handler(SYNC_PROTOCOL, node.handle_sync_stream)
    return HarnessNode(name, identity, path, store, service, host, node)


@asynccontextmanager
async def cluster(
    n: int,
    identities: Sequence[DeviceIdentity | None] = (),
    dirs: Sequence[Path | None] = (),
) -> AsyncIterator[list[HarnessNode]]:
    """`n` running nodes; leaving the block stops their sessions, hosts and stores."""
    async with AsyncExitStack() as stack:
        nodes = []
        for i in range(n):
            identity = identities[i] if i < len(identities) else None
            directory = dirs[i] if i < len(dirs) else None
            nodes.append(await start_node(stack, f"n{i}", identity, directory))
        async with trio.open_nursery() as nursery:
            for h in nodes:
                h.node.nursery = nursery
            try:
                yield nodes
            finally:
                nursery.cancel_scope.cancel()


@asynccontextmanager
async def community_cluster(n: int) -> AsyncIterator[tuple[list[HarnessNode], bytes]]:
    """`cluster(n)` whose first node owns a community the others are members of (and
    hold nothing of yet): the nodes, and the community's id."""
    async with cluster(n) as nodes:
        yield nodes, nodes[0].create_community(members=nodes[1:])
