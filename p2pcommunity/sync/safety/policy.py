"""The community policy and the verdict on each post: one pure function every peer runs.

The verdict on a post (hide, hold, flag, or nothing) is a function of the
signed log (the policy, the watched words, approvals, the author's role and
witnessed join time) and of the author's own document (their earlier posts,
in document order), and of nothing local: the same data gives the same
verdict on every peer, in whatever order it arrived. The author's node runs
the same function on the post it is about to write and refuses to send what
it would hide (`PolicyError`); a peer whose author skipped that check hides it.

Time: a rule set by a `policy_set` op holds for posts dated at or after the
op's time (the admin's clock); probation runs from the member's `joined_ms`,
the time of the op that admitted them (the admitter's or the adding admin's
clock, never the joiner's); its end compares the post's effective time, bounded
also by the admitter's `witness` ops (`probation_ms`). Spacing (slow mode, rate)
compares a member's own post times along the order of their document, which
they cannot reorder: a post dated before the member's previous counted post
breaks slow mode or the rate limit outright, so a member cannot backdate to
make room.
See docs/safety.md for what a member's clock can still do.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from p2pcommunity.sync.errors import DomainError
from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.log.state import CommunityState, StateBuilder
from p2pcommunity.sync.safety.words import Matcher

EXTRA_KEY = "safety"
# Keys of `policy_set` ops; "slow_mode" also names a channel.
KEYS = ("slow_mode", "posts_per_minute", "max_mentions", "max_links", "probation", "probation_hold")
MAX_SECONDS = 366 * 86_400
MAX_COUNT = 10_000
# A post counts as written no later than the time an always-on node witnessed its
# journal entry plus this much (that node's clock may lag the author's honest one).
WITNESS_SKEW_MS = 120_000
TIME_KEYS = ("slow_mode", "posts_per_minute", "probation")
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


@dataclass(frozen=True)
class PolicyEntry:
    key: str
    channel: bytes | None
    value: int | None  # seconds, a count, or 1/0 for probation_hold; None: off
    ms: int
    op: bytes  # the policy_set op hash: the tie-break between entries of one ms


@dataclass(frozen=True)
class WordEntry:
    action: str
    n_tokens: int
    sealed: bytes
    first: bytes | None = None  # a phrase's first token, hashed as a word (words.Matcher)


@dataclass(frozen=True)
class SafetyState:
    """The part of the fold issue 16 owns (`CommunityState.extra["safety"]`); immutable."""

    version: int = 0  # how many policy_set ops counted
    entries: tuple[PolicyEntry, ...] = ()  # sorted by (key, channel, ms, op)
    words: Mapping[bytes, WordEntry] = field(default_factory=dict)
    approved: frozenset[str] = frozenset()
    rejected: Mapping[str, str] = field(default_factory=dict)
    # (owner, segment) -> Witnessed: when always-on nodes held that segment's journal
    witnessed: Mapping[tuple[bytes, int], Witnessed] = field(default_factory=dict)
    # `report_dismiss` ops in fold order: (author, time, the post id sealed to the
    # moderators and admins of then); no verdict reads them (sync/reports.py)
    dismissals: tuple[tuple[bytes, int, bytes], ...] = ()

    @property
    def inactive(self) -> bool:
        """No policy value, no watched word and no rejection: no post can get a verdict,
        so nothing needs the community's posts (the usual case, and it costs nothing)."""
        return not self.entries and not self.words and not self.rejected

    @cached_property
    def _by_key(self) -> dict[tuple[str, bytes | None], tuple[list[int], list[int | None]]]:
        """(key, channel) -> its entries' times and values, in fold order (`entries`')."""
        index: dict[tuple[str, bytes | None], tuple[list[int], list[int | None]]] = {}
        for entry in self.entries:
            times, values = index.setdefault((entry.key, entry.channel), ([], []))
            times.append(entry.ms)
            values.append(entry.value)
        return index

    def value_at(self, key: str, channel: bytes | None, ms: int) -> int | None:
        """The value in force for a post dated `ms`: the latest entry at or before it."""
        found = self._by_key.get((key, channel))
        if found is None:
            return None
        i = bisect.bisect_right(found[0], ms)
        return found[1][i - 1] if i else None

    def current(self, key: str, channel: bytes | None = None) -> int | None:
        found = None
        for entry in self.entries:
            if entry.key == key and entry.channel == channel:
                found = entry.value
        return found

    def has_time_rule(self) -> bool:
        return any(e.key in TIME_KEYS and e.value for e in self.entries)

    def slow_channels(self) -> set[bytes]:
        return {e.channel for e in self.entries if e.key == "slow_mode" and e.channel}

    @cached_property
    def _matchers(self) -> dict[bytes, Matcher]:
        return {}

    def matcher(self, community_id: bytes) -> Matcher:
        """One per state and community, so that its piece cache lasts across checks."""
        found = self._matchers.get(community_id)
        if found is None:
            words = {h: (w.action, w.n_tokens, w.first) for h, w in self.words.items()}
            found = self._matchers[community_id] = Matcher(community_id, words)
        return found


