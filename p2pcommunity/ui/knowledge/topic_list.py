"""A forum or Q&A channel's front page: its topics, not a timeline.

The node sorts and filters (`topics --sort --filter --tag`, pinned first), so
the list shows exactly what every peer with the same data would list; this
view only asks again when a control changes or the community changes. Each
row is drawn by `TopicDelegate`: the vote total, the reply count (a filled
green box with a check mark once a question is solved), the title with a pin
when pinned, then tags and who asked when.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, cast

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.models import local_clock

SORTS = (("activity", "Latest activity"), ("votes", "Most votes"), ("new", "Newest"))
FILTERS = (("all", "All topics"), ("unanswered", "Unanswered"), ("solved", "Solved"))
SOLVED_GREEN = QColor("#18794e")
_Index = QModelIndex | QPersistentModelIndex


class TopicRole(IntEnum):
    ID = int(Qt.ItemDataRole.UserRole) + 1
    ROW = ID + 1


class TopicListModel(QAbstractListModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[dict[str, Any]] = []
        self.qa = False

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(row.get("title") or "")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return topic_summary(row, self.qa)
        if role == TopicRole.ID:
            return row.get("id")
        if role == TopicRole.ROW:
            return row
        return None

    def set_rows(self, rows: list[dict[str, Any]], qa: bool) -> None:
        self.beginResetModel()
        self._rows, self.qa = rows, qa
        self.endResetModel()

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)


def topic_summary(row: dict[str, Any], qa: bool) -> str:
    """One sentence per topic, for screen readers and tests."""
    parts = [str(row.get("title") or "")]
    if row.get("pinned"):
        parts.insert(0, "Pinned:")
    parts.append(f"{row.get('votes', 0)} votes, {row.get('replies', 0)} replies")
    if qa and row.get("solved"):
        parts.append("solved")
    if row.get("tags"):
        parts.append("tags " + ", ".join(row["tags"]))
    return "; ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{word}" if n == 1 else f"{word}s"


def pill_colors(pal: QPalette) -> tuple[QColor, QColor]:
    """A tag's background and text: a tint of the accent, light on light themes, deep on dark."""
    accent = pal.color(QPalette.ColorRole.Highlight)
    if pal.color(QPalette.ColorRole.Base).lightness() > 128:
        return accent.lighter(185), accent.darker(140)
    return accent.darker(260), accent.lighter(175)


class TopicDelegate(QStyledItemDelegate):
    HEIGHT = 64
    BOX = 58

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return QSize(option.rect.width(), self.HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        row: dict[str, Any] = index.data(TopicRole.ROW) or {}
        qa = bool(getattr(index.model(), "qa", False))
        pal = option.palette
        rect: QRect = option.rect
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            painter.fillRect(rect, pal.color(QPalette.ColorRole.AlternateBase))
        painter.setPen(pal.color(QPalette.ColorRole.Mid))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        text, muted = (
            pal.color(QPalette.ColorRole.Text),
            pal.color(QPalette.ColorRole.PlaceholderText),
        )
        x = rect.left() + 12
        votes = int(row.get("votes") or 0)
        self._box(
            painter,
            QRect(x, rect.top() + 8, self.BOX, 48),
            str(votes),
            plural(votes, "vote"),
            text,
            muted,
            None,
        )
        x += self.BOX + 8
        replies = int(row.get("replies") or 0)
        solved = qa and bool(row.get("solved"))
        label = plural(replies, "answer" if qa else "reply").replace("replys", "replies")
        self._box(
            painter,
            QRect(x, rect.top() + 8, self.BOX, 48),
            ("✓ " if solved else "") + str(replies),
            label,
            text,
            muted,
            SOLVED_GREEN if solved else None,
        )
        x += self.BOX + 14
        title_font = QFont(option.font)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.08)
        title_font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(title_font)
        painter.setPen(text)
        # ⚑, not 📌: text fonts (DejaVu Sans) have it, so it never draws as an empty box.
        title = ("⚑ " if row.get("pinned") else "") + str(row.get("title") or "")
        width = rect.right() - x - 12
        painter.drawText(
            QRect(x, rect.top() + 9, width, 24),
            Qt.AlignmentFlag.AlignVCenter,
            QFontMetrics(title_font).elidedText(title, Qt.TextElideMode.ElideRight, width),
        )
        small = QFont(option.font)
        small.setPointSizeF(small.pointSizeF() * 0.9)
        painter.setFont(small)
        metrics = QFontMetrics(small)
        tx = x
        for tag in row.get("tags") or []:
            w = metrics.horizontalAdvance(tag) + 14
            pill = QRect(tx, rect.top() + 37, w, 18)
            painter.setPen(Qt.PenStyle.NoPen)
            fill, ink = pill_colors(pal)
            painter.setBrush(fill)
            painter.drawRoundedRect(pill, 9, 9)
            painter.setPen(ink)
            painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, tag)
            tx += w + 6
        who = str(row.get("author_name") or "")
        meta = f"{who} · asked {local_clock(row.get('time'))}"
        if row.get("last_activity") and row.get("last_activity") != row.get("time"):
            meta += f" · active {local_clock(row.get('last_activity'))}"
        painter.setPen(muted)
        painter.drawText(
            QRect(tx + 4, rect.top() + 37, max(0, rect.right() - tx - 16), 18),
            Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(meta, Qt.TextElideMode.ElideRight, rect.right() - tx - 16),
        )
        painter.restore()

    def _box(
        self,
        painter: QPainter,
        box: QRect,
        number: str,
        label: str,
        text: QColor,
        muted: QColor,
        fill: QColor | None,
    ) -> None:
        painter.setPen(fill if fill is not None else Qt.PenStyle.NoPen)
        painter.setBrush(fill if fill is not None else Qt.BrushStyle.NoBrush)
        if fill is not None:
            painter.drawRoundedRect(box, 6, 6)
        font = painter.font()
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        painter.setFont(bold)
        painter.setPen(QColor("white") if fill is not None else text)
        painter.drawText(
            QRect(box.left(), box.top() + 4, box.width(), 22), Qt.AlignmentFlag.AlignCenter, number
        )
        small = QFont(font)
        small.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(small)
        painter.setPen(QColor("white") if fill is not None else muted)
        painter.drawText(
            QRect(box.left(), box.top() + 24, box.width(), 18), Qt.AlignmentFlag.AlignCenter, label
        )
        painter.setFont(font)


