"""Files attached to posts: the service part behind `post --attach`, `attachment save`
and `storage` (issue 15), and what the blob exchange (net/blobs.py) asks of the store.

Attaching streams the file through `manifest.chunk_file` into the chunk
tree (one chunk in memory at a time); every limit is checked for every
file before the first chunk is written, so a refused post stores nothing.
Received blobs are checked the other way round: a manifest must match its
CID and agree with a post's signed ref, a chunk its CID, and the first
chunk's sniffed type the type the post claims; a blob whose post claims a
size over the community's current limit is not fetched at all.

Who keeps what (one quota per node, `[limits] blob_quota_bytes`):
- an always-on node (listed by a `node_add` op) fetches every blob of the
  community's visible posts (`wanted`) while it fits in the quota, and then
  stops: it never fetches what the next sweep would evict;
- a member keeps what it posted (`own`, never evicted) and what it opened
  (`attachment save` fetches and touches it); `attachment keep` (an image the
  app showed on screen) marks a blob `own` too, so it is never evicted;
- `sweep` evicts others' blobs beyond the quota, least recently used first,
  never our own nor one being fetched;
- a blob that no visible post attaches (all its posts deleted or hidden) is
  neither served (`serve` asks at every request) nor kept (`sweep` removes
  it, our own too).
Time comes from the service's clock.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.images import inspect
from p2pcommunity.sync.blobs.manifest import (
    CHUNK_SIZE,
    DEFAULT_MAX_FILE_SIZE,
    MAX_ATTACHMENTS,
    MAX_FILE_SIZE_CAP,
    MAX_MANIFEST_BYTES,
    BadManifest,
    Manifest,
    Ref,
    chunk_file,
    name_problem,
    parse_manifest,
)
from p2pcommunity.sync.blobs.progress import Progress, state_of
from p2pcommunity.sync.blobs.sniff import HEAD_BYTES, IMAGES, sniff
from p2pcommunity.sync.errors import Invalid, NotFound
from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.storage.blob_store import PAGE_HOLDER

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.service import Service

log = logging.getLogger(__name__)

DEFAULT_QUOTA = 10 * 1000**3  # [limits] blob_quota_bytes of an always-on node
MANIFEST_INDEX = -1  # the index a request gives for a blob's manifest
Fetcher = Callable[[bytes, bytes, float], Awaitable[None]]
PreparedKey = tuple[str, int, int]  # a file's path, size and mtime (ns)


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_size(text: str) -> int:
    """'25MB' -> 25_000_000 (decimal units, as CLI.md's 25 MB and 2 GB; KiB, MiB, GiB too)."""
    raw = text.strip().lower().replace(" ", "")
    number = raw.rstrip("kmgib")
    unit = raw[len(number) :]
    if not number.isdigit() or unit not in _UNITS:
        raise Invalid(f"not a size: {text!r} (like 25MB or 2GB)")
    return int(number) * _UNITS[unit]


class Files:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.quota = DEFAULT_QUOTA
        # Set by the node: fetches (community id, root, timeout) from peers.
        self.fetcher: Fetcher | None = None
        self.progress = Progress()  # updated by net/blobs.py while the node runs
        # Files the node chunked in a worker thread before the command attaching them
        # ran (net/blobs.py `preparing_attachments`): (path, size, mtime) -> manifest.
        self._prepared: dict[PreparedKey, Manifest] = {}

    @property
    def blobs(self) -> Any:
        return self.service.store.blobs

    def max_file_size(self, community: Community) -> int:
        value = community.state.settings.get("max_file_size", DEFAULT_MAX_FILE_SIZE)
        return int(value)

    def over_limit(self, community_id: bytes, root: bytes) -> str | None:
        """Why a received blob is not fetched: a peer's post claims a size beyond what the
        community allows now (its limit, not the one at posting time: a limit an admin
        lowered protects every disk from then on). None when it fits."""
        community = self.service.open_community(community_id)
        limit = self.max_file_size(community)
        for ref in self.visible_refs(community_id, root):
            if ref.size > limit:
                return f"{ref.name} is {ref.size} bytes; this community allows {limit}"
        return None

    def set_max_file_size(self, community: Community, size: str) -> None:
        """`community set --max-file-size SIZE` (admins): SIZE like 25MB, 2GB, 500kB."""
        self.service.require_role(community, Role.ADMIN, "set the file size limit")
        value = parse_size(size)
        if not 0 < value <= MAX_FILE_SIZE_CAP:
            raise Invalid(f"--max-file-size is 1 byte to 2GB, not {size!r}")
        self.service.append_op(community, "files_set", {"max_file_size": value})

    # -- attaching -------------------------------------------------------------

    def attach(self, community: Community, paths: list[str]) -> tuple[Ref, ...]:
        """Store `paths` as blobs of ours and return their refs; refuses before storing."""
        files = self.check_paths(community, paths)
        refs = []
        now = self.service.clock()
        for path, mime in files:
            manifest = self._prepared_for(path, mime) or self.chunk(path, mime)
            self.blobs.add_blob(manifest, own=True, now_ms=now)
            self.blobs.mark_had(manifest.ref.root, range(len(manifest.chunks)))
            refs.append(manifest.ref)
        return tuple(refs)

    def chunk(self, path: Path, mime: str, stored: Callable[[int], None] | None = None) -> Manifest:
        """Write the chunks of `path` into the tree and return its manifest; `stored(done)`
        after each chunk. File I/O and hashing only, no SQLite: the node runs it in a
        worker thread (`prepare`) so that a large file does not stall its loop."""
        info = inspect(path) if mime in IMAGES else None
        image = (info.width, info.height, info.thumb) if info is not None else None
        return chunk_file(path, path.name, mime, image, self.blobs.write_chunk, stored)

    def keep_prepared(self, path: Path, manifest: Manifest) -> PreparedKey:
        """`attach` takes this manifest for `path` instead of chunking it again, while
        the file's size and mtime are what they were; the key for `discard_prepared`."""
        key = _file_key(path)
        self._prepared[key] = manifest
        return key

    def _prepared_for(self, path: Path, mime: str) -> Manifest | None:
        manifest = self._prepared.get(_file_key(path))  # a file attached twice: both
        return manifest if manifest is not None and manifest.ref.mime == mime else None

    def discard_prepared(self, key: PreparedKey, manifest: Manifest) -> None:
        """After the command: forget the prepared file; if it was not attached (the
        command failed), its chunk files go, unless a blob holds them."""
        if self._prepared.get(key) is manifest:
            del self._prepared[key]
        if self.blobs.blob(manifest.ref.root) is None:
            # remove_blob deletes exactly the chunk files no other blob lists
            self.blobs.add_blob(manifest, own=False, now_ms=self.service.clock())
            self.blobs.remove_blob(manifest.ref.root)

    def check_paths(self, community: Community, paths: list[str]) -> list[tuple[Path, str]]:
        """Every file exists, is within the limit and has a bare name: (path, sniffed type)."""
        if len(paths) > MAX_ATTACHMENTS:
            raise Invalid(f"at most {MAX_ATTACHMENTS} files per post")
        limit = self.max_file_size(community)
        files = []
        for raw in paths:
            path = Path(raw)
            if not path.is_absolute() or not path.is_file():
                raise NotFound(f"no file {raw!r}")
            size = path.stat().st_size
            if size > limit:
                raise Invalid(
                    f"{path.name} is {size} bytes; this community allows {limit}",
                    code="too_large",
                )
            problem = name_problem(path.name)
            if problem is not None:
                raise Invalid(problem)
            with path.open("rb") as f:
                mime = sniff(f.read(HEAD_BYTES))
            files.append((path, mime))
        return files

    # -- reading -----------------------------------------------------------------

    def attachments_json(self, post_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for post_id, refs in self.blobs.refs_of(post_ids).items():
            out[post_id] = []
            for ref in refs:
                row = self.blobs.blob(ref.root)
                out[post_id].append(
                    {
                        "cid": cids.to_text(ref.root),
                        "name": ref.name,
                        "size": ref.size,
                        "mime": ref.mime,
                        "width": ref.width,
                        "height": ref.height,
                        "local": row is not None and row.complete,
                        # the signed inline thumbnail (<= 16 KB JPEG): the app shows it first
                        "thumb": base64.b64encode(ref.thumb).decode() if ref.thumb else None,
                    }
                )
        return out

    def status(self, ref: str, cid_text: str) -> dict[str, Any]:
        """`attachment status`: how much of a blob is here and whether it is moving."""
        community = self.service.community(ref)
        root = _root(cid_text)
        visible = self.visible_refs(community.id, root)
        if not visible:
            raise NotFound(f"no attachment {cid_text} in {community.state.name!r}")
        return self.blob_status(root, visible[0].size)

    def blob_status(self, root: bytes, size: int) -> dict[str, Any]:
        manifest = self.manifest(root)
        fetching = root in self.progress.fetching
        if manifest is None:
            have, total, held = 0, -(-size // CHUNK_SIZE), 0
            state = "fetching" if fetching else "missing"
        else:
            missing = self.blobs.missing(root)
            total = len(manifest.chunks)
            have = total - len(missing)
            held = size - sum(manifest.chunk_length(i) for i, _ in missing)
            state = state_of(have, total, fetching)
        return {
            "cid": cids.to_text(root),
            "have_chunks": have,
            "total_chunks": total,
            "bytes": held,
            "size": size,
            "state": state,
            "sending": root in self.progress.serving,
            "sent_chunks": self.progress.sent_chunks(root),
        }

    def keep(self, ref: str, cid_text: str) -> dict[str, Any]:
        """`attachment keep`: the member keeps this blob as it keeps what it posted (the
        app calls it for an image that appeared on screen), so the quota never evicts
        it; it still goes when no visible post attaches it any more."""
        community = self.service.community(ref)
        root = _root(cid_text)
        if not self.visible_refs(community.id, root):
            raise NotFound(f"no attachment {cid_text} in {community.state.name!r}")
        row = self.blobs.blob(root)
        if row is None:
            raise NotFound(f"{cid_text} is not here yet: save or fetch it first")
        manifest = parse_manifest(bytes(row.manifest), root)
        self.blobs.add_blob(manifest, own=True, now_ms=self.service.clock())  # own = max(...)
        return {"cid": cids.to_text(root), "kept": True}

    def storage(self) -> dict[str, Any]:
        used, count = self.blobs.usage()
        return {"used": used, "quota": self.quota, "blobs": count}

    # -- serving and receiving (net/blobs.py) ---------------------------------

    def visible_refs(self, community_id: bytes, root: bytes) -> list[Ref]:
        """The refs of `root` in posts of `community_id` that are neither deleted nor hidden,
        and in its wiki pages."""
        state = self.service.open_community(community_id).state
        hidden = state.hidden
        refs = []
        for post_id, ref in self.blobs.posts_with(community_id, root):
            if post_id.startswith(PAGE_HOLDER):  # a page's current files (pages.py)
                if bytes.fromhex(post_id.removeprefix(PAGE_HOLDER)) in state.pages:
                    refs.append(ref)
                continue
            row = self.service.store.read_model.post(post_id)
            if row is not None and not row.deleted and post_id not in hidden:
                refs.append(ref)
        return refs

    def serve(self, community_id: bytes, root: bytes, index: int) -> bytes | None:
        """What a member asked for, or None: unknown, not here, or no visible post has it."""
        if community_id not in self.service.store.community_ids():
            return None
        if not self.visible_refs(community_id, root):
            return None
        row = self.blobs.blob(root)
        if row is None:
            return None
        if index == MANIFEST_INDEX:
            return bytes(row.manifest)
        chunk = self.blobs.chunk_id(root, index)
        return None if chunk is None else self.blobs.verified_chunk(chunk)

    def manifest(self, root: bytes) -> Manifest | None:
        row = self.blobs.blob(root)
        return None if row is None else parse_manifest(bytes(row.manifest), root)

    def accept_manifest(self, community_id: bytes, root: bytes, raw: bytes) -> Manifest:
        """A manifest a peer sent: it must match `root` and a visible post's ref."""
        manifest = parse_manifest(raw, root)
        refs = self.visible_refs(community_id, root)
        if manifest.ref not in refs:
            raise BadManifest("the manifest disagrees with the post that attaches it")
        too_large = self.over_limit(community_id, root)
        if too_large is not None:
            raise BadManifest(too_large)
        self.blobs.add_blob(manifest, own=False, now_ms=self.service.clock())
        return manifest

    def store_chunk_file(self, manifest: Manifest, index: int, data: bytes) -> bool:
        """Write a chunk a peer sent if it is what the manifest names (else False). Only
        file I/O: net/ runs it in a worker thread, then `mark_had` on the node's thread
        (the SQLite connection's transactions belong to that thread)."""
        chunk = manifest.chunks[index]
        if len(data) != manifest.chunk_length(index) or not cids.matches(chunk, data):
            return False
        if index == 0 and sniff(data[:HEAD_BYTES]) != manifest.ref.mime:
            raise BadManifest(f"the content is not {manifest.ref.mime}, as its post claims")
        self.blobs.write_chunk(chunk, data)
        return True

    def accept_chunk(self, manifest: Manifest, index: int, data: bytes) -> bool:
        if not self.store_chunk_file(manifest, index, data):
            return False
        self.blobs.mark_had(manifest.ref.root, [index])
        return True

    def local_chunks(self, missing: list[tuple[int, bytes]]) -> list[int]:
        """Which of `missing` are already in the tree, verified (file I/O only: a thread)."""
        return [i for i, chunk in missing if self.blobs.verified_chunk(chunk) is not None]

    def reuse_local(self, manifest: Manifest) -> None:
        """Chunks already in the tree (another blob, or a transfer before a restart)."""
        found = self.local_chunks(self.blobs.missing(manifest.ref.root))
        if found:
            self.blobs.mark_had(manifest.ref.root, found)

    # -- saving ------------------------------------------------------------------

    def save(
        self, ref: str, cid_text: str, path: str, timeout: float = 60.0
    ) -> dict[str, Any] | Awaitable[dict[str, Any]]:
        community = self.service.community(ref)
        root = _root(cid_text)
        target = Path(path)
        if target.exists():
            raise Invalid(f"{path} exists; not overwriting it", code="exists")
        if not self.visible_refs(community.id, root):
            raise NotFound(f"no attachment {cid_text} in {community.state.name!r}")
        row = self.blobs.blob(root)
        if row is not None and row.complete:
            return self._write_out(root, target)
        too_large = self.over_limit(community.id, root)
        if too_large is not None:
            raise Invalid(f"not fetched: {too_large}", code="too_large")
        if self.fetcher is None:
            raise Invalid("the file is not here yet; run the node to fetch it", code="network")
        return self._fetch_and_write(community.id, root, target, timeout)

    async def _fetch_and_write(
        self, community_id: bytes, root: bytes, target: Path, timeout: float
    ) -> dict[str, Any]:
        assert self.fetcher is not None
        await self.fetcher(community_id, root, timeout)
        return self._write_out(root, target)

    def _write_out(self, root: bytes, target: Path) -> dict[str, Any]:
        """Copy the blob to `target` chunk by chunk, each checked; temp file, fsync, rename."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".p2pc-save-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in self.blobs.chunks_in_order(root):
                    data = self.blobs.verified_chunk(chunk)
                    if data is None:
                        raise Invalid("a chunk of the file was damaged on disk; fetch it again")
                    f.write(data)
                    size += len(data)
                f.flush()
                os.fsync(f.fileno())
            if target.exists():
                raise Invalid(f"{target} exists; not overwriting it", code="exists")
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.blobs.touch(root, self.service.clock())
        return {"path": str(target), "size": size}

    # -- keeping -----------------------------------------------------------------

    def sweep(self, busy: frozenset[bytes] = frozenset()) -> int:
        """Remove blobs no visible post attaches, then others' blobs beyond the quota
        (least recently used first, never our own, nor one in `busy`: being fetched).
        Returns how many were removed."""
        removed = 0
        for root in self.blobs.roots():
            if not any(self.visible_refs(c, root) for c in self.blobs.communities_of(root)):
                self.blobs.remove_blob(root)
                removed += 1
        used, _ = self.blobs.usage()
        for root, _size in self.blobs.eviction_order():
            if used <= self.quota:
                break
            if root in busy:
                continue
            self.blobs.remove_blob(root)
            used, _ = self.blobs.usage()  # exact: chunks another blob shares stay
            removed += 1
        return removed

    def wanted(self, community_id: bytes) -> list[bytes]:
        """What an always-on node fetches: roots attached by visible posts of
        `community_id`, not complete here, that fit in the quota (a blob not started
        counts its whole size). Beyond the quota it fetches nothing more, rather than
        fetch and evict in turn."""
        used, _ = self.blobs.usage()
        room = self.quota - used
        out = []
        for root in self.blobs.community_roots(community_id):
            row = self.blobs.blob(root)
            if row is not None and row.complete:
                continue
            refs = self.visible_refs(community_id, root)
            if not refs or self.over_limit(community_id, root) is not None:
                continue
            if row is None:
                if refs[0].size > room:
                    continue
                room -= refs[0].size
            out.append(root)
        return out

    # -- export and import (archive.py) -------------------------------------------

    def export_blobs(self, community: Community, directory: Path) -> int:
        """Every complete blob of the community's visible posts: `blobs/<root>.manifest`
        and `blobs/chunks/<cid>`, copied chunk by chunk. Returns how many blobs."""
        count = 0
        for root in self.blobs.community_roots(community.id):
            row = self.blobs.blob(root)
            if row is None or not row.complete or not self.visible_refs(community.id, root):
                continue
            chunks_dir = directory / "blobs" / "chunks"
            chunks_dir.mkdir(parents=True, exist_ok=True)
            (directory / "blobs" / f"{cids.to_text(root)}.manifest").write_bytes(row.manifest)
            for chunk in self.blobs.chunks_in_order(root):
                data = self.blobs.verified_chunk(chunk)
                if data is not None:
                    (chunks_dir / cids.to_text(chunk)).write_bytes(data)
            count += 1
        return count

    def import_blobs(self, community_id: bytes, directory: Path) -> dict[str, int]:
        """The blobs of an export, each manifest and chunk verified as if a peer sent it
        (its CID, a post's ref, the sniffed type); what fails is counted, not stored."""
        imported = refused = 0
        for path in sorted((directory / "blobs").glob("*.manifest")):
            root = b""
            try:
                root = cids.from_text(path.stem)
                if path.stat().st_size > MAX_MANIFEST_BYTES:
                    raise BadManifest("manifest too large")
                manifest = self.accept_manifest(community_id, root, path.read_bytes())
                for index, chunk in enumerate(manifest.chunks):
                    chunk_path = directory / "blobs" / "chunks" / cids.to_text(chunk)
                    if chunk_path.stat().st_size != manifest.chunk_length(index):
                        raise BadManifest(f"chunk {index} has the wrong size")
                    if not self.accept_chunk(manifest, index, chunk_path.read_bytes()):
                        raise BadManifest(f"chunk {index} does not match its CID")
                imported += 1
            except (cids.BadCid, BadManifest, OSError):
                refused += 1
                row = self.blobs.blob(root) if root else None
                if row is not None and not row.own and not row.complete:
                    self.blobs.remove_blob(root)  # no chunk of a refused blob stays
        if refused:
            log.warning("import: %d blobs refused (did not verify), %d imported", refused, imported)
        return {"blobs": imported, "blobs_refused": refused}


def _file_key(path: Path) -> PreparedKey:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _root(cid_text: str) -> bytes:
    try:
        return cids.from_text(cid_text.strip())
    except cids.BadCid as exc:
        raise Invalid(str(exc)) from None
