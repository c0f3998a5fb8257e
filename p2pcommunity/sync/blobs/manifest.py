"""A file as chunks, its manifest, and the reference a post carries.

A file is cut into CHUNK_SIZE (256 KiB) pieces, each a raw CID (cid.py).
The manifest is a canonical CBOR map: name, size, MIME type (sniffed, never
from the name), chunk size, the chunk CIDs in order, and for images width,
height and a <= 16 KB thumbnail; the manifest's own dag-cbor CID is the
blob's root CID. A post carries a `Ref`: the root CID plus everything the
timeline needs before the blob arrives (name, size, type, image size,
thumbnail), signed with the post. The receiver fetches the manifest by the
root CID, checks it agrees with the ref, then fetches and checks each chunk.

Everything here that came from a peer is read with the strict CBOR reader
within the limits below, and every field checked, before anything is
stored: a name is a bare file name (no separators, no `..`), a size within
MAX_FILE_SIZE_CAP, a type from sniff.KNOWN.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.images import MAX_THUMB_BYTES
from p2pcommunity.sync.blobs.sniff import KNOWN
from p2pcommunity.sync.cbor import Limits, MalformedCBOR, decode
from p2pcommunity.sync.crypto import canonical_cbor

CHUNK_SIZE = 256 * 1024
MAX_FILE_SIZE_CAP = 2 * 1000**3  # "2 GB": the most an admin may allow
DEFAULT_MAX_FILE_SIZE = 25 * 1000**2
MAX_CHUNKS = -(-MAX_FILE_SIZE_CAP // CHUNK_SIZE)
MAX_NAME_CHARS = 255
MAX_ATTACHMENTS = 10
MANIFEST_LIMITS = Limits(
    max_size=64 + MAX_NAME_CHARS * 4 + MAX_THUMB_BYTES + MAX_CHUNKS * (cids.CID_SIZE + 2),
    max_items=MAX_CHUNKS + 64,
    max_depth=4,
    max_string=MAX_THUMB_BYTES,
)
MAX_MANIFEST_BYTES = MANIFEST_LIMITS.max_size
_REF_KEYS = frozenset({"cid", "name", "size", "mime", "w", "h", "th"})
_MANIFEST_KEYS = frozenset({"v", "name", "size", "mime", "cs", "chunks", "w", "h", "th"})


class BadManifest(ValueError):
    """A manifest or ref that breaks a rule; nothing of it is stored."""


@dataclass(frozen=True)
class Ref:
    """What a post says about one attachment."""

    root: bytes  # the manifest's CID
    name: str
    size: int
    mime: str
    width: int | None = None
    height: int | None = None
    thumb: bytes | None = None

    def to_value(self) -> dict[str, Any]:
        return {
            "cid": self.root,
            "name": self.name,
            "size": self.size,
            "mime": self.mime,
            "w": self.width,
            "h": self.height,
            "th": self.thumb,
        }


@dataclass(frozen=True)
class Manifest:
    ref: Ref
    chunks: tuple[bytes, ...]
    raw: bytes  # the canonical CBOR that ref.root names

    def chunk_length(self, index: int) -> int:
        if index < len(self.chunks) - 1:
            return CHUNK_SIZE
        return self.ref.size - CHUNK_SIZE * (len(self.chunks) - 1)


def name_problem(name: Any) -> str | None:
    """What is wrong with a file name (None: a bare, printable name)."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
        return f"a file name is 1 to {MAX_NAME_CHARS} characters"
    if name in (".", "..") or any(sep in name for sep in ("/", "\\", "\x00")):
        return f"a file name may not be a path: {name[:80]!r}"
    if name != name.strip() or any(unicodedata.category(c)[0] == "C" for c in name):
        return f"a file name may hold no control or hidden characters: {name[:80]!r}"
    return None


def _image_problem(width: Any, height: Any, thumb: Any) -> str | None:
    if (width is None) != (height is None):
        return "width and height come together"
    for side in (width, height):
        if side is not None and (type(side) is not int or not 0 < side <= 1 << 20):
            return "an image side is 1 to 2^20 pixels"
    if thumb is not None and (not isinstance(thumb, bytes) or len(thumb) > MAX_THUMB_BYTES):
        return f"a thumbnail is at most {MAX_THUMB_BYTES} bytes"
    return None


