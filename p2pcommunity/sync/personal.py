"""Personal safety (issue 16): what this member chose not to see, on this device only.

A part of `Service` (`service.personal`). Muted words and muted channels are
local tables (storage/personal_tables.py), never synced and never signed:
they say nothing to the community, so nobody learns what a member mutes.
A post is muted when its channel is muted or its text holds a muted word or
phrase, matched on the same folded tokens as watched words (NFKC, case,
confusables, leetspeak: "fr33" mutes like "free"), so a muted word is as hard
to slip past as a watched one. `read` marks such posts `"muted": true`; the
app collapses them and never notifies about them. A moderator's dismissal of
the reports of a post is shared, not local: a signed `report_dismiss` op
(moderators and admins) that drops the reports made until then from every
moderator's queue; the post it names is sealed to the moderators and admins.
Dismissals this device made before they were shared (the local table) still count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from p2pcommunity.sync.errors import Invalid, NotFound
from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.part import ServicePart
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.reports import open_dismissal, seal_dismissal
from p2pcommunity.sync.safety.confusables import tokens
from p2pcommunity.sync.safety.policy import safety_of
from p2pcommunity.sync.storage.personal_tables import PersonalTables
from p2pcommunity.sync.timefmt import iso_ms

MAX_MUTED_WORD = 100
MAX_MUTED_WORDS = 500
MAX_PHRASE = 4  # tokens, as watched words


@dataclass(frozen=True)
class Muting:
    """What one read shows muted: the folded phrases and the channels."""

    phrases: frozenset[tuple[str, ...]]
    channels: frozenset[bytes]

    def mutes(self, channel: bytes, text: str) -> bool:
        if channel in self.channels:
            return True
        if not self.phrases:
            return False
        words = tokens(text)
        lengths = {len(p) for p in self.phrases}
        return any(
            tuple(words[i : i + n]) in self.phrases
            for n in lengths
            for i in range(len(words) - n + 1)
        )


def _phrase(word: str) -> tuple[str, ...]:
    word = word.strip()
    if not word or len(word) > MAX_MUTED_WORD:
        raise Invalid(f"a muted word is 1 to {MAX_MUTED_WORD} characters")
    folded = tuple(tokens(word))
    if not folded:
        raise Invalid("a muted word needs a letter or a digit")
    if len(folded) > MAX_PHRASE:
        raise Invalid(f"a muted phrase has at most {MAX_PHRASE} words")
    return folded


class Personal(ServicePart):
    @property
    def _tables(self) -> PersonalTables:
        return self.service.store.personal

    # -- muted words -------------------------------------------------------------

    def mute_add(self, word: str) -> dict[str, Any]:
        _phrase(word)
        word = word.strip()
        if word not in self._tables.words() and len(self._tables.words()) >= MAX_MUTED_WORDS:
            raise Invalid(f"at most {MAX_MUTED_WORDS} muted words")
        with self.service.store.transaction():
            self._tables.add_word(word)
        return {"word": word}

    def mute_remove(self, word: str) -> dict[str, Any]:
        with self.service.store.transaction():
            removed = self._tables.remove_word(word.strip())
        if not removed:
            raise NotFound(f"{word!r} is not muted")
        return {"word": word.strip()}

    def mute_list(self, ref: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"words": self._tables.words()}
        if ref:
            community = self.service.community(ref)
            channels = community.state.channels
            out["channels"] = [
                {"id": c.hex(), "name": channels[c].name}
                for c in sorted(self._tables.channels(community.id))
                if c in channels
            ]
        return out

    # -- muted channels ------------------------------------------------------------

    def channel_mute(self, ref: str, channel: str, on: bool) -> dict[str, Any]:
        community = self.service.community(ref)
        channel_id = self.service.channel_id(community.state, channel)
        with self.service.store.transaction():
            if on:
                self._tables.add_channel(community.id, channel_id)
            else:
                self._tables.remove_channel(community.id, channel_id)
        return {"channel": channel_id.hex(), "muted": on}

    def muting(self, community_id: bytes) -> Muting:
        return Muting(
            frozenset(_phrase(w) for w in self._tables.words()),
            frozenset(self._tables.channels(community_id)),
        )

    # -- blocked members -------------------------------------------------------------

    def block_list(self) -> dict[str, Any]:
        """The blocked peers, each named from the first community whose profiles know them."""
        blocked = self.service.store.blocked()
        names: dict[bytes, str] = {}
        for community in self.service.communities():
            if len(names) == len(blocked):
                break
            profiles = self.service.store.read_model.profiles(community.id)
            for key in blocked:
                name = (profiles.get(key) or (None, None))[0]
                if name and key not in names:
                    names[key] = name
        return {
            "blocked": [
                {"peer": peer_id_from_public_key(key), "name": names.get(key, "")}
                for key in blocked
            ]
        }

    # -- dismissed reports (moderators) ---------------------------------------------

    def dismiss(self, ref: str, post: str) -> dict[str, Any]:
        """A signed `report_dismiss` op: every moderator's queue drops the reports of
        `post` made until now (sync/reports.py seals which post it is)."""
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "dismiss reports")
        row = self.service.post_row(community, post)
        readers = self.service.safety.readers(community)
        self.service.append_op(
            community, "report_dismiss", {"sealed": seal_dismissal(row.id, readers)}
        )
        return {"post": row.id}

    def dismissed(self, ref: str) -> dict[str, Any]:
        """Each post's latest dismissal (by any moderator, or by this device before
        dismissals were shared) and who made it."""
        community = self.service.community(ref)
        self.service.require_role(community, Role.MODERATOR, "read reports")
        latest: dict[str, tuple[int, bytes]] = {
            post: (ms, self.service.me) for post, ms in self._tables.dismissed(community.id).items()
        }
        for author, ms, sealed in safety_of(community.state).dismissals:
            post = open_dismissal(self.service.key, sealed)
            if post is not None and ms >= latest.get(post, (ms, b""))[0]:
                latest[post] = (ms, author)
        return {
            "dismissed": {post: iso_ms(ms) for post, (ms, _) in latest.items()},
            "by": {post: peer_id_from_public_key(by) for post, (_, by) in latest.items()},
        }


def without(keys: Iterable[bytes], blocked: frozenset[bytes]) -> list[bytes]:
    """`keys` minus the blocked ones (reactions of blocked members are not shown)."""
    return [k for k in keys if k not in blocked]
