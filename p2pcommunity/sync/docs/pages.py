"""Wiki pages: the first Automerge documents with more than one writer.

One document per page; its id is the hash of the `page_create` log op, so a
page cannot be planted under another's id and every signature names it. The
body is an Automerge Text object at the root key "text", changed only with
splices, so concurrent edits merge character by character. Each change also
writes one entry to the root map "meta" under "<actor hex>/<seq>": a strict
CBOR map {ms, summary} saying when (the author's clock: history display
only, no rule depends on it) and what. Files attached to the page (issue 15)
are the root map "files": root CID text -> the attachment's ref (strict
CBOR, as a post carries it); an editor attaches or detaches in the change
that edits, and a batch that leaves the map malformed is refused whole,
like one that makes the text too long. Older nodes ignore the key.

A member document is a strict chain; a page is a DAG of several actors'
chains. Verification before Automerge sees a byte (ARCHITECTURE §5.3)
therefore checks, per change: its signature by its actor over
(PAGE_CHANGE_TAG, page id, hash); that its actor may edit the page at that
change (`may_edit`, decided from the log fold alone, so every peer agrees);
that its seq is the next of that actor's chain; that its deps are held or
come earlier in the batch (otherwise it waits, bounded, in the caller's
pending buffer). Then the batch is applied in place with a V1 sync message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.manifest import Ref, parse_ref
from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.crypto import canonical_cbor, signed_message, verify_each
from p2pcommunity.sync.docs.apply import SignedChange, sync_message_v1
from p2pcommunity.sync.docs.chunks import ParsedChange, parse_change
from p2pcommunity.sync.errors import Rejected

PAGE_CHANGE_TAG = b"p2pcommunity/page-change/v1\x00"
TEXT, META, FILES = "text", "meta", "files"
MAX_PAGE_FILES = 50
MAX_PAGE_CHARS = 200_000
MAX_SUMMARY_CHARS = 200
MAX_PAGE_BATCH = 1000

# (actor, seq) -> may this change be applied? Decided from the community log.
MayEdit = Callable[[bytes, int], bool]


def splice_for(old: str, new: str) -> tuple[int, int, str]:
    """The minimal single splice turning `old` into `new`: common prefix and suffix kept."""
    limit = min(len(old), len(new))
    prefix = _common_length(old, new, limit, lambda s, n: s[:n])
    suffix = _common_length(old, new, limit - prefix, lambda s, n: s[len(s) - n :])
    return prefix, len(old) - prefix - suffix, new[prefix : len(new) - suffix]


def _common_length(
    old: str, new: str, limit: int, part: Callable[[str, int], str]
) -> int:  # fmt: skip
    """The longest n <= limit with part(old, n) == part(new, n), by bisection: slices
    compare in C, where a loop per character cost ~1 ms a KB of page on every edit."""
    low, high = 0, limit
    while low < high:
        mid = (low + high + 1) // 2
        if part(old, mid) == part(new, mid):
            low = mid
        else:
            high = mid - 1
    return low


def summarize(old: str, new: str) -> str:
    _, deleted, inserted = splice_for(old, new)
    return f"+{len(inserted)} -{deleted} chars"


@dataclass(frozen=True)
class FileEdit:
    """What one page change does to the page's files: refs added, root CIDs removed."""

    attach: tuple[Ref, ...] = ()
    detach: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class LocalPageChange:
    """A change this node just made to a page, ready to store and send."""

    seq: int
    hash: bytes
    raw_bytes: bytes  # signed, stored and sent exactly as Automerge wrote them
    deps: tuple[bytes, ...]
    added: int  # characters the splice inserted
    removed: int  # and deleted


