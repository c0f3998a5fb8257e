"""Wires the files feature into the chat page by one object, `FilesController(page)`.

The page's own modules stay as they were, apart from three hooks: the
`post` params of either composer (channel, thread) gain `attach`, a sent
post clears that composer's tray, and `community show` sets both trays'
size limit (the topic page's and the page editor's too, which take
their attachment clicks from here). The node's upload progress reaches the
composers' chips from the main client. Clicks on an attachment
come from the post delegates' `attachment_clicked`: an image opens (fetched
through the node, then shown in the viewer), a card's Save asks where with
a file dialog and saves there. Nothing is opened by another program.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QWidget

from p2pcommunity.ui.files.area import attachments_of
from p2pcommunity.ui.files.attach import AttachTray
from p2pcommunity.ui.files.transfers import Attachment, Transfers
from p2pcommunity.ui.files.viewer import ImageViewer

if TYPE_CHECKING:
    from p2pcommunity.ui.chat import ChatPage


class TransferIndicator(QWidget):
    """The status bar's "Transferring n files" with a busy bar, while any transfer runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setObjectName("muted")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setFixedSize(80, 10)
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("File transfer under way")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 8, 0)
        row.addWidget(self.label)
        row.addWidget(self.bar)
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Preferred)
        self.hide()

    def show_running(self, n: int) -> None:
        self.label.setText(f"⇅ Transferring {n} file{'s' if n != 1 else ''}")
        self.setVisible(n > 0)


class FilesController(QObject):
    def __init__(self, page: ChatPage) -> None:
        super().__init__(page)
        self.page = page
        data_dir = Path(page.settings.fileName()).parent
        self.transfers = Transfers(page.client, data_dir, self)
        self.tray = AttachTray(page.composer, data_dir, self)
        self.thread_tray = AttachTray(page.thread_panel.composer, data_dir, self)
        self.thread_tray.watch_drops(page.thread_panel.view)
        for tray in (self.tray, self.thread_tray):
            tray.follow_uploads(page.client)
        # The topic page and the wiki show and take files too (their modules say how).
        page.knowledge.topic.use_files(self)
        page.knowledge.pages.view.use_files(self)
        self.indicator = TransferIndicator()
        self.viewers: dict[str, ImageViewer] = {}
        self._opening: dict[str, Attachment] = {}
        self.tray.watch_drops(page.timeline_view)
        self.tray.watch_drops(page.empty_label)
        views = (page.timeline_view, page.thread_panel.view, page.search_panel.view)
        for view in views:
            view.post_delegate.files.transfers = self.transfers
            view.post_delegate.attachment_clicked.connect(self._on_delegate_attachment_clicked)
        self.transfers.changed.connect(self._on_transfers_changed)
        self.transfers.layout_changed.connect(self._on_transfers_layout_changed)
        self.transfers.running_changed.connect(self.indicator.show_running)
        self.transfers.image_ready.connect(self._on_transfers_image_ready)
        self.transfers.saved.connect(self._on_transfers_saved)
        self.transfers.failed.connect(page.report_error)

    def _views(self) -> tuple[Any, ...]:
        p = self.page
        return (p.timeline_view, p.thread_panel.view, p.search_panel.view)

    def _on_transfers_changed(self, _cid: str) -> None:
        for view in self._views():
            view.viewport().update()

    def _on_transfers_layout_changed(self) -> None:
        for view in self._views():
            view.post_delegate.invalidate()
            view.doItemsLayout()

    def find(self, post_id: str, cid: str) -> Attachment | None:
        for view in self._views():
            model = view.model()
            if model is not None and not hasattr(model, "rows") and hasattr(model, "sourceModel"):
                model = model.sourceModel()  # the timeline's proxy
            if model is None or not hasattr(model, "rows"):
                continue
            for row in model.rows():
                if row.get("id") == post_id:
                    for att in attachments_of(row):
                        if att["cid"] == cid:
                            return att
        return None

    def _on_delegate_attachment_clicked(self, post_id: str, kind: str, cid: str) -> None:
        att = self.find(post_id, cid)
        if att is None or not self.page.community:
            return
        if kind == "image":
            self.open_image(att)
        else:
            self.save_as(att)

    def open_image(self, att: Attachment) -> None:
        self._opening[str(att["cid"])] = att
        self.page.status_message.emit(f"Opening {att.get('name', 'the image')}…")
        self.transfers.open_image(self.page.community, att)

    def save_as(self, att: Attachment) -> None:
        name = str(att.get("name") or "file")
        start = str(Path.home() / name)
        path, _ = QFileDialog.getSaveFileName(self.page.window(), f"Save {name}", start)
        if path:
            self.transfers.save_to(self.page.community, att, Path(path))

    def _on_transfers_image_ready(self, cid: str) -> None:
        att = self._opening.pop(cid, None)
        image = self.transfers.image(cid)
        if att is None or image is None:
            return
        viewer = ImageViewer(image, str(att.get("name", "")), int(att.get("size") or 0))
        viewer.setParent(self.page.window(), Qt.WindowType.Dialog)
        viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewer.save_wanted.connect(lambda: self.save_as(att))
        viewer.finished.connect(lambda _result: self.viewers.pop(cid, None))
        self.viewers[cid] = viewer
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()  # Escape closes it, not the main window's panel

    def _on_transfers_saved(self, _cid: str, path: str) -> None:
        self.page.status_message.emit(f"Saved {path}")

    # -- the page's hooks --------------------------------------------------------

    def post_params(self) -> dict[str, Any]:
        return self.tray.params()

    def set_community_info(self, info: dict[str, Any]) -> None:
        self.tray.set_limit_from(info)
        self.thread_tray.set_limit_from(info)
        self.page.knowledge.topic.attach.set_limit_from(info)
        self.page.knowledge.pages.view.attach.set_limit_from(info)
