"""Markdown for topics, replies and wiki pages, rendered so that reading is safe.

Why Qt's own `QTextDocument.setMarkdown`: it is CommonMark (md4c, maintained
inside Qt), it is already in the process (no second parser to keep current,
nothing to bundle), and it builds the very document a `QTextBrowser` shows,
so there is no HTML step in between that could smuggle markup in.

What "safe" means here, and where each rule is enforced:
- Raw HTML is text: the document is parsed with `MarkdownNoHTML`, so `<b>` or
  `<img src=...>` in a post shows as the characters the author typed.
- Nothing is ever fetched: `SafeDocument.loadResource` (and the browser's)
  returns nothing for every URL, remote or local; a remote image would tell
  its author who read the post and from which address. Each image is then
  replaced by a line of text naming it, so the reader sees what was there.
- A link shows its full target on hover (tooltip and `link_hovered`), and a
  click opens it in the system browser only for http, https and mailto
  (`open_link`); anything else (file:, javascript:, p2pcommunity: ...) is
  refused with a message (`link_refused`).
- Code (fenced, indented, inline) gets a monospace font and the code
  background, which md4c's import leaves to the application.

The same rules draw chat posts (ui/post_body.py), which call `render_markdown`
with `headings=False`: a heading inside a post is bold text of normal size.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSize, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QDesktopServices,
    QFont,
    QFontDatabase,
    QPalette,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser, QToolTip, QWidget

OPEN_SCHEMES = frozenset({"http", "https", "mailto"})
FEATURES = (
    QTextDocument.MarkdownFeature.MarkdownNoHTML
    | QTextDocument.MarkdownFeature.MarkdownDialectGitHub
)
_CODE_PROPS = (QTextFormat.Property.BlockCodeFence, QTextFormat.Property.BlockCodeLanguage)


def code_background(palette: QPalette) -> QColor:
    """A code block's background: the window colour, a step away from the page's."""
    base = palette.color(QPalette.ColorRole.Base)
    return base.darker(110) if base.lightness() > 128 else base.lighter(180)


class SafeDocument(QTextDocument):
    """A document that never loads a resource (images, style sheets): see the module doc."""

    def loadResource(self, _type: int, _name: QUrl | str) -> Any:
        return None


def render_markdown(
    doc: QTextDocument, text: str, palette: QPalette, headings: bool = True
) -> None:
    """Fill `doc` from Markdown `text`: HTML as text, code styled, images as a line of text.

    Without `headings` a heading is a bold line of the text's size (a post is not a page)."""
    doc.setMarkdown(text, FEATURES)
    _replace_images(doc)
    _style_code(doc, code_background(palette))
    if not headings:
        _flatten_headings(doc)


def _flatten_headings(doc: QTextDocument) -> None:
    block = doc.begin()
    while block.isValid():
        if block.blockFormat().headingLevel() > 0:
            cursor = QTextCursor(block)
            level = QTextBlockFormat()
            level.setHeadingLevel(0)
            cursor.mergeBlockFormat(level)
            cursor.select(QTextCursor.SelectionType.BlockUnderCursor)
            chars = QTextCharFormat()
            chars.setProperty(QTextFormat.Property.FontSizeAdjustment, 0)
            chars.setFontWeight(QFont.Weight.Bold)
            cursor.mergeCharFormat(chars)
        block = block.next()


def _replace_images(doc: QTextDocument) -> None:
    found: list[tuple[int, str]] = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            fmt = fragment.charFormat()
            if fmt.isImageFormat():
                name = fmt.toImageFormat().name()
                found.extend((fragment.position() + i, name) for i in range(fragment.length()))
            it += 1
        block = block.next()
    for position, name in reversed(found):
        cursor = QTextCursor(doc)
        cursor.setPosition(position)
        cursor.setPosition(position + 1, QTextCursor.MoveMode.KeepAnchor)
        plain = QTextCharFormat()
        plain.setFontItalic(True)
        cursor.insertText(f"[image not loaded: {name}]", plain)


def _is_code(block: Any) -> bool:
    fmt = block.blockFormat()
    return any(fmt.hasProperty(p) for p in _CODE_PROPS)