class PageDoc:
    """One page in memory."""

    def __init__(self, page_id: bytes, doc: Document) -> None:
        self.page_id = page_id
        self.doc = doc

    @classmethod
    def new(cls, page_id: bytes, actor: bytes) -> PageDoc:
        return cls(page_id, Document(actor_id=actor))

    @classmethod
    def load(cls, page_id: bytes, actor: bytes, saved: bytes) -> PageDoc:
        doc = Document.load(saved)
        doc.set_actor(actor)
        return cls(page_id, doc)

    def _obj(self, key: str) -> bytes | None:
        got = self.doc.get(ROOT, key)
        if got is None or not isinstance(got[0], ObjType):
            return None
        return bytes(got[1])

    def text(self, heads: Sequence[bytes] | None = None) -> str:
        obj = self._obj(TEXT)
        if obj is None:
            return ""
        try:
            value = self.doc.text(obj, list(heads)) if heads is not None else self.doc.text(obj)
        except Exception:  # noqa: BLE001 -- heads unknown to this document, or no text there
            return ""
        return str(value)

    def meta(self, actor: bytes, seq: int) -> tuple[int, str] | None:
        """(ms, summary) the author wrote for its change `seq`, if well formed."""
        obj = self._obj(META)
        if obj is None:
            return None
        got = self.doc.get(obj, f"{actor.hex()}/{seq}")
        if got is None or isinstance(got[0], ObjType):
            return None
        value = decode_or_none(got[0][1])
        if not isinstance(value, dict) or set(value) != {"ms", "summary"}:
            return None
        ms, summary = value["ms"], value["summary"]
        if type(ms) is not int or ms < 0 or not isinstance(summary, str):
            return None
        return ms, summary[:MAX_SUMMARY_CHARS]

    def heads(self) -> list[bytes]:
        return list(self.doc.get_heads())

    def files(self) -> tuple[Ref, ...] | str:
        """The page's attachments in key order, or what is wrong with the map."""
        got = self.doc.get(ROOT, FILES)
        if got is None:
            return ()
        if got[0] != ObjType.Map:
            return "a page's files are a map"
        obj = bytes(got[1])
        keys = sorted(self.doc.keys(obj))
        if len(keys) > MAX_PAGE_FILES:
            return f"a page attaches at most {MAX_PAGE_FILES} files"
        refs = []
        for key in keys:
            got = self.doc.get(obj, key)
            value = None if got is None or isinstance(got[0], ObjType) else got[0][1]
            ref = parse_ref(decode_or_none(value))
            if isinstance(ref, str):
                return f"page file {key[:64]!r}: {ref}"
            if cids.to_text(ref.root) != key:
                return f"page file {key[:64]!r} is keyed by another CID"
            refs.append(ref)
        return tuple(refs)

    def replace_text(
        self, new: str, seq: int, ms: int, summary: str, edit: FileEdit | None = None
    ) -> LocalPageChange | None:
        """Make the text `new` with one minimal splice, and do what `edit` does to the
        files; None when nothing changes."""
        attach, detach = (edit.attach, edit.detach) if edit is not None else ((), ())
        old = self.text()
        if old == new and self._obj(TEXT) is not None and not attach and not detach:
            return None
        start, deleted, inserted = splice_for(old, new)
        actor = bytes(self.doc.get_actor())
        body = canonical_cbor({"ms": ms, "summary": summary[:MAX_SUMMARY_CHARS]})
        with self.doc.transaction() as tx:
            text, meta, files = self._obj(TEXT), self._obj(META), self._obj(FILES)
            if text is None:
                text = tx.put_object(ROOT, TEXT, ObjType.Text)
                # With the page's first change, so that two editors' first attachments
                # do not each make a map of their own (one map would win, unmerged).
                files = files or tx.put_object(ROOT, FILES, ObjType.Map)
            if meta is None:
                meta = tx.put_object(ROOT, META, ObjType.Map)
            if deleted or inserted:
                tx.splice_text(text, start, deleted, inserted)  # type: ignore[attr-defined]  # missing from the stubs
            if attach or detach:
                files = files or tx.put_object(ROOT, FILES, ObjType.Map)
                for root in detach:
                    tx.delete(files, cids.to_text(root))
                for ref in attach:
                    value = canonical_cbor(ref.to_value())
                    tx.put(files, cids.to_text(ref.root), ScalarType.Bytes, value)
            tx.put(meta, f"{actor.hex()}/{seq}", ScalarType.Bytes, body)
        change = self.doc.get_last_local_change()
        assert change is not None
        if change.seq != seq:
            raise RuntimeError(f"page change seq {change.seq}, expected {seq}")
        return LocalPageChange(
            change.seq, change.hash, change.raw_bytes, tuple(change.deps), len(inserted), deleted
        )

    def save(self) -> bytes:
        return bytes(self.doc.save())


# --- receiving --------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedPageChange:
    parsed: ParsedChange
    signature: bytes


