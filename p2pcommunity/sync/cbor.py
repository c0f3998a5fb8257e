"""The one strict CBOR reader for bytes that came from a peer.

Every byte string a peer could have written (sync frames, log ops, the
invite a dialer presents, the records inside member documents, sealed
reports, stored mention lists) is read with `decode`, never with plain
`cbor2.loads`, whose default tag decoders turn tag 35 into `re.compile`,
tag 1 into a datetime, tag 258 into a set and tag 28 into shared objects.

Why a pre-scan in Python before cbor2's C decoder: cbor2 allocates a Python
object per item and its errors come late, so a 1 MiB frame of a million
empty arrays cost ~2 s of the node's loop before the frame parser could say
"too many heads". `_prescan` walks the item headers only, without building
anything, and refuses at the first header beyond a limit: tags, floats,
undefined and simple values, indefinite lengths, non-scalar map keys, a
declared length beyond the bytes that remain, more items than `max_items`,
nesting beyond `max_depth`, a string longer than `max_string`, and trailing
bytes. Its cost is therefore bounded by `max_items` headers, and by one
header per `min_item_bytes` of input, whatever the input. Only then does cbor2 decode, with every tag refused again (belt and
braces) and duplicate keys refused.

`canonical=True` (the only mode: every producer of this codebase writes
`canonical_cbor`) then re-encodes the value and demands the same bytes, so
that signed bytes have exactly one encoding (a hash names one record).

The one exception that leaves `decode` is `MalformedCBOR`, a `Rejected`
(hence a `RemoteProtocolError`): net/ drops the peer, readers of member
documents treat the value as absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cbor2

from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.errors import Rejected

MAX_I64 = (1 << 63) - 1
"""The largest integer a signed value may carry: every one must fit an SQLite INTEGER."""

MALFORMED = "malformed_cbor"


class MalformedCBOR(Rejected):
    """Bytes that are not the strict, bounded, canonical CBOR subset."""


class _Bad(Exception):
    """What the pre-scan found wrong; `decode` turns it into `MalformedCBOR`."""


@dataclass(frozen=True)
class Limits:
    max_size: int
    max_items: int  # every item counts: each array, map, key, value and scalar
    max_depth: int = 16
    max_string: int | None = None  # None: bounded by max_size only
    # Items may average no fewer bytes than this (plus a small allowance): every
    # record written here carries keys, hashes, signatures or text, 14+ bytes an
    # item, while a frame built to be slow is one-byte items. This keeps the cost
    # of any refusal proportional to a fraction of its size, not to max_items.
    min_item_bytes: int = 8


# A sync frame or a log op (the frame parser passes its own tighter count).
FRAME = Limits(max_size=1024 * 1024, max_items=32 * 1024)
# A record inside a member document (a post body, an edit, addresses, a report):
# at most one change's size (chunks.MAX_CHANGE_SIZE), a few thousand items.
RECORD = Limits(max_size=256 * 1024, max_items=4096, max_depth=8)

# Items any record may hold beyond its size's share (a map of a few small fields).
_ITEM_ALLOWANCE = 64
# Additional-information values of major type 7 that the subset admits: false, true, null.
_SIMPLE_OK = frozenset({20, 21, 22})


# Kept whole: it runs once per item of every frame a peer sends, where a helper call per
# item would cost more than its branches do.
def _prescan(data: bytes, limits: Limits) -> None:  # noqa: C901 -- a hot loop: helpers cost per item
    """Walk the item headers of `data`; raise `_Bad` at the first one out of bounds."""
    end = len(data)
    pos = 0
    items = 0
    max_items = min(limits.max_items, _ITEM_ALLOWANCE + end // limits.min_item_bytes)
    max_string = end if limits.max_string is None else limits.max_string
    # Per open container: [items still expected, 1 if a map else 0]. Map entries
    # count twice; when a map has an even number left, the next item is a key.
    stack: list[list[int]] = []
    done = False
    while not done:
        if pos >= end:
            raise _Bad("truncated")
        items += 1
        if items > max_items:
            raise _Bad(f"more than {max_items} items")
        initial = data[pos]
        major, info = initial >> 5, initial & 0x1F
        pos += 1
        if stack:
            top = stack[-1]
            if top[1] and top[0] % 2 == 0 and major > 3:
                raise _Bad("map key must be an integer or a string")
        if major == 7:
            if info not in _SIMPLE_OK:
                raise _Bad("floats, undefined and simple values are refused")
            argument = 0
        elif major == 6:
            raise _Bad("tags are not allowed")
        elif info < 24:
            argument = info
        elif info <= 27:
            width = 1 << (info - 24)
            if pos + width > end:
                raise _Bad("truncated")
            argument = int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:  # 28-30 reserved, 31 indefinite length
            raise _Bad("indefinite or reserved length")
        child = 0
        if major in (2, 3):
            if argument > max_string or argument > end - pos:
                raise _Bad("string longer than the limit or the data")
            pos += argument
        elif major in (4, 5):
            child = argument if major == 4 else 2 * argument
            # Each item takes at least one byte: a count beyond the rest is a lie.
            if child > end - pos or items + child > max_items:
                raise _Bad(f"a container of more than {max_items} items")
        if child:
            if len(stack) >= limits.max_depth:
                raise _Bad("nested too deeply")
            stack.append([child, major == 5])
            continue
        # A scalar or an empty container ends here: close every container it completes.
        while stack:
            top = stack[-1]
            top[0] -= 1
            if top[0]:
                break
            stack.pop()
        done = not stack
    if pos != end:
        raise _Bad("trailing bytes")


class _RefusedTag(Exception):
    pass


def _refuse_tag(*_: Any) -> Any:
    raise _RefusedTag


class _EveryTag(Mapping[int, Callable[..., Any]]):
    """A `semantic_decoders` table that claims every tag, so cbor2 runs none of its own."""

    def __getitem__(self, tag: int) -> Callable[..., Any]:
        return _refuse_tag

    def __contains__(self, tag: object) -> bool:
        return True

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


_EVERY_TAG = _EveryTag()


def decode(data: bytes, limits: Limits = FRAME, reason: str = MALFORMED) -> Any:
    """Decode peer bytes: the strict canonical subset within `limits`, or `MalformedCBOR`.

    The value holds only ints, strings, bytes, bools, None, lists and dicts
    keyed by ints or strings. `reason` is the label the error carries (ops
    keep their historical "malformed_op").
    """
    if not isinstance(data, bytes | bytearray):
        raise MalformedCBOR(reason, "not bytes")
    data = bytes(data)
    if len(data) > limits.max_size:
        raise MalformedCBOR(reason, f"{len(data)} bytes exceed {limits.max_size}")
    try:
        _prescan(data, limits)
    except _Bad as e:
        raise MalformedCBOR(reason, str(e)) from None
    try:
        value = cbor2.loads(
            data,
            semantic_decoders=_EVERY_TAG,
            tag_hook=_refuse_tag,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=limits.max_depth + 1,
        )
    except _RefusedTag:  # the pre-scan refuses tags first; kept in case it ever misses one
        raise MalformedCBOR(reason, "tags are not allowed") from None
    except Exception as e:  # noqa: BLE001 -- any cbor2 error: malformed input
        raise MalformedCBOR(reason, f"not CBOR ({e})"[:200]) from None
    try:
        again = canonical_cbor(value)
    except Exception:  # noqa: BLE001 -- cannot happen for the subset the pre-scan admits
        raise MalformedCBOR(reason, "cannot re-encode") from None
    if again != data:
        raise MalformedCBOR(reason, "not canonical CBOR")
    return value


def decode_canonical(data: bytes) -> Any:
    """A frame or an op: `decode` with the frame limits and the ops' error label."""
    return decode(data, FRAME, "malformed_op")


def decode_or_none(data: Any, limits: Limits = RECORD) -> Any:
    """A record read from a member document: its value, or None when it is not strict CBOR."""
    if not isinstance(data, bytes):
        return None
    try:
        return decode(data, limits)
    except MalformedCBOR:
        return None
