"""The knowledge commands of the service (issue 14): topics, votes, accepts, pins, tags.

A part of `Service` (`service.knowledge`). Where each thing lives decides
who may say it and how every peer checks it:
- a topic's title and tags, a vote, the answer a question's author accepts:
  the member's own document (docs/knowledge_content.py has the limits that
  every receiver checks again; storage/knowledge_projection.py projects them);
- pins, tags, a moderator's accept: signed log ops (log/knowledge_rules.py),
  whose role check every peer repeats in the fold.

What is shown is decided when reading, from replicated data only, so every
peer with the same data shows the same totals, answers and order: a vote on
one's own post and an answer that is not a live reply to its topic count
nowhere; a tag shows only once the community's tag list holds it; a
moderator's decision on a topic wins over its author's (knowledge_rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.docs import knowledge_content
from p2pcommunity.sync.docs.memberdoc import PostRecord, new_local_id, post_id_for
from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, NotFound
from p2pcommunity.sync.log.community_log import Role
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.storage.read_model import PostRow
from p2pcommunity.sync.storage.topic_stats import TopicQuery, TopicRow
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community

SORTS = ("activity", "votes", "new")
FILTERS = ("all", "unanswered", "solved")
MAX_TOPICS_LIMIT = 1000
_VOTES = {"up": 1, "down": -1, "clear": 0}


class WrongKind(DomainError, code="wrong_kind"):
    """The command does not fit the channel's kind (CLI.md: wrong_kind)."""


