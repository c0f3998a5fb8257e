"""The community's wiki: a page list beside the page shown, or its editor.

A page is one multi-writer Automerge document in the node. Saving here sends
the whole edited text as `page edit`'s `text`, exactly what the CLI's
`page edit --file` does: the node turns it into a minimal splice from the page
as it is now to this text. Edits that peers make concurrently merge character
by character; but an edit saved on this node (or synced to it) while the user
was typing would be spliced away, so Save first compares the page's version
with the one the edit started from and, when they differ, asks. Who may edit (`editors`) is checked by the node and by every
peer; the Edit button only mirrors it, disabled with the reason. A page's files
show under its text; the editor attaches more (picker, drop, paste) and
detaches them, both sent with Save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.files.area import attachments_of, human_size
from p2pcommunity.ui.files.attach import AttachList
from p2pcommunity.ui.files.flow import FlowLayout
from p2pcommunity.ui.files.strip import AttachmentStrip
from p2pcommunity.ui.icons import icon
from p2pcommunity.ui.knowledge.dialogs import EDITORS, attach_row
from p2pcommunity.ui.knowledge.markdown import MarkdownView
from p2pcommunity.ui.knowledge.session import Session
from p2pcommunity.ui.knowledge.widgets import named
from p2pcommunity.ui.models import local_clock

if TYPE_CHECKING:
    from p2pcommunity.ui.files.controller import FilesController

ROLES_FOR = {
    "members": frozenset({"owner", "admin", "moderator", "member"}),
    "moderators": frozenset({"owner", "admin", "moderator"}),
    "admins": frozenset({"owner", "admin"}),
}


def may_edit(role: str, editors: str) -> bool:
    return role in ROLES_FOR.get(editors, frozenset())


class PageView(QWidget):
    """One page: read (Markdown), or edit (plain text); history and editors for moderators."""

    history_wanted = Signal(str, str)  # page id, title
    saved = Signal()
    editing_changed = Signal(bool)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.page: dict[str, Any] = {}
        self.base_version = ""  # the version an edit started from
        self.files: FilesController | None = None
        self.strip: AttachmentStrip | None = None
        self.title = QLabel()
        self.title.setObjectName("pageHeading")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.meta = QLabel()
        self.meta.setObjectName("muted")
        self.edit_button = QPushButton("Edit")
        self.edit_button.setObjectName("editPage")
        self.edit_button.clicked.connect(self.start_edit)
        self.history_button = QPushButton("History")
        self.history_button.setObjectName("pageHistory")
        self.history_button.clicked.connect(
            lambda: self.history_wanted.emit(self.page.get("id", ""), self.page.get("title", ""))
        )
        self.editors = QComboBox()
        self.editors.setObjectName("pageEditors")
        self.editors.setAccessibleName("Who may edit this page")
        for value, label in EDITORS:
            self.editors.addItem(f"Editors: {label.lower()}", value)
        self.editors.activated.connect(self._on_editors_activated)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.editors)
        head.addWidget(self.history_button)
        head.addWidget(self.edit_button)
        self.viewer = MarkdownView(scrolls=True)
        self.viewer.setObjectName("pageViewer")
        self.viewer.setAccessibleName("Page")
        self.viewer.setFrameShape(QFrame.Shape.NoFrame)
        self.viewer.document().setDocumentMargin(16)
        self.viewer.link_refused.connect(session.status_message)
        self.viewer.link_hovered.connect(session.status_message)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("pageEditor")
        self.editor.setAccessibleName("Page text (Markdown)")
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("savePage")
        self.save_button.clicked.connect(self.save)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.cancel_edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)
        # Files added while editing go with Save (`page edit --attach`).
        self.attach = AttachList(self)
        self.attach.watch(self.editor)
        self.attach.follow_uploads(session.client)
        editing = QWidget()
        el = QVBoxLayout(editing)
        el.setContentsMargins(0, 0, 0, 0)
        el.addWidget(self.editor, 1)
        # The page's files, each with a Detach (`page edit --detach CID`), also sent on Save.
        self.held = QWidget()
        self.held.setObjectName("pageFiles")
        self.held_row = FlowLayout(self.held)
        self.held_row.setContentsMargins(0, 0, 0, 0)
        self.detach: list[str] = []
        el.addWidget(self.held)
        el.addWidget(attach_row(self.attach))
        el.addLayout(buttons)
        reading = QWidget()
        self.reading_layout = QVBoxLayout(reading)
        self.reading_layout.setContentsMargins(0, 0, 0, 0)
        self.reading_layout.addWidget(self.viewer, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(reading)
        self.stack.addWidget(editing)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 12, 20, 12)
        layout.addLayout(head)
        layout.addWidget(self.meta)
        layout.addWidget(self.stack, 1)

    def use_files(self, files: FilesController) -> None:
        """Attachments open and save through the chat page's files (their controller)."""
        self.files = files

    def _show_attachments(self) -> None:
        if self.strip is not None:
            self.strip.setParent(None)
            self.strip.deleteLater()
            self.strip = None
        found = attachments_of(self.page)
        if found:
            self.strip = AttachmentStrip(found, self.files)
            self.reading_layout.addWidget(self.strip)

    @property
    def editing(self) -> bool:
        return self.stack.currentIndex() == 1

    def show_page(self, page_id: str) -> None:
        def done(result: dict[str, Any]) -> None:
            fresh = result.get("id") != self.page.get("id")
            self.page = result
            self._fill(fresh)

        self.session.ask("page show", {"page": page_id}, done)

    def _fill(self, fresh: bool) -> None:
        page = self.page
        self.title.setText(str(page.get("title", "")))
        editors = str(page.get("editors", "members"))
        contributors = [self.session.name_of(p) for p in page.get("contributors", [])]
        self.meta.setText(
            f"Version {page.get('version', '')} · by {', '.join(contributors) or 'nobody yet'}"
        )
        self.editors.setCurrentIndex(max(0, self.editors.findData(editors)))
        self.editors.setEnabled(self.session.moderator)
        self.editors.setToolTip("" if self.session.moderator else "Moderators choose who edits")
        allowed = may_edit(self.session.role, editors)
        self.edit_button.setEnabled(allowed)
        self.edit_button.setToolTip("" if allowed else f"Only {editors} may edit this page")
        if fresh or not self.editing:
            self.viewer.set_markdown(str(page.get("text", "")))
        self._show_attachments()
        if fresh:
            self.cancel_edit()

    def _fill_held(self) -> None:
        self.detach = []
        while (item := self.held_row.takeAt(0)) is not None:
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        found = attachments_of(self.page)
        for att in found:
            chip = QFrame()
            chip.setObjectName("attachmentChip")
            row = QHBoxLayout(chip)
            row.setContentsMargins(8, 2, 2, 2)
            name = str(att.get("name", ""))
            row.addWidget(QLabel(f"{name}  ·  {human_size(int(att.get('size') or 0))}"))
            detach = QToolButton()
            detach.setIcon(icon("close"))
            detach.setAutoRaise(True)
            for say in (detach.setText, detach.setAccessibleName, detach.setToolTip):
                say(f"Detach {name}")
            detach.clicked.connect(lambda _=False, c=att["cid"], w=chip: self._detach(c, w))
            row.addWidget(detach)
            self.held_row.addWidget(chip)
        self.held.setVisible(bool(found))

    def _detach(self, cid: str, chip: QWidget) -> None:
        if cid not in self.detach:
            self.detach.append(cid)
        chip.hide()

    def start_edit(self) -> None:
        self._fill_held()
        self.base_version = str(self.page.get("version", ""))
        self.editor.setPlainText(str(self.page.get("text", "")))
        self.stack.setCurrentIndex(1)
        self.edit_button.setEnabled(False)
        self.editor.setFocus()
        self.editing_changed.emit(True)

    def cancel_edit(self) -> None:
        self.attach.clear()
        self.stack.setCurrentIndex(0)
        self.edit_button.setEnabled(may_edit(self.session.role, self.page.get("editors", "")))
        self.editing_changed.emit(False)

    def save(self) -> None:
        """Save, unless the page changed since the edit began: then ask first (module doc)."""
        self.save_button.setEnabled(False)

        def checked(result: dict[str, Any]) -> None:
            if str(result.get("version", "")) == self.base_version:
                self._send()
                return
            self.save_button.setEnabled(True)
            self._ask_overwrite(result)

        self.session.ask("page show", {"page": self.page.get("id")}, checked, self._failed)

    def _ask_overwrite(self, current: dict[str, Any]) -> QMessageBox:
        box = named(QMessageBox(self), "pageChanged")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("The page changed")
        box.setText(
            "Someone saved this page while you were editing it. Saving yours now replaces"
            " the whole text, so their change would be undone."
        )
        overwrite = box.addButton("Save mine anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Keep editing", QMessageBox.ButtonRole.RejectRole)
        box.setDetailedText(str(current.get("text", "")))  # theirs, to copy from

        def finished(_result: int) -> None:
            if box.clickedButton() is overwrite:
                self.save_button.setEnabled(False)
                self._send()
            box.deleteLater()

        box.finished.connect(finished)
        box.open()
        return box

    def _send(self) -> None:
        page_id = str(self.page.get("id", ""))
        self.attach.set_sending(True)

        def done(_result: dict[str, Any]) -> None:
            self.save_button.setEnabled(True)
            self.attach.set_sending(False)
            self.attach.accept_sent()
            self.cancel_edit()
            self.show_page(page_id)
            self.saved.emit()
            self.session.status_message.emit("Page saved.")

        params = {"page": page_id, "text": self.editor.toPlainText()} | self.attach.params()
        if self.detach:
            params["detach"] = list(self.detach)
        self.session.ask("page edit", params, done, self._failed)

    def _failed(self, message: str, code: str) -> None:
        self.save_button.setEnabled(True)
        self.attach.set_sending(False)
        self.session.report_error(message, code)

    def _on_editors_activated(self, _index: int) -> None:
        value = self.editors.currentData()
        if value != self.page.get("editors"):
            self.session.write(
                "page editors",
                {"page": self.page.get("id"), "editors": value},
                f"Who may edit: {value}.",
            )


