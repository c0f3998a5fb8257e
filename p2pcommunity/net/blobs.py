"""The blob exchange: `/p2pcommunity/blobs/1.0.0`, chunks of attached files between members.

Why not py-libp2p's bitswap (0.8.1 ships `libp2p.bitswap`): its block store
is one namespace served to any connected peer whose wantlist names a CID,
and a want is broadcast to every connected peer, strangers included (they
may hold identify/ping connections). Membership is per community, and a
blob may be served only while a visible post of that community attaches
it; bitswap's decision engine knows only (peer, CID), its gated variant
gates on payment. Wrapping it would mean re-deciding every block behind its
back. So the protocol is ours and small: one request frame
`{"c": community id, "r": root CID, "i": chunk index or -1 for the
manifest}` (strict canonical CBOR), one answer frame `0x01 + bytes` or
`0x00` (not here). The serving side checks at every request that the
peer's Noise-authenticated key is a current member of that community
(a non-member's stream is closed with nothing sent) and that the blob is
servable (`Files.serve`).

Fetching: the manifest from the first peer that has it, checked against
its CID and the post's ref; then one worker per connected member of the
community, each with its own stream, taking the next missing chunk from a
shared queue, so several peers send at once. Every chunk is checked against
its CID before it is written; a peer that sends a bad one is dropped for
this blob and the chunk goes back to the queue for the others. What is
stored is recorded per chunk, so a transfer that stops (killed, or a peer
gone) resumes with only the chunks still missing.

Progress: `Files.progress` (sync/blobs/progress.py) records which fetches
run and what was served; the control API's `attachment status` reads it,
and a `blob_progress` event goes to the app on every change of state and
at most every PROGRESS_EVERY_S per blob in between (a 1 GB file has 4000
chunks: one event each would flood a slow client).

Attaching (`post --attach`, `topic create --attach`, page files): reading,
hashing and writing the chunks of a large file takes seconds, which on the
node's trio thread would stall every session. `preparing_attachments`
chunks the files in a worker thread before the command runs (the command
then takes the prepared manifests, sync/files.py) and sends `blob_progress`
events with "direction": "up", the path as given, the bytes done, the size
and "state" "preparing" (first, then at most every PROGRESS_EVERY_S, and
once more when the file is chunked), then "stored" once the command
succeeded, or "failed" when it (or the preparing of a file) failed: its
chunks are then removed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from p2pcommunity.net.framing import read_frame, write_frame
from p2pcommunity.sync.blobs.manifest import MAX_MANIFEST_BYTES, BadManifest, Manifest
from p2pcommunity.sync.cbor import MalformedCBOR, decode
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.errors import DomainError, Invalid
from p2pcommunity.sync.files import MANIFEST_INDEX, PreparedKey
from p2pcommunity.sync.peerid import public_key_from_peer_id

if TYPE_CHECKING:
    from p2pcommunity.net.node import Node
    from p2pcommunity.net.stream import PeerStream

log = logging.getLogger(__name__)

BLOB_PROTOCOL = "/p2pcommunity/blobs/1.0.0"
MAX_REQUEST = 256
MAX_ANSWER = MAX_MANIFEST_BYTES + 1
RETRY_S = 0.5
KEEP_EVERY_S = 2.0
PROGRESS_EVERY_S = 0.25
# Requests in flight per peer: one stream waits a round trip per chunk, a second
# keeps the pipe busy meanwhile (benchmarks/bench_blobs.py: 44 % -> see RESULTS.md).
STREAMS_PER_PEER = 2


class BadPeer(Exception):
    """A peer sent what its request did not name."""


class BlobExchange:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.files = node.service.files
        self.files.fetcher = self.fetch
        self._told: dict[bytes, tuple[float, tuple[str, bool]]] = {}  # root -> (when, state)

    # -- serving -------------------------------------------------------------------

    async def handle(self, stream: PeerStream) -> None:
        peer = stream.remote_peer_id
        serving: set[tuple[bytes, bytes]] = set()  # (community, root) this stream asked for
        try:
            key = public_key_from_peer_id(peer)
            while True:
                frame = await read_frame(stream, MAX_REQUEST)
                if frame is None:
                    return
                community_id, root, index = _parse_request(frame)
                community = self.node._community(community_id)
                if community is None or not community.state.is_member(key):
                    log.warning("blob request from non-member %s refused", peer)
                    return
                # On the node's thread: it reads SQLite (one connection, whose
                # transactions are this thread's) and one chunk file (<= 256 KiB).
                data = self.files.serve(community_id, root, index)
                await write_frame(stream, b"\x00" if data is None else b"\x01" + data, MAX_ANSWER)
                if data is not None and index != MANIFEST_INDEX:
                    if (community_id, root) not in serving:
                        serving.add((community_id, root))
                        self.files.progress.serving.up(root)
                    self.files.progress.chunk_served(root)
                    self._tell(community_id, root, "up")
        except (MalformedCBOR, DomainError, ValueError) as exc:
            log.warning("blob stream from %s closed: %s", peer, exc)
        except Exception as exc:  # noqa: BLE001 -- the peer went away mid-stream
            log.info("blob stream from %s ended: %r", peer, exc)
        finally:
            for community_id, root in serving:
                self.files.progress.serving.down(root)
                self._tell(community_id, root, "up", force=True)
            await _close(stream)

    # -- fetching ------------------------------------------------------------------

    def _peers(self, community_id: bytes) -> list[str]:
        community = self.node._community(community_id)
        if community is None:
            return []
        peers = {r.peer_id for r in self.node.sessions_of(community_id)}
        return sorted(p for p in peers if community.state.is_member(public_key_from_peer_id(p)))

    def _tell(self, community_id: bytes, root: bytes, direction: str, force: bool = False) -> None:
        """A `blob_progress` event: on a change of state, else at most every PROGRESS_EVERY_S."""
        refs = self.files.visible_refs(community_id, root)
        if not refs:
            return
        status = self.files.blob_status(root, refs[0].size)
        now = time.monotonic()
        last = self._told.get(root)
        same = last is not None and last[1] == (status["state"], status["sending"])
        if not force and same and last is not None and now - last[0] < PROGRESS_EVERY_S:
            return
        self._told[root] = (now, (status["state"], status["sending"]))
        if len(self._told) > 4096:
            self._told.clear()
        self.node.notify(
            "blob_progress",
            {"community_id": community_id.hex(), "direction": direction, **status},
        )

    async def fetch(self, community_id: bytes, root: bytes, timeout: float) -> None:
        """Until every chunk of `root` is here; `Invalid` (code timeout) after `timeout` s."""
        self.files.progress.fetching.up(root)
        try:
            self._tell(community_id, root, "down", force=True)
            await self._fetch(community_id, root, timeout)
        finally:
            self.files.progress.fetching.down(root)
            self._tell(community_id, root, "down", force=True)

    async def _fetch(self, community_id: bytes, root: bytes, timeout: float) -> None:
        # Peers that sent a bad chunk of this blob: never asked for it again in this
        # fetch, in either phase of `_fetch_chunks` nor in a retry round.
        dropped: set[str] = set()
        with trio.move_on_after(timeout) as scope:
            while True:
                manifest = self.files.manifest(root)
                if manifest is None:
                    manifest = await self._fetch_manifest(community_id, root)
                if manifest is not None:
                    missing = self.files.blobs.missing(root)
                    found = await trio.to_thread.run_sync(self.files.local_chunks, missing)
                    if found:
                        self.files.blobs.mark_had(root, found)
                    if not self.files.blobs.missing(root):
                        return
                    await self._fetch_chunks(community_id, manifest, dropped)
                    if not self.files.blobs.missing(root):
                        return
                await trio.sleep(RETRY_S)
        if scope.cancelled_caught:
            raise Invalid(f"the file did not arrive within {timeout:g} s", code="timeout")

    async def _fetch_manifest(self, community_id: bytes, root: bytes) -> Manifest | None:
        for peer in self._peers(community_id):
            try:
                stream = await self.node.host.open_stream(peer, [], BLOB_PROTOCOL)
            except Exception as exc:  # noqa: BLE001 -- that peer is unreachable: try the next
                log.info("no blob stream to %s: %r", peer, exc)
                continue
            try:
                data = await _ask(stream, community_id, root, MANIFEST_INDEX)
                if data is not None:
                    return self.files.accept_manifest(community_id, root, data)
            except BadManifest as exc:
                if "content" in str(exc):
                    raise Invalid(str(exc)) from None
                log.warning("bad manifest from %s: %s", peer, exc)
            except Exception as exc:  # noqa: BLE001 -- the peer went away
                log.info("manifest from %s failed: %r", peer, exc)
            finally:
                await _close(stream)
        return None

    async def _fetch_chunks(
        self, community_id: bytes, manifest: Manifest, dropped: set[str]
    ) -> None:
        missing = deque(i for i, _ in self.files.blobs.missing(manifest.ref.root))
        # The first chunk alone first: its sniffed type must be the one the post claims
        # before any other chunk of a file that lies about its type is written.
        first = deque([missing.popleft()]) if missing and missing[0] == 0 else deque()
        try:
            for queue in (first, missing):
                if queue:
                    await self._run_workers(community_id, manifest, queue, dropped)
        except Invalid:
            row = self.files.blobs.blob(manifest.ref.root)
            if row is not None and not row.own:
                self.files.blobs.remove_blob(manifest.ref.root)
            raise

    async def _run_workers(
        self, community_id: bytes, manifest: Manifest, queue: deque[int], dropped: set[str]
    ) -> None:
        failure: list[BaseException] = []
        async with trio.open_nursery() as nursery:
            for peer in (p for p in self._peers(community_id) if p not in dropped):
                for _ in range(STREAMS_PER_PEER):
                    nursery.start_soon(
                        self._worker, peer, community_id, manifest, queue, failure, dropped
                    )
        if failure:
            raise failure[0]

    async def _worker(
        self,
        peer: str,
        community_id: bytes,
        manifest: Manifest,
        queue: deque[int],
        failure: list[BaseException],
        dropped: set[str],
    ) -> None:
        refused: set[int] = set()
        try:
            stream = await self.node.host.open_stream(peer, [], BLOB_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 -- unreachable: the other workers go on
            log.info("no blob stream to %s: %r", peer, exc)
            return
        try:
            while peer not in dropped:
                index = next((i for i in queue if i not in refused), None)
                if index is None:
                    return
                queue.remove(index)
                try:
                    data = await _ask(stream, community_id, manifest.ref.root, index)
                except BaseException:
                    queue.appendleft(index)
                    raise
                if data is None:
                    refused.add(index)
                    queue.append(index)
                    continue
                stored = await trio.to_thread.run_sync(
                    self.files.store_chunk_file, manifest, index, data
                )
                if not stored:
                    queue.appendleft(index)
                    dropped.add(peer)
                    log.warning("%s sent a bad chunk %d; dropped for this blob", peer, index)
                    return
                self.files.blobs.mark_had(manifest.ref.root, [index])
                self._tell(community_id, manifest.ref.root, "down")
        except BadManifest as exc:  # the content is not what its post claims
            failure.append(Invalid(str(exc)))
        except Exception as exc:  # noqa: BLE001 -- the peer went away: others take its chunks
            log.info("blob transfer from %s stopped: %r", peer, exc)
        finally:
            await _close(stream)

    # -- always-on nodes keep every blob -----------------------------------------

    async def keep(self) -> None:
        """For communities that list this node: fetch every blob, sweep what is gone."""
        me = self.node.identity.public_key
        while True:
            for community in self.node.service.communities():
                if me not in community.state.nodes:
                    continue
                for root in self.files.wanted(community.id):
                    try:
                        await self.fetch(community.id, root, 30.0)
                    except DomainError as exc:
                        log.info("keeping blob: %s", exc)
            self.files.sweep(self.files.progress.fetching.roots())  # SQLite: on the node's thread
            await trio.sleep(KEEP_EVERY_S)


@contextlib.asynccontextmanager
async def preparing_attachments(node: Node, args: dict[str, Any]) -> AsyncIterator[None]:
    """Around a command with `attach` files: chunk them first, in a worker thread, telling
    the app how far it got; what the command did not attach is removed afterwards.
    Files the limits refuse are left to the command, which says why before storing.

    "stored" is said only once the command succeeded: until then the chunks are
    prepared, not kept (a post refused after its files were read keeps none)."""
    files = node.service.files
    paths = [p for p in args.get("attach") or () if isinstance(p, str)]
    prepared: list[tuple[PreparedKey, Manifest]] = []
    uploads: list[_Upload] = []  # every file a "preparing" event was sent for
    try:
        if paths and isinstance(args.get("community"), str):
            try:
                community = node.service.community(args["community"])
                checked = files.check_paths(community, paths)
            except DomainError:
                checked = []
            for raw, (path, mime) in zip(paths, checked, strict=False):
                upload = _Upload(node, community.id.hex(), raw, path.stat().st_size)
                uploads.append(upload)
                manifest = await _prepare(node, upload, path, mime)
                prepared.append((files.keep_prepared(path, manifest), manifest))
        yield
    except Exception:
        for upload in uploads:
            upload.tell("failed")
        raise
    else:
        for upload in uploads:
            upload.tell("stored", upload.size)
    finally:
        for key, manifest in prepared:
            files.discard_prepared(key, manifest)


@dataclass
class _Upload:
    """One file of the command's `attach`, as its `blob_progress` "up" events name it."""

    node: Node
    community_id: str
    path: str  # as given
    size: int
    done: int = 0

    def tell(self, state: str, done: int | None = None) -> None:
        if done is not None:
            self.done = done
        self.node.notify(
            "blob_progress",
            {
                "community_id": self.community_id,
                "direction": "up",
                "path": self.path,
                "done": self.done,
                "size": self.size,
                "state": state,
            },
        )


