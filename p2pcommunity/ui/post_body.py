"""A chat post's text as Markdown (issue 14), drawn by the timeline's delegate.

The rules are knowledge/markdown.py's, not a copy: raw HTML is text, nothing
is ever fetched (`SafeDocument`), images become a line naming them, code is
monospace on the code background, and links open only through `LinkGuard`.
What a post adds to a page:
- A heading is bold text of the post's size (`headings=False`): a post is a
  line in a conversation, not a page with a title.
- A single newline is a line break, as the composer showed it, not the space
  CommonMark makes of it (`keep_line_breaks`).
- Mentions are shown as `@name` and highlighted, search matches are marked
  and the mouse selection is drawn, all on the document's plain text, which
  is what the user sees and what a copy copies (`MarkdownBody.text`).

Topic titles stay plain text (knowledge/topic_list.py draws them): a title is
one line naming a topic, and Markdown there would eat a `*` or `#` that is
part of the name and let a title dress up as a link or a heading.

A post without Markdown syntax (`looks_like_markdown`) keeps the fast path,
post_text.py's `QTextLayout`; the delegate caches a `MarkdownBody` per post,
text, width and theme, so scrolling does not parse again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextCursor,
    QTextOption,
)

from p2pcommunity.ui.knowledge.markdown import SafeDocument, render_markdown
from p2pcommunity.ui.models import short_peer
from p2pcommunity.ui.post_text import MENTION, Span, match_spans, name_spans

# Any character or line start that Markdown (GitHub dialect, with its bare-URL
# and e-mail autolinks) could read as syntax; a post with none of them is plain.
_SYNTAX = re.compile(
    r"[*_`#>\[\]<&\\~|]|://|www\.|\S@[^\s@]+\.\w"
    r"|^ {0,3}(?:[-+]|\d{1,9}[.)])(?:\s|$)|^(?: {4}|\t)|^ {0,3}[-=]{2,}\s*$",
    re.MULTILINE,
)
_FENCE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})")
_QUOTE = re.compile(r"^ {0,3}> ?")
_STARTS_BLOCK = re.compile(
    r"^ {0,3}(?:[-+*](?:\s|$)|\d{1,9}[.)](?:\s|$)|#{1,6}(?:\s|$)|>|`{3,}|~{3,}|\|"
    r"|[-=*_](?:\s*[-=*_]){2,}\s*$|=+\s*$|-+\s*$)|^(?: {4}|\t)|^\s*$|^[\s|:-]*\|[\s|:-]*$"
)
_ENDS_LINE = re.compile(
    r"^ {0,3}(?:#{1,6}(?:\s|$)|\||[-=*_](?:\s*[-=*_]){2,}\s*$|=+\s*$|-+\s*$)"
    r"|^(?: {4}|\t)|^\s*$"
)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def looks_like_markdown(text: str) -> bool:
    return _SYNTAX.search(text) is not None


def keep_line_breaks(text: str) -> str:
    """`text` with each newline inside a paragraph (or a quote) made a line break.

    The newline becomes U+2028, which md4c keeps as a character of the
    paragraph and Qt lays out as a line break; a newline that starts a block
    (list item, heading, fence, table row ...) or ends one is left alone, so
    the Markdown structure is unchanged. Code blocks are never touched."""
    out: list[str] = []
    previous = ""  # the last physical line
    fenced = False
    for line in text.replace("\r\n", "\n").split("\n"):
        fence = _FENCE.match(line) is not None
        quote = _QUOTE.match(line)
        rest = line[quote.end() :] if quote else line
        joins = (
            out
            and not fenced
            and not fence
            and not _FENCE.match(previous)
            and not _ENDS_LINE.match(previous)
            and not _STARTS_BLOCK.match(rest)
            and (quote is None or _QUOTE.match(previous) is not None)
        )
        if joins:
            out[-1] += "\u2028" + rest
        else:
            out.append(line)
        if fence:
            fenced = not fenced
        previous = line
    return "\n".join(out)


def markdown_source(text: str, names: dict[str, str]) -> tuple[str, list[str]]:
    """The Markdown a post is drawn from: `@peer` as `@name` (escaped, so a name is never
    syntax), line breaks kept; and the names so shown, to find the mentions again."""
    shown: list[str] = []

    def label(m: re.Match[str]) -> str:
        name = names.get(m.group(1), short_peer(m.group(1)))
        shown.append(name)
        return "@" + _PUNCTUATION.sub(r"\\\1", name)

    return keep_line_breaks(MENTION.sub(label, text)), shown


def _document(source: str, font: QFont, palette: QPalette) -> SafeDocument:
    doc = SafeDocument()
    doc.setDocumentMargin(0)
    doc.setDefaultFont(font)
    wrap = QTextOption()
    wrap.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(wrap)
    render_markdown(doc, source, palette, headings=False)
    return doc


@lru_cache(maxsize=4096)
def plain_text(source: str) -> str:
    """The text a post drawn from Markdown `source` shows (independent of width and font)."""
    return _document(source, QFont(), QGuiApplication.palette()).toPlainText()


def _merge(doc: SafeDocument, span: Span, fmt: QTextCharFormat) -> None:
    cursor = QTextCursor(doc)
    cursor.setPosition(span[0])
    cursor.setPosition(span[0] + span[1], QTextCursor.MoveMode.KeepAnchor)
    cursor.mergeCharFormat(fmt)


class MarkdownBody:
    """One post's laid-out document, with the geometry the delegate needs from a layout."""

    def __init__(
        self,
        source: str,
        names: Iterable[str],
        font: QFont,
        width: float,
        mention_color: QColor,
        match_color: QColor,
        terms: Sequence[str] = (),
    ) -> None:
        self.doc = _document(source, font, QGuiApplication.palette())
        self.doc.setTextWidth(max(width, 10.0))
        self.text = self.doc.toPlainText()  # one character per document position
        self.mentions = name_spans(self.text, names)
        mention = QTextCharFormat()
        mention.setForeground(mention_color)
        mention.setFontWeight(QFont.Weight.DemiBold)
        for span in self.mentions:
            _merge(self.doc, span, mention)
        match = QTextCharFormat()
        match.setBackground(QBrush(match_color))
        for span in match_spans(self.text, list(terms)):
            _merge(self.doc, span, match)
        self.height = self.doc.size().height()

    def boundingRect(self) -> QRectF:  # QTextLayout's name: `hit` takes either
        return QRectF(0, 0, self.doc.idealWidth(), self.height)

    def char_at(self, point: QPointF) -> int:
        at = self.doc.documentLayout().hitTest(point, Qt.HitTestAccuracy.FuzzyHit)
        if at < 0:
            return 0 if point.y() < 0 else len(self.text)
        return min(at, len(self.text))

    def anchor_at(self, point: QPointF) -> str:
        return self.doc.documentLayout().anchorAt(point)

    def draw(
        self,
        painter: QPainter,
        origin: QPointF,
        selection: Span | None,
        highlight: tuple[QColor, QColor],
    ) -> None:
        """In the painter's pen colour; `selection` in `highlight` (background, text)."""
        context = QAbstractTextDocumentLayout.PaintContext()
        palette = QPalette(QGuiApplication.palette())
        palette.setColor(QPalette.ColorRole.Text, painter.pen().color())
        context.palette = palette
        if selection and selection[1]:
            chosen = QAbstractTextDocumentLayout.Selection()
            cursor = QTextCursor(self.doc)
            cursor.setPosition(selection[0])
            cursor.setPosition(selection[0] + selection[1], QTextCursor.MoveMode.KeepAnchor)
            chosen.cursor = cursor
            fmt = QTextCharFormat()
            fmt.setBackground(QBrush(highlight[0]))
            fmt.setForeground(highlight[1])
            chosen.format = fmt
            context.selections = [chosen]
        painter.save()
        painter.translate(origin)
        self.doc.documentLayout().draw(painter, context)
        painter.restore()


