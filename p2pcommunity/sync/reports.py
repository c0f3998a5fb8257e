"""Reports sealed so that only the community's moderators and admins read them.

A report travels in the reporter's member document like any other content,
so it reaches moderators who are offline now; its body is one SealedBox per
moderator or admin (their Ed25519 keys converted to X25519). Anyone else who
syncs the document sees that a report exists, not what it says or which post
it is about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.sync.cbor import RECORD, decode_or_none
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.sealing import open_sealed, seal_to

# Issue 16. "other" is left out of the payload, so that such a report opens on
# nodes that predate categories (their reader wants exactly post, reason, ms).
CATEGORIES = ("harassment", "spam", "misinformation", "other")


@dataclass(frozen=True)
class OpenedReport:
    reporter: bytes
    post_id: str
    reason: str
    ms: int
    category: str = "other"


def seal_report(
    post_id: str, reason: str, ms: int, readers: Sequence[bytes], category: str = "other"
) -> bytes:
    fields: dict[str, Any] = {"post": post_id, "reason": reason, "ms": ms}
    if category != "other":
        fields["category"] = category
    return seal_to(canonical_cbor(fields), readers)


def open_report(key: SigningKey, reporter: bytes, body: bytes) -> OpenedReport | None:
    """The report if it was sealed to `key`; None otherwise or when malformed."""
    plain = open_sealed(key, body)
    if plain is None:
        return None
    payload: Any = decode_or_none(plain, RECORD)
    if not isinstance(payload, dict) or set(payload) - {"category"} != {"post", "reason", "ms"}:
        return None
    post_id, reason, ms = payload["post"], payload["reason"], payload["ms"]
    if not (isinstance(post_id, str) and isinstance(reason, str) and isinstance(ms, int)):
        return None
    category = payload.get("category", "other")
    if category not in CATEGORIES:
        return None
    return OpenedReport(reporter, post_id, reason, ms, category)


def seal_dismissal(post_id: str, readers: Sequence[bytes]) -> bytes:
    """A `report_dismiss` op's body: the post, readable by moderators and admins only
    (the op itself says only that a moderator dismissed something)."""
    return seal_to(canonical_cbor({"post": post_id}), readers)


def open_dismissal(key: SigningKey, sealed: bytes) -> str | None:
    plain = open_sealed(key, sealed)
    payload: Any = None if plain is None else decode_or_none(plain, RECORD)
    if not isinstance(payload, dict) or set(payload) != {"post"}:
        return None
    post_id = payload["post"]
    return post_id if isinstance(post_id, str) and len(post_id) <= 64 else None


def open_reports(key: SigningKey, rows: Iterable[tuple[bytes, bytes]]) -> list[OpenedReport]:
    opened = [r for r in (open_report(key, reporter, body) for reporter, body in rows) if r]
    return sorted(opened, key=lambda r: (r.ms, r.post_id))