def _style_code(doc: QTextDocument, background: QColor) -> None:
    """Code in monospace on the code background; a gap after each paragraph and code block.

    md4c's import gives paragraphs no margin at all, so without the gap a post's
    paragraphs ran together into one."""
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    block = doc.begin()
    while block.isValid():
        cursor = QTextCursor(block)
        following = block.next()
        same_part = (_is_code(block) and _is_code(following)) or (
            block.textList() is not None and following.textList() is not None
        )
        if following.isValid() and not same_part:
            gap = QTextBlockFormat()
            gap.setBottomMargin(8)
            cursor.mergeBlockFormat(gap)
        if block.blockFormat().hasProperty(QTextFormat.Property.BlockQuoteLevel):
            quote = QTextBlockFormat()
            quote.setBackground(background.lighter(104))
            cursor.mergeBlockFormat(quote)
        if _is_code(block):
            code = QTextBlockFormat()
            code.setBackground(background)
            code.setLeftMargin(4)
            cursor.mergeBlockFormat(code)
            cursor.select(QTextCursor.SelectionType.BlockUnderCursor)
            chars = QTextCharFormat()
            chars.setFont(mono)
            cursor.mergeCharFormat(chars)
        else:
            _style_inline_code(block, mono, background)
        block = block.next()


def _style_inline_code(block: Any, mono: QFont, background: QColor) -> None:
    spans: list[tuple[int, int]] = []
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        if fragment.charFormat().fontFixedPitch():
            spans.append((fragment.position(), fragment.length()))
        it += 1
    for position, length in spans:
        cursor = QTextCursor(block.document())
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        chars = QTextCharFormat()
        chars.setFont(mono)
        chars.setBackground(background)
        cursor.mergeCharFormat(chars)


def may_open(url: QUrl) -> bool:
    return url.scheme().lower() in OPEN_SCHEMES and url.isValid()


class LinkGuard(QObject):
    """What a click on a link does: the system browser for web and mail links, else refuse."""

    link_refused = Signal(str)  # the sentence to show

    def open_link(self, url: QUrl) -> bool:
        if not may_open(url):
            self.link_refused.emit(
                f"Not opened: {url.toString()} (only web and mail links open from here)."
            )
            return False
        return QDesktopServices.openUrl(url)


class MarkdownView(QTextBrowser):
    """Read-only Markdown, as tall as its text (no scroll bar of its own) unless `scrolls`."""

    link_hovered = Signal(str)  # the full target, "" when the pointer leaves a link
    link_refused = Signal(str)

    def __init__(self, parent: QWidget | None = None, scrolls: bool = False) -> None:
        super().__init__(parent)
        self.setDocument(SafeDocument(self))
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.guard = LinkGuard(self)
        self.guard.link_refused.connect(self.link_refused)
        self.anchorClicked.connect(self.guard.open_link)
        self.highlighted.connect(self._on_highlighted)
        self._scrolls = scrolls
        self.markdown = ""
        if not scrolls:
            self.setFrameShape(QFrame.Shape.NoFrame)
            self.setVerticalScrollBarPolicy(self.verticalScrollBarPolicy().ScrollBarAlwaysOff)
            self.setHorizontalScrollBarPolicy(self.horizontalScrollBarPolicy().ScrollBarAlwaysOff)
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.viewport().setAutoFillBackground(False)
            self.setStyleSheet("QTextBrowser { border: none; background: transparent; }")
            self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def loadResource(self, _type: int, _name: QUrl | str) -> Any:
        return None  # the document asks its browser first: refuse here too

    def set_markdown(self, text: str) -> None:
        self.markdown = text
        render_markdown(self.document(), text, self.palette())
        self._fit()

    def _on_highlighted(self, url: QUrl) -> None:
        target = url.toString() if not url.isEmpty() else ""
        self.setToolTip(target)
        if target:
            QToolTip.showText(QCursor.pos(), target, self)
        self.link_hovered.emit(target)

    def _fit(self, *_args: object) -> None:
        if self._scrolls:
            return
        self.document().setTextWidth(self.viewport().width())
        margins = self.contentsMargins()
        height = int(self.document().size().height()) + margins.top() + margins.bottom() + 2
        if self.height() != height:
            self.setFixedHeight(height)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def sizeHint(self) -> QSize:
        return QSize(400, self.height()) if not self._scrolls else super().sizeHint()
