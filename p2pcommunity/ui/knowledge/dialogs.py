"""The knowledge dialogs: a new topic, a new page.

They follow ui/dialogs.py's `JobDialog` (one request, the node's error shown
in place). The limits checked here (title 1-200 characters, at most 5 tags,
the community's file size) are the node's own (`topic create`); checking them as the user types only
spares a round trip, the node checks them again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import JobDialog, show_error
from p2pcommunity.ui.files.attach import AttachList
from p2pcommunity.ui.knowledge.widgets import named

MAX_TITLE = 200
MAX_TAGS = 5
EDITORS = (("members", "All members"), ("moderators", "Moderators"), ("admins", "Admins"))


def required(dialog: NewTopicDialog | NewPageDialog, what: str) -> str:
    """The dialog's title, or "" having said that it needs one."""
    title = dialog.title.text().strip()
    if not title:
        show_error(dialog.error, f"give the {what} a title", "invalid")
    return title


def attach_row(attach: AttachList) -> QWidget:
    """The paperclip with the chips beside it, the refusal (over the limit ...) below."""
    row = QWidget()
    column = QVBoxLayout(row)
    column.setContentsMargins(0, 0, 0, 0)
    line = QHBoxLayout()
    line.addWidget(attach.button, 0, Qt.AlignmentFlag.AlignTop)
    line.addWidget(attach.chips, 1)
    column.addLayout(line)
    column.addWidget(attach.error)
    return row


def with_files(
    dialog: NewTopicDialog | NewPageDialog,
    client: ControlClient,
    text: QPlainTextEdit,
    title: QLineEdit,
) -> AttachList:
    """The dialog's "Files" row: the picker, files dropped anywhere on the dialog, images
    or files pasted into its text, and the node's progress while it prepares them.

    Ctrl+V in the title pastes text as always: a browser's copied image comes with text.
    """
    attach = AttachList(dialog)
    dialog.form.addRow("Files", attach_row(attach))
    attach.watch(text)
    attach.watch_drops(title)
    attach.watch_drops(dialog)
    attach.follow_uploads(client)
    dialog.rejected.connect(attach.clear)  # pasted images go with the dialog
    return attach


class FilesJobDialog(JobDialog):
    """A `JobDialog` whose request may carry files: they stay put while the node takes them."""

    attach: AttachList

    def _submit(self) -> None:
        self.attach.set_sending(True)
        super()._submit()
        if self.buttons.isEnabled():  # nothing was sent (a field is missing)
            self.attach.set_sending(False)

    def _on_failed(self, message: str, code: str) -> None:
        self.attach.set_sending(False)
        super()._on_failed(message, code)

    def _on_done(self, result: dict[str, Any]) -> None:
        self.attach.set_sending(False)
        self.attach.accept_sent()
        super()._on_done(result)


class NewTopicDialog(FilesJobDialog):
    created = Signal(str)  # topic id

    def __init__(
        self,
        client: ControlClient,
        community: str,
        channel: str,
        tags: list[str],
        qa: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(client, "Ask a question" if qa else "New topic", parent, ok_text="Post")
        self.setMinimumWidth(560)
        self.community, self.channel = community, channel
        self.title = named(QLineEdit(), "topicTitle", "Title")
        self.title.setMaxLength(MAX_TITLE)
        self.title.setPlaceholderText(
            "What is your question? Be specific." if qa else "What is it about?"
        )
        self.counter = QLabel()
        self.counter.setObjectName("counter")
        self.title.textChanged.connect(self._on_title_text_changed)
        self.body = named(QPlainTextEdit(), "topicBody", "Body")
        self.body.setPlaceholderText("Details (Markdown: **bold**, `code`, lists, > quotes)")
        self.body.setMinimumHeight(160)
        self.add_field("Title", self.title)
        self.form.addRow("", self.counter)
        self.add_field("Body", self.body)
        self.tags = QListWidget()
        self.tags.setObjectName("topicTags")
        self.tags.setAccessibleName(f"Tags (up to {MAX_TAGS})")
        self.tags.setMaximumHeight(110)
        for tag in tags:
            item = QListWidgetItem(f"#{tag}")
            item.setData(Qt.ItemDataRole.UserRole, tag)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.tags.addItem(item)
        self.tags.itemChanged.connect(self._on_tags_item_changed)
        if tags:
            self.form.addRow(f"Tags (up to {MAX_TAGS})", self.tags)
        else:
            none = QLabel("No tags yet (moderators create them).")
            none.setObjectName("muted")
            self.form.addRow("Tags", none)
        self.attach = with_files(self, client, self.body, self.title)
        self._on_title_text_changed(self.title.text())

    def chosen_tags(self) -> list[str]:
        return [
            str(self.tags.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.tags.count())
            if self.tags.item(i).checkState() == Qt.CheckState.Checked
        ]

    def _on_title_text_changed(self, text: str) -> None:
        n = len(text.strip())
        self.counter.setText(f"{len(text)}/{MAX_TITLE}")
        self.ok_button.setEnabled(0 < n <= MAX_TITLE)

    def _on_tags_item_changed(self, item: QListWidgetItem) -> None:
        if item.checkState() == Qt.CheckState.Checked and len(self.chosen_tags()) > MAX_TAGS:
            item.setCheckState(Qt.CheckState.Unchecked)
            show_error(self.error, f"a topic has at most {MAX_TAGS} tags", "invalid")

    def job(self) -> tuple[str, dict[str, Any]]:
        title = required(self, "topic")
        if title and not self.body.toPlainText().strip():
            show_error(self.error, "write what the topic is about in the body", "invalid")
            title = ""
        return ("topic create" if title else ""), {
            "community": self.community,
            "channel": self.channel,
            "title": title,
            "text": self.body.toPlainText().strip(),
            "tag": self.chosen_tags(),
        } | self.attach.params()

    def succeeded(self, result: dict[str, Any]) -> None:
        self.created.emit(str(result.get("post_id", "")))


class NewPageDialog(FilesJobDialog):
    created = Signal(str)  # page id

    def __init__(
        self, client: ControlClient, community: str, moderator: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(client, "New page", parent, ok_text="Create")
        self.setMinimumWidth(560)
        self.community = community
        self.title = named(QLineEdit(), "pageTitle", "Page title")
        self.title.setPlaceholderText("e.g. Getting started")
        self.text = named(QPlainTextEdit(), "pageText", "Page text")
        self.text.setPlaceholderText("# Heading\n\nMarkdown text")
        self.text.setMinimumHeight(200)
        self.editors = QComboBox()
        self.editors.setAccessibleName("Who may edit")
        for value, label in EDITORS:
            self.editors.addItem(label, value)
        self.editors.setEnabled(moderator)
        if not moderator:
            self.editors.setToolTip("Only moderators choose other editors than all members")
        self.add_field("Title", self.title)
        self.add_field("Text", self.text)
        self.form.addRow("Who may edit", self.editors)
        self.attach = with_files(self, client, self.text, self.title)
        # The limit is known before anything is picked (the topic dialog's comes with it).
        client.request(
            "community show", {"community": community}, on_result=self.attach.set_limit_from
        )

    def job(self) -> tuple[str, dict[str, Any]]:
        title = required(self, "page")
        return ("page create" if title else ""), {
            "community": self.community,
            "title": title,
            "text": self.text.toPlainText(),
            "editors": self.editors.currentData(),
        } | self.attach.params()

    def succeeded(self, result: dict[str, Any]) -> None:
        self.created.emit(str(result.get("page_id", "")))
