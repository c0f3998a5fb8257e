"""A post's attachments as the timeline draws them: images inline, other files as cards.

The timeline is one painted list (ui/delegate.py), not a widget per post,
so this module is the geometry and the painting for the delegate: it
reserves `height` below a post's text, paints into it and says what a
click hit. An image's box comes from the width and height its post
signs, so the row keeps its height while the thumbnail, then the full
image, arrive. What is drawn comes from `Transfers`: the full image if it
was opened, else the inline thumbnail, else a placeholder with the name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPainter, QPalette
from PySide6.QtWidgets import QStyleOptionViewItem

from p2pcommunity.ui.files.images import fitted
from p2pcommunity.ui.files.transfers import Attachment, Transfers

IMAGE_BOX = QSize(360, 240)
CARD_W, CARD_H = 340, 58
GAP = 6
BUTTON_W, BUTTON_H = 64, 26
MAX_SHOWN = 10


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def is_image(att: Attachment) -> bool:
    """Shown inline; one without a size (its sender made no thumbnail) gets a placeholder."""
    return str(att.get("mime", "")).startswith("image/")


@dataclass(frozen=True)
class Placed:
    att: Attachment
    box: QRect
    save: QRect | None  # a file card's Save button


def attachments_of(row: dict[str, Any] | None) -> list[Attachment]:
    found = (row or {}).get("attachments") or []
    return [a for a in found if isinstance(a, dict) and isinstance(a.get("cid"), str)][:MAX_SHOWN]


class AttachmentArea:
    def __init__(self, transfers: Transfers | None = None) -> None:
        self.transfers = transfers

    # -- geometry ------------------------------------------------------------------

    def place(self, atts: list[Attachment], left: int, top: int, width: int) -> list[Placed]:
        out = []
        y = top
        for att in atts:
            if is_image(att) and not (self.transfers and self.transfers.undecodable(att)):
                box = QSize(min(IMAGE_BOX.width(), max(width, 80)), IMAGE_BOX.height())
                size = fitted(int(att.get("width") or 0), int(att.get("height") or 0), box)
                rect = QRect(left, y + GAP, max(size.width(), 48), max(size.height(), 32))
                out.append(Placed(att, rect, None))
            else:
                rect = QRect(left, y + GAP, min(CARD_W, max(width, 200)), CARD_H)
                save = QRect(
                    rect.right() - BUTTON_W - 10,
                    rect.top() + (CARD_H - BUTTON_H) // 2,
                    BUTTON_W,
                    BUTTON_H,
                )
                out.append(Placed(att, rect, save))
            y = out[-1].box.bottom() + 1
        return out

    def height(self, atts: list[Attachment], width: int) -> int:
        placed = self.place(atts, 0, 0, width)
        return placed[-1].box.bottom() + 1 if placed else 0

    @staticmethod
    def hit(places: list[Placed], point: QPoint) -> tuple[str, str]:
        """("save", cid) on a card's button, ("image", cid) on an image, else ("", "")."""
        for placed in places:
            cid = str(placed.att["cid"])
            if placed.save is not None and placed.save.contains(point):
                return ("save", cid)
            if placed.save is None and placed.box.contains(point):
                return ("image", cid)
        return ("", "")

    # -- painting ------------------------------------------------------------------

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        atts: list[Attachment],
        left: int,
        top: int,
        width: int,
    ) -> int:
        """Paint below `top`; returns the y under the last attachment."""
        placed = self.place(atts, left, top, width)
        for item in placed:
            if item.save is None:
                self._paint_image(painter, option, item)
            else:
                self._paint_card(painter, option, item)
        return placed[-1].box.bottom() + 1 if placed else top

    def _paint_image(self, painter: QPainter, option: QStyleOptionViewItem, item: Placed) -> None:
        pal = QGuiApplication.palette()  # option.palette may be transparent (side panels)
        cid = str(item.att["cid"])
        t = self.transfers
        image = None if t is None else (t.image(cid) or t.thumb(item.att))
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(QRectF(item.box), 6, 6)
        if image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(item.box, image)
        else:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            name = QFontMetrics(option.font).elidedText(
                f"Image · {item.att.get('name', '')} · click to open",
                Qt.TextElideMode.ElideMiddle,
                item.box.width() - 16,
            )
            painter.drawText(item.box, Qt.AlignmentFlag.AlignCenter, name)
        self._paint_progress(painter, option, cid, item.box.adjusted(8, 0, -8, -8), overlay=True)
        painter.restore()

    def _paint_card(self, painter: QPainter, option: QStyleOptionViewItem, item: Placed) -> None:
        assert item.save is not None
        pal = QGuiApplication.palette()  # option.palette may be transparent (side panels)
        att, box = item.att, item.box
        painter.save()
        painter.setPen(QColor(pal.color(QPalette.ColorRole.Mid)))
        painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(QRectF(box).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        # A document glyph with the file's extension, drawn (no emoji font needed).
        glyph = QRect(box.left() + 10, box.top() + 9, 30, 40)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter.setBrush(accent)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(QRectF(glyph), 4, 4)
        small = QFont(option.font)
        small.setPointSizeF(max(option.font.pointSizeF() * 0.7, 6.0))
        small.setWeight(QFont.Weight.Bold)
        painter.setFont(small)
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText))
        ext = _extension(str(att.get("name", "")))
        painter.drawText(glyph, Qt.AlignmentFlag.AlignCenter, ext)

        text_left = glyph.right() + 10
        text_w = item.save.left() - 10 - text_left
        bold = QFont(option.font)
        bold.setWeight(QFont.Weight.DemiBold)
        fm = QFontMetrics(bold)
        painter.setFont(bold)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        name = fm.elidedText(str(att.get("name", "")), Qt.TextElideMode.ElideMiddle, text_w)
        painter.drawText(text_left, box.top() + 10 + fm.ascent(), name)
        meta_font = QFont(option.font)
        meta_font.setPointSizeF(max(option.font.pointSizeF() * 0.85, 7.0))
        painter.setFont(meta_font)
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        meta = f"{human_size(int(att.get('size') or 0))} · {att.get('mime', '')}"
        line = self._progress_text(str(att["cid"]))
        if line:
            meta = line
        mfm = QFontMetrics(meta_font)
        meta = mfm.elidedText(meta, Qt.TextElideMode.ElideRight, text_w)
        painter.drawText(text_left, box.top() + 12 + fm.height() + mfm.ascent(), meta)
        bar = QRect(text_left, box.bottom() - 8, text_w, 4)
        self._paint_progress(painter, option, str(att["cid"]), bar, overlay=False)
        self._paint_button(painter, option, item.save, str(att["cid"]))
        painter.restore()

    def _progress_text(self, cid: str) -> str:
        t = self.transfers
        if t is None:
            return ""
        fraction = t.fraction(cid)
        status = t.status.get(cid, {})
        if fraction is not None:
            done = human_size(int(status.get("bytes") or 0))
            return f"Downloading… {done} of {human_size(int(status.get('size') or 0))}"
        if t.sending(cid):
            # The node says that peers fetch it and how many chunks went, not how many peers.
            sent, total = int(status.get("sent_chunks") or 0), int(status.get("total_chunks") or 0)
            served = f" · {sent} of {total} chunks sent" if total and sent <= total else ""
            return f"Sending to members{served}"
        return ""

    def _paint_progress(
        self, painter: QPainter, option: QStyleOptionViewItem, cid: str, area: QRect, overlay: bool
    ) -> None:
        t = self.transfers
        fraction = None if t is None else t.fraction(cid)
        if fraction is None:
            return
        pal = QGuiApplication.palette()  # option.palette may be transparent (side panels)
        track = QRect(area.left(), area.bottom() - 4, area.width(), 5)
        painter.setPen(Qt.PenStyle.NoPen)
        back = QColor(pal.color(QPalette.ColorRole.Mid))
        if overlay:
            back.setAlpha(200)
        painter.setBrush(back)
        painter.drawRoundedRect(QRectF(track), 2.5, 2.5)
        painter.setBrush(pal.color(QPalette.ColorRole.Highlight))
        done = QRectF(track.left(), track.top(), max(5.0, track.width() * fraction), track.height())
        painter.drawRoundedRect(done, 2.5, 2.5)

    def _paint_button(
        self, painter: QPainter, option: QStyleOptionViewItem, rect: QRect, cid: str
    ) -> None:
        pal = QGuiApplication.palette()  # option.palette may be transparent (side panels)
        busy = self.transfers is not None and self.transfers.busy(cid)
        painter.setPen(QColor(pal.color(QPalette.ColorRole.Mid)))
        painter.setBrush(pal.color(QPalette.ColorRole.Button))
        painter.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 5, 5)
        painter.setFont(option.font)
        painter.setPen(
            pal.color(QPalette.ColorRole.PlaceholderText if busy else QPalette.ColorRole.ButtonText)
        )
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Saving…" if busy else "Save…")


def _extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    ext = ext if dot and 0 < len(ext) <= 4 else "FILE"
    return ext.upper() if ext.isalnum() else "FILE"
