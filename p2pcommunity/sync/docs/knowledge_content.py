"""The limits of knowledge content (topics, tags, votes, accepts), alike for writer and receiver.

Kept apart from content.py so that issue 14's rules read in one place; like
content.py every function is total (a peer's value has any shape) and
returns None when the value is fine, else a short reason. The log's
`tag_create` validator and the member-document checks call the same ones,
so every peer decides the same about the same bytes.

A tag is a short lowercase word: tags are compared by exact string on every
peer, so the name must be its own NFKC, casefolded form (two spellings can
never name two tags that look alike).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from p2pcommunity.sync.docs import content

MAX_TITLE_CHARS = 200
MAX_TAGS_PER_TOPIC = 5
MAX_TAG_CHARS = 32
KINDS = ("chat", "forum", "qa")
VOTE_VALUES = (-1, 0, 1)


def title_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TITLE_CHARS:
        return f"a title must be 1 to {MAX_TITLE_CHARS} characters"
    if value != value.strip():
        return "a title has outer spaces"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        return "a title holds a control character"
    return None


def tag_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TAG_CHARS:
        return f"a tag must be 1 to {MAX_TAG_CHARS} characters"
    if any(c.isspace() for c in value):
        return "a tag holds a space"
    problem = content.name_problem(value, "tag")
    if problem is not None:
        return problem
    if unicodedata.normalize("NFKC", value.casefold()) != value:
        return "a tag must be lowercase"
    return None


def tags_problem(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) > MAX_TAGS_PER_TOPIC:
        return f"a topic has at most {MAX_TAGS_PER_TOPIC} tags"
    if len(set(map(str, value))) != len(value):
        return "a tag is listed twice"
    for tag in value:
        problem = tag_problem(tag)
        if problem is not None:
            return problem
    return None


def vote_problem(value: Any) -> str | None:
    if type(value) is not int or value not in VOTE_VALUES:
        return "a vote is -1, 0 or 1"
    return None


def accept_problem(value: Any) -> str | None:
    """An author's accepted answer: a post id, or "" for none."""
    if value == "":
        return None
    return content.key_problem(value)