class Knowledge(ServicePart):
    # -- channels ----------------------------------------------------------------

    def channel_kind(self, community: Community, channel_id: bytes) -> str:
        return community.state.channels[channel_id].kind

    def check_plain_post(
        self, community: Community, channel_id: bytes, reply_to: str | None
    ) -> None:
        """`post` with no reply_to in a forum or qa channel would be a topic without a title."""
        kind = self.channel_kind(community, channel_id)
        if reply_to is None and kind != "chat":
            raise WrongKind(
                f"#{community.state.channels[channel_id].name} is a {kind} channel: "
                "start a topic with `topic create` (it needs a title), or reply to one"
            )

    # -- topics ------------------------------------------------------------------

    def topic_create(
        self,
        ref: str,
        channel: str,
        title: str,
        text: str,
        tags: list[str] | None = None,
        attach: list[str] | None = None,
    ) -> dict[str, Any]:
        from p2pcommunity.sync.service import _clean_text, _mentions

        service = self.service
        community = service.community(ref)
        state = community.state
        channel_id = service.channel_id(state, channel)
        kind = state.channels[channel_id].kind
        if kind == "chat":
            raise WrongKind(
                f"#{state.channels[channel_id].name} is a chat channel: topics are for "
                "forum and qa channels (use `post`)"
            )
        service._require_member(community)
        if state.channels[channel_id].archived:
            raise Forbidden(f"#{state.channels[channel_id].name} is archived (read-only)")
        service._require_not_timed_out(community)
        title = " ".join(title.split())
        if not title:
            raise Invalid("a topic needs a title")
        _check(knowledge_content.title_problem(title))
        wanted = list(dict.fromkeys(t.strip().lower().lstrip("#") for t in tags or []))
        _check(knowledge_content.tags_problem(wanted))
        unknown = [t for t in wanted if t not in state.tags]
        if unknown:
            known = ", ".join(sorted(state.tags)) or "none yet"
            raise Invalid(f"unknown tag(s) {', '.join(unknown)} (the community's tags: {known})")
        text = _clean_text(text)
        mentions = _mentions(text, state, service.store.read_model.profiles(community.id))
        attachments = service.files.attach(community, attach) if attach else ()  # issue 15
        local_id = new_local_id()
        now = service.clock()
        record = PostRecord(local_id, channel_id, text, None, mentions, now, attachments)
        meta = canonical_cbor({"title": title, "tags": wanted})
        community.write(service.key, now, lambda seg: seg.write_topic(record, meta))
        service.on_local_change(community, "doc")
        return {"post_id": post_id_for(service.me, local_id)}

    def topics(
        self,
        ref: str,
        channel: str,
        sort: str = "activity",
        filter: str = "all",
        tag: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        state = community.state
        channel_id = service.channel_id(state, channel)
        if state.channels[channel_id].kind == "chat":
            raise WrongKind(f"#{state.channels[channel_id].name} is a chat channel: use `read`")
        if sort not in SORTS:
            raise Invalid(f"--sort is one of {', '.join(SORTS)}")
        if filter not in FILTERS:
            raise Invalid(f"--filter is one of {', '.join(FILTERS)}")
        if not 0 < limit <= MAX_TOPICS_LIMIT:
            raise Invalid(f"--limit must be between 1 and {MAX_TOPICS_LIMIT}")
        if tag is not None:
            tag = tag.strip().lower().lstrip("#")
            if tag not in state.tags:
                raise NotFound(f"no tag {tag!r}")
        qa = state.channels[channel_id].kind == "qa"
        solved_among = None
        if filter == "solved":
            if not qa:
                return {"topics": []}  # only a qa topic has an accepted answer
            decided = state.accepted
            live = {t for t, a in decided.items() if a and self._is_live_reply(a, t)}
            solved_among = (set(decided), live)
        pinned = state.pinned
        page = service.store.topics.page(
            TopicQuery(
                community.id,
                channel_id,
                sort,
                limit,
                service.store.blocked(),
                community.visibility(service.clock()),
                pinned,
                unanswered=filter == "unanswered",
                tag=tag,
                solved_among=solved_among,
            )
        )
        accepted = {row.id: self._accepted(community, row, qa) for row in page}
        names = service.store.read_model.profiles(community.id)
        return {
            "topics": [
                {
                    "id": r.id,
                    "title": r.title if r.title is not None else _fallback_title(r.text),
                    "author": peer_id_from_public_key(r.author),
                    "author_name": (names.get(r.author) or (None, None))[0] or "",
                    "time": iso_ms(r.author_ms),
                    "tags": [t for t in r.tags if t in state.tags],
                    "replies": r.replies,
                    "votes": r.up - r.down,
                    "solved": accepted[r.id] is not None,
                    "accepted": accepted[r.id],
                    "pinned": r.id in pinned,
                    "last_activity": iso_ms(r.last_activity_ms),
                }
                for r in page
            ]
        }

    def _accepted(self, community: Community, row: TopicRow, qa: bool) -> str | None:
        if not qa:
            return None
        decided = community.state.accepted.get(row.id)
        if decided is None:
            return row.author_answer
        return decided if decided and self._is_live_reply(decided, row.id) else None

    def _is_live_reply(self, post_id: str, topic_id: str) -> bool:
        reply = self.service.store.read_model.post(post_id)
        return reply is not None and reply.reply_to == topic_id and not reply.deleted

    def accepted_answer(self, community: Community, topic: PostRow) -> str | None:
        """The topic's accepted answer as every peer with the same data computes it."""
        if topic.reply_to is not None or topic.channel_id not in community.state.channels:
            return None
        if self.channel_kind(community, topic.channel_id) != "qa":
            return None
        decided = community.state.accepted.get(topic.id)
        if decided is None:
            return self.service.store.knowledge.author_answer(topic.id)
        return decided if decided and self._is_live_reply(decided, topic.id) else None

    # -- votes -------------------------------------------------------------------

    def vote(self, ref: str, post: str, direction: str) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        service._require_member(community)
        if direction not in _VOTES:
            raise Invalid("a vote is up, down or clear")
        row = service.post_row(community, post)
        if row.author == service.me:
            raise Forbidden("you cannot vote on your own post")
        value = _VOTES[direction]
        if service.store.knowledge.vote_of(row.id, service.me) != value:
            community.write(service.key, service.clock(), lambda seg: seg.write_vote(row.id, value))
            service.on_local_change(community, "doc")
        up, down = service.store.knowledge.totals([row.id]).get(row.id, (0, 0))
        return {"votes": up - down, "up": up, "down": down}

    # -- accepted answers ----------------------------------------------------------

    def _qa_topic(self, community: Community, topic: PostRow) -> None:
        channel = community.state.channels.get(topic.channel_id)
        if channel is None or channel.kind != "qa":
            raise WrongKind("accepted answers are for qa channels")
        if topic.reply_to is not None:
            raise Invalid("that post is a reply, not a question")

    def _may_decide(self, community: Community, topic: PostRow) -> bool:
        """True: the author decides in their document; False: a moderator, by a log op."""
        me = self.service.me
        if topic.author == me:
            return True
        role = community.state.role_of(me)
        if role is None or role < Role.MODERATOR:
            raise Forbidden("only the question's author or a moderator may accept an answer")
        return False

    def accept(self, ref: str, post: str) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        service._require_member(community)
        answer = service.post_row(community, post)
        if answer.reply_to is None:
            raise Invalid("accept a reply to a question (that post is not a reply)")
        topic = service.store.read_model.post(answer.reply_to)
        if topic is None:
            raise NotFound("the question of that reply is not here yet")
        self._qa_topic(community, topic)
        if answer.deleted:
            raise NotFound(f"no post {post!r}")
        self._decide(community, topic, answer.id)
        return {}

    def unaccept(self, ref: str, topic_ref: str) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        service._require_member(community)
        topic = service.post_row(community, topic_ref)
        self._qa_topic(community, topic)
        self._decide(community, topic, "")
        return {}

    def _decide(self, community: Community, topic: PostRow, answer: str) -> None:
        service = self.service
        if self._may_decide(community, topic) and topic.id not in community.state.accepted:
            local_id = topic.local_id
            community.write(
                service.key, service.clock(), lambda seg: seg.write_accept(local_id, answer)
            )
            service.on_local_change(community, "doc")
        elif answer:
            self._require_moderator(community, "accept answers for others")
            service.append_op(community, "accept", {"topic": topic.id, "answer": answer})
        else:
            self._require_moderator(community, "unaccept answers for others")
            service.append_op(community, "unaccept", {"topic": topic.id})

    def _require_moderator(self, community: Community, action: str) -> None:
        self.service.require_role(community, Role.MODERATOR, action)

    # -- pins and tags -------------------------------------------------------------

    def pin(self, ref: str, post: str, on: bool = True) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        self._require_moderator(community, "pin posts" if on else "unpin posts")
        row = service.post_row(community, post)
        service.append_op(community, "pin" if on else "unpin", {"post": row.id})
        return {}

    def tag_create(self, ref: str, name: str) -> dict[str, Any]:
        service = self.service
        community = service.community(ref)
        self._require_moderator(community, "create tags")
        name = name.strip().lstrip("#")
        _check(knowledge_content.tag_problem(name))
        if name in community.state.tags:
            raise Invalid(f"a tag named {name!r} exists", code="exists")
        service.append_op(community, "tag_create", {"name": name})
        return {}

    def tag_list(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        return {"tags": sorted(community.state.tags)}

    # -- fields `read` and `thread` gain -------------------------------------------

    def post_fields(self, community: Community, rows: list[PostRow]) -> dict[str, dict[str, Any]]:
        """title, tags, votes, my_vote, accepted, pinned for each row (CLI.md, Knowledge)."""
        state = community.state
        ids = [r.id for r in rows]
        knowledge = self.service.store.knowledge
        meta = knowledge.topic_meta([r.id for r in rows if r.reply_to is None])
        totals = knowledge.totals(ids)
        answers: dict[str, str | None] = {}
        out = {}
        for row in rows:
            channel = state.channels.get(row.channel_id)
            is_topic = row.reply_to is None and channel is not None and channel.kind != "chat"
            title, tags = meta.get(row.id, (None, ()))
            accepted = False
            if row.reply_to is not None:
                if row.reply_to not in answers:
                    topic = self.service.store.read_model.post(row.reply_to)
                    answers[row.reply_to] = (
                        None if topic is None else self.accepted_answer(community, topic)
                    )
                accepted = answers[row.reply_to] == row.id
            up, down = totals.get(row.id, (0, 0))
            out[row.id] = {
                "title": (title or _fallback_title(row.text)) if is_topic else None,
                "tags": [t for t in tags if t in state.tags] if is_topic else [],
                "votes": up - down,
                "my_vote": knowledge.vote_of(row.id, self.service.me),  # the app's vote buttons
                "accepted": accepted,
                "pinned": row.id in state.pinned,
            }
        return out


def _fallback_title(text: str) -> str:
    """A topic written without a title (an older release): its first line stands in."""
    line = text.strip().split("\n", 1)[0].strip()
    return line[: knowledge_content.MAX_TITLE_CHARS] or "(untitled)"


def _check(problem: str | None) -> None:
    if problem is not None:
        raise Invalid(problem)
