"""Labels that keep one member's display name from passing for another's.

Display names are the member's own choice, so two members can pick the same
one, or a name such as "admin" or "System" that reads as authority. The
read API then adds a label with a short id to the name ("alice (·3fa9c1)"),
for every member involved, not only for the later one: nobody can tell
which of two "alice"s came first. Names are compared after NFKC and case
folding; this is display only (nothing replicated depends on it), so the
local Unicode version may decide. Look-alike letters from other scripts
(Cyrillic "а" for Latin "a") are not caught: the short id is the defence
that is always shown on hover and in `member list --json`.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping

from p2pcommunity.sync.peerid import peer_id_from_public_key

# Words that read as an authority or as the app itself.
ROLE_WORDS = frozenset(
    {
        "admin",
        "administrator",
        "moderator",
        "mod",
        "owner",
        "system",
        "root",
        "staff",
        "support",
        "security",
        "p2pcommunity",
        "everyone",
        "here",
    }
)


def _folded(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def short_id(key: bytes) -> str:
    return "·" + peer_id_from_public_key(key)[-6:]


def labels(names: Mapping[bytes, str]) -> dict[bytes, str]:
    """The label to show for each member key of `names` (its display name, maybe "")."""
    counts = Counter(_folded(n) for n in names.values() if n)
    out = {}
    for key, name in names.items():
        folded = _folded(name)
        if not name:
            out[key] = short_id(key)
        elif counts[folded] > 1 or folded in ROLE_WORDS or folded.strip(".:!") in ROLE_WORDS:
            out[key] = f"{name} ({short_id(key)})"
        else:
            out[key] = name
    return out