async def _prepare(node: Node, upload: _Upload, path: Path, mime: str) -> Manifest:
    last = [time.monotonic()]

    def stored(done: int) -> None:  # in the worker thread
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S and done < upload.size:
            last[0] = now
            trio.from_thread.run_sync(upload.tell, "preparing", done)

    upload.tell("preparing", 0)
    manifest = await trio.to_thread.run_sync(node.service.files.chunk, path, mime, stored)
    # Chunked, not yet kept: the command may still refuse the post (then "failed").
    upload.tell("preparing", manifest.ref.size)
    return manifest


def _parse_request(frame: bytes) -> tuple[bytes, bytes, int]:
    value: Any = decode(frame)
    if not isinstance(value, dict) or set(value) != {"c", "r", "i"}:
        raise ValueError("a blob request is a map of c, r, i")
    community_id, root, index = value["c"], value["r"], value["i"]
    if not isinstance(community_id, bytes) or not isinstance(root, bytes):
        raise ValueError("ids are bytes")
    if type(index) is not int or not MANIFEST_INDEX <= index < 1 << 20:
        raise ValueError("bad chunk index")
    return community_id, root, index


async def _ask(stream: PeerStream, community_id: bytes, root: bytes, index: int) -> bytes | None:
    await write_frame(stream, canonical_cbor({"c": community_id, "r": root, "i": index}))
    answer = await read_frame(stream, MAX_ANSWER)
    if answer is None:
        raise BadPeer("stream closed")
    if answer[:1] == b"\x00" and len(answer) == 1:
        return None
    if answer[:1] != b"\x01":
        raise BadPeer("bad answer")
    return answer[1:]


async def _close(stream: PeerStream) -> None:
    with contextlib.suppress(Exception):  # already gone
        await stream.close()
