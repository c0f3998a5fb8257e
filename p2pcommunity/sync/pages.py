"""The wiki-page commands of the service (`service.pages`, issue 14), and page storage.

A page is a community document several members write (docs/pages.py). Who
may write it comes from the log (log/page_rules.py): a `page_create` op
makes the page, `page_editors` changes who edits it, `page_cut` records what
a removed member had written. Every change, ours or a peer's, passes
`receive`/`_write` here, which keep memory and SQLite in step the way
community.py does for member documents: verify, apply in memory, store in
one transaction, and drop the in-memory page if anything fails after
Automerge was touched.

`enforce` makes a page what the log says it is on every peer: it deletes a
removed member's changes beyond its cut and any change left without its
deps, then rebuilds the page from what remains. It runs whenever the log
holds cuts the page was not yet checked against.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from nacl.signing import SigningKey

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs.manifest import Ref
from p2pcommunity.sync.crypto import sign
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.chunks import parse_change
from p2pcommunity.sync.docs.pages import (
    MAX_PAGE_CHARS,
    MAX_PAGE_FILES,
    PAGE_CHANGE_TAG,
    FileEdit,
    PageDoc,
    apply_page_changes,
    summarize,
    verify_page_batch,
)
from p2pcommunity.sync.errors import Forbidden, Invalid, NotFound, Rejected
from p2pcommunity.sync.log.community_log import Role
from p2pcommunity.sync.log.page_rules import EDITORS, MAX_TITLE_CHARS, PageInfo, may_edit
from p2pcommunity.sync.page_diff import diff_ops, fill_sizes, measured_on_receipt, texts_of
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.storage.blob_store import page_holder
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community

PAGE_CACHE = 16
SNAPSHOT_AFTER = 200  # changes replayed on open beyond the snapshot
# The actor of a page held for reading; a write sets the writer's key first.
READ_ACTOR = bytes(32)


class CommunityPages:
    """The pages of one community on this device: their documents in memory, and the
    one way in for changes (`receive`, `write`). Shared by the service's commands and
    the sync sessions of the community (`pages_of`)."""

    def __init__(self, community: Community) -> None:
        self.community = community
        self.store = community.store
        self._docs: OrderedDict[bytes, PageDoc] = OrderedDict()
        # page id -> the removals and cuts it was last enforced against
        self._enforced: dict[bytes, Any] = {}
        # page id -> the files last written to the blob index (most changes touch none)
        self._indexed: dict[bytes, tuple[Ref, ...]] = {}

    def open(self, page_id: bytes) -> PageDoc:
        self.enforce(page_id)
        cached = self._docs.get(page_id)
        if cached is not None:
            self._docs.move_to_end(page_id)
            return cached
        tables = self.store.pages
        row = tables.row(page_id)
        after = 0
        if row is not None and row[2] is not None:
            page = PageDoc.load(page_id, READ_ACTOR, row[2])
            after = row[3]
        else:
            page = PageDoc.new(page_id, READ_ACTOR)
        later = tables.changes(page_id, after)
        if later:
            apply_page_changes(page, [data for _, _, _, data, _ in later])
            if len(later) >= SNAPSHOT_AFTER and row is not None:
                with self.store.transaction():
                    tables.set_snapshot(page_id, page.save(), after + len(later))
        self._docs[page_id] = page
        while len(self._docs) > PAGE_CACHE:
            self._docs.popitem(last=False)
        return page

    def forget(self, page_id: bytes) -> None:
        self._docs.pop(page_id, None)
        self._indexed.pop(page_id, None)

    def write(
        self, key: SigningKey, page_id: bytes, text: str, summary: str, now: int,
        edit: FileEdit | None = None,
    ) -> bool:  # fmt: skip
        """Make, sign and store one change of ours; False when nothing changes."""
        me = bytes(key.verify_key)
        tables = self.store.pages
        seq = tables.max_seqs(page_id).get(me, 0) + 1
        if not may_edit(self.community.state, page_id, me, seq):
            raise Forbidden("you may not edit this page (see `page editors`)")
        if len(text) > MAX_PAGE_CHARS:
            raise Invalid(f"a page holds at most {MAX_PAGE_CHARS} characters")
        page = self.open(page_id)
        try:
            page.doc.set_actor(me)
            change = page.replace_text(text, seq, now, summary, edit)
            if change is None:
                return False
            files = page.files()
            if isinstance(files, str):
                raise Invalid(files)
            signature = sign(key, PAGE_CHANGE_TAG, page_id, change.hash)
            with self.store.transaction():
                tables.insert(
                    page_id,
                    self.community.id,
                    [(me, change.seq, change.hash, change.raw_bytes, signature)],
                )
                sizes = [(change.hash, change.added, change.removed)]
                tables.set_sizes(page_id, self.community.id, sizes)
                # The splice made the text exactly `text`: no need to read it back.
                tables.set_row(page_id, self.community.id, text, now, page.heads())
                self._index_files(page)
        except BaseException:
            self.forget(page_id)
            raise
        return True

    def receive(
        self, page_id: bytes, items: Sequence[SignedChange], now_ms: int
    ) -> tuple[int, list[SignedChange]]:
        """Verify, apply and store a peer's page changes; returns (applied, waiting for deps).
        `Rejected` changes nothing."""
        community = self.community
        state = community.state
        if page_id not in state.pages:
            raise Rejected("unknown_page", "changes of a page the log does not hold")
        self.enforce(page_id)
        tables = self.store.pages
        seqs = tables.max_seqs(page_id)
        fresh, waiting, _ = verify_page_batch(
            page_id,
            items,
            lambda actor: seqs.get(actor, 0),
            lambda actor, seq: tables.hash_at(page_id, actor, seq),
            lambda h: tables.has_hash(page_id, h),
            lambda actor, seq: may_edit(state, page_id, actor, seq),
            community.presigned.verify,
            lambda actor: actor in state.members and not state.members[actor].active,
        )
        if not fresh:
            return 0, waiting
        page = self.open(page_id)
        shown = tables.shown(page_id)
        heads = sorted(page.heads())
        before = (heads, shown[0]) if shown is not None and sorted(shown[1]) == heads else None
        try:
            text = apply_page_changes(page, [c.parsed.raw_bytes for c in fresh])
            parsed = [c.parsed for c in fresh]
            # The count is read only if the batch is not the one-change common case.
            sizes = measured_on_receipt(page, parsed, before, text, partial(tables.count, page_id))
            with self.store.transaction():
                tables.insert(
                    page_id,
                    community.id,
                    [
                        (
                            c.parsed.actor,
                            c.parsed.seq,
                            c.parsed.hash,
                            c.parsed.raw_bytes,
                            c.signature,
                        )
                        for c in fresh
                    ],
                )
                tables.set_row(page_id, community.id, text, now_ms, page.heads())
                tables.set_sizes(page_id, community.id, sizes)
                self._index_files(page)
        except BaseException:
            self.forget(page_id)
            raise
        return len(fresh), waiting

    def enforce(self, page_id: bytes) -> int:
        """Cut removed members' changes beyond their recorded seq, and what depended
        on them; rebuild the page if anything went. Returns how many changes went."""
        community = self.community
        state = community.state
        seen = self._enforced.get(page_id)
        if seen is not None and seen[0] is state:
            return 0  # checked against this very fold already
        tables = self.store.pages
        tops = tables.max_seqs(page_id)
        cuts = {m: c.get(page_id, 0) for m, c in state.page_cuts.items()}
        removed = {k for k, m in state.members.items() if not m.active}
        info = state.pages.get(page_id)
        # The writers' roles and the page's settings too: a demotion or a new `editors`
        # re-judges changes applied before this peer knew of it (alike on every peer).
        roles = tuple(sorted((a, state.role_of(a)) for a in tops))
        key = (
            tuple(sorted(cuts.items())),
            tuple(sorted(removed)),
            repr(roles),
            repr(() if info is None else info.settings),
        )
        if seen is not None and seen[1] == key:
            self._enforced[page_id] = (state, key)
            return 0
        gone = 0
        with self.store.transaction():
            for actor, top in tops.items():
                if actor in removed and top > cuts.get(actor, 0):
                    gone += tables.cut(page_id, actor, cuts.get(actor, 0))
                    continue
                bad = next(
                    (s for s in range(1, top + 1) if not may_edit(state, page_id, actor, s)), None
                )
                if bad is not None:
                    gone += tables.cut(page_id, actor, bad - 1)
            if gone:
                held: set[bytes] = set()
                for actor, seq, change_hash, data, _ in tables.changes(page_id):
                    if all(dep in held for dep in parse_change(data).deps):
                        held.add(change_hash)
                    else:
                        gone += tables.cut(page_id, actor, seq - 1)
                tables.set_snapshot(page_id, None, 0)
        self._enforced[page_id] = (state, key)
        if gone:
            self.forget(page_id)
            page = self.open(page_id)
            with self.store.transaction():
                row = tables.row(page_id)
                tables.set_row(
                    page_id, community.id, page.text(), row[1] if row else 0, page.heads()
                )
                self._index_files(page)
        return gone

    def _index_files(self, page: PageDoc) -> None:
        """Issue 15: the page's files, for `page show` and the blob exchange."""
        files = page.files()
        refs = files if isinstance(files, tuple) else ()
        if self._indexed.get(page.page_id) == refs:
            return
        self.store.blobs.replace_refs(self.community.id, page_holder(page.page_id), refs)
        self._indexed[page.page_id] = refs


