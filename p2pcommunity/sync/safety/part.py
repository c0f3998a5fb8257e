"""`service.safety`: the policy, watched-word and held-post commands (issue 16).

A part of `Service` like `governance`: every command ends in a signed log op
that every peer checks again in the fold (log/policy_rules.py); the checks
here give the user a clear error early. `check_outgoing` is the author's own
node running the very verdict every other peer runs (safety/policy.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from p2pcommunity.sync.docs.memberdoc import J_EDIT, DocRef
from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, NotFound
from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.log.policy_rules import ADMISSIONS, MAX_WITNESS_DOCS
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.safety.policy import (
    MAX_COUNT,
    MAX_SECONDS,
    AuthorHistory,
    PolicyError,
    PostFacts,
    Verdict,
    judge_next,
    safety_of,
    verdicts,
)
from p2pcommunity.sync.safety.words import (
    ACTIONS,
    MAX_PHRASE_TOKENS,
    MAX_WORD_CHARS,
    open_word,
    seal_word,
    skeleton,
    word_hash,
)

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.docs.memberdoc import PostRecord
    from p2pcommunity.sync.service import Service

_COUNT_KEYS = {"rate.posts_per_minute": "posts_per_minute", "max_mentions": "max_mentions",
               "max_links": "max_links"}  # fmt: skip
# The rules that judge a post's text, which an edit can break (slow mode and the
# rate judge its time; a moderator's rejection is no rule an edit breaks).
TEXT_RULES = ("blocked_word", "max_mentions", "max_links", "probation")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _seconds(text: str) -> int | None:
    """'30s', '5m', '7d', a plain number of seconds, or 'off' (None)."""
    text = text.strip().lower()
    if text == "off":
        return None
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNIT_S else (text, "s")
    if not number.isdigit() or not 0 < int(number) * _UNIT_S[unit] <= MAX_SECONDS:
        raise Invalid(f"not a duration: {text!r} (use e.g. 30s, 5m, 7d, or off)")
    return int(number) * _UNIT_S[unit]


def _count(text: str) -> int | None:
    text = text.strip().lower()
    if text == "off":
        return None
    if not text.isdigit() or int(text) > MAX_COUNT:
        raise Invalid(f"not a count from 0 to {MAX_COUNT}: {text!r} (or off)")
    return int(text)


class Safety(ServicePart):
    # (doc id, journal index) -> the seq of the change that wrote that entry
    _rejected_at: dict[tuple[bytes, int], int]

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self._rejected_at = {}
        # The hidden posts, and which of our segments hold one of them
        self._hidden_segments: tuple[frozenset[str], set[int]] | None = None

    # -- policy ----------------------------------------------------------------

    def policy_show(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        state = community.state
        safety = safety_of(state)
        slow = {}
        for channel_id in sorted(safety.slow_channels()):
            seconds = safety.current("slow_mode", channel_id)
            if seconds and channel_id in state.channels:
                slow[state.channels[channel_id].name] = seconds
        return {
            "version": safety.version,
            "slow_mode": slow,
            "posts_per_minute": safety.current("posts_per_minute"),
            "max_mentions": safety.current("max_mentions"),
            "max_links": safety.current("max_links"),
            "probation_s": safety.current("probation"),
            "probation_hold": bool(safety.current("probation_hold")),
        }

    def policy_set(self, ref: str, key: str, value: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.ADMIN, "set the policy")
        body: dict[str, Any]
        if key.startswith("slow_mode."):
            channel = self.service.channel_id(community.state, key.split(".", 1)[1])
            body = {"key": "slow_mode", "channel": channel, "value": _seconds(value)}
        elif key in _COUNT_KEYS:
            body = {"key": _COUNT_KEYS[key], "value": _count(value)}
        elif key == "probation":
            body = {"key": "probation", "value": _seconds(value)}
        elif key == "probation.hold":
            if value.strip().lower() not in ("on", "off"):
                raise Invalid("probation.hold is on or off")
            body = {"key": "probation_hold", "value": int(value.strip().lower() == "on")}
        else:
            raise Invalid(
                f"unknown policy key {key!r} (slow_mode.CHANNEL, rate.posts_per_minute, "
                "max_mentions, max_links, probation, probation.hold)"
            )
        self.service.append_op(community, "policy_set", body)
        return self.policy_show(ref)

    # -- watched words ---------------------------------------------------------

    def readers(self, community: Community) -> list[bytes]:
        """The moderators and admins: who may open what moderators seal."""
        state = community.state
        return [
            key for key in state.members if (state.role_of(key) or Role.MEMBER) >= Role.MODERATOR
        ]

    def _skeleton(self, word: str) -> str:
        skel = skeleton(word)
        if not skel or len(word) > MAX_WORD_CHARS:
            raise Invalid(
                f"a watched word has 1 to {MAX_WORD_CHARS} characters, letters among them"
            )
        if skel.count(" ") >= MAX_PHRASE_TOKENS:
            raise Invalid(f"a watched phrase has at most {MAX_PHRASE_TOKENS} words")
        return skel

    def words_add(self, ref: str, word: str, action: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "watch words")
        if action not in ACTIONS:
            raise Invalid(f"--action is one of {', '.join(ACTIONS)}")
        skel = self._skeleton(word)
        body = {
            "hash": word_hash(community.id, skel),
            "action": action,
            "tokens": skel.count(" ") + 1,
            "sealed": seal_word(word.strip(), self.readers(community)),
        }
        if " " in skel:
            body["first"] = word_hash(community.id, skel.split(" ", 1)[0])
        self.service.append_op(community, "word_set", body)
        return {}

    def words_remove(self, ref: str, word: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "watch words")
        skel = self._skeleton(word)
        digest = word_hash(community.id, skel)
        if digest not in safety_of(community.state).words:
            raise NotFound(f"{word!r} is not a watched word")
        body = {"hash": digest, "action": "off", "tokens": skel.count(" ") + 1}
        self.service.append_op(community, "word_set", body)
        return {}

    def words_list(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "read the watched words")
        out = []
        for entry in safety_of(community.state).words.values():
            word = open_word(self.service.key, entry.sealed)
            # None: sealed before we became a moderator (a moderator who can read it
            # may add it again to reseal it to us).
            out.append({"word": word, "action": entry.action})
        out.sort(key=lambda w: (w["word"] is None, w["word"] or "", w["action"]))
        return {"words": out}

    # -- held posts ------------------------------------------------------------

    def verdicts(self, community: Community) -> dict[str, Verdict]:
        return self.service.store.safety.verdicts(community.state)

    def check_outgoing(self, community: Community, record: PostRecord, post_id: str) -> bool:
        """Raise `PolicyError` if every peer would hide this post; True if it is held.

        Judged after our counted posts as the store keeps them (`SafetyTables.history`),
        so a post costs O(1) checks, not O(our posts)."""
        me = self.service.me
        state = community.state
        if safety_of(state).inactive:
            return False
        history = self.service.store.safety.history(state, me)
        new = PostFacts(
            post_id, me, record.channel_id, record.author_ms, record.text, len(record.mentions)
        )
        found = judge_next(state, new, history)
        if found is not None and found.action == "hide":
            raise PolicyError(found.message, found.rule)
        return found is not None and found.action == "hold"

    def forward_gate(self, community: Community, ref: DocRef, position: int) -> str | None:
        """On an always-on node (one of `state.nodes`): the rule that refuses a received
        batch, None to take it (`Community.gate`).

        A batch is refused when a post it adds is hidden (by a policy rule, which
        the author's own app would have refused to send, or by a moderator's
        rejection the node already holds), or when an edit it brings leaves its
        post hidden by a text rule (a blocked word, too many links, a link on
        probation). Refusing a change refuses the author's later
        changes of that segment too (a document is a chain); docs/safety.md says
        what that costs whom. A rejection that arrives after the post is
        `serve_limit`'s."""
        state = community.state
        safety = safety_of(state)
        if safety.inactive or self.service.me not in state.nodes:
            return None
        rule = self._edit_refused(community, ref, position)
        tables = self.service.store.safety
        new = tables.post_ids_since(community.id, ref.owner, ref.segment, position)
        if rule is None and new:
            # The kept verdicts: only this author is judged again, as the next read would.
            found = tables.verdicts(state)
            hidden = (found.get(post_id) for post_id in new)
            rule = next((v.rule for v in hidden if v is not None and v.action == "hide"), None)
        if rule is not None:
            # The batch is rolled back: its rows must be judged away again too.
            self.service.store.read_model.touch(ref.owner)
        return rule

    def _edit_refused(self, community: Community, ref: DocRef, position: int) -> str | None:
        """The text rule (`TEXT_RULES`) that hides a post an edit among the journal
        entries from `position` on brought, as every reader's verdict judges the
        current text; else None.

        Judged on the kept verdicts after the batch, so an edit of a post already
        hidden by a text rule that keeps it hidden is refused too: the author's own
        node refuses to send it (`check_edit`), and forwarding it changes nothing
        any reader sees. An edit that takes the offending link out is taken."""
        edited = [
            post_id
            for kind, _, post_id in (
                entry.partition(":") for entry in community.segment(ref).journal_since(position)
            )
            if kind == J_EDIT
        ]
        if not edited:
            return None
        found = self.service.store.safety.verdicts(community.state)
        hidden = (found.get(post_id) for post_id in edited)
        return next(
            (
                v.rule
                for v in hidden
                if v is not None and v.action == "hide" and v.rule in TEXT_RULES
            ),
            None,
        )

    def check_edit(self, community: Community, post_id: str, text: str) -> None:
        """The author's own node refuses an edit that every always-on node would
        refuse and every reader would hide: one whose text breaks a text rule (a
        blocked word, the link limit, no links on probation; an edit keeps its
        post's mentions). The post is judged where it stands among the author's
        posts, with the new text, by the very verdict the readers run: O(the
        author's posts), once per edit.

        The readers judge an edited post by the policy of the post's own time
        (docs/safety.md, "Not done"); this app also holds the new text to the
        rules in force now, so that an honest member cannot put a link into a
        post written before links were forbidden."""
        state = community.state
        if safety_of(state).inactive:
            return
        posts = self.service.store.safety.posts(community.id, self.service.me)
        edited = [replace(p, text=text) if p.id == post_id else p for p in posts]
        found = verdicts(state, edited).get(post_id)
        now = next((p for p in edited if p.id == post_id), None)
        if now is not None and (found is None or found.action != "hide"):
            now = replace(now, author_ms=self.service.clock())
            found = judge_next(state, now, AuthorHistory())  # no earlier post: text rules only
        if found is not None and found.action == "hide" and found.rule in TEXT_RULES:
            raise PolicyError(found.message, found.rule)

    def serve_limit(self, community: Community, owner: bytes, segment: int, limit: int) -> int:
        """On an always-on node: serve a document only up to the change before its
        first rejected post (`Community.servable_seq`). The node stored the post
        before the rejection reached it; it cannot drop one change of a chain, so
        it stops serving there, and peers that sync only through it never get
        the post (nor, until the author's next segment, what follows it)."""
        state = community.state
        rejected = safety_of(state).rejected
        if not rejected or self.service.me not in state.nodes:
            return limit
        index = self.service.store.safety.first_rejected(state).get((owner, segment))
        if index is None:
            return limit
        ref = DocRef(community.id, owner, segment)
        key = (ref.doc_id, index)
        seq = self._rejected_at.get(key)
        if seq is None:
            # The first change whose journal holds the entry: journals only grow.
            low, high = 1, limit + 1  # the answer is in [low, high]; high: not within
            while low < high:
                middle = (low + high) // 2
                if community.journal_length_at(ref, middle) > index:
                    high = middle
                else:
                    low = middle + 1
            if high > limit:
                return limit
            seq = self._rejected_at[key] = high
        return min(limit, seq - 1)

    def leave_segment(self, community: Community, ref: DocRef) -> bool:
        """True when the segment we write to holds a post of ours that every peer
        hides (a rule changed while we were offline, or a moderator rejected it):
        always-on nodes refuse or stop serving that segment from that post on, so
        our later posts go to a new segment, which they take (`Community.current_ref`)."""
        state = community.state
        if safety_of(state).inactive:
            return False
        tables = self.service.store.safety
        hidden = frozenset(p for p, v in tables.verdicts(state).items() if v.action == "hide")
        kept = self._hidden_segments
        if kept is None or kept[0] != hidden:
            segments = tables.segments_of(community.id, self.service.me, sorted(hidden))
            kept = self._hidden_segments = (hidden, segments)
        return ref.segment in kept[1]

    def witness(self, community: Community) -> bool:
        """On an always-on node, while a time rule is on: append a `witness` op naming
        how far it holds each segment that grew since it was last witnessed. On any
        other member's node, while probation is on: the same for the segments of the
        members it admitted who are still on probation (log/policy_rules.py).
        True if an op was written."""
        state = community.state
        safety = safety_of(state)
        me = self.service.me
        if not state.is_member(me) or not safety.has_time_rule():
            return False
        by_node = me in state.nodes
        owners = None if by_node else self._on_probation_admitted(community)
        if owners is not None and not owners:
            return False
        docs = []
        for row in self.service.store.docs_of(community.id):
            if owners is not None and row.owner not in owners:
                continue
            seen = safety.witnessed.get((row.owner, row.segment))
            if seen is not None and not by_node:
                seen = seen.admitter
            if row.journal_pos > (seen.positions[-1] if seen and seen.positions else 0):
                docs.append([row.owner, row.segment, row.journal_pos])
        if not docs:
            return False
        for start in range(0, len(docs), MAX_WITNESS_DOCS):
            self.service.append_op(
                community, "witness", {"docs": docs[start : start + MAX_WITNESS_DOCS]}
            )
        return True

    def _on_probation_admitted(self, community: Community) -> set[bytes]:
        """The members we admitted who are still on probation now. The log is read
        only when someone is on probation at all (usually no one is)."""
        state = community.state
        probation = safety_of(state).current("probation")
        if not probation:
            return set()
        now = self.service.clock()
        newcomers = {
            key
            for key, m in state.current_members().items()
            if m.role is Role.MEMBER and now < m.joined_ms + probation * 1000
        }
        if not newcomers:
            return set()
        me = self.service.me
        admitted = {
            op.body.get("member")
            for op in community.log.counted_ops()
            if op.author == me and op.type in ADMISSIONS
        }
        return newcomers & admitted

    def hidden_and_held(self, community: Community) -> tuple[set[str], set[str]]:
        """The posts the policy hides from everyone, and those it holds."""
        hidden, held = set(), set()
        for post_id, verdict in self.verdicts(community).items():
            if verdict.action == "hide":
                hidden.add(post_id)
            elif verdict.action == "hold":
                held.add(post_id)
        return hidden, held

    def pending(self, ref: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "review held posts")
        waiting = {
            p: v for p, v in self.verdicts(community).items() if v.action in ("hold", "flag")
        }
        rows = [self.service.store.read_model.post(p) for p in sorted(waiting)]
        found = sorted((r for r in rows if r is not None), key=lambda r: (r.author_ms, r.id))
        posts = self.service.reading.post_json(community, found)
        for post in posts:  # why it waits: the moderator decides knowing it
            verdict = waiting[post["id"]]
            post["waiting"] = {"action": verdict.action, "rule": verdict.rule}
        return {"posts": posts}

    def _waiting(self, community: Community, post: str) -> str:
        row = self.service.post_row(community, post)
        verdict = self.verdicts(community).get(row.id)
        if verdict is None or verdict.action not in ("hold", "flag"):
            raise DomainError("that post is not waiting for approval", "not_found")
        return row.id

    def approve(self, ref: str, post: str) -> dict[str, Any]:
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "approve posts")
        self.service.append_op(community, "post_approve", {"post": self._waiting(community, post)})
        return {}

    def reject(self, ref: str, post: str, reason: str | None = None) -> dict[str, Any]:
        community = self.service.community(ref)
        if (community.state.role_of(self.service.me) or Role.MEMBER) < Role.MODERATOR:
            raise Forbidden("only moderators and above may reject posts")
        reason = (reason or "").strip()
        if len(reason) > 512:
            raise Invalid("reason longer than 512 characters")
        body = {"post": self._waiting(community, post), "reason": reason}
        self.service.append_op(community, "post_reject", body)
        return {}
