"""How a channel and a community look in the sidebars: item delegates painting from model roles.

Moved out of delegate.py (which now holds the post delegate alone); delegate.py
still exports these names for the modules that import them from there.
"""

from __future__ import annotations

import hashlib

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from p2pcommunity.ui.icons import icon
from p2pcommunity.ui.models import AnyIndex, ChannelRole, CommunityRole
from p2pcommunity.ui.theme import DARK, LIGHT, readable

MENTION_BADGE, UNREAD_BADGE = "#3e63dd", "#6b6f7a"  # white text on both passes WCAG AA


def peer_color(peer_id: str, dark: bool) -> QColor:
    """A stable, readable color per author (a post's avatar) or community (its square)."""
    hue = int.from_bytes(hashlib.sha256(peer_id.encode()).digest()[:2], "big") % 360
    base = QColor((DARK if dark else LIGHT)["base"])
    return readable(QColor.fromHsl(hue, 150, 170 if dark else 95), base)  # WCAG AA


KIND_ICONS = {"forum": "forum", "qa": "qa"}
"""Channel kind -> the icon the sidebar draws before its name (chat channels get "#")."""


class ChannelDelegate(QStyledItemDelegate):
    """`# name` (a forum or Q&A channel: its icon) with an unread badge ("@ n" when I am
    mentioned); bold while unread."""

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
        # A muted channel (this device, issue 16) is dimmed like an archived one, no badge.
        muted = bool(index.data(ChannelRole.MUTED))
        unread = 0 if muted else int(index.data(ChannelRole.UNREAD) or 0)
        archived = bool(index.data(ChannelRole.ARCHIVED))
        font = QFont(option.font)
        if unread and not selected:
            font.setWeight(QFont.Weight.Bold)
        painter.setFont(font)
        color = pal.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.WindowText
        )
        if (archived or muted) and not selected:
            color = pal.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(color)
        name = index.data(ChannelRole.NAME) or ""
        if archived:
            name += "  (archived)"
        text_rect = rect.adjusted(10, 0, -40, 0)
        kind = index.data(ChannelRole.KIND)
        if kind in KIND_ICONS:  # forum and Q&A channels are marked by their icon, not "#"
            mark = QRect(text_rect.left(), rect.center().y() - 7, 14, 14)
            # Drawn in the name's colour (white on the selection), as "#" would be.
            glyph = icon(KIND_ICONS[kind]).pixmap(mark.size(), painter.device().devicePixelRatioF())
            tint = QPainter(glyph)
            tint.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
            tint.fillRect(glyph.rect(), color)
            tint.end()
            painter.drawPixmap(mark, glyph)
            text_rect.setLeft(mark.right() + 8)
        else:
            name = "#  " + name
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter, name)
        if unread and not selected:
            label, fill = channel_badge(unread, int(index.data(ChannelRole.MENTIONS) or 0))
            fm = QFontMetrics(font)
            w = max(fm.horizontalAdvance(label) + 12, 20)
            badge = QRect(rect.right() - w - 6, rect.center().y() - 9, w, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(fill))
            painter.drawRoundedRect(QRectF(badge), 9, 9)
            painter.setPen(QColor("white"))
            small = QFont(font)
            small.setPointSizeF(font.pointSizeF() * 0.85)
            painter.setFont(small)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()


def channel_badge(unread: int, mentions: int) -> tuple[str, str]:
    """The badge's text and colour: "@ 2" in the accent blue when I am mentioned, else a
    grey count (the mention is what asks for attention; a plain count only informs)."""
    if mentions:
        return (f"@ {mentions}" if mentions < 100 else "@ 99+"), MENTION_BADGE
    return (str(unread) if unread < 100 else "99+"), UNREAD_BADGE


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
