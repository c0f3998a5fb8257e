"""Watched words: published as keyed hashes of their skeletons, readable only when sealed.

Every peer must enforce a `block` word (the author's node refuses to send, the
others hide on receipt), but only moderators and admins may read the list.
So a `word_set` op carries the hash of the word's skeleton (confusables.fold,
tokens joined by one space) keyed with the community id, the action, and the
word itself sealed to the moderators and admins of the moment (one SealedBox
each, as reports are). Checking a post hashes its token n-grams (n up to the
longest watched phrase) and looks them up: O(tokens x phrase lengths), not
O(words). A member can still test a guess against the hashes (the key is the
community id, which they hold); docs/safety.md says what that leaves open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.sync.cbor import RECORD, decode_or_none
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.safety.confusables import tokens
from p2pcommunity.sync.sealing import open_sealed, seal_to

HASH_SIZE = 16
MAX_PHRASE_TOKENS = 4
MAX_WORD_CHARS = 64
ACTIONS = ("block", "flag", "hold")
# The strongest action wins when a post matches several words.
_CACHE_SIZE = 50_000
_STRENGTH = {"flag": 1, "hold": 2, "block": 3}


def skeleton(word: str) -> str:
    """The canonical form of a watched word or phrase; "" if it has no letters."""
    return " ".join(tokens(word))


def word_hash(community_id: bytes, skel: str) -> bytes:
    key = hashlib.blake2b(community_id, digest_size=32, person=b"p2pc-words").digest()
    return hashlib.blake2b(skel.encode(), key=key, digest_size=HASH_SIZE).digest()


def seal_word(word: str, readers: Sequence[bytes]) -> bytes:
    return seal_to(canonical_cbor({"word": word}), readers)


def open_word(key: SigningKey, sealed: bytes) -> str | None:
    """The word if it was sealed to `key`; None otherwise or when malformed."""
    plain = open_sealed(key, sealed)
    payload: Any = decode_or_none(plain, RECORD) if plain is not None else None
    if not isinstance(payload, dict) or set(payload) != {"word"}:
        return None
    word = payload["word"]
    return word if isinstance(word, str) else None


class Matcher:
    """The watched words of one community state, ready to check texts against.

    Words recur from post to post (Zipf), so every piece (token n-gram) met is
    remembered, in a bounded set, with the matching ones apart: a post of
    known pieces costs two set operations in C per phrase length, no hash and
    no Python loop over its words (the benchmark's floor is 100 us a post)."""

    def __init__(
        self, community_id: bytes, words: Mapping[bytes, tuple[str, int, bytes | None]]
    ) -> None:
        # words: hash -> (action, number of tokens, hash of a phrase's first token)
        key = hashlib.blake2b(community_id, digest_size=32, person=b"p2pc-words").digest()
        self._base = hashlib.blake2b(key=key, digest_size=HASH_SIZE)
        self._actions = {h: action for h, (action, _, _) in words.items()}
        self._lengths = sorted({n for _, n, _ in words.values() if 1 <= n <= MAX_PHRASE_TOKENS})
        # A phrase is looked for only where a token that starts one stands, when
        # every phrase names its first token (ops from before that field: everywhere).
        firsts = [f for _, n, f in words.values() if n > 1]
        self._first_hashes = {f for f in firsts if f is not None}
        self._anywhere = None in firsts
        self._seen: set[str] = set()  # pieces hashed so far
        self._hits: dict[str, str] = {}  # those of them that are watched -> action
        self._starters: set[str] = set()  # tokens that start a watched phrase

    def _learn(self, pieces: set[str]) -> None:
        if len(self._seen) + len(pieces) > _CACHE_SIZE:
            self._seen.clear()
            self._hits.clear()
            self._starters.clear()
        base, actions = self._base, self._actions
        for piece in pieces:
            h = base.copy()  # cheaper than a keyed blake2b per piece
            h.update(piece.encode())
            digest = h.digest()
            action = actions.get(digest)
            if action is not None:
                self._hits[piece] = action
            if digest in self._first_hashes:
                self._starters.add(piece)
        self._seen |= pieces

    def match(self, text: str) -> str | None:
        """The strongest action of the watched words in `text`, or None."""
        if not self._actions:
            return None
        words = tokens(text)
        singles = set(words)
        unknown = singles - self._seen
        if unknown:
            self._learn(unknown)  # the tokens first: they tell where phrases may start
        best = None
        for n in self._lengths:
            if n == 1:
                pieces = singles
            elif self._anywhere:
                pieces = set(map(" ".join, zip(*(words[i:] for i in range(n)), strict=False)))
            elif singles & self._starters:
                starts = self._starters
                pieces = {
                    " ".join(words[i : i + n])
                    for i in range(len(words) - n + 1)
                    if words[i] in starts
                }
            else:
                continue
            unknown = pieces - self._seen
            if unknown:
                self._learn(unknown)
            for piece in pieces & self._hits.keys():
                action = self._hits[piece]
                if best is None or _STRENGTH[action] > _STRENGTH[best]:
                    best = action
            if best == "block":
                return best
        return best