@dataclass(frozen=True)
class Witnessed:
    """`witness` ops on one segment: positions ascending, and for each the earliest
    time any witness held at least that much of the journal."""

    positions: tuple[int, ...] = ()
    earliest_ms: tuple[int, ...] = ()  # non-decreasing: a suffix minimum
    # The same from the `witness` ops of the member who admitted the owner, while
    # the owner was on probation: they bound the end of probation only (`probation_ms`).
    admitter: Witnessed | None = None

    def add(self, position: int, ms: int) -> Witnessed:
        pairs = sorted({*zip(self.positions, self.earliest_ms, strict=True), (position, ms)})
        positions = tuple(p for p, _ in pairs)
        earliest, low = [], None
        for _, t in reversed(pairs):
            low = t if low is None else min(low, t)
            earliest.append(low)
        return replace(self, positions=positions, earliest_ms=tuple(reversed(earliest)))

    def add_admitter(self, position: int, ms: int) -> Witnessed:
        return replace(self, admitter=(self.admitter or Witnessed()).add(position, ms))

    def bound(self, journal_index: int) -> int | None:
        """The earliest time a witness held the journal entry `journal_index`."""
        i = bisect.bisect_right(self.positions, journal_index)
        return self.earliest_ms[i] if i < len(self.positions) else None


def safety_of(state: CommunityState | StateBuilder) -> SafetyState:
    value = state.extra.get(EXTRA_KEY)
    return value if isinstance(value, SafetyState) else SafetyState()


def set_safety(state: StateBuilder, safety: SafetyState) -> None:
    state.extra[EXTRA_KEY] = safety


def add_entry(safety: SafetyState, entry: PolicyEntry) -> SafetyState:
    def order(e: PolicyEntry) -> tuple[Any, ...]:
        return (e.key, e.channel or b"", e.ms, e.op)

    entries = sorted((*safety.entries, entry), key=order)
    return replace(safety, version=safety.version + 1, entries=tuple(entries))


# --- verdicts ---------------------------------------------------------------


@dataclass(frozen=True)
class PostFacts:
    id: str
    author: bytes
    channel: bytes
    author_ms: int
    text: str
    mentions: int
    segment: int = 0
    journal_index: int = 0


def effective_ms(safety: SafetyState, post: PostFacts) -> int:
    """The time the rules judge a post at: its author's date, unless an always-on node
    witnessed it earlier (then that time, plus WITNESS_SKEW_MS): future-dating
    buys a member at most the skew."""
    witnessed = safety.witnessed.get((post.author, post.segment))
    bound = witnessed.bound(post.journal_index) if witnessed is not None else None
    if bound is None or post.author_ms <= bound + WITNESS_SKEW_MS:
        return post.author_ms
    return bound + WITNESS_SKEW_MS


def probation_ms(safety: SafetyState, post: PostFacts) -> int:
    """The time the end of probation compares: `post.author_ms` (already its
    effective time), unless the member who admitted its author witnessed it
    earlier (then that time plus WITNESS_SKEW_MS). The admitter's witness bounds
    nothing else: at worst it keeps its own invitee inside probation."""
    witnessed = safety.witnessed.get((post.author, post.segment))
    by_admitter = witnessed.admitter if witnessed is not None else None
    bound = by_admitter.bound(post.journal_index) if by_admitter is not None else None
    if bound is None:
        return post.author_ms
    return min(post.author_ms, bound + WITNESS_SKEW_MS)


@dataclass(frozen=True)
class Verdict:
    action: str  # "hide", "hold" or "flag"
    rule: str  # slow_mode, rate_limited, probation, max_mentions, max_links, blocked_word,
    # watched_word (hold or flag), rejected
    message: str


class PolicyError(DomainError):
    """The author's own node refuses to send a post the policy would hide."""


@dataclass
class AuthorHistory:
    """A member's counted posts so far, in their document's order."""

    times: list[int] = field(default_factory=list)  # non-decreasing
    last_in_channel: dict[bytes, int] = field(default_factory=dict)
    # The latest time among all their judged posts, hidden ones too: the causal
    # past of their next post in their own chain (`rules_ms`).
    latest: int | None = None

    def add(self, post: PostFacts) -> None:
        self.times.append(post.author_ms)
        self.last_in_channel[post.channel] = post.author_ms

    def saw(self, post: PostFacts) -> None:
        if self.latest is None or post.author_ms > self.latest:
            self.latest = post.author_ms

    def rules_ms(self, post: PostFacts) -> int:
        """When the policy a post is judged by was in force: its date, but never
        before a post earlier in its author's document (which it causally follows),
        so that dating a post back does not bring back a rule since tightened."""
        if self.latest is None or post.author_ms >= self.latest:
            return post.author_ms
        return self.latest


def links_in(text: str) -> int:
    if text.isascii() and "://" not in text and "www." not in text.lower():
        return 0  # the common case, without NFKC
    return len(_LINK.findall(unicodedata.normalize("NFKC", text)))


