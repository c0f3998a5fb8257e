"""Selecting a message's text with the mouse, and copying it with Ctrl+C.

Rows are painted by `PostDelegate`, so there is no text widget that would
select by itself. This filter on a post list's viewport turns a press on a
message's text and a drag into a `Selection` of that message's shown text
(`PostDelegate.char_at` maps points to characters with the same layout that
paints), and copies it on the platform's Copy key. A drag that selected
something is not also a click: its release is kept from the view, so a
search result does not jump away while its text is being selected. One
message at a time: the drag stays within the message it started in.

Links in a formatted post (issue 14) live here too, since this filter sees
the pointer: hovering one shows its full target in a tooltip, and a click
that selected nothing opens it through the delegate's `LinkGuard` (web and
mail links only; anything else is refused with a tooltip saying so, and the
delegate's `link_refused` carries the same sentence to the window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPointF, Qt, QUrl
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QStyleOptionViewItem, QToolTip

from p2pcommunity.ui.models import PostRole
from p2pcommunity.ui.post_text import Selection

if TYPE_CHECKING:
    from p2pcommunity.ui.widgets import PostListView


class TextSelector(QObject):
    def __init__(self, view: PostListView) -> None:
        super().__init__(view)
        self.view = view
        self.delegate = view.post_delegate
        self._dragging = False
        self._link = ""  # the link under the pointer, shown in the tooltip
        self._view_object: QObject = view
        self._viewport: QObject = view.viewport()
        view.viewport().installEventFilter(self)
        view.installEventFilter(self)

    def option_for(self, index: QModelIndex) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        option.rect = self.view.visualRect(index)
        option.font = self.view.font()
        option.palette = self.view.palette()
        return option

    def selected_text(self) -> str:
        selection = self.delegate.selection
        if selection is None:
            return ""
        index = self._index_of(selection.post_id)
        if not index.isValid():
            return ""
        return selection.text_of(self.delegate.shown(index)[0])

    def clear(self) -> None:
        if self.delegate.selection is not None:
            self.delegate.selection = None
            self.view.viewport().update()

    def _index_of(self, post_id: str) -> QModelIndex:
        model = self.view.model()
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            if index.data(PostRole.ID) == post_id:
                return index
        return QModelIndex()

    def _on_text(self, pos: QPointF) -> QModelIndex:
        index = self.view.indexAt(pos.toPoint())
        if index.isValid() and self.delegate.hit(self.option_for(index), index, pos)[0] == "text":
            return index
        return QModelIndex()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        # Only mouse and key events touch the view: others also come while it is
        # being destroyed, when its wrapper is already gone.
        if isinstance(event, QKeyEvent):
            copy = event.type() == QEvent.Type.KeyPress and event.matches(
                QKeySequence.StandardKey.Copy
            )
            text = self.selected_text() if copy and obj is self._view_object else ""
            if text:
                QGuiApplication.clipboard().setText(text)
            return bool(text)
        if not isinstance(event, QMouseEvent) or obj is not self._viewport:
            return False
        kind = event.type()
        pos = event.position()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            index = self._on_text(pos)
            if index.isValid():
                at = self.delegate.char_at(self.option_for(index), index, pos)
                self.delegate.selection = Selection(index.data(PostRole.ID), at, at)
                self._dragging = True
                self.view.viewport().update()
            else:
                self.clear()
            return False  # the view still makes it the current row
        if kind == QEvent.Type.MouseMove:
            return self._on_move(event, pos)
        if kind == QEvent.Type.MouseButtonRelease and self._dragging:
            self._dragging = False
            selection = self.delegate.selection
            if selection is not None and selection.span[1] > 0:
                return True
            return event.button() == Qt.MouseButton.LeftButton and self._click_link(event, pos)
        return False

    def link_at(self, pos: QPointF) -> str:
        index = self.view.indexAt(pos.toPoint())
        if not index.isValid():
            return ""
        return self.delegate.anchor_at(self.option_for(index), index, pos)

    def _click_link(self, event: QMouseEvent, pos: QPointF) -> bool:
        target = self.link_at(pos)
        if not target:
            return False
        refused: list[str] = []
        self.delegate.links.link_refused.connect(refused.append)
        try:
            self.delegate.links.open_link(QUrl(target))
        finally:
            self.delegate.links.link_refused.disconnect(refused.append)
        if refused:
            QToolTip.showText(event.globalPosition().toPoint(), refused[0], self.view.viewport())
        return True  # a link click is not also a click on the row

    def _on_move(self, event: QMouseEvent, pos: QPointF) -> bool:
        selection = self.delegate.selection
        if self._dragging and event.buttons() & Qt.MouseButton.LeftButton and selection:
            index = self._index_of(selection.post_id)
            if index.isValid():
                at = self.delegate.char_at(self.option_for(index), index, pos)
                self.delegate.selection = Selection(selection.post_id, selection.anchor, at)
                self.view.viewport().update(self.view.visualRect(index))
            return True  # not a drag over rows
        link = self.link_at(pos)
        if link != self._link:
            self._link = link
            if link:
                QToolTip.showText(event.globalPosition().toPoint(), link, self.view.viewport())
            else:
                QToolTip.hideText()
        if link:
            self.view.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        elif self._on_text(pos).isValid():
            self.view.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        else:
            self.view.viewport().unsetCursor()
        return False
