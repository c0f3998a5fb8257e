"""What `search` adds for issue 14: matching posts grouped by topic, and wiki pages.

Posts are found by the one FTS index (post_search.SEARCHED_TEXT puts a topic's
title before its text, so titles, bodies and replies are searched alike);
here they are grouped under the topic they belong to, with its title and
accepted answer, in the order their best match came. Pages are few (tens,
each at most MAX_PAGE_CHARS) and their text is in the `pages` table, so they
are matched here, with the same rule as posts: every word, as a word or a
word's start, in any case.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.service import Service

MAX_PAGES = 20
SNIPPET_CHARS = 160
_THREAD_HOPS = 8  # a reply to a reply: how far up a thread is followed to its topic


def word_patterns(words: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(r"(?<!\w)" + re.escape(word), re.IGNORECASE) for word in words]


def group_by_topic(
    service: Service, community: Community, posts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each matching post gains "topic" (the id of its forum or qa topic, or None); the
    groups list each topic once, with the ids of its matching posts."""
    read_model = service.store.read_model
    state = community.state
    groups: dict[str, dict[str, Any]] = {}
    for post in posts:
        root, hops = read_model.post(post["id"]), 0
        while root is not None and root.reply_to is not None and hops < _THREAD_HOPS:
            root, hops = read_model.post(root.reply_to), hops + 1
        channel = None if root is None else state.channels.get(root.channel_id)
        if root is None or root.reply_to is not None or channel is None or channel.kind == "chat":
            post["topic"] = None
            continue
        post["topic"] = root.id
        if root.id not in groups:
            accepted = service.knowledge.accepted_answer(community, root)
            title = service.knowledge.post_fields(community, [root])[root.id]["title"]
            groups[root.id] = {
                "topic": root.id,
                "title": title,
                "channel": root.channel_id.hex(),
                "channel_name": channel.name,
                "solved": accepted is not None,
                "accepted": accepted,
                "posts": [],
            }
        groups[root.id]["posts"].append(post["id"])
    return list(groups.values())


def search_pages(service: Service, community: Community, words: list[str]) -> list[dict[str, Any]]:
    """Pages whose title and text hold every word; title matches first, then by title."""
    patterns = word_patterns(words)
    found = []
    for info in community.state.pages.values():
        row = service.store.pages.row(info.id)
        text = "" if row is None else row[0]
        haystack = info.title + "\n" + text
        if not all(p.search(haystack) for p in patterns):
            continue
        in_title = all(p.search(info.title) for p in patterns)
        found.append((not in_title, info.title, info.id, _snippet(text, patterns[0])))
    found.sort()
    return [
        {"page_id": page_id.hex(), "title": title, "title_match": not not_title, "snippet": snip}
        for not_title, title, page_id, snip in found[:MAX_PAGES]
    ]


def _snippet(text: str, pattern: re.Pattern[str]) -> str:
    match = pattern.search(text)
    start = 0 if match is None else max(0, match.start() - SNIPPET_CHARS // 3)
    piece = " ".join(text[start : start + SNIPPET_CHARS].split())
    return ("…" if start else "") + piece
