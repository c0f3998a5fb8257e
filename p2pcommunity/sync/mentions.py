"""Which members a post's text mentions: "@<peer id>", or "@Name" for a member's name.

People type names, not 52-character peer ids, so "@Alice" is a mention when
exactly one current member is called Alice (case-insensitive). Names may hold
spaces ("@Ada Lovelace"), so the longest name that the text continues with
wins, and it must end where a word ends ("@Al" is not Alice, "@Alice's" is).
Two members with the same name make it ambiguous: then it mentions nobody,
rather than the wrong person; the autocomplete can still mention by id.
The result is recorded in the post (who was mentioned), so that every peer
notifies the same people however names change later.
"""

from __future__ import annotations

from collections.abc import Mapping

from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.log.state import CommunityState
from p2pcommunity.sync.peerid import public_key_from_peer_id

PEER_ID_MIN_CHARS = 40
_TRAILING = ".,:;!?)'\""


def find_mentions(
    text: str, state: CommunityState, names: Mapping[bytes, str | None]
) -> tuple[bytes, ...]:
    """Current members `text` mentions, in order of appearance, once each."""
    by_name = _names_of_members(state, names)
    found: list[bytes] = []
    start = text.find("@")
    while start != -1:
        if start == 0 or not text[start - 1].isalnum():
            key = _mention_at(text[start + 1 :], state, by_name)
            if key is not None and key not in found:
                found.append(key)
        start = text.find("@", start + 1)
    return tuple(found)


def _names_of_members(
    state: CommunityState, names: Mapping[bytes, str | None]
) -> dict[str, list[bytes]]:
    by_name: dict[str, list[bytes]] = {}
    for key, name in names.items():
        if name and state.is_member(key):
            by_name.setdefault(name.casefold(), []).append(key)
    return by_name


def _mention_at(rest: str, state: CommunityState, by_name: dict[str, list[bytes]]) -> bytes | None:
    word = rest.split(maxsplit=1)[0].rstrip(_TRAILING) if rest.strip() else ""
    if len(word) >= PEER_ID_MIN_CHARS:
        try:
            key = public_key_from_peer_id(word)
        except Invalid:
            key = None
        if key is not None:
            return key if state.is_member(key) else None
    folded = rest.casefold()
    best: list[bytes] | None = None
    best_len = 0
    for name, keys in by_name.items():
        if len(name) > best_len and folded.startswith(name) and _ends_word(folded, len(name)):
            best, best_len = keys, len(name)
    return best[0] if best is not None and len(best) == 1 else None


def _ends_word(text: str, end: int) -> bool:
    return end == len(text) or not (text[end].isalnum() or text[end] == "_")