class BodyCache:
    """Laid-out posts by (post id, source, width, font, colours, search, names), the most
    recently drawn kept: a timeline scrolls over the same few screens."""

    LIMIT = 2_000

    def __init__(self) -> None:
        self._bodies: OrderedDict[tuple[object, ...], MarkdownBody] = OrderedDict()
        # The window hands the delegate a new dict when members change: its values are
        # gathered once per dict, not once per lookup (a lookup runs several times a paint).
        self._names: dict[str, str] | None = None
        self._members: tuple[str, ...] = ()
        self._names_version = 0

    def clear(self) -> None:
        self._bodies.clear()

    def get(
        self,
        post_id: str,
        text: str,
        names: dict[str, str],
        font: QFont,
        width: int,
        colors: tuple[QColor, QColor],
        terms: Sequence[str],
    ) -> MarkdownBody:
        if names is not self._names:
            self._names, self._members = names, tuple(names.values())
            self._names_version += 1
        source, shown = markdown_source(text, names)
        key: tuple[object, ...] = (post_id, source, width, font.key(), colors[0].rgba())
        key += (colors[1].rgba(), tuple(terms), tuple(shown), self._names_version)
        body = self._bodies.get(key)
        if body is None:
            members = (*shown, *self._members)
            body = MarkdownBody(source, members, font, width, *colors, terms)
            self._bodies[key] = body
            if len(self._bodies) > self.LIMIT:
                self._bodies.popitem(last=False)
        else:
            self._bodies.move_to_end(key)
        return body
