"""How a post looks: the item delegate painting it straight from model roles.

A plain post is laid out with `QTextLayout` (post_text.py: mentions, search
matches and the mouse selection are format ranges); a post with Markdown
syntax is a safe document (post_body.py, issue 14), cached per post, text,
width and theme. Heights are cached per (content, width), so scrolling a long
timeline costs painting only.
`@<peer id>` mentions are shown as `@name` using the member names the window
hands to `PostDelegate.names`. Clicks on a reaction chip or on the reply
count become signals, not item editing; the geometry the clicks and the
text selection need (`hit`, `char_at`, `chip_rects`) is computed by the same
code that paints, so they cannot drift apart. The sidebars' channel and
community delegates are in sidebar_delegates.py.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QMouseEvent,
    QPainter,
    QPalette,
    QTextLayout,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from p2pcommunity.ui.files.area import Placed
from p2pcommunity.ui.knowledge.markdown import LinkGuard
from p2pcommunity.ui.models import AnyIndex, PostListModel, PostRole
from p2pcommunity.ui.post_body import (
    BodyCache,
    MarkdownBody,
    looks_like_markdown,
    markdown_source,
    plain_text,
)
from p2pcommunity.ui.post_extras import UnderText
from p2pcommunity.ui.post_text import (
    Selection,
    char_at,
    lay_out,
    match_spans,
    name_spans,
    selection_ranges,
    shown_text,
)
from p2pcommunity.ui.sidebar_delegates import (
    MENTION_BADGE,
    UNREAD_BADGE,
    ChannelDelegate,
    CommunityDelegate,
    channel_badge,
    initials,
    peer_color,
)

AVATAR = 36
PAD_X = 16
GAP = 12
PAD_TOP = 8
PAD_TOP_CONTINUED = 1
PAD_BOTTOM = 4
CHIP_H = 22
NOTICE_PAD = 6
MATCH_LIGHT, MATCH_DARK = "#ffe58f", "#6b5a12"  # a search match's background

# The sidebar's names were first defined here: other modules import them from here.
__all__ = [
    "MATCH_DARK",
    "MATCH_LIGHT",
    "MENTION_BADGE",
    "UNREAD_BADGE",
    "ChannelDelegate",
    "CommunityDelegate",
    "PostDelegate",
    "channel_badge",
    "format_time",
    "initials",
    "is_dark",
    "peer_color",
]


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def format_time(dt: QDateTime) -> str:
    if not dt.isValid():
        return ""
    local = dt.toLocalTime()
    now = QDateTime.currentDateTime()
    if local.date() == now.date():
        return local.toString("HH:mm")
    if local.date().daysTo(now.date()) == 1:
        return "Yesterday " + local.toString("HH:mm")
    if local.date().year() == now.date().year():
        return local.toString("d MMM, HH:mm")
    return local.toString("d MMM yyyy, HH:mm")


def _row(index: AnyIndex) -> dict[str, Any]:
    return index.data(PostListModel.ROW_ROLE) or {}


class PostDelegate(QStyledItemDelegate):
    """Posts, notices ("Bob joined") and hidden posts; search terms and a selection drawn in."""

    reaction_clicked = Signal(str, str)  # post id, emoji
    replies_clicked = Signal(str)  # post id
    attachment_clicked = Signal(str, str, str)  # post id, "save" or "image", cid
    link_refused = Signal(str)  # the sentence to show: a link that is not web or mail

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: dict[str, str] = {}
        self.me = ""
        self.show_replies = True
        self.terms: list[str] = []
        """Search words: their prefixes are highlighted (search results)."""
        self.channel_names: dict[str, str] | None = None
        """Set where posts of several channels mix (search): each header names its channel."""
        self.selection: Selection | None = None
        self.under = UnderText()  # context notes (issue 16) and attachments (issue 15)
        self.files, self.marks = self.under.files, self.under.marks
        self._heights: dict[tuple[Any, ...], int] = {}
        self._bodies = BodyCache()
        self.links = LinkGuard(self)
        self.links.link_refused.connect(self.link_refused)

    def invalidate(self) -> None:
        self._heights.clear()
        self._bodies.clear()

    # -- what a row shows ------------------------------------------------------

    @staticmethod
    def hidden_note(index: AnyIndex) -> str:
        reason = index.data(PostRole.HIDDEN_REASON)
        return f"Hidden by a moderator ({reason})" if reason else "Hidden by a moderator"

    def collapsed(self, index: AnyIndex) -> bool:
        """A hidden post is collapsed to its note, except for its author, who sees the text."""
        if self.marks.folded(_row(index)):
            return True
        return bool(index.data(PostRole.HIDDEN)) and index.data(PostRole.AUTHOR) != self.me

    def shown(self, index: AnyIndex) -> tuple[str, list[tuple[int, int]]]:
        """The text as drawn (`@name` for mentions) and its mention spans."""
        if self.collapsed(index):
            return "", []
        text = index.data(PostRole.TEXT) or ""
        if not looks_like_markdown(text):
            return shown_text(text, self.names)
        source, shown = markdown_source(text, self.names)
        plain = plain_text(source)
        return plain, name_spans(plain, [*shown, *self.names.values()])

    def _channel_label(self, index: AnyIndex) -> str:
        if self.channel_names is None:
            return ""
        row = index.data(PostListModel.ROW_ROLE) or {}
        name = index.data(PostRole.CHANNEL_NAME) or self.channel_names.get(row.get("channel", ""))
        return f"in #{name}" if name else ""

    # -- geometry --------------------------------------------------------------

    @staticmethod
    def _text_left() -> int:
        return PAD_X + AVATAR + GAP

    def _text_top(self, option: QStyleOptionViewItem, index: AnyIndex) -> int:
        """From the row's top to its text: padding, the header, the hidden note."""
        fm = QFontMetrics(option.font)
        continued = bool(index.data(PostRole.CONTINUED))
        y = PAD_TOP_CONTINUED if continued else PAD_TOP + fm.height() + 2
        if index.data(PostRole.HIDDEN) or self.marks.fold_line(_row(index)):
            y += fm.height() + 2
        return y

    def text_layout(
        self, option: QStyleOptionViewItem, index: AnyIndex, colored: bool = False
    ) -> tuple[QTextLayout | MarkdownBody, float, QPointF]:
        """The laid-out text (a `MarkdownBody` for a post with Markdown syntax, always
        coloured), its height and its top-left in view coordinates."""
        accent = option.palette.color(QPalette.ColorRole.Highlight)
        dark = is_dark(QGuiApplication.palette())  # not option's: see _paint_chips
        mention_color = accent if not dark else accent.lighter(140)
        match_color = QColor(MATCH_DARK if dark else MATCH_LIGHT)
        width = option.rect.width() - self._text_left() - PAD_X
        collapsed = self.collapsed(index)
        text = "" if collapsed else index.data(PostRole.TEXT) or ""
        layout: QTextLayout | MarkdownBody
        if looks_like_markdown(text):
            layout = self._bodies.get(
                index.data(PostRole.ID),
                text,
                self.names,
                QFont(option.font),
                width,
                (mention_color, match_color),
                self.terms,
            )
            height = layout.height
        else:
            shown, mentions = shown_text(text, self.names)
            layout, height = lay_out(
                shown,
                option.font,
                width,
                mentions,
                match_spans(shown, self.terms),
                mention_color if colored else None,
                match_color if colored else None,
            )
        if collapsed:
            height = 0.0  # folded to its note line: no empty line under it
        origin = QPointF(
            option.rect.left() + self._text_left(),
            option.rect.top() + self._text_top(option, index),
        )
        return layout, height, origin

    def _text_bottom(self, option: QStyleOptionViewItem, index: AnyIndex) -> tuple[int, int]:
        """The x and y (view coordinates) of the text's bottom-left."""
        _, text_h, origin = self.text_layout(option, index)
        return int(origin.x()), int(origin.y() + text_h)

    def _files_width(self, option: QStyleOptionViewItem) -> int:
        return option.rect.width() - self._text_left() - PAD_X

    def attachment_places(self, option: QStyleOptionViewItem, index: AnyIndex) -> list[Placed]:
        """Each attachment's box (and a card's Save button) in view coordinates."""
        left, top = self._text_bottom(option, index)
        width = self._files_width(option)
        return self.under.places(_row(index), self.collapsed(index), option.font, left, top, width)

    def _below_text(self, option: QStyleOptionViewItem, index: AnyIndex) -> int:
        """The y (view coordinates) under the text, the note and the attachments."""
        _, top = self._text_bottom(option, index)
        width = self._files_width(option)
        return top + self.under.height(_row(index), self.collapsed(index), option.font, width)

    def _chips(
        self, index: AnyIndex, fm: QFontMetrics, left: int, top: int
    ) -> list[tuple[str, QRect, bool]]:
        reactions: dict[str, list[str]] = index.data(PostRole.REACTIONS) or {}
        x = left
        out = []
        for emoji, peers in reactions.items():
            label = f"{emoji}  {len(peers)}"
            w = fm.horizontalAdvance(label) + 18
            out.append((emoji, QRect(x, top, w, CHIP_H), self.me in peers))
            x += w + 6
        return out

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        width = option.rect.width() or 600
        fm = QFontMetrics(option.font)
        if index.data(PostRole.KIND) == "notice":
            return QSize(width, fm.height() + 2 * NOTICE_PAD)
        continued = bool(index.data(PostRole.CONTINUED))
        text = index.data(PostRole.TEXT) or ""
        reactions = index.data(PostRole.REACTIONS) or {}
        replies = int(index.data(PostRole.REPLIES) or 0) if self.show_replies else 0
        hidden, collapsed = bool(index.data(PostRole.HIDDEN)), self.collapsed(index)
        key = (
            *(index.data(PostRole.ID), text, width, continued),
            *(len(reactions), replies > 0, hidden, collapsed, self.marks.key(_row(index))),
        )
        cached = self._heights.get(key)
        if cached is not None:
            return QSize(width, cached)
        probe = QStyleOptionViewItem(option)
        probe.rect = QRect(0, 0, width, 0)
        _, text_h, _ = self.text_layout(probe, index)
        h = self._text_top(option, index) + int(text_h)
        h += self.under.height(_row(index), collapsed, option.font, self._files_width(probe))
        if reactions:
            h += 6 + CHIP_H
        if replies:
            h += 4 + fm.height()
        h = max(h + PAD_BOTTOM, (PAD_TOP + AVATAR + PAD_BOTTOM) if not continued else 0)
        if len(self._heights) > 20_000:
            self._heights.clear()
        self._heights[key] = h
        return QSize(width, h)

    # -- painting --------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        if index.data(PostRole.KIND) == "notice":
            self._paint_notice(painter, option, index)
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        fill = QGuiApplication.palette()  # not option's: see _paint_chips
        rect = option.rect
        accent = pal.color(QPalette.ColorRole.Highlight)
        if index.data(PostRole.MENTIONS_ME):
            tint = QColor(accent)
            tint.setAlpha(40)
            painter.fillRect(rect, tint)
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), accent)
        elif option.state & QStyle.StateFlag.State_Selected:
            tint = QColor(accent)
            tint.setAlpha(55)
            painter.fillRect(rect, tint)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, fill.color(QPalette.ColorRole.AlternateBase))

        font = QFont(option.font)
        fm = QFontMetrics(font)
        left = rect.left() + self._text_left()
        continued = bool(index.data(PostRole.CONTINUED))
        text_color = pal.color(QPalette.ColorRole.Text)
        muted = QColor(pal.color(QPalette.ColorRole.PlaceholderText))
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
        y = self._paint_header(painter, option, index, rect.top())
        fold_line = self.marks.fold_line(_row(index))
        if index.data(PostRole.HIDDEN) or fold_line:
            note = QFont(font)
            note.setItalic(True)
            painter.setFont(note)
            painter.setPen(muted)
            line = "⊘ " + self.hidden_note(index) if index.data(PostRole.HIDDEN) else fold_line
            painter.drawText(QPointF(left, y + fm.ascent()), line)
            y += fm.height() + 2

        painter.setFont(font)
        # the author's own hidden post is drawn dimmed under its note
        painter.setPen(muted if index.data(PostRole.HIDDEN) else text_color)
        layout, text_h, origin = self.text_layout(option, index, colored=True)
        highlight = (
            pal.color(QPalette.ColorRole.Highlight),
            pal.color(QPalette.ColorRole.HighlightedText),
        )
        post_id = index.data(PostRole.ID) or ""
        if isinstance(layout, MarkdownBody):
            mine = self.selection if self.selection and self.selection.post_id == post_id else None
            layout.draw(painter, origin, mine.span if mine else None, highlight)
        else:
            layout.draw(painter, origin, selection_ranges(self.selection, post_id, *highlight))
        y = int(origin.y() + text_h)
        if continued and index.data(PostRole.EDITED):
            painter.setFont(small)
            painter.setPen(muted)
            edited_rect = QRect(rect.left(), rect.top(), rect.width() - PAD_X, fm.height())
            painter.drawText(edited_rect, Qt.AlignmentFlag.AlignRight, "(edited)")
            painter.setFont(font)

        y = self.under.paint(
            painter,
            option,
            _row(index),
            self.collapsed(index),
            left,
            y,
            self._files_width(option),
        )
        painter.setFont(font)
        y = self._paint_chips(painter, option, index, y)
        replies = int(index.data(PostRole.REPLIES) or 0)
        if replies and self.show_replies:
            link = pal.color(QPalette.ColorRole.Link)
            bold = QFont(font)
            bold.setWeight(QFont.Weight.DemiBold)
            painter.setFont(bold)
            painter.setPen(link)
            label = f"{replies} {'reply' if replies == 1 else 'replies'} →"
            painter.drawText(QPointF(left, y + 4 + fm.ascent()), label)
        painter.restore()

    def _paint_header(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex, y: int
    ) -> int:
        """Avatar, name, time (and channel) of a post, or a continued row's time on hover."""
        font = QFont(option.font)
        fm = QFontMetrics(font)
        rect = option.rect
        left = rect.left() + self._text_left()
        muted = QColor(option.palette.color(QPalette.ColorRole.PlaceholderText))
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
        if not index.data(PostRole.CONTINUED):
            y += PAD_TOP
            self._paint_avatar(painter, QRect(rect.left() + PAD_X, y + 2, AVATAR, AVATAR), index)
            bold = QFont(font)
            bold.setWeight(QFont.Weight.DemiBold)
            painter.setFont(bold)
            dark = is_dark(QGuiApplication.palette())
            painter.setPen(peer_color(index.data(PostRole.AUTHOR) or "", dark))
            name = index.data(PostRole.AUTHOR_NAME) or ""
            painter.drawText(QPointF(left, y + fm.ascent()), name)
            x = left + QFontMetrics(bold).horizontalAdvance(name) + 8
            painter.setFont(small)
            painter.setPen(muted)
            stamp = format_time(index.data(PostRole.TIME))
            if index.data(PostRole.EDITED):
                stamp += "  (edited)"
            if index.data(PostRole.REPLY_TO):
                stamp += "  ↩ reply"
            channel = self._channel_label(index)
            if channel:
                stamp += "  " + channel
            painter.drawText(QPointF(x, y + fm.ascent()), stamp)
            return y + fm.height() + 2
        y += PAD_TOP_CONTINUED
        if option.state & QStyle.StateFlag.State_MouseOver:
            tiny = QFont(font)
            tiny.setPointSizeF(max(font.pointSizeF() * 0.75, 6.5))
            painter.setFont(tiny)
            painter.setPen(muted)
            t = index.data(PostRole.TIME)
            label = t.toLocalTime().toString("HH:mm") if t and t.isValid() else ""
            painter.drawText(QPointF(rect.left() + PAD_X, y + fm.ascent()), label)
        return y

    def _paint_chips(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex, y: int
    ) -> int:
        # A style sheet on the view (the side panels' `background: transparent`)
        # leaves the option's Button colour transparent: a chip made opaque from
        # it was the black pill. Chip fills come from the app's palette.
        fill = QGuiApplication.palette()
        accent = option.palette.color(QPalette.ColorRole.Highlight)
        text_color = option.palette.color(QPalette.ColorRole.Text)
        fm = QFontMetrics(option.font)
        left = option.rect.left() + self._text_left()
        chips = self._chips(index, fm, left, y + 6)
        if chips:
            for emoji, chip, mine in chips:
                bg = QColor(accent) if mine else QColor(fill.color(QPalette.ColorRole.Button))
                bg.setAlpha(70 if mine else 255)
                painter.setPen(accent if mine else fill.color(QPalette.ColorRole.Mid))
                painter.setBrush(bg)
                painter.drawRoundedRect(QRectF(chip).adjusted(0.5, 0.5, -0.5, -0.5), 11, 11)
                painter.setPen(text_color)
                peers = (index.data(PostRole.REACTIONS) or {}).get(emoji, [])
                painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, f"{emoji}  {len(peers)}")
            y += 6 + CHIP_H
        return y

    def _paint_notice(
        self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex
    ) -> None:
        painter.save()
        font = QFont(option.font)
        font.setItalic(True)
        painter.setFont(font)
        painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
        stamp = format_time(index.data(PostRole.TIME))
        text = (
            f"{index.data(PostRole.TEXT) or ''}  ·  {stamp}" if stamp else index.data(PostRole.TEXT)
        )
        painter.drawText(option.rect, Qt.AlignmentFlag.AlignCenter, text or "")
        painter.restore()

    def _paint_avatar(self, painter: QPainter, rect: QRect, index: AnyIndex) -> None:
        author = index.data(PostRole.AUTHOR) or ""
        name = index.data(PostRole.AUTHOR_NAME) or "?"
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(peer_color(author, False))
        painter.drawEllipse(rect)
        font = QFont(painter.font())
        font.setPixelSize(int(AVATAR * 0.42))
        font.setWeight(QFont.Weight.Bold)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, name.lstrip("@")[:1].upper())

    # -- clicks ----------------------------------------------------------------

    def chip_rects(self, option: QStyleOptionViewItem, index: AnyIndex) -> list[tuple[str, QRect]]:
        """Each reaction chip's emoji and rectangle in view coordinates."""
        _, _, origin = self.text_layout(option, index)
        fm = QFontMetrics(option.font)
        top = self._below_text(option, index) + 6
        return [(e, r) for e, r, _ in self._chips(index, fm, int(origin.x()), top)]

    def hit(self, option: QStyleOptionViewItem, index: AnyIndex, pos: QPointF) -> tuple[str, str]:
        """("reaction", emoji), ("replies", ""), ("text", "") or ("", "") for a point."""
        if index.data(PostRole.KIND) == "notice":
            return ("", "")
        layout, text_h, origin = self.text_layout(option, index)
        fm = QFontMetrics(option.font)
        point = pos.toPoint()
        kind, cid = self.files.hit(self.attachment_places(option, index), point)
        if kind:
            return (kind, cid)
        chips = self.chip_rects(option, index)
        for emoji, chip in chips:
            if chip.contains(point):
                return ("reaction", emoji)
        y = self._below_text(option, index) + (6 + CHIP_H if chips else 0)
        replies = int(index.data(PostRole.REPLIES) or 0)
        if replies and self.show_replies:
            area = QRect(int(origin.x()), y + 2, 160, fm.height() + 4)
            if area.contains(point):
                return ("replies", "")
        text = QRectF(origin.x(), origin.y(), layout.boundingRect().width(), text_h)
        if text_h and text.adjusted(-2, -2, 2, 2).contains(pos):
            return ("text", "")
        return ("", "")

    def char_at(self, option: QStyleOptionViewItem, index: AnyIndex, pos: QPointF) -> int:
        """The cursor position in the shown text nearest `pos` (view coordinates)."""
        layout, _, origin = self.text_layout(option, index)
        if isinstance(layout, MarkdownBody):
            return layout.char_at(pos - origin)
        return char_at(layout, pos - origin)

    def anchor_at(self, option: QStyleOptionViewItem, index: AnyIndex, pos: QPointF) -> str:
        """The full target of the link under `pos` (view coordinates), or ""."""
        if index.data(PostRole.KIND) == "notice" or not looks_like_markdown(
            index.data(PostRole.TEXT) or ""
        ):
            return ""  # a plain post has no links: no layout on every mouse move
        layout, _, origin = self.text_layout(option, index)
        return layout.anchor_at(pos - origin) if isinstance(layout, MarkdownBody) else ""

    def editorEvent(
        self, event: QEvent, model: Any, option: QStyleOptionViewItem, index: AnyIndex
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
        ):
            kind, emoji = self.hit(option, index, event.position())
            post = index.data(PostRole.ID)
            if kind == "reaction":
                self.reaction_clicked.emit(post, emoji)
                return True
            if kind == "replies":
                self.replies_clicked.emit(post)
                return True
            if kind in ("save", "image"):
                self.attachment_clicked.emit(post, kind, emoji)
                return True
            if self.marks.toggle(_row(index)):  # a folded post: show it, or fold it back
                self.sizeHintChanged.emit(index)
                return True
        return super().editorEvent(event, model, option, index)
