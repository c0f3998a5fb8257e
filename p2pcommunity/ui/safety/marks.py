"""What issue 16 adds to a drawn post: a fold line, and a context note under it.

A post the user reported, or one the node marks muted, is folded to a single
line for them ("You reported this message · click to show"); a click unfolds
it for the session. A held post carries a line for its author ("Waiting for a
moderator's approval"). A context note (`"note"`) is drawn under the text for
everyone, in a tinted box. The delegate asks this object for the lines and
their heights; it keeps the state of what was unfolded.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette

NOTE_PAD = 8
NOTE_TITLE = "Context added by moderators"


class PostMarks:
    def __init__(self) -> None:
        self.unfolded: set[str] = set()

    def fold_line(self, row: dict[str, Any]) -> str:
        """The line above the text, "" if none: why it is folded, or that it is held."""
        if row.get("held"):
            return "Waiting for a moderator's approval; only you and the moderators see it"
        if row.get("hidden"):
            return ""
        unfolded = row.get("id") in self.unfolded
        if row.get("reported_by_me"):
            return "You reported this message" + (
                " · click to fold" if unfolded else " · click to show"
            )
        if row.get("muted"):
            return "Muted" + (" · click to fold" if unfolded else " · click to show")
        return ""

    def folded(self, row: dict[str, Any]) -> bool:
        if row.get("hidden") or row.get("id") in self.unfolded:
            return False
        return bool(row.get("reported_by_me") or row.get("muted"))

    def toggle(self, row: dict[str, Any]) -> bool:
        """A click on the post: unfold or fold it again; False if it is not foldable."""
        if row.get("hidden") or not (row.get("reported_by_me") or row.get("muted")):
            return False
        post = str(row.get("id"))
        if post in self.unfolded:
            self.unfolded.discard(post)
        else:
            self.unfolded.add(post)
        return True

    def key(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return (self.fold_line(row), row.get("note"))

    # -- the note ----------------------------------------------------------------

    def note_height(self, row: dict[str, Any], font: QFont, width: int) -> int:
        note = row.get("note")
        if not note or self.folded(row):
            return 0
        fm = QFontMetrics(font)
        body = fm.boundingRect(
            QRect(0, 0, max(width - 2 * NOTE_PAD - 4, 40), 10_000),
            int(Qt.TextFlag.TextWordWrap),
            str(note),
        )
        return 6 + NOTE_PAD + fm.height() + 2 + body.height() + NOTE_PAD

    def paint_note(
        self,
        painter: QPainter,
        palette: QPalette,
        row: dict[str, Any],
        font: QFont,
        left: int,
        top: int,
        width: int,
    ) -> int:
        """Draw the note box from `top`; returns the y below it."""
        height = self.note_height(row, font, width)
        if not height:
            return top
        box = QRectF(left, top + 6, width, height - 6)
        accent = QColor(palette.color(QPalette.ColorRole.Highlight))
        tint = QColor(accent)
        tint.setAlpha(28)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(tint)
        painter.drawRoundedRect(box, 6, 6)
        painter.fillRect(QRectF(box.left(), box.top(), 3, box.height()), accent)
        fm = QFontMetrics(font)
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        x, y = box.left() + NOTE_PAD + 4, box.top() + NOTE_PAD
        painter.drawText(QPointF(x, y + fm.ascent()), NOTE_TITLE)
        painter.setFont(font)
        text_rect = QRectF(x, y + fm.height() + 2, box.width() - 2 * NOTE_PAD - 4, 10_000)
        painter.drawText(text_rect, int(Qt.TextFlag.TextWordWrap), str(row.get("note")))
        painter.restore()
        return top + height
