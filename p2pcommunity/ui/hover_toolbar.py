"""The toolbar over a message: React, Reply, Unhide (moderators), More…, in reach of mouse and keys.

Right-clicking is the only way into a message's actions nobody can see, so a
small bar floats at the top right of the message under the mouse, and of the
keyboard's current message while the list (or the bar) has the focus. It is
one widget on the view's viewport that moves, not a widget per row: rows are
painted by a delegate, and a timeline holds thousands. It offers the same
actions as the right-click menu ("More…" opens that very menu) and only
reports what was chosen, as signals; the chat page connects them to
`ChatActions`. Buttons carry words, not emoji: they read the same without a
colour emoji font and to a screen reader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QMenu, QToolButton

from p2pcommunity.ui.actions import REACTIONS
from p2pcommunity.ui.models import PostListModel, PostRole

if TYPE_CHECKING:
    from p2pcommunity.ui.widgets import PostListView

MARGIN = 12


class HoverToolbar(QFrame):
    react_chosen = Signal(str, str)  # post id, emoji
    reply_clicked = Signal(dict)  # post row
    unhide_clicked = Signal(str)  # post id
    more_clicked = Signal(dict, QPoint)  # post row, where the menu opens (global)

    def __init__(self, view: PostListView, replies: bool = True) -> None:
        super().__init__(view.viewport())
        self.setObjectName("hoverToolbar")
        self.setAccessibleName("Message actions")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.view = view
        self.moderator = False
        """Set by the page from my role: moderators get Unhide on hidden posts."""
        self._hovered = QPersistentModelIndex()
        self._post: dict[str, Any] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        self.react_button = self._button("React", "Add a reaction")
        react_menu = QMenu(self.react_button)
        for emoji, name in REACTIONS:
            action = react_menu.addAction(f"{emoji}  {name}")
            action.triggered.connect(
                lambda _c=False, e=emoji: self.react_chosen.emit(self._post.get("id", ""), e)
            )
        self.react_button.setMenu(react_menu)
        self.react_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        # the menu arrow would sit over the word; the menu says what it is
        self.react_button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        self.reply_button = self._button("Reply", "Reply to this message")
        self.reply_button.clicked.connect(lambda: self.reply_clicked.emit(dict(self._post)))
        self.reply_button.setVisible(replies)
        self._replies = replies
        self.unhide_button = self._button("Unhide", "Unhide this message (moderation)")
        self.unhide_button.clicked.connect(
            lambda: self.unhide_clicked.emit(self._post.get("id", ""))
        )
        self.more_button = self._button("More…", "More actions")
        self.more_button.clicked.connect(self._on_more_clicked)
        for button in (self.react_button, self.reply_button, self.unhide_button, self.more_button):
            layout.addWidget(button)
        self.hide()

        view.entered.connect(self._on_view_entered)
        self._viewport: QObject = view.viewport()
        view.viewport().installEventFilter(self)
        view.selectionModel().currentChanged.connect(self.place)
        view.verticalScrollBar().valueChanged.connect(self.place)
        model = view.model()
        for signal in (
            model.rowsInserted,
            model.rowsRemoved,
            model.modelReset,
            model.layoutChanged,
            model.dataChanged,
        ):
            signal.connect(self._place_later)
        # One timer, a child: it dies with the bar, so no late call reaches a deleted bar.
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.setInterval(0)
        self._later.timeout.connect(self.place)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._later.start)

    def _button(self, text: str, name: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setAccessibleName(name)
        button.setToolTip(name)
        button.setAutoRaise(True)
        return button

    @property
    def post(self) -> dict[str, Any]:
        """The row the bar acts on (empty while hidden)."""
        return dict(self._post) if self.isVisible() else {}

    # ------------------------------------------------------------------ following

    def _on_view_entered(self, index: QModelIndex) -> None:
        self._hovered = QPersistentModelIndex(index)
        self.place()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and obj is self._viewport:
            self._hovered = QPersistentModelIndex()
            self._place_later()
        return False

    def _place_later(self, *_args: object) -> None:
        # after the view has laid out the rows that just changed
        self._later.start()

    def _target(self) -> QModelIndex:
        if self._hovered.isValid() and self.view.viewport().underMouse():
            return self.view.model().index(self._hovered.row(), 0)
        focus = QApplication.focusWidget()
        if focus is not None and (focus is self.view or self.isAncestorOf(focus)):
            return self.view.currentIndex()
        return QModelIndex()

    def place(self, *_args: object) -> None:
        """Show the bar over the hovered (else the keyboard's current) message, or hide it."""
        index = self._target()
        post = index.data(PostListModel.ROW_ROLE) if index.isValid() else None
        if not post or index.data(PostRole.KIND) == "notice":
            focus = QApplication.focusWidget()
            if focus is None or not self.isAncestorOf(focus):
                self.hide()
            return
        self._post = dict(post)
        hidden = bool(post.get("hidden"))
        self.unhide_button.setVisible(hidden and self.moderator)
        self.reply_button.setVisible(self._replies and not hidden)
        self.adjustSize()
        rect = self.view.visualRect(index)
        viewport = self.view.viewport().rect()
        x = max(rect.right() - self.width() - MARGIN, 0)
        y = min(max(rect.top() + 2, 0), max(viewport.bottom() - self.height(), 0))
        if rect.bottom() < 0 or rect.top() > viewport.bottom():
            self.hide()
            return
        self.move(x, y)
        self.show()
        self.raise_()

    def _on_more_clicked(self) -> None:
        pos = self.more_button.mapToGlobal(self.more_button.rect().bottomLeft())
        self.more_clicked.emit(dict(self._post), pos)
