"""Rows of `OP_RULES` for the community policy, watched words and held posts (issue 16).

- `policy_set` (admins): {"key", "value"} and, for slow mode, "channel". A
  value is an int (seconds, a count, or 1/0 for probation_hold) or null (off).
  Entries are kept with the op's time: a rule holds for posts dated from then
  on (safety/policy.py), so a change never rewrites history's verdicts.
- `word_set` (moderators): {"hash", "action", "tokens", "sealed"}: the keyed
  hash of a watched word's skeleton, its action ("block", "flag", "hold", or
  "off" to remove it), its number of tokens, the word sealed to the
  moderators and admins (safety/words.py) and, for a phrase, "first": the
  hash of its first token, so that checking looks for phrases only where
  such a token stands. Later ops in fold order win.
- `post_approve` / `post_reject` (moderators): {"post"} / {"post", "reason"}.
  Approving lifts a hold or a flag (never a hide); rejecting hides the post.
- `report_dismiss` (moderators): {"sealed"}: the id of a post whose reports
  made until the op's time leave every moderator's queue, sealed to the
  moderators and admins (sync/reports.py), so that the log does not tell
  other members which post was reported. Not in the moderation log.
- `witness` (an always-on node, one of `state.nodes`): {"docs": [[owner,
  segment, journal position], ...]}: at the op's time (the node's clock) it
  held that much of each segment's journal. The time rules judge a post at
  its author's date, but no later than that time (safety.policy.effective_ms).
  Any other member may witness only the members it admitted (an `admit` or
  `member_add` of theirs in the op's causal past names the owner): an op
  naming anyone else is refused outright. Its entries count, in the fold,
  only for owners still on probation at the op's time and then bound only
  the end of their probation (safety.policy.probation_ms), so that with no
  always-on node a newcomer cannot future-date their way out of probation.
  Which kind an op is follows `state.nodes` at its place in the fold.

All of it lives in `CommunityState.extra["safety"]`, an immutable
`SafetyState` replaced on every change, so that copies of the fold share it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from p2pcommunity.sync.log.ops import OP_VERSION, Op, Role, fields, is_key, is_op_id
from p2pcommunity.sync.log.state import (
    CHANNELS,
    OpRule,
    PastView,
    StateBuilder,
    Touch,
    reject,
)
from p2pcommunity.sync.safety.policy import (
    KEYS,
    MAX_COUNT,
    MAX_SECONDS,
    PolicyEntry,
    Witnessed,
    WordEntry,
    add_entry,
    safety_of,
    set_safety,
)
from p2pcommunity.sync.safety.words import ACTIONS, HASH_SIZE, MAX_PHRASE_TOKENS

POLICY: Touch = ("policy", b"")
WORDS: Touch = ("words", b"")
MAX_SEALED = 48 * 1024
MAX_REASON_CHARS = 512
MAX_WITNESS_DOCS = 256
_MAX_POSITION = 1 << 32
_HEX = frozenset("0123456789abcdef")
_LIMITS = {
    "slow_mode": MAX_SECONDS,
    "posts_per_minute": MAX_COUNT,
    "max_mentions": MAX_COUNT,
    "max_links": MAX_COUNT,
    "probation": MAX_SECONDS,
    "probation_hold": 1,
}


def _value(v: Any) -> bool:
    return v is None or (type(v) is int and 0 <= v <= MAX_SECONDS)


def _post_id(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 32 and _HEX.issuperset(v)


def _check_policy_set(view: PastView, op: Op) -> None:
    key, value, channel = op.body["key"], op.body["value"], op.body.get("channel")
    if key not in KEYS:
        raise reject(f"unknown policy key {key!r}")
    if value is not None and value > _LIMITS[key]:
        raise reject(f"{key} out of range")
    if (key == "slow_mode") != (channel is not None):
        raise reject("slow_mode, and only it, names a channel")
    if channel is not None and not view.has_channel(channel):
        raise reject("no such channel")


def _apply_policy_set(state: StateBuilder, op: Op) -> None:
    body = op.body
    entry = PolicyEntry(body["key"], body.get("channel"), body["value"], op.ms, op.hash)
    set_safety(state, add_entry(safety_of(state), entry))


def _check_word_set(view: PastView, op: Op) -> None:
    if op.body["action"] != "off" and not op.body.get("sealed"):
        raise reject("a watched word is sealed to the moderators")


def _apply_word_set(state: StateBuilder, op: Op) -> None:
    safety = safety_of(state)
    words = dict(safety.words)
    if op.body["action"] == "off":
        words.pop(op.body["hash"], None)
    else:
        words[op.body["hash"]] = WordEntry(
            op.body["action"], op.body["tokens"], op.body.get("sealed", b""), op.body.get("first")
        )
    set_safety(state, replace(safety, words=words))


def _apply_approve(state: StateBuilder, op: Op) -> None:
    safety = safety_of(state)
    set_safety(state, replace(safety, approved=safety.approved | {op.body["post"]}))


def _apply_reject(state: StateBuilder, op: Op) -> None:
    safety = safety_of(state)
    rejected = {**safety.rejected, op.body["post"]: op.body["reason"]}
    set_safety(state, replace(safety, rejected=rejected))


def _apply_dismiss(state: StateBuilder, op: Op) -> None:
    safety = safety_of(state)
    dismissals = (*safety.dismissals, (op.author, op.ms, op.body["sealed"]))
    set_safety(state, replace(safety, dismissals=dismissals))


def _witness_docs(v: Any) -> bool:
    return (
        isinstance(v, list)
        and 1 <= len(v) <= MAX_WITNESS_DOCS
        and all(
            isinstance(d, list)
            and len(d) == 3
            and is_key(d[0])
            and all(type(n) is int and 0 <= n < _MAX_POSITION for n in d[1:])
            for d in v
        )
    )


ADMISSIONS = ("admit", "member_add")


def _check_witness(view: PastView, op: Op) -> None:
    if view.has_node(op.author):
        return
    admitted = {
        o.body.get("member")
        for o in view.past_ops_by(op.author)
        if o.version == OP_VERSION and o.type in ADMISSIONS
    }
    if any(owner not in admitted for owner, _, _ in op.body["docs"]):
        raise reject("a member witnesses only the members it admitted")


def on_probation(state: StateBuilder, owner: bytes, ms: int) -> bool:
    """Whether `owner` is a plain member still on probation at `ms` (the policy then)."""
    member = state.active_member(owner)
    if member is None or member.role is not Role.MEMBER:
        return False
    probation = safety_of(state).value_at("probation", None, ms)
    return probation is not None and ms < member.joined_ms + probation * 1000


def _apply_witness(state: StateBuilder, op: Op) -> None:
    safety = safety_of(state)
    witnessed = dict(safety.witnessed)
    by_node = op.author in state.nodes
    for owner, segment, position in op.body["docs"]:
        key = (owner, segment)
        if by_node:
            witnessed[key] = witnessed.get(key, Witnessed()).add(position, op.ms)
        elif on_probation(state, owner, op.ms):
            witnessed[key] = witnessed.get(key, Witnessed()).add_admitter(position, op.ms)
    set_safety(state, replace(safety, witnessed=witnessed))


POLICY_RULES: dict[str, OpRule] = {
    "policy_set": OpRule(
        required=Role.ADMIN,
        validate=fields(
            {"key": lambda v: isinstance(v, str) and len(v) <= 32, "value": _value},
            {"channel": is_op_id},
        ),
        touches=lambda op: (POLICY, CHANNELS),
        check=_check_policy_set,
        apply=_apply_policy_set,
    ),
    "word_set": OpRule(
        required=Role.MODERATOR,
        validate=fields(
            {
                "hash": lambda v: isinstance(v, bytes) and len(v) == HASH_SIZE,
                "action": lambda v: v in (*ACTIONS, "off"),
                "tokens": lambda v: type(v) is int and 1 <= v <= MAX_PHRASE_TOKENS,
            },
            {
                "sealed": lambda v: isinstance(v, bytes) and len(v) <= MAX_SEALED,
                "first": lambda v: isinstance(v, bytes) and len(v) == HASH_SIZE,
            },
        ),
        touches=lambda op: (WORDS,),
        check=_check_word_set,
        apply=_apply_word_set,
    ),
    "post_approve": OpRule(
        required=Role.MODERATOR, validate=fields({"post": _post_id}), apply=_apply_approve
    ),
    "post_reject": OpRule(
        required=Role.MODERATOR,
        validate=fields(
            {
                "post": _post_id,
                "reason": lambda v: isinstance(v, str) and len(v) <= MAX_REASON_CHARS,
            }
        ),
        apply=_apply_reject,
    ),
    "report_dismiss": OpRule(
        required=Role.MODERATOR,
        validate=fields({"sealed": lambda v: isinstance(v, bytes) and 0 < len(v) <= MAX_SEALED}),
        apply=_apply_dismiss,
    ),
    # Decisions on time, by a listed node or an admitter (`_check_witness`).
    "witness": OpRule(
        required=Role.MEMBER,
        validate=fields({"docs": _witness_docs}),
        check=_check_witness,
        apply=_apply_witness,
    ),
}
