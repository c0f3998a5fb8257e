"""Rows of `OP_RULES` for moderators who answer for what they do (issue 16).

The moderation log is not a table anyone writes: it is read off the ops that
count in the fold (`CommunityLog.counted_ops`), in the global order, so every
member holding the same ops lists the same entries. What this module adds:

- `rule`: an optional field on every moderation op (hide, unhide, timeout,
  untimeout, member_remove, role_set), the community rule the act cites.
  The existing rows are wrapped, not rewritten: the wrapper checks `rule`
  and hands the rest of the body to the row's own validator.
- `appeal`: the member an op acted on appeals it, once. Checked on receipt
  against the causal past (`PastView.past_op`/`past_ops_by`), so an appeal of
  an op that did not act on its author, or a second appeal of the same op,
  is refused and stored nowhere. An op acts on its author when its `member`
  is the author, or (a hide) when the post id is the author's: the appeal
  names the post's local id, and `post_id_for(author, local)` must give the
  hidden id (post ids are bound to their author, see `docs.memberdoc`).
  A removed member holds no role, so a removal cannot be appealed from
  inside the log: removal is final (`log_governance`) and stays so.
  Two concurrent appeals of one op (neither in the other's past) are both
  stored; readers count the first in the global order.
- `appeal_resolve`: an admin's outcome, `uphold` or `reverse`, with a note.
  Reversing does not change state by itself: the admin's node writes the
  undoing op next (unhide, untimeout, role_set) citing the appeal in `rule`,
  so the undo is an ordinary moderation op every peer already folds.
- `note_set` / `note_remove`: a moderator's context note under a post.

The texts of appeals are sealed to the admins (`sync.accountability`); the
log only sees bytes of bounded size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from p2pcommunity.sync.log.ops import Op, Role, fields, is_op_id
from p2pcommunity.sync.log.state import OpRule, PastView, apply_nothing, reject

MAX_RULE_CHARS = 128
MAX_NOTE_CHARS = 1024
MAX_LOCAL_ID_CHARS = 64
MAX_SEALED_BYTES = 48 * 1024
# The ops a member may appeal, and the ops the moderation log lists.
APPEALABLE = frozenset({"hide", "timeout", "role_set"})
CITING = ("hide", "unhide", "timeout", "untimeout", "member_remove", "role_set")
OUTCOMES = frozenset({"uphold", "reverse"})
_HEX = frozenset("0123456789abcdef")


def _text(limit: int, empty: bool = True) -> Any:
    return lambda v: isinstance(v, str) and (empty or v.strip() != "") and len(v) <= limit


def _post_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and _HEX.issuperset(value)


def _sealed(value: Any) -> bool:
    return isinstance(value, bytes) and 0 < len(value) <= MAX_SEALED_BYTES


def post_id_of(author: bytes, local_id: str) -> str:
    """`docs.memberdoc.post_id_for`, restated so that log/ does not import the documents."""
    return hashlib.blake2b(author + local_id.encode(), digest_size=16).hexdigest()


def acted_on(entry: Op, member: bytes, local_id: str | None) -> bool:
    """Whether `entry` (an appealable op) acted on `member`."""
    if entry.type == "hide":
        return local_id is not None and post_id_of(member, local_id) == entry.body["post"]
    target: bytes | None = entry.body.get("member")
    return target == member


def citing(rule: OpRule) -> OpRule:
    """`rule` whose op may also carry `rule`: the community rule the act cites."""
    inner = rule.validate
    check_rule = _text(MAX_RULE_CHARS)

    def validate(body: Mapping[str, Any]) -> None:
        if "rule" in body and not check_rule(body["rule"]):
            raise reject("bad 'rule'")
        inner({k: v for k, v in body.items() if k != "rule"})

    return replace(rule, validate=validate)


def _check_appeal(view: PastView, op: Op) -> None:
    entry = view.past_op(op.body["entry"])
    if entry is None or entry.type not in APPEALABLE:
        raise reject("not_found: no such moderation entry in the appeal's past")
    if not acted_on(entry, op.author, op.body.get("local")):
        raise reject("forbidden: that entry did not act on the appellant")
    for earlier in view.past_ops_by(op.author):
        if earlier.type == "appeal" and earlier.body["entry"] == op.body["entry"]:
            raise reject("exists: that entry was already appealed")


def _check_resolve(view: PastView, op: Op) -> None:
    appeal = view.past_op(op.body["appeal"])
    if appeal is None or appeal.type != "appeal":
        raise reject("not_found: no such appeal in the outcome's past")


def _check_note_post(view: PastView, op: Op) -> None:
    pass  # a note may precede the post's arrival; readers show it once the post is there


APPEAL_RULES: dict[str, OpRule] = {
    "appeal": OpRule(
        required=Role.MEMBER,
        validate=fields(
            {"entry": is_op_id, "sealed": _sealed}, {"local": _text(MAX_LOCAL_ID_CHARS, False)}
        ),
        check=_check_appeal,
        apply=apply_nothing,
    ),
    "appeal_resolve": OpRule(
        required=Role.ADMIN,
        validate=fields(
            {"appeal": is_op_id, "outcome": lambda v: isinstance(v, str) and v in OUTCOMES},
            {"note": _text(MAX_NOTE_CHARS)},
        ),
        check=_check_resolve,
        apply=apply_nothing,
    ),
    "note_set": OpRule(
        required=Role.MODERATOR,
        validate=fields({"post": _post_id, "text": _text(MAX_NOTE_CHARS, False)}),
        check=_check_note_post,
        apply=apply_nothing,
    ),
    "note_remove": OpRule(
        required=Role.MODERATOR,
        validate=fields({"post": _post_id}),
        check=_check_note_post,
        apply=apply_nothing,
    ),
}


def with_citations(rules: Mapping[str, OpRule]) -> dict[str, OpRule]:
    """`rules` plus the appeal rows, the moderation rows taking an optional `rule`."""
    out = dict(rules)
    for name in CITING:
        out[name] = citing(out[name])
    return out | APPEAL_RULES
