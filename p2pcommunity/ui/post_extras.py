"""What a post shows under its text: its context note (issue 16), then its attachments (issue 15).

`PostDelegate` asks here for the height they take, the boxes a click can
hit and their painting, always from the same `top` (the y under the text),
so what is drawn and what is clicked cannot drift apart. A collapsed post
(hidden, folded) shows no attachments.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from p2pcommunity.ui.files.area import AttachmentArea, Placed, attachments_of
from p2pcommunity.ui.files.transfers import Attachment
from p2pcommunity.ui.safety.marks import PostMarks


class UnderText:
    def __init__(self) -> None:
        self.files = AttachmentArea()  # ui/files/area.py draws attachments
        self.marks = PostMarks()  # folded (reported, muted) posts, context notes

    @staticmethod
    def attachments(row: dict[str, Any], collapsed: bool) -> list[Attachment]:
        return [] if collapsed else attachments_of(row)

    def files_top(self, row: dict[str, Any], font: QFont, top: int, width: int) -> int:
        """The y where attachments start: under the text (`top`) and the note."""
        return top + self.marks.note_height(row, font, width)

    def height(self, row: dict[str, Any], collapsed: bool, font: QFont, width: int) -> int:
        """The note's and the attachments' height together."""
        files = self.files.height(self.attachments(row, collapsed), width)
        return self.marks.note_height(row, font, width) + files

    def places(
        self,
        row: dict[str, Any],
        collapsed: bool,
        font: QFont,
        left: int,
        top: int,
        width: int,
    ) -> list[Placed]:
        """Each attachment's box (and a card's Save button) in view coordinates."""
        atts = self.attachments(row, collapsed)
        return self.files.place(atts, left, self.files_top(row, font, top, width), width)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        row: dict[str, Any],
        collapsed: bool,
        left: int,
        top: int,
        width: int,
    ) -> int:
        """Draw the note and the attachments from `top`; the y under them."""
        font = QFont(option.font)
        y = self.marks.paint_note(painter, option.palette, row, font, left, top, width)
        atts = self.attachments(row, collapsed)
        if atts:
            y = self.files.paint(painter, option, atts, left, y, width)
            painter.setFont(font)
        return y
