"""A post's or a page's attachments as a widget, for the views that are widgets.

The timeline paints its rows (ui/delegate.py); the topic page and the wiki
are made of widgets, so they get this: the very painting and hit test of
area.py inside a `QWidget`, its height the area's for its width. Clicks go
to the `FilesController` (an image opens in the viewer, a card's Save asks
where), and it repaints when a transfer moves. Without a controller (no
chat page around it) it still draws the cards and thumbnails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QStyleOptionViewItem, QWidget

from p2pcommunity.ui.files.area import AttachmentArea, Placed
from p2pcommunity.ui.files.transfers import Attachment

if TYPE_CHECKING:
    from p2pcommunity.ui.files.controller import FilesController


class AttachmentStrip(QWidget):
    def __init__(
        self,
        attachments: list[Attachment],
        files: FilesController | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentStrip")
        self.attachments = attachments
        self.files = files
        self.area = AttachmentArea(files.transfers if files is not None else None)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setMouseTracking(True)
        self.setAccessibleName(
            "Attached: " + ", ".join(str(a.get("name", "")) for a in attachments)
        )
        if files is not None:
            files.transfers.changed.connect(self._on_transfers_changed)
            files.transfers.layout_changed.connect(self.updateGeometry)

    def _on_transfers_changed(self, cid: str) -> None:
        if any(a.get("cid") == cid for a in self.attachments):
            self.update()

    def places(self) -> list[Placed]:
        return self.area.place(self.attachments, 0, 0, self.width())

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self.area.height(self.attachments, width) + 4

    def sizeHint(self) -> QSize:
        return QSize(360, self.heightForWidth(360))

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.heightForWidth(200))

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        option = QStyleOptionViewItem()
        option.initFrom(self)
        option.font = self.font()
        self.area.paint(painter, option, self.attachments, 0, 0, self.width())
        painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        kind, _cid = AttachmentArea.hit(self.places(), event.position().toPoint())
        self.setCursor(Qt.CursorShape.PointingHandCursor if kind else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        kind, cid = AttachmentArea.hit(self.places(), event.position().toPoint())
        att = next((a for a in self.attachments if a.get("cid") == cid), None)
        if event.button() != Qt.MouseButton.LeftButton or att is None or self.files is None:
            super().mouseReleaseEvent(event)
            return
        if kind == "image":
            self.files.open_image(att)
        else:
            self.files.save_as(att)
