"""How a post, a channel and a community look: item delegates painting straight from model roles.

A post is laid out once per (content, width) with `QTextLayout` (mentions get
their own format range), and its height is cached, so scrolling a long
timeline costs painting only. `@<peer id>` mentions are shown as `@name`
using the member names the window hands to `PostDelegate.names`. Clicks on a
reaction chip or on the reply count become signals, not item editing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from PySide6.QtCore import QDateTime, QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPalette,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from p2pcommunity.ui.models import AnyIndex, ChannelRole, CommunityRole, PostRole, short_peer
from p2pcommunity.ui.theme import DARK, LIGHT, readable

AVATAR = 36
PAD_X = 16
GAP = 12
PAD_TOP = 8
PAD_TOP_CONTINUED = 1
PAD_BOTTOM = 4
CHIP_H = 22
MENTION = re.compile(r"@([1-9A-HJ-NP-Za-km-z]{40,})")


def peer_color(peer_id: str, dark: bool) -> QColor:
    """A stable, readable color per author."""
    hue = int.from_bytes(hashlib.sha256(peer_id.encode()).digest()[:2], "big") % 360
    base = QColor((DARK if dark else LIGHT)["base"])
    return readable(QColor.fromHsl(hue, 150, 170 if dark else 95), base)  # WCAG AA


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


class PostDelegate(QStyledItemDelegate):
    reaction_clicked = Signal(str, str)  # post id, emoji
    replies_clicked = Signal(str)  # post id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.names: dict[str, str] = {}
        self.me = ""
        self.show_replies = True
        self._heights: dict[tuple[Any, ...], int] = {}

    def invalidate(self) -> None:
        self._heights.clear()

    # -- text ------------------------------------------------------------------

    def _display(self, text: str) -> tuple[str, list[tuple[int, int]]]:
        """The text with `@peer` mentions shown as `@name`, and their spans."""
        out: list[str] = []
        spans: list[tuple[int, int]] = []
        pos, length = 0, 0
        for m in MENTION.finditer(text):
            chunk = text[pos : m.start()]
            out.append(chunk)
            length += len(chunk)
            label = "@" + self.names.get(m.group(1), short_peer(m.group(1)))
            spans.append((length, len(label)))
            out.append(label)
            length += len(label)
            pos = m.end()
        out.append(text[pos:])
        return "".join(out), spans

    def _layout(
        self, text: str, font: QFont, width: float, mention_color: QColor | None = None
    ) -> tuple[QTextLayout, float]:
        shown, spans = self._display(text)
        layout = QTextLayout(shown.replace("\n", "\u2028"), font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        if spans and mention_color is not None:
            ranges = []
            for start, length in spans:
                fr = QTextLayout.FormatRange()
                fr.start, fr.length = start, length
                fmt = QTextCharFormat()
                fmt.setForeground(mention_color)
                fmt.setFontWeight(QFont.Weight.DemiBold)
                fr.format = fmt
                ranges.append(fr)
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

    # -- geometry --------------------------------------------------------------

    def _text_left(self) -> int:
        return PAD_X + AVATAR + GAP

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
        continued = bool(index.data(PostRole.CONTINUED))
        text = index.data(PostRole.TEXT) or ""
        reactions = index.data(PostRole.REACTIONS) or {}
        replies = int(index.data(PostRole.REPLIES) or 0) if self.show_replies else 0
        key = (index.data(PostRole.ID), text, width, continued, len(reactions), replies > 0)
        cached = self._heights.get(key)
        if cached is not None:
            return QSize(width, cached)
        fm = QFontMetrics(option.font)
        _, text_h = self._layout(text, option.font, width - self._text_left() - PAD_X)
        h = (PAD_TOP_CONTINUED if continued else PAD_TOP + fm.height() + 2) + int(text_h)
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
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        dark = is_dark(pal)
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
            painter.fillRect(rect, pal.color(QPalette.ColorRole.AlternateBase))

        font = QFont(option.font)
        fm = QFontMetrics(font)
        left = rect.left() + self._text_left()
        y = rect.top()
        continued = bool(index.data(PostRole.CONTINUED))
        author = index.data(PostRole.AUTHOR) or ""
        text_color = pal.color(QPalette.ColorRole.Text)
        muted = QColor(pal.color(QPalette.ColorRole.PlaceholderText))
        if not continued:
            y += PAD_TOP
            self._paint_avatar(painter, QRect(rect.left() + PAD_X, y + 2, AVATAR, AVATAR), index)
            bold = QFont(font)
            bold.setWeight(QFont.Weight.DemiBold)
            painter.setFont(bold)
            painter.setPen(peer_color(author, dark))
            name = index.data(PostRole.AUTHOR_NAME) or ""
            painter.drawText(QPointF(left, y + fm.ascent()), name)
            x = left + QFontMetrics(bold).horizontalAdvance(name) + 8
            small = QFont(font)
            small.setPointSizeF(max(font.pointSizeF() * 0.85, 7.0))
            painter.setFont(small)
            painter.setPen(muted)
            stamp = format_time(index.data(PostRole.TIME))
            if index.data(PostRole.EDITED):
                stamp += "  (edited)"
            if index.data(PostRole.REPLY_TO):
                stamp += "  ↩ reply"
            painter.drawText(QPointF(x, y + fm.ascent()), stamp)
            y += fm.height() + 2
        else:
            y += PAD_TOP_CONTINUED
            if option.state & QStyle.StateFlag.State_MouseOver:
                small = QFont(font)
                small.setPointSizeF(max(font.pointSizeF() * 0.75, 6.5))
                painter.setFont(small)
                painter.setPen(muted)
                t = index.data(PostRole.TIME)
                label = t.toLocalTime().toString("HH:mm") if t and t.isValid() else ""
                painter.drawText(QPointF(rect.left() + PAD_X, y + fm.ascent()), label)

        painter.setFont(font)
        painter.setPen(text_color)
        layout, text_h = self._layout(
            index.data(PostRole.TEXT) or "",
            font,
            rect.width() - self._text_left() - PAD_X,
            accent if not dark else accent.lighter(140),
        )
        layout.draw(painter, QPointF(left, y))
        y += int(text_h)
        if continued and index.data(PostRole.EDITED):
            small = QFont(font)
            small.setPointSizeF(max(font.pointSizeF() * 0.8, 6.5))
            painter.setFont(small)
            painter.setPen(muted)
            edited_rect = QRect(rect.left(), rect.top(), rect.width() - PAD_X, fm.height())
            painter.drawText(edited_rect, Qt.AlignmentFlag.AlignRight, "(edited)")
            painter.setFont(font)

        chips = self._chips(index, fm, left, y + 6)
        if chips:
            for emoji, chip, mine in chips:
                bg = QColor(accent) if mine else QColor(pal.color(QPalette.ColorRole.Button))
                bg.setAlpha(70 if mine else 255)
                painter.setPen(accent if mine else pal.color(QPalette.ColorRole.Mid))
                painter.setBrush(bg)
                painter.drawRoundedRect(QRectF(chip).adjusted(0.5, 0.5, -0.5, -0.5), 11, 11)
                painter.setPen(text_color)
                peers = (index.data(PostRole.REACTIONS) or {}).get(emoji, [])
                painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, f"{emoji}  {len(peers)}")
            y += 6 + CHIP_H
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

    def hit(self, option: QStyleOptionViewItem, index: AnyIndex, pos: QPointF) -> tuple[str, str]:
        """("reaction", emoji), ("replies", "") or ("", "") for a point in the item."""
        rect = option.rect
        fm = QFontMetrics(option.font)
        continued = bool(index.data(PostRole.CONTINUED))
        y = rect.top() + (PAD_TOP_CONTINUED if continued else PAD_TOP + fm.height() + 2)
        _, text_h = self._layout(
            index.data(PostRole.TEXT) or "", option.font, rect.width() - self._text_left() - PAD_X
        )
        y += int(text_h)
        left = rect.left() + self._text_left()
        chips = self._chips(index, fm, left, y + 6)
        for emoji, chip, _ in chips:
            if chip.contains(pos.toPoint()):
                return ("reaction", emoji)
        if chips:
            y += 6 + CHIP_H
        replies = int(index.data(PostRole.REPLIES) or 0)
        if replies and self.show_replies:
            area = QRect(left, y + 2, 160, fm.height() + 4)
            if area.contains(pos.toPoint()):
                return ("replies", "")
        return ("", "")

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
        return super().editorEvent(event, model, option, index)


class ChannelDelegate(QStyledItemDelegate):
    """`# name` with an unread badge; bold while unread; archived channels dimmed."""

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(option.rect.width(), QFontMetrics(option.font).height() + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect.adjusted(6, 1, -6, -1)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(QRectF(rect), 6, 6)
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Midlight))
            painter.drawRoundedRect(QRectF(rect), 6, 6)
        unread = int(index.data(ChannelRole.UNREAD) or 0)
        archived = bool(index.data(ChannelRole.ARCHIVED))
        font = QFont(option.font)
        if unread and not selected:
            font.setWeight(QFont.Weight.Bold)
        painter.setFont(font)
        color = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.WindowText
        )
        if archived and not selected:
            color = pal.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(color)
        name = "#  " + (index.data(ChannelRole.NAME) or "")
        if archived:
            name += "  (archived)"
        text_rect = rect.adjusted(10, 0, -40, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, name)
        if unread and not selected:
            label = str(unread) if unread < 100 else "99+"
            fm = QFontMetrics(font)
            w = max(fm.horizontalAdvance(label) + 12, 20)
            badge = QRect(rect.right() - w - 6, rect.center().y() - 9, w, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e5484d"))
            painter.drawRoundedRect(QRectF(badge), 9, 9)
            painter.setPen(QColor("white"))
            small = QFont(font)
            small.setPointSizeF(font.pointSizeF() * 0.85)
            painter.setFont(small)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()


def initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


class CommunityDelegate(QStyledItemDelegate):
    """A rounded square with the community's initials; a bar marks the current one."""

    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(68, 60)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        r = option.rect
        square = QRectF(r.center().x() - 22, r.center().y() - 22, 44, 44)
        cid = index.data(CommunityRole.ID) or ""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(peer_color(cid, False))
        painter.drawRoundedRect(square, 14 if selected else 22, 14 if selected else 22)
        if selected:
            painter.setBrush(pal.color(QPalette.ColorRole.WindowText))
            painter.drawRoundedRect(QRectF(r.left(), r.center().y() - 16, 4, 32), 2, 2)
        font = QFont(option.font)
        font.setBold(True)
        font.setPixelSize(16)
        painter.setFont(font)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(square, Qt.AlignmentFlag.AlignCenter, initials(index.data() or ""))
        painter.restore()