_BY_COMMUNITY: WeakKeyDictionary[Community, CommunityPages] = WeakKeyDictionary()


def pages_of(community: Community) -> CommunityPages:
    """The one `CommunityPages` of this community object."""
    held = _BY_COMMUNITY.get(community)
    if held is None:
        held = _BY_COMMUNITY[community] = CommunityPages(community)
    return held


class Pages(ServicePart):
    # -- resolving -------------------------------------------------------------

    def resolve(self, community: Community, ref: str) -> PageInfo:
        pages = community.state.pages
        wanted = ref.strip().lower()
        found = [p for p in pages.values() if p.id.hex() == wanted]
        if not found and len(wanted) >= 6:
            found = [p for p in pages.values() if p.id.hex().startswith(wanted)]
        if not found:
            found = [p for p in pages.values() if p.title == ref.strip()]
        if not found:
            raise NotFound(f"no page {ref!r}")
        if len(found) > 1:
            raise Invalid(f"{ref!r} names more than one page; use its id")
        info: PageInfo = found[0]
        return info

    def open(self, community: Community, page_id: bytes) -> PageDoc:
        return pages_of(community).open(page_id)

    def receive(
        self, community: Community, page_id: bytes, items: Sequence[SignedChange], now_ms: int
    ) -> tuple[int, list[SignedChange]]:
        return pages_of(community).receive(page_id, items, now_ms)

    def _write(
        self, community: Community, page_id: bytes, text: str, summary: str,
        attach: Sequence[str] = (), detach: Sequence[str] = (),
    ) -> bool:  # fmt: skip
        """One change of ours; `attach` are files (absolute paths, stored as our blobs
        first, every limit checked before), `detach` root CIDs the page attaches."""
        held = {cids.to_text(r.root): r.root for r in self._files(community, page_id)}
        gone = []
        for text_cid in detach:
            if text_cid.strip() not in held:
                raise NotFound(f"the page attaches no {text_cid!r}")
            gone.append(held[text_cid.strip()])
        if len(held) - len(gone) + len(attach) > MAX_PAGE_FILES:
            raise Invalid(f"a page attaches at most {MAX_PAGE_FILES} files")
        refs = self.service.files.attach(community, list(attach)) if attach else ()
        written = pages_of(community).write(
            self.service.key, page_id, text, summary, self.service.clock(),
            FileEdit(refs, tuple(gone)),
        )  # fmt: skip
        if written:
            self.service.on_local_change(community, "page")
        return written

    def _files(self, community: Community, page_id: bytes) -> tuple[Ref, ...]:
        files = self.open(community, page_id).files()
        return files if isinstance(files, tuple) else ()

    # -- commands ----------------------------------------------------------------

    def _member(self, ref: str) -> Community:
        community = self.service.community(ref)
        if not community.state.is_member(self.service.me):
            raise Forbidden("you are not a member of this community")
        return community

    def create(
        self,
        ref: str,
        title: str,
        text: str,
        editors: str = "members",
        attach: Sequence[str] = (),
    ) -> dict[str, Any]:
        community = self._member(ref)
        title = title.strip()
        if not 1 <= len(title) <= MAX_TITLE_CHARS or not title.isprintable():
            raise Invalid(f"a page title is 1 to {MAX_TITLE_CHARS} printable characters")
        if editors not in EDITORS:
            raise Invalid("editors are members, moderators or admins")
        if editors != "members":
            self.service.require_role(community, Role.MODERATOR, "restrict who edits a page")
        if any(p.title == title for p in community.state.pages.values()):
            raise Invalid(f"a page titled {title!r} exists", code="exists")
        if len(text) > MAX_PAGE_CHARS:
            raise Invalid(f"a page holds at most {MAX_PAGE_CHARS} characters")
        if len(attach) > MAX_PAGE_FILES:
            raise Invalid(f"a page attaches at most {MAX_PAGE_FILES} files")
        self.service.files.check_paths(community, list(attach))  # before the page exists
        page_id = self.service.append_op(
            community, "page_create", {"title": title, "editors": editors}
        )
        self._write(community, page_id, text, summarize("", text), attach)
        return {"page_id": page_id.hex()}

    def edit(
        self,
        ref: str,
        page_ref: str,
        text: str | None = None,
        append: str | None = None,
        old: str | None = None,
        new: str | None = None,
        attach: Sequence[str] = (),
        detach: Sequence[str] = (),
    ) -> dict[str, Any]:
        community = self._member(ref)
        info = self.resolve(community, page_ref)
        current = self.open(community, info.id).text()
        edits = sum(x is not None for x in (text, append, old))
        if edits > 1 or (edits == 0 and not attach and not detach):
            raise Invalid("give one of --file, --append or --replace OLD NEW (or --attach)")
        if edits == 0:
            text = current
        if append is not None:
            text = current + append
        elif old is not None:
            if not old or old not in current:
                raise Invalid(f"{old!r} is not in the page")
            text = current.replace(old, new or "", 1)
        assert text is not None
        self._write(community, info.id, text, summarize(current, text), attach, detach)
        return {}

    def show(self, ref: str, page_ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        info = self.resolve(community, page_ref)
        tables = self.service.store.pages
        pages_of(community).enforce(info.id)
        # The row holds the text and heads of what is stored: showing a long page needs
        # no Automerge load (~1 s at 10,000 edits here); only older rows lack heads.
        held = tables.shown(info.id)
        if held is None:
            page = self.open(community, info.id)
            held = page.text(), page.heads()
        actors = tables.max_seqs(info.id)
        return {
            "id": info.id.hex(),
            "title": info.title,
            "text": held[0],
            "editors": info.editors,
            "version": _version(held[1]),
            "contributors": sorted(peer_id_from_public_key(a) for a in actors),
            "attachments": self.service.files.attachments_json([page_holder(info.id)]).get(
                page_holder(info.id), []
            ),
        }

    def list_pages(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        updated = self.service.store.pages.updated(community.id)
        pages = sorted(community.state.pages.values(), key=lambda p: (p.title, p.id))
        return {
            "pages": [
                {
                    "id": p.id.hex(),
                    "title": p.title,
                    "editors": p.editors,
                    "updated": iso_ms(updated.get(p.id, p.created_ms)),
                }
                for p in pages
            ]
        }

    def history(self, ref: str, page_ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        info = self.resolve(community, page_ref)
        page = self.open(community, info.id)
        changes = self.service.store.pages.changes(info.id)
        sizes = fill_sizes(self.service.store, page, community.id, changes)
        entries = []
        for actor, seq, change_hash, _, _ in changes:
            meta = page.meta(actor, seq) or (0, "")
            entries.append((meta[0], change_hash.hex()[:16], actor, meta[1], change_hash))
        entries.sort()
        return {
            "history": [
                {
                    "version": version,
                    "author": peer_id_from_public_key(actor),
                    "time": iso_ms(ms),
                    "summary": summary,
                    # null only for a change not measured yet (page_diff.SIZE_BUDGET a call)
                    "added": sizes[change_hash][0] if change_hash in sizes else None,
                    "removed": sizes[change_hash][1] if change_hash in sizes else None,
                }
                for ms, version, actor, summary, change_hash in entries
            ]
        }

    def _version_row(self, page_id: bytes, version: str) -> tuple[bytes, bytes]:
        """(hash, data) of the one stored change whose hash starts with `version`."""
        wanted = version.strip().lower()
        found = [
            (h, d)
            for _, _, h, d, _ in self.service.store.pages.changes(page_id)
            if len(wanted) >= 6 and h.hex().startswith(wanted)
        ]
        if len(found) != 1:
            raise NotFound(f"no single version {version!r} of this page (see `page history`)")
        return found[0]

    def diff(self, ref: str, page_ref: str, version: str) -> dict[str, Any]:
        """What the change `version` did, against the text its author saw (its deps)."""
        community = self.service.community(ref)
        info = self.resolve(community, page_ref)
        change_hash, data = self._version_row(info.id, version)
        before, after = texts_of(self.open(community, info.id), data, change_hash)
        return {"version": change_hash.hex()[:16], "diff": diff_ops(before, after)}

    def revert(self, ref: str, page_ref: str, version: str) -> dict[str, Any]:
        community = self._member(ref)
        self.service.require_role(community, Role.MODERATOR, "revert pages")
        info = self.resolve(community, page_ref)
        wanted = version.strip().lower()
        change_hash, _ = self._version_row(info.id, wanted)
        old_text = self.open(community, info.id).text([change_hash])
        self._write(community, info.id, old_text, f"revert to {wanted[:16]}")
        return {}

    def set_editors(self, ref: str, page_ref: str, editors: str) -> dict[str, Any]:
        community = self._member(ref)
        self.service.require_role(community, Role.MODERATOR, "set who edits a page")
        if editors not in EDITORS:
            raise Invalid("editors are members, moderators or admins")
        info = self.resolve(community, page_ref)
        heads = sorted(self.service.store.pages.max_seqs(info.id).items())
        self.service.append_op(
            community,
            "page_editors",
            {"page": info.id, "editors": editors, "heads": [[a, s] for a, s in heads]},
        )
        return {}

    def export(self, community: Community, directory: Any) -> list[dict[str, Any]]:
        """Each page as a standard .automerge file under `directory`/pages (archive.py)."""
        out = []
        pages = community.state.pages
        if pages:
            (directory / "pages").mkdir(exist_ok=True)
        for page_id, info in sorted(pages.items()):
            name = f"pages/{page_id.hex()}.automerge"
            (directory / name).write_bytes(self.open(community, page_id).save())
            changes = self.service.store.pages.changes(page_id)
            out.append(
                {
                    "file": name,
                    "id": page_id.hex(),
                    "title": info.title,
                    # In stored order, a causal one: `import` applies them so.
                    "hashes": [h.hex() for _, _, h, _, _ in changes],
                    "signatures": [g.hex() for _, _, _, _, g in changes],
                }
            )
        return out

    def record_removal(self, community: Community, member: bytes) -> None:
        """After a removal of ours: what `member` had written to each page, as we know it."""
        heads = []
        for page_id in community.state.pages:
            seq = self.service.store.pages.max_seqs(page_id).get(member, 0)
            if seq:
                heads.append([page_id, seq])
        self.service.append_op(community, "page_cut", {"member": member, "heads": heads})


def _version(heads: list[bytes]) -> str:
    return "+".join(sorted(h.hex()[:16] for h in heads))
