"""The posts a safety verdict is computed over, read from the posts table.

No table of its own: a verdict is a pure function of the log state and the
authors' documents (safety/policy.py), and one author's verdicts depend on
their posts alone. So the verdicts are kept per (community, author) in
memory and recomputed incrementally: a post written or edited marks its
author (`ReadModel.posts_touched`), a `witness` op marks the authors it
names, and only those are judged again, O(their posts). A log op that
changes anything else a verdict reads (the policy, the words, approvals,
rejections, a member's role or join time) judges the whole community again,
as the first read does. Nothing to migrate, nothing to get out of step.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.log.state import CommunityState
from p2pcommunity.sync.safety.policy import (
    AuthorHistory,
    PostFacts,
    SafetyState,
    Verdict,
    safety_of,
    verdicts,
)
from p2pcommunity.sync.storage.read_model import ReadModel

Author = bytes

# Store 1.6: an author's posts in document order, for judging only the posts
# added since the last judged one (and the author's own check) without a scan.
SAFETY_SCHEMA = """
CREATE INDEX posts_by_author ON posts (community_id, author, segment, journal_index, id);
"""


def _mention_count(raw: bytes) -> int:
    value = decode_or_none(raw)
    return sum(isinstance(m, bytes) for m in value) if isinstance(value, list) else 0


def _rules(state: CommunityState) -> tuple[object, ...]:
    """What a verdict reads from the log, bar the witnessed times (compared per author)."""
    s: SafetyState = safety_of(state)
    members = {k: (state.role_of(k), m.joined_ms) for k, m in state.members.items()}
    return s.entries, s.words, s.approved, s.rejected, members


@dataclass
class _Judged:
    state: CommunityState  # the object itself, so that a new state is never taken for it
    rules: tuple[object, ...]
    at: int  # ReadModel.post_writes when judged
    by_author: dict[Author, dict[str, Verdict]]
    histories: dict[Author, AuthorHistory]  # each author's counted posts (policy.verdicts)
    merged: dict[str, Verdict]
    # Each author's last judged post (segment, journal index, id) and how many were.
    last: dict[Author, tuple[int, int, str]] = field(default_factory=dict)
    counts: dict[Author, int] = field(default_factory=dict)


class SafetyTables:
    def __init__(self, db: sqlite3.Connection, read_model: ReadModel) -> None:
        self.db = db
        self.read_model = read_model
        self._cache: dict[bytes, _Judged] = {}
        self._first_rejected: tuple[CommunityState, int, dict[tuple[Author, int], int]] | None
        self._first_rejected = None

    def posts(
        self,
        community_id: bytes,
        author: bytes | None = None,
        after: tuple[int, int, str] | None = None,
    ) -> list[PostFacts]:
        """The community's posts (deleted ones too: they were sent and count for
        slow mode and the rate), grouped by author, each in document order;
        `after` (with `author`): only those after that (segment, journal index, id)."""
        where, args = "community_id=?", list[object]([community_id])
        if author is not None:
            where, args = where + " AND author=?", [community_id, author]
        if after is not None:
            where += " AND (segment, journal_index, id) > (?, ?, ?)"
            args += [after[0], after[1], after[2]]
        rows = self.db.execute(
            "SELECT id, author, channel_id, author_ms, text, mentions, segment, journal_index"
            " FROM posts"
            f" WHERE {where} ORDER BY author, segment, journal_index, id",
            args,
        )
        return [
            PostFacts(i, a, c, ms, t, _mention_count(m), seg, j)
            for i, a, c, ms, t, m, seg, j in rows
        ]

    def post_ids_since(
        self, community_id: bytes, author: bytes, segment: int, journal_index: int
    ) -> list[str]:
        """The posts a segment's journal added from `journal_index` on."""
        rows = self.db.execute(
            "SELECT id FROM posts WHERE community_id=? AND author=? AND segment=?"
            " AND journal_index>=? ORDER BY journal_index",
            (community_id, author, segment, journal_index),
        )
        return [post_id for (post_id,) in rows]

    def first_rejected(self, state: CommunityState) -> dict[tuple[Author, int], int]:
        """(author, segment) -> the journal index of its first post a moderator
        rejected, among the posts stored (an always-on node's `serve_limit`)."""
        rejected = safety_of(state).rejected
        kept = self._first_rejected
        if kept is not None and kept[0] is state and kept[1] == self.read_model.post_writes:
            return kept[2]
        found: dict[tuple[Author, int], int] = {}
        ids = sorted(rejected)
        for start in range(0, len(ids), 500):
            some = ids[start : start + 500]
            for author, segment, index in self.db.execute(
                "SELECT author, segment, MIN(journal_index) FROM posts"
                f" WHERE community_id=? AND id IN ({','.join('?' * len(some))})"
                " GROUP BY author, segment",
                [state.community_id, *some],
            ):
                key = (bytes(author), segment)
                found[key] = min(index, found.get(key, index))
        self._first_rejected = (state, self.read_model.post_writes, found)
        return found

    def segments_of(self, community_id: bytes, author: Author, post_ids: list[str]) -> set[int]:
        """The segments of `author` that hold one of `post_ids`."""
        found: set[int] = set()
        for start in range(0, len(post_ids), 500):
            some = post_ids[start : start + 500]
            found.update(
                segment
                for (segment,) in self.db.execute(
                    "SELECT DISTINCT segment FROM posts WHERE community_id=? AND author=?"
                    f" AND id IN ({','.join('?' * len(some))})",
                    [community_id, author, *some],
                )
            )
        return found

    def verdicts(self, state: CommunityState) -> dict[str, Verdict]:
        safety = safety_of(state)
        if safety.inactive:  # every post of a big community otherwise
            return {}
        cid, writes = state.community_id, self.read_model.post_writes
        judged = self._cache.get(cid)
        if judged is not None and judged.state is state and judged.at == writes:
            return judged.merged
        rules = _rules(state) if judged is None or judged.state is not state else judged.rules
        if judged is None or rules != judged.rules:
            judged = _Judged(state, rules, writes, {}, {}, {})
            self._judge(state, None, judged)
        else:
            touched = self.read_model.posts_touched
            dirty = {a for a, at in touched.items() if at > judged.at}
            if judged.state is not state:
                before, now = safety_of(judged.state).witnessed, safety.witnessed
                changed = {
                    key[0] for key in before.keys() | now.keys() if before.get(key) != now.get(key)
                }
                dirty |= changed
            else:
                changed = set()
            rewritten = self.read_model.posts_rewritten
            for author in sorted(dirty):
                if author in changed or rewritten.get(author, 0) > judged.at:
                    self._judge(state, {author}, judged)
                else:
                    self._carry_on(state, author, judged)
            judged.state, judged.at = state, writes
        judged.merged = {p: v for found in judged.by_author.values() for p, v in found.items()}
        self._cache[cid] = judged
        return judged.merged

    def history(self, state: CommunityState, author: Author) -> AuthorHistory:
        """`author`'s counted posts under `state`: what their next post is judged after."""
        self.verdicts(state)
        judged = self._cache.get(state.community_id)
        found = judged.histories.get(author) if judged is not None else None
        return found if found is not None else AuthorHistory()

    def _judge(self, state: CommunityState, authors: set[Author] | None, judged: _Judged) -> None:
        """Judge these authors' posts again from their first (None: every author's)."""
        cid = state.community_id
        if authors is None:
            posts = self.posts(cid)
            authors = {p.author for p in posts}
        else:
            posts = [p for a in sorted(authors) for p in self.posts(cid, a)]
        for author in authors:
            judged.histories.pop(author, None)
            judged.by_author[author] = {}
            judged.last.pop(author, None)
            judged.counts[author] = 0
        self._record(state, posts, judged)

    def _carry_on(self, state: CommunityState, author: Author, judged: _Judged) -> None:
        """Judge only the posts added after the author's last judged one, from their
        kept history, if nothing was added before it (a segment arriving late);
        otherwise judge the author again."""
        cid = state.community_id
        new = self.posts(cid, author, judged.last.get(author, (-1, -1, "")))
        (total,) = self.db.execute(
            "SELECT count(*) FROM posts WHERE community_id=? AND author=?", (cid, author)
        ).fetchone()
        if total != judged.counts.get(author, 0) + len(new):
            return self._judge(state, {author}, judged)
        self._record(state, new, judged)

    def _record(self, state: CommunityState, posts: list[PostFacts], judged: _Judged) -> None:
        by_id = {p.id: p.author for p in posts}
        for post_id, verdict in verdicts(state, posts, judged.histories).items():
            judged.by_author.setdefault(by_id[post_id], {})[post_id] = verdict
        for post in posts:
            judged.last[post.author] = (post.segment, post.journal_index, post.id)
            judged.counts[post.author] = judged.counts.get(post.author, 0) + 1
