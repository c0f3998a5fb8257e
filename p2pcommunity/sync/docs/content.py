"""The limits of member content, checked alike for what we write and what we receive.

A limit enforced only by the sender is no limit: a member whose app skips
its checks could store a 200,000-character post or a display name of bidi
overrides and ANSI escapes on every other node. So each rule is one
function here, called by `service` before this node writes (the user gets
`Invalid` with the message) and by `readmodel.check_new_entries` on every
change received (the change is `Rejected` and nothing is stored). Every
peer runs the same functions over the same bytes, so every peer decides the
same.

Each `*_problem` function returns None when the value is fine and a short
reason otherwise; the caller picks the error type. They are total: any
Python value may come in (content from a peer has any shape).

Why explicit code point tables rather than `unicodedata.category`: the
category of a code point changes when a Unicode version assigns it, and two
peers on different Python builds must not disagree about a name. The one
Unicode-version dependency left is NFKC for display names (a name must be
its own NFKC form): NFKC is stable for assigned code points, so two peers
can disagree only about a name holding a code point the older one does not
know yet.

Post text is held to its length only: newlines are legitimate, a post with a
control character written by an older release must not freeze its author's
document on every newer peer, and the CLI escapes control characters when
it prints. Names are held to much more, because they pass for identities.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_POST_CHARS = 8000
MAX_NAME_CHARS = 64
MAX_BIO_CHARS = 1024
# A post names at most this many members (each `@peerid` is ~53 characters,
# so an 8,000-character post could hold ~150).
MAX_MENTIONS = 50
MAX_EMOJI_CHARS = 32
# Distinct reactions one member keeps on one post.
MAX_REACTIONS_PER_POST = 20
MAX_ADDRS = 16
MAX_ADDR_CHARS = 511
MAX_REPORT_BYTES = 64 * 1024
MAX_KEY_CHARS = 64  # a post's local id, a post id, a report id
MAX_MS = 2**53

_C0_C1 = frozenset(range(0x00, 0x20)) | frozenset(range(0x7F, 0xA0))
# Bidi marks, embeddings, overrides and isolates.
_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# Zero-width and invisible characters that make two names look alike.
_INVISIBLE = frozenset(
    {
        0x00AD,  # soft hyphen
        0x034F,  # combining grapheme joiner
        0x115F,
        0x1160,
        0x3164,
        0xFFA0,  # Hangul fillers
        0x180E,  # Mongolian vowel separator
        *range(0x200B, 0x200E),  # zero-width space, non-joiner, joiner
        0x2028,
        0x2029,  # line and paragraph separators
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        0xFEFF,  # zero-width no-break space
        *range(0xFFF9, 0xFFFC),  # interlinear annotation
        *range(0xE0000, 0xE0080),  # tag characters
    }
)
_NOT_IN_NAMES = _C0_C1 | _BIDI | _INVISIBLE
# An emoji may use the zero-width joiner and tag characters (family, flags).
_NOT_IN_EMOJI = _C0_C1 | _BIDI | (_INVISIBLE - {0x200D, *range(0xE0020, 0xE0080)}) | {ord("/")}


class ContentError(ValueError):
    """A value this node was asked to write breaks a content rule (service turns it into Invalid)."""


def _chars_problem(value: str, refused: frozenset[int], what: str) -> str | None:
    for c in value:
        if ord(c) in refused:
            return f"{what} holds a control, bidi or invisible character (U+{ord(c):04X})"
    return None


def name_problem(value: Any, what: str = "display name") -> str | None:
    """A display name as stored: 1-64 characters, NFKC, stripped, no hidden characters."""
    if not isinstance(value, str):
        return f"{what} must be text"
    if not 1 <= len(value) <= MAX_NAME_CHARS:
        return f"{what} must be 1 to {MAX_NAME_CHARS} characters"
    problem = _chars_problem(value, _NOT_IN_NAMES, what)
    if problem is not None:
        return problem
    if value != value.strip() or unicodedata.normalize("NFKC", value) != value:
        return f"{what} is not in its normal form (NFKC, no outer spaces)"
    return None


def clean_name(value: str, what: str = "display name") -> str:
    """What the user typed, normalised as `name_problem` demands, or `ContentError`."""
    cleaned = unicodedata.normalize("NFKC", value).strip()
    problem = name_problem(cleaned, what)
    if problem is not None:
        raise ContentError(problem)
    return cleaned


def text_problem(value: Any, what: str = "post", limit: int = MAX_POST_CHARS) -> str | None:
    if not isinstance(value, str):
        return f"{what} must be text"
    if len(value) > limit:
        return f"{what} longer than {limit} characters"
    return None


def bio_problem(value: Any) -> str | None:
    return text_problem(value, "bio", MAX_BIO_CHARS)


def mentions_problem(value: Any) -> str | None:
    if not isinstance(value, list | tuple):
        return "mentions must be a list"
    if len(value) > MAX_MENTIONS:
        return f"more than {MAX_MENTIONS} mentions"
    if not all(isinstance(m, bytes) and len(m) == 32 for m in value):
        return "a mention must be a 32-byte key"
    return None


def emoji_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EMOJI_CHARS:
        return f"a reaction must be 1 to {MAX_EMOJI_CHARS} characters"
    if value != value.strip():
        return "a reaction has outer spaces"
    for c in value:
        if ord(c) in _NOT_IN_EMOJI:
            return f"a reaction holds '/' or a hidden character (U+{ord(c):04X})"
    return None


def key_problem(value: Any) -> str | None:
    """A post id, local id or report id as it appears in a journal entry or a map key."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_KEY_CHARS:
        return f"an id must be 1 to {MAX_KEY_CHARS} characters"
    if any(ord(c) in _C0_C1 or c in "/:" for c in value):
        return "an id holds a control character, '/' or ':'"
    return None


def ms_problem(value: Any) -> str | None:
    if type(value) is not int or not 0 <= value < MAX_MS:
        return "a time must be an integer of milliseconds"
    return None


def post_problem(
    channel_id: Any, text: Any, reply_to: Any, mentions: Any, author_ms: Any
) -> str | None:
    """A post record's fields (memberdoc.PostRecord)."""
    if not isinstance(channel_id, bytes) or len(channel_id) != 32:
        return "the channel must be a 32-byte id"
    if reply_to is not None and key_problem(reply_to) is not None:
        return "bad reply_to"
    return text_problem(text) or mentions_problem(mentions) or ms_problem(author_ms)


def addrs_problem(value: Any) -> str | None:
    if not isinstance(value, list) or len(value) > MAX_ADDRS:
        return f"addresses must be a list of at most {MAX_ADDRS}"
    for addr in value:
        if not isinstance(addr, str) or not 1 <= len(addr) <= MAX_ADDR_CHARS:
            return f"an address must be 1 to {MAX_ADDR_CHARS} characters"
        if any(ord(c) in _C0_C1 for c in addr):
            return "an address holds a control character"
    return None


def report_problem(value: Any) -> str | None:
    if not isinstance(value, bytes) or not 1 <= len(value) <= MAX_REPORT_BYTES:
        return f"a report must be 1 to {MAX_REPORT_BYTES} bytes"
    return None


def check(problem: str | None) -> None:
    """Raise `ContentError` for a problem found in a value this node is about to write."""
    if problem is not None:
        raise ContentError(problem)
