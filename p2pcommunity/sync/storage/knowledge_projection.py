"""Check and project the journal entries of issue 14 (topics, votes, accepts).

Called by projection.py for the entry kinds it does not know, with the same
contract: `entry_problem` says what a receiver refuses (the whole batch is
`Rejected`, nothing stored), `project_entry` applies a good entry and skips
a bad one (a non-strict rebuild). An older release ignores these kinds: its
members see topics as plain posts and no votes.

A topic's meta is a CBOR map holding at least `title` and `tags`; keys this
release does not know are allowed (a newer release may add some) and ignored.
"""

from __future__ import annotations

from typing import Any

from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.docs import content, knowledge_content
from p2pcommunity.sync.docs.memberdoc import (
    ACCEPTS,
    J_ACCEPT,
    J_TOPIC,
    J_VOTE,
    TOPICS,
    VOTES,
    SegmentDoc,
    post_id_for,
)
from p2pcommunity.sync.storage.store import Store

KINDS = (J_TOPIC, J_VOTE, J_ACCEPT)


def parse_meta(raw: Any) -> tuple[str, list[str]] | str:
    value = decode_or_none(raw)
    if not isinstance(value, dict) or "title" not in value or "tags" not in value:
        return "a topic must be a strict CBOR map with title and tags"
    title, tags = value["title"], value["tags"]
    problem = knowledge_content.title_problem(title) or knowledge_content.tags_problem(tags)
    return problem if problem is not None else (title, tags)


def entry_problem(segment: SegmentDoc, kind: str, key: str) -> str | None:
    problem = content.key_problem(key)
    if problem is not None:
        return problem
    if kind == J_TOPIC:
        meta = parse_meta(segment.scalar(TOPICS, key))
        return meta if isinstance(meta, str) else None
    if kind == J_VOTE:
        return knowledge_content.vote_problem(segment.scalar(VOTES, key))
    if kind == J_ACCEPT:
        return knowledge_content.accept_problem(segment.scalar(ACCEPTS, key))
    return None


def project_entry(store: Store, segment: SegmentDoc, kind: str, key: str) -> None:
    if entry_problem(segment, kind, key) is not None:
        return
    ref, tables = segment.ref, store.knowledge
    if kind == J_TOPIC:
        meta = parse_meta(segment.scalar(TOPICS, key))
        assert not isinstance(meta, str)
        tables.set_topic_meta(
            post_id_for(ref.owner, key), ref.community_id, ref.owner, *meta, ref.segment
        )
    elif kind == J_VOTE:
        value = segment.scalar(VOTES, key)
        tables.set_vote(key, ref.owner, ref.community_id, value, ref.segment)
    elif kind == J_ACCEPT:
        answer = segment.scalar(ACCEPTS, key)
        tables.set_author_accept(
            post_id_for(ref.owner, key), ref.community_id, ref.owner, answer, ref.segment
        )