class TopicList(QWidget):
    """The topic list of one channel, with its sort, filters and "New topic"."""

    topic_opened = Signal(str)  # topic id
    new_topic_wanted = Signal()
    tags_wanted = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.channel = ""
        self.qa = False
        self.title = QLabel()
        self.title.setObjectName("channelTitle")
        self.new_button = QPushButton("New topic")
        self.new_button.setObjectName("newTopic")
        self.new_button.setDefault(True)
        self.new_button.clicked.connect(self.new_topic_wanted.emit)
        self.tags_button = QPushButton("Tags…")
        self.tags_button.setToolTip("Create and list the community's tags (moderators)")
        self.tags_button.clicked.connect(self.tags_wanted.emit)
        self.sort = _combo(SORTS, "Sort topics by")
        self.filter = _combo(FILTERS, "Show")
        self.tag = QComboBox()
        self.tag.setAccessibleName("Tag")
        self.tag.addItem("Any tag", "")
        for combo in (self.sort, self.filter, self.tag):
            combo.currentIndexChanged.connect(self.refresh)
        header = QFrame()
        header.setObjectName("channelHeader")
        top = QHBoxLayout(header)
        top.setContentsMargins(16, 10, 10, 10)
        top.addWidget(self.title, 1)
        top.addWidget(self.tags_button)
        top.addWidget(self.new_button)
        controls = QHBoxLayout()
        controls.setContentsMargins(16, 8, 16, 4)
        controls.setSpacing(8)
        for combo in (self.sort, self.filter, self.tag):
            controls.addWidget(combo)
        controls.addStretch(1)
        self.count = QLabel()
        self.count.setObjectName("muted")
        controls.addWidget(self.count)
        self.model = TopicListModel(self)
        self.view = QListView()
        self.view.setObjectName("topicList")
        self.view.setAccessibleName("Topics")
        self.view.setModel(self.model)
        self.view.setItemDelegate(TopicDelegate(self.view))
        self.view.setMouseTracking(True)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.activated.connect(lambda i: self.topic_opened.emit(i.data(TopicRole.ID)))
        self.view.clicked.connect(lambda i: self.topic_opened.emit(i.data(TopicRole.ID)))
        self.empty = QLabel()
        self.empty.setObjectName("muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addLayout(controls)
        layout.addWidget(self.stack, 1)

    def show_channel(self, channel: dict[str, Any]) -> None:
        self.channel = str(channel.get("id", ""))
        self.qa = channel.get("kind") == "qa"
        kind = "Q&A" if self.qa else "Forum"
        self.title.setText(f"<b># {channel.get('name', '')}</b> &nbsp;<small>{kind}</small>")
        self.new_button.setText("Ask a question" if self.qa else "New topic")
        solved = cast(QStandardItemModel, self.filter.model()).item(2)
        solved.setEnabled(self.qa)  # only questions are solved
        if not self.qa and self.filter.currentIndex() == 2:
            self.filter.setCurrentIndex(0)
        self.refresh()

    def refresh(self) -> None:
        if not self.channel:
            return
        self.tags_button.setVisible(self.session.moderator)
        channel = self.channel
        self.session.ask("tag list", {}, self._on_tags)
        params = {
            "channel": channel,
            "sort": self.sort.currentData(),
            "filter": self.filter.currentData(),
            "tag": self.tag.currentData() or None,
            "limit": 200,
        }

        def done(result: dict[str, Any]) -> None:
            if channel == self.channel:
                self._show(list(result.get("topics", [])))

        self.session.ask("topics", params, done)

    def _on_tags(self, result: dict[str, Any]) -> None:
        tags = [str(t) for t in result.get("tags", [])]
        current = self.tag.currentData()
        have = [self.tag.itemData(i) for i in range(1, self.tag.count())]
        if have == tags:
            return
        self.tag.blockSignals(True)
        self.tag.clear()
        self.tag.addItem("Any tag", "")
        for tag in tags:
            self.tag.addItem(f"#{tag}", tag)
        self.tag.setCurrentIndex(max(0, self.tag.findData(current)))
        self.tag.blockSignals(False)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.model.set_rows(rows, self.qa)
        self.count.setText(f"{len(rows)} {plural(len(rows), 'topic')}")
        filtering = self.filter.currentData() != "all" or bool(self.tag.currentData())
        if filtering:
            self.empty.setText("No topic matches these filters.")
        elif self.qa:
            self.empty.setText("No questions yet. Ask the first one!")
        else:
            self.empty.setText("No topics yet. Start the first one!")
        self.stack.setCurrentIndex(0 if rows else 1)


def _combo(choices: tuple[tuple[str, str], ...], name: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    for value, label in choices:
        combo.addItem(label, value)
    return combo