def verify_page_batch(
    page_id: bytes,
    items: Sequence[SignedChange],
    max_seq_of: Callable[[bytes], int],
    hash_at: Callable[[bytes, int], bytes | None],
    held: Callable[[bytes], bool],
    may_edit: MayEdit,
    verify_signatures: Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]] = verify_each,
    is_removed: Callable[[bytes], bool] = lambda actor: False,
) -> tuple[list[VerifiedPageChange], list[SignedChange], int]:
    """Check a batch of page changes; returns (fresh in a causal order, waiting for deps,
    duplicates). `Rejected` for a change that can never be valid: nothing is applied then."""
    if len(items) > MAX_PAGE_BATCH:
        raise Rejected("oversize_batch", f"{len(items)} page changes in one batch")
    parsed: list[tuple[ParsedChange, SignedChange]] = []
    checks = []
    for signed in items:
        change = parse_change(signed.data)
        if not may_edit(change.actor, change.seq):
            if is_removed(change.actor):
                raise Rejected("removed", "a removed member's page change beyond its cut")
            raise Rejected("not_editor", f"{change.actor.hex()[:16]} may not edit this page")
        parsed.append((change, signed))
        checks.append(
            (change.actor, signed_message(PAGE_CHANGE_TAG, page_id, change.hash), signed.signature)
        )
    for (change, _), valid in zip(parsed, verify_signatures(checks), strict=True):
        if not valid:
            raise Rejected("bad_signature", f"page change {change.hash.hex()[:16]}")
    return _causal_order(parsed, max_seq_of, hash_at, held)


def _causal_order(
    parsed: list[tuple[ParsedChange, SignedChange]],
    max_seq_of: Callable[[bytes], int],
    hash_at: Callable[[bytes, int], bytes | None],
    held: Callable[[bytes], bool],
) -> tuple[list[VerifiedPageChange], list[SignedChange], int]:
    """The changes that extend each actor's chain with their deps held, in an order
    that applies; those still waiting; and how many were copies."""
    next_seq: dict[bytes, int] = {}
    fresh: list[VerifiedPageChange] = []
    known: set[bytes] = set()
    duplicates = 0
    remaining = sorted(parsed, key=lambda p: (p[0].actor, p[0].seq))
    progress = True
    while remaining and progress:
        progress = False
        waiting = []
        for change, signed in remaining:
            top = next_seq.setdefault(change.actor, max_seq_of(change.actor))
            if change.seq <= top:
                have = hash_at(change.actor, change.seq)
                if have is None:
                    have = next(
                        (
                            f.parsed.hash
                            for f in fresh
                            if f.parsed.actor == change.actor and f.parsed.seq == change.seq
                        ),
                        None,
                    )
                if have != change.hash:
                    raise Rejected("equivocation", f"two page changes at seq {change.seq}")
                duplicates += 1
                progress = True
                continue
            deps_ok = all(held(dep) or dep in known for dep in change.deps)
            if change.seq == top + 1 and deps_ok:
                fresh.append(VerifiedPageChange(change, signed.signature))
                known.add(change.hash)
                next_seq[change.actor] = change.seq
                progress = True
            else:
                waiting.append((change, signed))
        remaining = waiting
    return fresh, [signed for _, signed in remaining], duplicates


def apply_page_changes(page: PageDoc, raw_changes: Sequence[bytes]) -> str:
    """Apply verified changes in place and return the page's text (read once a batch: it
    is the cost of a long page); `Rejected` if Automerge fails (the caller reloads)."""
    if not raw_changes:
        return page.text()
    from automerge.core import Message, SyncState

    try:
        message = Message.decode(sync_message_v1(raw_changes))
        page.doc.receive_sync_message(SyncState(), message)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust core raises PanicException, a BaseException
        raise Rejected("automerge_error", repr(exc)[:200]) from exc
    text = page.text()
    if len(text) > MAX_PAGE_CHARS:
        raise Rejected("invalid_content", f"a page over {MAX_PAGE_CHARS} characters")
    files = page.files()
    if isinstance(files, str):
        raise Rejected("invalid_content", files)
    return text


def page_problem(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > MAX_PAGE_CHARS:
        return f"a page is text of at most {MAX_PAGE_CHARS} characters"
    return None
