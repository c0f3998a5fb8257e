"""The posts a safety verdict is computed over, read from the posts table.

No table of its own: a verdict is a pure function of the log state and the
authors' documents (safety/policy.py), so it is recomputed from the posts
read model whenever either changes, and a cache keyed on the state object
and the connection's change counter makes repeated reads free. That keeps
migrations out of it (nothing to convert, nothing to get out of step), at
the price of O(posts of the community) after each change; docs/safety.md
names the incremental form that would replace it when communities grow.
"""

from __future__ import annotations

import sqlite3

from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.log.state import CommunityState
from p2pcommunity.sync.safety.policy import PostFacts, Verdict, safety_of, verdicts


def _mention_count(raw: bytes) -> int:
    value = decode_or_none(raw)
    return sum(isinstance(m, bytes) for m in value) if isinstance(value, list) else 0


class SafetyTables:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        # community id -> (the state, the change counter, the verdicts); holding the
        # state itself (not its id) so that a new state is never taken for it.
        self._cache: dict[bytes, tuple[CommunityState, int, dict[str, Verdict]]] = {}

    def posts(self, community_id: bytes, author: bytes | None = None) -> list[PostFacts]:
        """The community's posts (deleted ones too: they were sent and count for
        slow mode and the rate), grouped by author, each in document order."""
        where, args = "community_id=?", [community_id]
        if author is not None:
            where, args = where + " AND author=?", [community_id, author]
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

    def verdicts(self, state: CommunityState) -> dict[str, Verdict]:
        cached = self._cache.get(state.community_id)
        if cached is not None and cached[0] is state and cached[1] == self.db.total_changes:
            return cached[2]
        if safety_of(state).inactive:  # every post of a big community otherwise
            return {}
        found = verdicts(state, self.posts(state.community_id))
        self._cache[state.community_id] = (state, self.db.total_changes, found)
        return found
