"""`export` and `import`: a community as standard files, verified on the way in.

Each member-document segment is written with `Document.save()`, so any
Automerge implementation opens it; the log is a CBOR list of [op, signature]
in causal order; the manifest carries every change signature. `import`
trusts nothing in the directory: every op and every change goes through the
same verification as data from the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cbor2
from automerge.core import Document

from p2pcommunity.sync.cbor import Limits, decode
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.chunks import parse_change
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import Invalid, Rejected
from p2pcommunity.sync.log.community_log import CommunityLog, SignedOp
from p2pcommunity.sync.pages import pages_of
from p2pcommunity.sync.peerid import peer_id_from_public_key, public_key_from_peer_id
from p2pcommunity.sync.service import Service

_T = TypeVar("_T")

FORMAT = "p2pcommunity-export"
MANIFEST = "manifest.json"
LOG_FILE = "log.cbor"
MAX_FILE_BYTES = 512 * 1024 * 1024
# The log file may come from anyone: read it with the strict reader, sized for a whole log.
_LOG_LIMITS = Limits(max_size=MAX_FILE_BYTES, max_items=MAX_FILE_BYTES // 8, max_depth=3)


def export_community(service: Service, ref: str, directory: Path) -> dict[str, Any]:
    community = service.community(ref)
    store = service.store
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "documents").mkdir(exist_ok=True)
    ops = [[op.data, op.signature] for op in community.log.ops_in_order()]
    (directory / LOG_FILE).write_bytes(cbor2.dumps(ops))
    documents = []
    for row in store.docs_of(community.id):
        ref_ = DocRef(community.id, row.owner, row.segment)
        owner = peer_id_from_public_key(row.owner)
        name = f"documents/{owner}-{row.segment}.automerge"
        (directory / name).write_bytes(community.segment(ref_).save())
        signatures = [sig.hex() for _, _, _, sig in store.changes_after(row.doc_id, 0)]
        documents.append(
            {"file": name, "owner": owner, "segment": row.segment, "signatures": signatures}
        )
    manifest = {
        "format": FORMAT,
        "version": 1,
        "community_id": community.id.hex(),
        "name": community.state.name,
        "documents": documents,
        "pages": service.pages.export(community, directory),  # issue 14
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    blobs = service.files.export_blobs(community, directory)  # issue 15
    return {
        "community_id": community.id.hex(),
        "documents": len(documents),
        "ops": len(ops),
        "blobs": blobs,
    }


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise Invalid(f"missing {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise Invalid(f"{path} is too large")
    return path.read_bytes()


def import_community(service: Service, directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(_read(directory / MANIFEST))
        community_id = bytes.fromhex(manifest["community_id"])
        raw_ops = decode(_read(directory / LOG_FILE), _LOG_LIMITS)
        ops = [SignedOp(bytes(data), bytes(sig)) for data, sig in raw_ops]
        documents = list(manifest["documents"])
    except Invalid:
        raise
    except Exception as exc:
        raise Invalid(f"{directory} is not a p2pcommunity export: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise Invalid(f"{directory} is not a p2pcommunity export")
    store = service.store
    try:
        log = CommunityLog(community_id)
        for op in ops:
            log.add(op)
        if not log.has(community_id):
            raise Invalid("the export has no genesis op for its community")
        pending = [_document_changes(directory, community_id, entry) for entry in documents]
        pages = [_page_changes(directory, entry) for entry in manifest.get("pages", [])]
    except Rejected as exc:
        raise Invalid(f"verification failed, nothing imported: {exc}") from exc

    existed = community_id in store.community_ids()
    community = (
        service.open_community(community_id)
        if existed
        else Community(store, CommunityLog(community_id))
    )
    now = service.clock()
    try:
        with store.transaction():
            if not existed:
                store.add_community(community_id, now)
            community.receive_ops(ops)
            for ref, items in pending:
                community.receive_changes(ref, items, now)
            for page_id, items in pages:  # after the log: it says who may edit each page
                _, waiting = pages_of(community).receive(page_id, items, now)
                if waiting:
                    raise Rejected("missing_deps", f"page {page_id.hex()[:12]} lacks changes")
    except Rejected as exc:
        service.drop_cached(community_id)
        raise Invalid(f"verification failed, nothing imported: {exc}") from exc
    service.adopt(community)
    service.files.import_blobs(community_id, directory)  # issue 15: counts are logged
    return {"community_id": community_id.hex(), "pages": len(pages)}


def _page_changes(directory: Path, entry: dict[str, Any]) -> tuple[bytes, list[SignedChange]]:
    """A page's changes from its `.automerge` file, each with its signature, in the
    manifest's (causal) order; `receive` then verifies them as a peer's."""
    page_id, hashes, signatures, path = _entry(
        "page",
        lambda: (
            bytes.fromhex(entry["id"]),
            [bytes.fromhex(h) for h in entry["hashes"]],
            [bytes.fromhex(s) for s in entry["signatures"]],
            _inside(directory, entry["file"]),
        ),
    )
    if len(hashes) != len(signatures):
        raise Invalid(f"{path.name}: {len(hashes)} hashes but {len(signatures)} signatures")
    by_hash = {parse_change(c.raw_bytes).hash: c.raw_bytes for c in _changes_of(path)}
    if set(by_hash) != set(hashes):
        raise Invalid(f"{path.name}: its changes are not the ones the manifest lists")
    return page_id, [SignedChange(by_hash[h], g) for h, g in zip(hashes, signatures, strict=True)]


def _entry(what: str, parse: Callable[[], _T]) -> _T:
    """A manifest entry's fields; anything wrong with them is the export's fault."""
    try:
        return parse()
    except Invalid:
        raise
    except Exception as exc:
        raise Invalid(f"bad {what} entry in manifest: {exc}") from exc


def _inside(directory: Path, name: str) -> Path:
    path = (directory / name).resolve()
    if directory.resolve() not in path.parents:
        raise Invalid(f"path {name!r} leaves the export directory")
    return path


def _changes_of(path: Path) -> list[Any]:
    data = _read(path)
    try:
        return list(Document.load(data).get_changes([]))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust core panics on some malformed files
        raise Invalid(f"{path.name} is not an Automerge document") from exc


def _document_changes(
    directory: Path, community_id: bytes, entry: dict[str, Any]
) -> tuple[DocRef, list[SignedChange]]:
    owner, segment, signatures, path = _entry(
        "document",
        lambda: (
            public_key_from_peer_id(entry["owner"]),
            int(entry["segment"]),
            [bytes.fromhex(s) for s in entry["signatures"]],
            _inside(directory, entry["file"]),
        ),
    )
    changes = _changes_of(path)
    if len(changes) != len(signatures):
        raise Invalid(f"{path.name}: {len(changes)} changes but {len(signatures)} signatures")
    items = [
        SignedChange(change.raw_bytes, signatures[change.seq - 1])
        if 0 < change.seq <= len(signatures)
        else SignedChange(change.raw_bytes, b"")
        for change in changes
    ]
    return DocRef(community_id, owner, segment), items
