"""A post's text as drawn: mentions as `@name`, search terms highlighted, a mouse selection.

The delegate paints text with `QTextLayout`, not with a widget per row (a
timeline holds thousands of rows), so what a text widget would give for free
is done here on the layout: which characters are a mention, which match the
search, which the user selected with the mouse, and which character is under
a point (for selecting). Everything works on the *shown* text, in which
`@<peer id>` has become `@name`; a copy copies what the user saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF
from PySide6.QtGui import QBrush, QColor, QFont, QTextCharFormat, QTextLayout, QTextOption

from p2pcommunity.ui.models import short_peer

MENTION = re.compile(r"@([1-9A-HJ-NP-Za-km-z]{40,})")
Span = tuple[int, int]  # start, length


def shown_text(text: str, names: dict[str, str]) -> tuple[str, list[Span]]:
    """The text with `@peer` mentions shown as `@name`, and the spans of all mentions.

    A typed `@Name` (interface: the node resolves it by display name) is a
    span too when `Name` is a member's name, longest name first.
    """
    out: list[str] = []
    spans: list[Span] = []
    pos, length = 0, 0
    for m in MENTION.finditer(text):
        chunk = text[pos : m.start()]
        out.append(chunk)
        length += len(chunk)
        label = "@" + names.get(m.group(1), short_peer(m.group(1)))
        spans.append((length, len(label)))
        out.append(label)
        length += len(label)
        pos = m.end()
    out.append(text[pos:])
    shown = "".join(out)
    return shown, name_spans(shown, names.values(), spans)


def name_spans(shown: str, names: Iterable[str], known: Sequence[Span] = ()) -> list[Span]:
    """`known` and each `@Name` of `shown` (not inside a known span) that is one of `names`,
    longest name first, sorted."""
    spans = list(known)
    taken = {i for start, n in spans for i in range(start, start + n)}
    by_length = sorted({n for n in names if n}, key=len, reverse=True)
    lowered = shown.lower()
    for at in (i for i, ch in enumerate(shown) if ch == "@" and i not in taken):
        for name in by_length:
            end = at + 1 + len(name)
            if lowered[at + 1 : end] == name.lower() and (
                end == len(shown) or not shown[end].isalnum()
            ):
                spans.append((at, end - at))
                taken.update(range(at, end))
                break
    return sorted(spans)


def search_terms(query: str) -> list[str]:
    """The words of a search; each matches as a prefix of a word, as the node's search does."""
    return [w.strip("\"'*").lower() for w in query.split() if w.strip("\"'*")]


def match_spans(shown: str, terms: list[str]) -> list[Span]:
    """Where a word of `shown` starts with one of `terms` (case-insensitive): that prefix."""
    if not terms:
        return []
    spans = []
    for word in re.finditer(r"\w+", shown):
        lowered = word.group().lower()
        best = max((t for t in terms if lowered.startswith(t)), key=len, default="")
        if best:
            spans.append((word.start(), len(best)))
    return spans


@dataclass(frozen=True)
class Selection:
    """Characters `anchor`..`cursor` (either order) of one post's shown text."""

    post_id: str
    anchor: int
    cursor: int

    @property
    def span(self) -> Span:
        start = min(self.anchor, self.cursor)
        return start, abs(self.cursor - self.anchor)

    def text_of(self, shown: str) -> str:
        start, length = self.span
        return shown[start : start + length]


def _range(span: Span, fmt: QTextCharFormat) -> QTextLayout.FormatRange:
    fr = QTextLayout.FormatRange()
    fr.start, fr.length = span
    fr.format = fmt
    return fr


def lay_out(
    shown: str,
    font: QFont,
    width: float,
    mentions: Sequence[Span] = (),
    matches: Sequence[Span] = (),
    mention_color: QColor | None = None,
    match_color: QColor | None = None,
) -> tuple[QTextLayout, float]:
    """`shown` wrapped to `width`; mentions and matches get their formats when colours are given."""
    layout = QTextLayout(shown.replace("\n", "\u2028"), font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    ranges = []
    if mention_color is not None:
        fmt = QTextCharFormat()
        fmt.setForeground(mention_color)
        fmt.setFontWeight(QFont.Weight.DemiBold)
        ranges += [_range(span, fmt) for span in mentions]
    if match_color is not None:
        fmt = QTextCharFormat()
        fmt.setBackground(QBrush(match_color))
        ranges += [_range(span, fmt) for span in matches]
    if ranges:
        layout.setFormats(ranges)
    layout.beginLayout()
    y = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(width, 10.0))
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    return layout, y


def selection_ranges(
    selection: Selection | None, post_id: str, background: QColor, foreground: QColor
) -> list[QTextLayout.FormatRange]:
    """The selection of this post as a `draw` argument (nothing when another post's)."""
    if selection is None or selection.post_id != post_id or not selection.span[1]:
        return []
    fmt = QTextCharFormat()
    fmt.setBackground(QBrush(background))
    fmt.setForeground(foreground)
    return [_range(selection.span, fmt)]


def char_at(layout: QTextLayout, point: QPointF) -> int:
    """The cursor position nearest `point` (layout coordinates), clamped to the text."""
    count = layout.lineCount()
    if count == 0:
        return 0
    for i in range(count):
        line = layout.lineAt(i)
        if point.y() < line.y() + line.height() or i == count - 1:
            if point.y() < 0 and i == 0:
                return 0
            if point.y() >= line.y() + line.height() and i == count - 1:
                return len(layout.text())
            return int(line.xToCursor(point.x()))
    return len(layout.text())
