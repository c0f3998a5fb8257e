"""Rows of `OP_RULES` for issue 14: tags, pins, and a moderator's accepted answer.

What needs authority is here, in the log; what a member says about their own
posts (a topic's title and tags, their votes, the answer they accept on their
own question) is in their member document (docs/knowledge_content.py).

Decisions:
- `tag_create` needs moderator. Two concurrent creations of one name are one
  tag (the first in fold order is kept): a tag is only a name.
- `pin`/`unpin` need moderator; the later op in fold order wins, as for hide.
- `accept` (with an answer post id) and `unaccept` (none) by a moderator set
  the topic's accepted answer for good: once any moderator op decided a
  topic, the question author's own value no longer counts. A log op and a
  document change have no common order that every peer sees alike, so "the
  log wins" is the rule that converges. Whether the answer is a reply to the
  topic in a qa channel is checked when the read model is read (the posts
  may arrive after the op), the same on every peer with the same data.
- A channel's kind comes from its `channel_create` op (`kind`, optional:
  the ops of 0.1/0.2 make chat channels) and never changes.
"""

from __future__ import annotations

from typing import Any

from p2pcommunity.sync.docs.knowledge_content import KINDS, tag_problem
from p2pcommunity.sync.log.ops import Op, Role, fields
from p2pcommunity.sync.log.state import OpRule, StateBuilder

_HEX = frozenset("0123456789abcdef")


def _post_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 32 and _HEX.issuperset(value)


def is_tag(value: Any) -> bool:
    return tag_problem(value) is None


def is_kind(value: Any) -> bool:
    return isinstance(value, str) and value in KINDS


def _apply_tag_create(state: StateBuilder, op: Op) -> None:
    state.tags.setdefault(op.body["name"], op.hash)


def _apply_pin(state: StateBuilder, op: Op) -> None:
    state.pinned[op.body["post"]] = op.ms


def _apply_unpin(state: StateBuilder, op: Op) -> None:
    state.pinned.pop(op.body["post"], None)


def _apply_accept(state: StateBuilder, op: Op) -> None:
    state.accepted[op.body["topic"]] = op.body["answer"]


def _apply_unaccept(state: StateBuilder, op: Op) -> None:
    state.accepted[op.body["topic"]] = ""


def _moderator_rule(validate: Any, apply: Any) -> OpRule:
    return OpRule(
        required=Role.MODERATOR,
        validate=validate,
        apply=apply,
    )


KNOWLEDGE_RULES: dict[str, OpRule] = {
    "tag_create": _moderator_rule(fields({"name": is_tag}), _apply_tag_create),
    "pin": _moderator_rule(fields({"post": _post_id}), _apply_pin),
    "unpin": _moderator_rule(fields({"post": _post_id}), _apply_unpin),
    "accept": _moderator_rule(fields({"topic": _post_id, "answer": _post_id}), _apply_accept),
    "unaccept": _moderator_rule(fields({"topic": _post_id}), _apply_unaccept),
}
