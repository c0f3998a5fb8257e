"""Rows of `OP_RULES` for wiki pages (issue 14), and who may edit a page.

- `page_create` {title, editors}: any member; editors other than `members`
  need a moderator. The op's hash is the page id (and its document's id).
- `page_editors` {page, editors, heads}: moderators and admins. `heads` is
  the page's version vector as the setter knew it ([[actor, seq]]): an
  actor's changes up to it were made under the previous setting, later ones
  fall under this one.
- `page_cut` {member, heads}: admins, emitted with a removal: the removed
  member's seq per page as the remover knew it ([[page, seq]]); the member's
  changes beyond are rejected everywhere (as §5.6 does for member docs).
  Also emitted just before a demotion (the same op, parent of the `role_set`):
  a still-active member's changes up to it were made under the earlier role
  and count; later ones are judged by the role they have now. A demotion
  with no `page_cut` before it (only development builds between the wiki and
  this rule wrote one; no release did: 0.1.0 has no pages) recorded nothing,
  and nothing else can tell which edits came first (author times are the
  author's to choose), so all of that member's changes are judged by the
  role they have now: on every peer alike, restricted edits then go
  (tests/sync/test_page_demotion.py).

`may_edit` decides from the fold alone, so every peer holding the same ops
gives the same answer for the same change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from p2pcommunity.sync.log.ops import Op, Role, fields, is_key, is_op_id, is_seq_pairs
from p2pcommunity.sync.log.state import (
    CommunityState,
    OpRule,
    PastView,
    StateBuilder,
    Touch,
    reject,
)

EDITORS: dict[str, Role] = {
    "members": Role.MEMBER,
    "moderators": Role.MODERATOR,
    "admins": Role.ADMIN,
}
MAX_TITLE_CHARS = 200
MAX_PAGE_HEADS = 4096


@dataclass(frozen=True)
class PageInfo:
    id: bytes
    title: str
    creator: bytes
    created_ms: int
    # (editors, {actor: seq}) in fold order; the first is the creation's, with {}.
    settings: tuple[tuple[str, dict[bytes, int]], ...]

    @property
    def editors(self) -> str:
        return self.settings[-1][0]


def _title(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 1 <= len(value.strip()) <= MAX_TITLE_CHARS
        and value.isprintable()
    )


def _editors(value: Any) -> bool:
    return value in EDITORS


def _vv(value: Any, key_check: Any) -> bool:
    return is_seq_pairs(value, MAX_PAGE_HEADS, key_check)


def _page_touch(page_id: bytes) -> Touch:
    return ("page", page_id)


def _check_create(view: PastView, op: Op) -> None:
    role = view.role_of(op.author)
    if op.body["editors"] != "members" and (role is None or role < Role.MODERATOR):
        raise reject("only moderators and admins restrict who edits a page")


def _apply_create(state: StateBuilder, op: Op) -> None:
    state.pages[op.hash] = PageInfo(
        op.hash, op.body["title"].strip(), op.author, op.ms, ((op.body["editors"], {}),)
    )


def _apply_editors(state: StateBuilder, op: Op) -> None:
    page = state.pages.get(op.body["page"])
    if page is not None:
        heads = {actor: seq for actor, seq in op.body["heads"]}
        state.pages[page.id] = replace(page, settings=(*page.settings, (op.body["editors"], heads)))


def _apply_cut(state: StateBuilder, op: Op) -> None:
    member = op.body["member"]
    cuts = dict(state.page_cuts.get(member, {}))
    for page_id, seq in op.body["heads"]:  # concurrent cuts: keep what any remover knew
        cuts[page_id] = max(seq, cuts.get(page_id, seq))
    state.page_cuts[member] = cuts


def may_edit(state: CommunityState, page_id: bytes, actor: bytes, seq: int) -> bool:
    """Whether change `seq` of `actor` on the page counts (the same on every peer)."""
    page: PageInfo | None = state.pages.get(page_id)
    member = state.members.get(actor)
    if page is None or member is None:
        return False
    cut = state.page_cuts.get(actor, {}).get(page_id)
    # A removed member keeps what its removal's page_cut recorded, nothing more.
    if not member.active and seq > (cut or 0):
        return False
    if member.active and cut is not None and seq <= cut:
        return True  # recorded at a demotion: made, and accepted, under the earlier role
    editors = page.settings[0][0]
    for setting, heads in page.settings[1:]:
        if seq <= heads.get(actor, 0):
            break  # made before this setting: the previous one governs it
        editors = setting
    return member.role >= EDITORS[editors]


PAGE_RULES: dict[str, OpRule] = {
    "page_create": OpRule(
        required=Role.MEMBER,
        validate=fields({"title": _title, "editors": _editors}),
        touches=lambda op: (_page_touch(op.hash),),
        check=_check_create,
        apply=_apply_create,
    ),
    "page_editors": OpRule(
        required=Role.MODERATOR,
        validate=fields(
            {
                "page": is_op_id,
                "editors": _editors,
                "heads": lambda v: _vv(v, is_key),
            }
        ),
        touches=lambda op: (_page_touch(op.body["page"]),),
        apply=_apply_editors,
    ),
    "page_cut": OpRule(
        required=Role.ADMIN,
        validate=fields({"member": is_key, "heads": lambda v: _vv(v, is_op_id)}),
        touches=lambda op: (("page_cut", op.body["member"]),),
        apply=_apply_cut,
        final=True,
    ),
}
