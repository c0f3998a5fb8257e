"""Reading a community: the timeline, threads, search, and the JSON shape of a post.

`service.reading`, a part of the service (as `service.knowledge` is). Every
read passes through `visibility` (what this member may see: hidden, held,
timed out, blocked) and `post_json` (the one shape of a post in CLI.md).
`Service.read`, `thread`, `search` and `mark_read` are these methods.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from p2pcommunity.sync import knowledge_search
from p2pcommunity.sync.cbor import decode_or_none
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.log.community_log import Role
from p2pcommunity.sync.names import labels
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.personal import without
from p2pcommunity.sync.storage.store import PostRow, Visibility
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    pass

# A post dated further ahead than this is shown at the time we first saw it.
FUTURE_TOLERANCE_MS = 5 * 60 * 1000
MAX_READ_LIMIT = 1000


class Reading(ServicePart):
    """The service's read commands; see the module docstring."""

    def read(
        self,
        ref: str,
        channel: str,
        limit: int = 50,
        before: str | None = None,
        include_hidden: bool = False,
    ) -> dict[str, Any]:
        """The newest `limit` posts (older than post `before` when paging back), oldest first."""
        community = self.service.community(ref)
        channel_id = self.service.channel_id(community.state, channel)
        if not 0 < limit <= MAX_READ_LIMIT:
            raise Invalid(f"--limit must be between 1 and {MAX_READ_LIMIT}")
        cursor = None
        if before:
            anchor = self.service.post_row(community, before)
            cursor = (anchor.author_ms, anchor.id)
        rows = self.service.store.read_model.timeline(
            community.id,
            channel_id,
            limit,
            self.service.store.blocked(),
            cursor,
            self.visibility(community, include_hidden),
        )
        return {"posts": self.post_json(community, rows)}

    def visibility(self, community: Community, include_hidden: bool) -> Visibility:
        """What this member's reads leave out. With `include_hidden` (the app asks for it)
        moderators see hidden posts (flagged, to unhide them) and an author their own
        (flagged, so a post never silently vanishes for whoever wrote it); without it,
        as for everyone else, hidden posts are left out."""
        seen = community.visibility(self.service.clock())
        # Issue 16: what the policy hides, and held posts (which moderators see).
        policy_hidden, held = self.service.safety.hidden_and_held(community)
        role = community.state.role_of(self.service.me)
        staff = role is not None and role >= Role.MODERATOR
        seen = replace(seen, hidden=seen.hidden | policy_hidden | (set() if staff else held))
        if not include_hidden:
            return seen
        if staff:
            return replace(seen, hidden=frozenset())
        return replace(seen, hidden_shown_to=self.service.me)

    def thread(self, ref: str, post: str, include_hidden: bool = False) -> dict[str, Any]:
        """A post and its replies, oldest first."""
        community = self.service.community(ref)
        root = self.service.post_row(community, post)
        blocked = set(self.service.store.blocked())
        rows = [
            r
            for r in [root, *self.service.store.read_model.replies(root.id)]
            if r.author not in blocked
        ]
        rows = self.service.store.read_model.visible(
            rows, self.visibility(community, include_hidden)
        )
        accepted = self.service.knowledge.accepted_answer(community, root)
        if accepted is not None:  # shown first under its question (issue 14)
            rows.sort(key=lambda r: r.id != root.id and r.id != accepted)
        return {"posts": self.post_json(community, rows)}

    def mark_read(self, ref: str, channel: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.store.read_model.mark_read(
            community.id, self.service.channel_id(community.state, channel), self.service.clock()
        )
        return {}

    def post_json(self, community: Community, rows: list[PostRow]) -> list[dict[str, Any]]:
        names = self.service.store.read_model.profiles(community.id)
        label = self.service.member_labels(community, names)
        reactions = self.service.store.read_model.reactions([r.id for r in rows])
        replies = self.service.store.read_model.reply_counts([r.id for r in rows])
        mentions_me = self.service.me
        hidden = community.state.hidden
        knowledge = self.service.knowledge.post_fields(community, rows)
        notes = self.service.accountability.notes(community) if rows else {}
        reported = self.service.reported_by_me(community) if rows else frozenset()
        attached = self.service.files.attachments_json([r.id for r in rows])
        verdicts = self.service.safety.verdicts(community)
        muting, blocked = (
            self.service.personal.muting(community.id),
            frozenset(self.service.store.blocked()),
        )
        out = []
        for row in rows:
            shown_ms = row.author_ms
            if row.author_ms > row.first_seen_ms + FUTURE_TOLERANCE_MS:
                shown_ms = row.first_seen_ms
            out.append(
                {
                    "id": row.id,
                    "channel": row.channel_id.hex(),
                    "author": peer_id_from_public_key(row.author),
                    "author_name": (names.get(row.author) or (None, None))[0] or "",
                    "author_label": label.get(row.author)
                    or labels({row.author: names.get(row.author, (None, None))[0] or ""})[
                        row.author
                    ],
                    "time": iso_ms(shown_ms),
                    "text": row.text,
                    "reply_to": row.reply_to,
                    "reactions": {
                        emoji: [peer_id_from_public_key(k) for k in shown]
                        for emoji, keys in reactions.get(row.id, {}).items()
                        if (shown := without(keys, blocked))
                    },
                    "edited": row.edited,
                    "replies": replies.get(row.id, 0),
                    "mentions_me": mentions_me in _decode_mentions(row.mentions),
                    "hidden": row.id in hidden
                    or getattr(verdicts.get(row.id), "action", None) == "hide",
                    "hidden_reason": hidden.get(row.id)
                    or getattr(verdicts.get(row.id), "message", None),
                    "held": getattr(verdicts.get(row.id), "action", None) == "hold",
                    **knowledge[row.id],
                    "note": notes.get(row.id),
                    "reported_by_me": row.id in reported,
                    "muted": row.author != self.service.me
                    and muting.mutes(row.channel_id, row.text),
                    "attachments": attached.get(row.id, []),
                }
            )
        return out

    def search(
        self, ref: str, query: str, limit: int = 50, include_hidden: bool = False
    ) -> dict[str, Any]:
        """Posts holding every word of `query`, each as a word or a word's start
        ("middle" finds "Middlemarch"); each post names its channel."""
        community = self.service.community(ref)
        words = query.split()
        if not words:
            raise Invalid("empty search")
        # Quoted, so that no FTS5 syntax the user types is interpreted; * makes a prefix.
        match = " ".join('"' + word.replace('"', '""') + '"*' for word in words)
        blocked = set(self.service.store.blocked())
        rows = [
            r
            for r in self.service.store.read_model.search(community.id, match, limit)
            if r.author not in blocked
        ]
        rows = self.service.store.read_model.visible(
            rows, self.visibility(community, include_hidden)
        )
        posts = self.post_json(community, rows)
        channels = community.state.channels
        for post in posts:
            channel = channels.get(bytes.fromhex(post["channel"]))
            post["channel_name"] = channel.name if channel is not None else None
        return {
            "posts": posts,
            "topics": knowledge_search.group_by_topic(self.service, community, posts),
            "pages": knowledge_search.search_pages(self.service, community, words),
        }


def _decode_mentions(raw: bytes) -> list[bytes]:
    # The column holds what a peer's post named: read it as peer bytes.
    value = decode_or_none(raw)
    return [m for m in value if isinstance(m, bytes)] if isinstance(value, list) else []