def _fields_problem(value: dict[str, Any]) -> str | None:
    size, mime = value.get("size"), value.get("mime")
    if type(size) is not int or not 0 <= size <= MAX_FILE_SIZE_CAP:
        return f"a file's size is 0 to {MAX_FILE_SIZE_CAP} bytes"
    if mime not in KNOWN:
        return f"unknown file type {str(mime)[:40]!r}"
    return name_problem(value.get("name")) or _image_problem(
        value.get("w"), value.get("h"), value.get("th")
    )


def parse_ref(value: Any) -> Ref | str:
    """A ref read from a post (already strict CBOR), or what is wrong with it."""
    if not isinstance(value, dict) or set(value) != _REF_KEYS:
        return "an attachment is a map of cid, name, size, mime, w, h, th"
    try:
        root = cids.check(value["cid"])
    except cids.BadCid as exc:
        return str(exc)
    if cids.codec(root) != cids.DAG_CBOR:
        return "an attachment names its manifest (a dag-cbor CID)"
    problem = _fields_problem(value)
    if problem is not None:
        return problem
    return Ref(
        root, value["name"], value["size"], value["mime"], value["w"], value["h"], value["th"]
    )


def parse_refs(value: Any) -> tuple[Ref, ...] | str:
    if not isinstance(value, list) or not 0 < len(value) <= MAX_ATTACHMENTS:
        return f"a post has 1 to {MAX_ATTACHMENTS} attachments"
    refs = []
    for item in value:
        ref = parse_ref(item)
        if isinstance(ref, str):
            return ref
        refs.append(ref)
    return tuple(refs)


def encode_manifest(ref: Ref, chunks: list[bytes]) -> bytes:
    return canonical_cbor(
        {
            "v": 1,
            "name": ref.name,
            "size": ref.size,
            "mime": ref.mime,
            "cs": CHUNK_SIZE,
            "chunks": chunks,
            "w": ref.width,
            "h": ref.height,
            "th": ref.thumb,
        }
    )


def parse_manifest(raw: bytes, root: bytes) -> Manifest:
    """The manifest `root` names, from bytes a peer sent; `BadManifest` otherwise."""
    if len(raw) > MAX_MANIFEST_BYTES or not cids.matches(root, raw):
        raise BadManifest("the manifest does not match its CID")
    try:
        value = decode(raw, MANIFEST_LIMITS)
    except MalformedCBOR as exc:
        raise BadManifest(f"manifest: {exc}") from None
    if not isinstance(value, dict) or set(value) != _MANIFEST_KEYS or value["v"] != 1:
        raise BadManifest("a manifest is a version 1 map of its known fields")
    problem = _fields_problem(value)
    if problem is not None:
        raise BadManifest(problem)
    chunks = value["chunks"]
    if value["cs"] != CHUNK_SIZE or not isinstance(chunks, list):
        raise BadManifest(f"chunks of {CHUNK_SIZE} bytes")
    if len(chunks) != max(1, -(-value["size"] // CHUNK_SIZE)):
        raise BadManifest("the chunk count does not match the size")
    try:
        if any(cids.codec(c) != cids.RAW for c in chunks):
            raise BadManifest("chunks are raw CIDs")
    except cids.BadCid as exc:
        raise BadManifest(str(exc)) from None
    ref = Ref(
        root, value["name"], value["size"], value["mime"], value["w"], value["h"], value["th"]
    )
    return Manifest(ref, tuple(chunks), raw)


def chunk_file(
    path: Path,
    name: str,
    mime: str,
    image: tuple[int, int, bytes | None] | None,
    put: Callable[[bytes, bytes], None],
    stored: Callable[[int], None] | None = None,
) -> Manifest:
    """Cut `path` into chunks, handing each (cid, bytes) to `put` as it is read: the file
    is never whole in memory. An empty file is one empty chunk. `stored(done)` is told
    the bytes put so far after each chunk (the node's upload progress)."""
    chunks: list[bytes] = []
    size = 0
    with path.open("rb") as f:
        while True:
            data = f.read(CHUNK_SIZE)
            if not data and chunks:
                break
            chunk_id = cids.of(data)
            put(chunk_id, data)
            chunks.append(chunk_id)
            size += len(data)
            if stored is not None:
                stored(size)
            if len(data) < CHUNK_SIZE:
                break
    width, height, thumb = image if image is not None else (None, None, None)
    provisional = Ref(b"", name, size, mime, width, height, thumb)
    raw = encode_manifest(provisional, chunks)
    ref = Ref(cids.of(raw, cids.DAG_CBOR), name, size, mime, width, height, thumb)
    return Manifest(ref, tuple(chunks), raw)
