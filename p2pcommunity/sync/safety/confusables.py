"""Fold text to a matching skeleton: NFKC, case-folded, marks dropped, look-alikes merged.

Watched words must catch "FR33", "ｆｒｅｅ" (full-width), "frée" and "frее"
(Cyrillic е) as "free". Both the watched word and the post are folded the
same way and compared token by token, so the fold may merge letters freely
(it is never shown to anyone): a false match costs a held or hidden post
that a moderator can approve, a missed one lets the word through.

The map is a small hand-made subset of Unicode's confusables.txt (UTS #39,
https://www.unicode.org/Public/security/latest/confusables.txt): the
Cyrillic and Greek letters whose prototype there is a single Latin letter,
plus the usual "leetspeak" digits and symbols, which confusables.txt does
not cover (0→o, 1→i, 3→e, 4→a, 5→s, 7→t, 8→b, 9→g, @→a, $→s; not "!",
which ends sentences). The ambiguous l/1/i all fold to "i". It is vendored as a literal table so
that every peer folds identically whatever its Python's Unicode data; NFKC
itself comes from `unicodedata`, whose tables differ only for characters
assigned in newer Unicode versions (such a character is then left as is).
"""

from __future__ import annotations

import re
import unicodedata

_LEET = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "l": "i",
}  # fmt: skip

# Cyrillic and Greek prototypes of UTS #39 that fold to one Latin letter
# (lower case: the text is case-folded first).
_SCRIPTS = {
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
    "ї": "i", "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q",
    "г": "r", "ѕ": "s", "т": "t", "у": "y", "ѵ": "v", "ԝ": "w", "х": "x", "ɡ": "g",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s", "σ": "o", "μ": "u",
    "ı": "i", "ł": "i", "ø": "o", "đ": "d", "ħ": "h", "ß": "ss",
}  # fmt: skip

_TABLE = str.maketrans({**_SCRIPTS, **_LEET})


# Combining marks, as literal ranges (the main blocks) so that peers on other
# Unicode versions drop the same ones: "é" after NFD is "e" + U+0301.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """The skeleton of `text` (see the module docstring)."""
    if text.isascii():  # the common case: NFKC and the marks change nothing
        return text.lower().translate(_TABLE)
    text = unicodedata.normalize("NFKC", text).casefold()
    return _MARKS.sub("", unicodedata.normalize("NFD", text)).translate(_TABLE)


def tokens(text: str) -> list[str]:
    """The folded words of `text`: runs of letters and digits (after folding)."""
    return _WORD.findall(fold(text))