def _spacing(
    safety: SafetyState, post: PostFacts, history: AuthorHistory, at: int
) -> Verdict | None:
    """Slow mode and the rate limit, along the author's document order."""
    t = post.author_ms
    backdated = bool(history.times) and t < history.times[-1]
    slow = safety.value_at("slow_mode", post.channel, at)
    if slow:
        prev = history.last_in_channel.get(post.channel)
        if backdated or (prev is not None and t - prev < slow * 1000):
            return Verdict("hide", "slow_mode", f"slow mode: one post per {slow} s here")
    rate = safety.value_at("posts_per_minute", None, at)
    if rate:
        recent = len(history.times) - bisect.bisect_right(history.times, t - 60_000)
        if backdated or recent >= rate:
            return Verdict("hide", "rate_limited", f"at most {rate} posts a minute")
    return None


def _limits(safety: SafetyState, post: PostFacts, links: int, t: int) -> Verdict | None:
    max_mentions = safety.value_at("max_mentions", None, t)
    if max_mentions is not None and post.mentions > max_mentions:
        return Verdict("hide", "max_mentions", f"at most {max_mentions} mentions a post")
    max_links = safety.value_at("max_links", None, t)
    if max_links is not None and links > max_links:
        return Verdict("hide", "max_links", f"at most {max_links} links a post")
    return None


def _probation(
    safety: SafetyState,
    role: Role | None,
    joined_ms: int,
    post: PostFacts,
    links: int,
    at: int,
    t: int,  # the end of probation compares the post's own time (`probation_ms`)
) -> Verdict | None:
    probation = safety.value_at("probation", None, at)
    if not probation or role is not Role.MEMBER or t >= joined_ms + probation * 1000:
        return None
    if links or post.mentions > 1:
        return Verdict(
            "hide", "probation", "new members may not post links or mention several people"
        )
    if safety.value_at("probation_hold", None, at):
        return Verdict("hold", "probation", "new members' posts wait for approval")
    return None


def judge_next(state: CommunityState, post: PostFacts, history: AuthorHistory) -> Verdict | None:
    """The verdict on an author's next post, given their counted posts so far (the
    author's own node, before sending; no approval can name it yet)."""
    safety = safety_of(state)
    member = state.members.get(post.author)
    joined = member.joined_ms if member else 0
    matcher = safety.matcher(state.community_id)
    return judge(safety, matcher, state.role_of(post.author), joined, post, history)


def judge(
    safety: SafetyState,
    matcher: Matcher,
    role: Role | None,
    joined_ms: int,
    post: PostFacts,
    history: AuthorHistory,
    probation_at: int | None = None,
) -> Verdict | None:
    """The verdict on `post` before approvals and rejections (see `verdicts`);
    `probation_at`: the time the end of probation compares (default: the post's).

    Moderators and admins are held to blocked words (and flag words put their
    posts in the queue too); no other rule holds them back."""
    word = matcher.match(post.text)
    if word == "block":
        return Verdict("hide", "blocked_word", "the post contains a blocked word")
    if role is not None and role >= Role.MODERATOR:
        return Verdict("flag", "watched_word", "sent to the moderators") if word == "flag" else None
    links = links_in(post.text)
    at = history.rules_ms(post)
    found = (
        _spacing(safety, post, history, at)
        or _limits(safety, post, links, at)
        or _probation(
            safety,
            role,
            joined_ms,
            post,
            links,
            at,
            post.author_ms if probation_at is None else probation_at,
        )
    )
    if found is not None:
        return found
    if word == "hold":
        return Verdict("hold", "watched_word", "held for approval (watched word)")
    if word == "flag":
        return Verdict("flag", "watched_word", "sent to the moderators (watched word)")
    return None


def verdicts(
    state: CommunityState,
    posts: Iterable[PostFacts],
    histories: dict[bytes, AuthorHistory] | None = None,
) -> dict[str, Verdict]:
    """Every post's verdict; `posts` grouped by author, each in document order.

    `histories` (filled in when given): each author's counted posts, from which
    the verdict on their next post follows without their earlier ones."""
    safety = safety_of(state)
    if safety.inactive:
        return {}
    matcher = safety.matcher(state.community_id)
    out: dict[str, Verdict] = {}
    histories = {} if histories is None else histories
    for post in posts:
        member = state.members.get(post.author)
        role = state.role_of(post.author)
        history = histories.setdefault(post.author, AuthorHistory())
        probation_at = None
        if safety.witnessed:
            at = effective_ms(safety, post)
            post = post if at == post.author_ms else replace(post, author_ms=at)
            probation_at = probation_ms(safety, post)
        joined = member.joined_ms if member else 0
        found = judge(safety, matcher, role, joined, post, history, probation_at)
        if found is None or found.action != "hide":
            history.add(post)
        history.saw(post)
        if post.id in safety.rejected:
            found = Verdict("hide", "rejected", safety.rejected[post.id] or "rejected")
        elif found is not None and found.action != "hide" and post.id in safety.approved:
            found = None
        if found is not None:
            out[post.id] = found
    return out