class PagesPane(QWidget):
    """The "Pages" entry of the sidebar: every page of the community, one shown."""

    new_page_wanted = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        title = QLabel("<b>Pages</b>")
        title.setObjectName("channelTitle")
        self.new_button = QPushButton("New page")
        self.new_button.setObjectName("newPage")
        self.new_button.clicked.connect(self.new_page_wanted.emit)
        header = QFrame()
        header.setObjectName("channelHeader")
        hl = QHBoxLayout(header)
        hl.setContentsMargins(16, 10, 10, 10)
        hl.addWidget(title, 1)
        hl.addWidget(self.new_button)
        self.list = QListWidget()
        self.list.setObjectName("pageList")
        self.list.setAccessibleName("Pages")
        self.list.setStyleSheet("QListWidget::item { padding: 6px 10px; }")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        self.list.currentItemChanged.connect(self._on_list_current_item_changed)
        self.view = PageView(session)
        self.view.saved.connect(self.refresh)
        # While a page is edited the list waits: choosing another page would drop the edit.
        self.view.editing_changed.connect(lambda on: self.list.setEnabled(not on))
        self.empty = QLabel("No pages yet. Guides, FAQs and resources live here.")
        self.empty.setObjectName("muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.right = QStackedWidget()
        self.right.addWidget(self.empty)
        self.right.addWidget(self.view)
        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.list)
        splitter.addWidget(self.right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(splitter, 1)

    def refresh(self, select: str = "") -> None:
        def done(result: dict[str, Any]) -> None:
            pages = list(result.get("pages", []))
            current = select or self._current_id()
            self.list.blockSignals(True)
            self.list.clear()
            for page in sorted(pages, key=lambda p: str(p.get("title", "")).lower()):
                item = QListWidgetItem(str(page.get("title", "")))
                item.setData(Qt.ItemDataRole.UserRole, page.get("id"))
                item.setToolTip(f"Updated {local_clock(page.get('updated'))}")
                self.list.addItem(item)
            self.list.blockSignals(False)
            row = next(
                (
                    i
                    for i in range(self.list.count())
                    if self.list.item(i).data(Qt.ItemDataRole.UserRole) == current
                ),
                0,
            )
            if self.list.count():
                self.list.setCurrentRow(row)
                self._on_list_current_item_changed(self.list.item(row), None)
            else:
                self.right.setCurrentWidget(self.empty)

        self.session.ask("page list", {}, done)

    def _current_id(self) -> str:
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _on_list_current_item_changed(
        self, item: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        if item is not None:
            self.right.setCurrentWidget(self.view)
            self.view.show_page(str(item.data(Qt.ItemDataRole.UserRole)))
