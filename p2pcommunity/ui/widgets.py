"""The main window's building blocks: timeline view, side panels, switcher.

Each widget shows models and reports what the user did as past-tense
signals; none talks to the node. The main window wires signals to requests.
`NotificationBanner` floats over the window instead of taking a place in a
layout: a notice that comes and goes must not move the timeline under the
reader's eyes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleEvent,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QKeyEvent,
    QPainter,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.composer import Composer
from p2pcommunity.ui.delegate import PostDelegate, peer_color
from p2pcommunity.ui.icons import icon_button
from p2pcommunity.ui.models import (
    AnyIndex,
    MemberListModel,
    MemberRole,
    NoAutoFetchProxy,
    PostListModel,
    TimelineModel,
)

# ------------------------------------------------------------------ timeline


class PostListView(QListView):
    """A list of posts drawn by `PostDelegate`, with per-pixel scrolling."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.post_delegate = PostDelegate(self)
        self.setItemDelegate(self.post_delegate)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setMouseTracking(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.verticalScrollBar().setSingleStep(24)

    def post_at(self, index: QModelIndex) -> dict[str, Any] | None:
        return index.data(PostListModel.ROW_ROLE) if index.isValid() else None

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()


class TimelineView(PostListView):
    """Newest at the bottom; follows new posts while at the bottom; pages back at the top.

    `reveal_post` scrolls to a post that may not be loaded yet: it pages back,
    one page per `older_loaded`, at most `REVEAL_PAGES` times, and emits
    `reveal_failed` when the post is not found within them.
    """

    REVEAL_PAGES = 40
    reveal_failed = Signal(str)  # post id

    def __init__(self, model: TimelineModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = model
        self._proxy = NoAutoFetchProxy(self)
        self._proxy.setSourceModel(model)
        self.setModel(self._proxy)
        self.setAccessibleName("Messages")
        self._at_bottom = True
        self._from_bottom = 0
        self._reveal: tuple[str, str] | None = None  # channel, post id
        self._reveal_pages = 0
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrollbar_value_changed)
        bar.rangeChanged.connect(self._on_scrollbar_range_changed)
        model.rowsAboutToBeInserted.connect(self._on_model_rows_about_to_be_inserted)
        model.loaded.connect(self._on_model_loaded)
        model.older_loaded.connect(self._on_model_older_loaded)

    @property
    def at_bottom(self) -> bool:
        """True while the user follows the newest post (scrolled to the end)."""
        return self._at_bottom

    def follow_bottom(self) -> None:
        """Follow the newest post again, as after the user's own post was sent."""
        self._at_bottom = True

    def _on_scrollbar_value_changed(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._at_bottom = value >= bar.maximum() - 4
        if value <= 120 and self.timeline.canFetchMore(QModelIndex()):
            self.timeline.fetchMore(QModelIndex())

    def _on_scrollbar_range_changed(self, _min: int, maximum: int) -> None:
        bar = self.verticalScrollBar()
        if self._from_bottom:
            bar.setValue(maximum - self._from_bottom)
            self._from_bottom = 0
        elif self._at_bottom:
            bar.setValue(maximum)

    def _on_model_rows_about_to_be_inserted(
        self, _parent: QModelIndex, first: int, _l: int
    ) -> None:
        bar = self.verticalScrollBar()
        if first == 0 and self.timeline.rowCount() and not self._at_bottom:
            self._from_bottom = max(bar.maximum() - bar.value(), 1)

    def _on_model_loaded(self) -> None:
        self._at_bottom = True
        QTimer.singleShot(0, self.scrollToBottom)
        QTimer.singleShot(0, self._try_reveal)

    def _on_model_older_loaded(self, _n: int) -> None:
        if self._reveal is not None:
            QTimer.singleShot(0, self._try_reveal)
        elif self.timeline.rowCount() and self.verticalScrollBar().maximum() == 0:
            # the page did not fill the view: keep paging back
            QTimer.singleShot(0, lambda: self._on_scrollbar_value_changed(0))

    def reveal_post(self, channel: str, post_id: str) -> None:
        """Scroll to `post_id` of `channel` (being loaded or loaded), paging back as needed."""
        self._reveal = (channel, post_id)
        self._reveal_pages = self.REVEAL_PAGES
        self._try_reveal()

    def _try_reveal(self) -> None:
        if self._reveal is None:
            return
        channel, post_id = self._reveal
        if self.timeline.channel != channel:
            self._reveal = None  # the user went elsewhere meanwhile
            return
        if self.timeline.loading:
            return  # loaded / older_loaded brings us back
        if self.scroll_to_post(post_id):
            self._reveal = None
            # once more after the inserted rows are laid out
            QTimer.singleShot(0, lambda: self.scroll_to_post(post_id))
            return
        if self._reveal_pages > 0 and self.timeline.canFetchMore(QModelIndex()):
            self._reveal_pages -= 1
            self.timeline.fetchMore(QModelIndex())
            return
        self._reveal = None
        self.reveal_failed.emit(post_id)

    def scroll_to_post(self, post_id: str) -> bool:
        row = self.timeline.row_of(post_id)
        if row < 0:
            return False
        index = self._proxy.index(row, 0)
        self._at_bottom = False
        self._from_bottom = 0
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.setCurrentIndex(index)
        return True


# ------------------------------------------------------------------ side panels


class CentreStack(QStackedWidget):
    """The chat page's centre: the channels' pane, then the community's own pages.

    Its minimum size is the shown page's, not the widest page's (a stack's
    default): a page's table must not make the window wider than a small screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.currentChanged.connect(lambda _: self.updateGeometry())

    def minimumSizeHint(self) -> QSize:
        current = self.currentWidget()
        return current.minimumSizeHint() if current is not None else super().minimumSizeHint()


class PanelHeader(QWidget):
    closed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 6, 8)
        self.title = QLabel(title)
        self.title.setObjectName("panelTitle")
        close = icon_button("close", f"Close {title.lower()}", "Close (Esc)")
        close.clicked.connect(self.closed.emit)
        layout.addWidget(self.title, 1)
        layout.addWidget(close)


class MemberDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        return QSize(option.rect.width(), QFontMetrics(option.font).height() * 2 + 14)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        rect = option.rect.adjusted(8, 2, -8, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, pal.color(QPalette.ColorRole.Midlight))
        peer = index.data(MemberRole.PEER_ID) or ""
        dark = QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
        d = rect.height() - 8
        avatar = rect.adjusted(0, 4, 0, 0)
        avatar.setSize(QSize(d, d))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(peer_color(peer, False))
        painter.drawEllipse(avatar)
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        f = QFont(option.font)
        f.setBold(True)
        painter.setFont(f)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(avatar, Qt.AlignmentFlag.AlignCenter, name[:1].upper())
        status = index.data(MemberRole.STATUS) or "offline"
        dot_color = {"online": "#30a46c", "timed_out": "#f5a524", "removed": "#e5484d"}.get(
            status, "#8b8d98"
        )
        dot = avatar.adjusted(d - 11, d - 11, 1, 1)
        painter.setPen(pal.color(QPalette.ColorRole.Base))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawEllipse(dot)
        painter.setBrush(QColor(dot_color))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(dot.adjusted(2, 2, -2, -2))
        fm = QFontMetrics(f)
        x = avatar.right() + 10
        text_color = pal.color(QPalette.ColorRole.Text)
        if status != "online":
            text_color = pal.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(peer_color(peer, dark) if status == "online" else text_color)
        painter.setFont(f)
        painter.drawText(x, rect.top() + 4 + fm.ascent(), name)
        role = index.data(MemberRole.ROLE) or "member"
        small = QFont(option.font)
        small.setPointSizeF(option.font.pointSizeF() * 0.85)
        painter.setFont(small)
        painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        words = index.data(MemberRole.STATUS_TEXT) or status  # "Timed out until 14:30"
        label = words if role == "member" else f"{role} · {words}"
        painter.drawText(x, rect.top() + 6 + fm.height() + QFontMetrics(small).ascent(), label)
        painter.restore()


class MembersPanel(QWidget):
    context_menu_requested = Signal(dict, object)  # member row, global pos

    def __init__(self, model: MemberListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = PanelHeader("Members")
        self.view = QListView()
        self.view.setModel(model)
        self.view.setItemDelegate(MemberDelegate(self.view))
        self.view.setAccessibleName("Members")
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_view_context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.view)

    def _on_view_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            row = index.data(MemberListModel.ROW_ROLE)
            self.context_menu_requested.emit(row, self.view.viewport().mapToGlobal(pos))


class ThreadPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root_id = ""
        self.header = PanelHeader("Thread")
        self.model, self.view = side_post_list(self, "Messages in the thread")
        self.composer = Composer()
        self.composer.set_placeholder("Reply in thread…")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.composer)


def side_post_list(owner: QObject, name: str) -> tuple[PostListModel, PostListView]:
    """Posts in a side panel (a thread, search results): every post with its header,
    no reply counts."""
    model = PostListModel(owner)
    model.group = False
    view = PostListView()
    view.post_delegate.show_replies = False
    view.setModel(model)
    view.setAccessibleName(name)
    return model, view


class SearchPanel(QWidget):
    searched = Signal(str)
    result_activated = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.header = PanelHeader("Search")
        self.field = QLineEdit()
        self.field.setPlaceholderText("Search this community…")
        self.field.setAccessibleName("Search this community")
        self.field.setClearButtonEnabled(True)
        self.field.returnPressed.connect(lambda: self.searched.emit(self.field.text().strip()))
        self.status = QLabel("")
        self.status.setObjectName("muted")
        self.model, self.view = side_post_list(self, "Search results")
        self.view.activated.connect(self._on_view_activated)
        self.view.clicked.connect(self._on_view_activated)
        box = QVBoxLayout()
        box.setContentsMargins(12, 0, 12, 6)
        box.addWidget(self.field)
        box.addWidget(self.status)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addLayout(box)
        layout.addWidget(self.view, 1)

    def _on_view_activated(self, index: QModelIndex) -> None:
        row = index.data(PostListModel.ROW_ROLE)
        if row:
            self.result_activated.emit(row)


# ------------------------------------------------------------------ Ctrl+K


class ChannelSwitcher(QDialog):
    """A quick filter over every channel of every community."""

    chosen = Signal(str, str)  # community id, channel id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Switch channel")
        self.setModal(True)
        self.resize(460, 360)
        self.field = QLineEdit()
        self.field.setPlaceholderText("Jump to a channel…")
        self.field.setAccessibleName("Channel name")
        self.list = QListWidget()
        self.list.setAccessibleName("Channels")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.addWidget(self.field)
        layout.addWidget(self.list)
        self.field.textChanged.connect(self._filter)
        self.field.returnPressed.connect(self._pick)
        self.list.itemActivated.connect(lambda _item: self._pick())
        self.field.installEventFilter(self)

    def set_entries(self, entries: list[tuple[str, str, str, str]]) -> None:
        """(community id, community name, channel id, channel name)."""
        self.list.clear()
        for cid, cname, chid, chname in entries:
            item = QListWidgetItem(f"#{chname}    ·  {cname}")
            item.setData(Qt.ItemDataRole.UserRole, (cid, chid))
            self.list.addItem(item)
        self._filter(self.field.text())

    def _filter(self, text: str) -> None:
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hidden = text.lower() not in item.text().lower()
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        if first is not None:
            self.list.setCurrentItem(first)

    def eventFilter(self, obj: object, event: object) -> bool:
        if (
            isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up)
        ):
            step = 1 if event.key() == Qt.Key.Key_Down else -1
            row = self.list.currentRow()
            for _ in range(self.list.count()):
                row = (row + step) % max(self.list.count(), 1)
                if not self.list.item(row).isHidden():
                    self.list.setCurrentRow(row)
                    break
            return True
        return super().eventFilter(obj, event)  # type: ignore[arg-type]

    def _pick(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            cid, chid = item.data(Qt.ItemDataRole.UserRole)
            self.chosen.emit(cid, chid)
            self.accept()

    def open_fresh(self) -> None:
        self.field.clear()
        self.open()
        self.field.setFocus()


# ------------------------------------------------------------------ notifications


class NotificationBanner(QFrame):
    """The in-window notice of a notification: near the top of `host`, for a while."""

    SHOW_MS = 10_000
    TOP = 56  # below the channel header, so its buttons stay reachable

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.setObjectName("notificationBanner")
        self.setAccessibleName("Notification")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setObjectName("panelTitle")
        self.text = QLabel()
        self.text.setObjectName("bannerText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        close = icon_button("close", "Dismiss notification")
        close.clicked.connect(self.hide)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        texts.addWidget(self.title)
        texts.addWidget(self.text)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 6, 8)
        layout.addLayout(texts, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.SHOW_MS)
        self._timer.timeout.connect(self.hide)
        host.installEventFilter(self)
        self.hide()

    def show_notification(self, title: str, text: str) -> None:
        self.title.setText(title)
        short = text if len(text) <= 160 else text[:159] + "…"
        self.text.setText(short)
        self.text.setVisible(bool(short))
        self.setAccessibleDescription(f"{title}: {short}")
        self._place()
        self.show()
        self.raise_()
        self._timer.start()
        QAccessible.updateAccessibility(QAccessibleEvent(self, QAccessible.Event.Alert))

    def _place(self) -> None:
        host = self.parentWidget()
        if host is None:
            return
        width = min(420, max(host.width() - 32, 200))
        self.setFixedWidth(width)
        self.adjustSize()
        self.move((host.width() - width) // 2, self.TOP)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return super().eventFilter(obj, event)
