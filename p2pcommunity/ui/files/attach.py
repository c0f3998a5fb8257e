"""The composer's attachments: a paperclip, drops, pasted images, and a chip per file.

It is installed into a `Composer` from outside (the composer knows nothing
of files): a paperclip button goes next to Send, a row of chips above the
box. Files come from the picker, from a drop onto the box or the timeline,
or from Ctrl+V: a pasted image is written as a PNG into the data dir
(owner-only) and removed once the post is sent or its chip is removed.
Every file is checked against the community's limit (`community show`
says `max_file_size`) when it is added, so an over-limit file is refused
with a sentence before anything reaches the node; the node checks again.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QBoxLayout,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.files.area import human_size
from p2pcommunity.ui.files.flow import FlowLayout
from p2pcommunity.ui.files.transfers import upload_of
from p2pcommunity.ui.icons import icon, icon_button

MAX_FILES = 10  # as sync/blobs/manifest.py: MAX_ATTACHMENTS
DEFAULT_LIMIT = 25 * 1000**2
PASTE_DIR = "pasted"
LABEL_W = 260  # a chip's text, elided beyond


class AttachList(QObject):
    """A paperclip, a chip per chosen file and the sentence refusing one.

    Where the three widgets go is the owner's choice: a dialog puts them in a
    form row, `AttachTray` around a composer.
    """

    changed = Signal()
    upload_progressed = Signal(str)  # path: the node prepared more of it

    def __init__(
        self,
        parent: QObject | None = None,
        hint: str = "Attach files (or drop or paste them)",
        paste_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.paste_dir = paste_dir
        self.files: list[Path] = []
        self._pasted: set[Path] = set()
        self.limit = DEFAULT_LIMIT
        self.button = icon_button("attach", "Attach files", hint)
        self.button.setObjectName("attachButton")
        self.button.clicked.connect(self.pick)
        self.chips = QWidget()
        self.chips.setObjectName("attachmentChips")
        self._chip_row = FlowLayout(self.chips)
        self._chip_row.setContentsMargins(0, 2, 0, 2)
        self.chips.hide()
        self._parts: dict[Path, _ChipParts] = {}
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()

    # -- adding and removing -----------------------------------------------------

    def set_limit_from(self, info: dict[str, Any]) -> None:
        """The community's limit, from `community show`'s `max_file_size`."""
        limit = info.get("max_file_size")
        if isinstance(limit, int) and limit > 0:
            self.limit = limit

    def pick(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self.button.window(), "Attach files")
        if paths:
            self.add([Path(p) for p in paths])

    def add(self, paths: list[Path]) -> bool:
        """Attach `paths`, or none of them with the reason shown."""
        problem = self._problem(paths)
        if problem:
            self.error.setText(problem)
            self.error.show()
            return False
        self.error.hide()
        for path in paths:
            if path not in self.files:
                self.files.append(path.absolute())
                self._add_chip(path)
        self.chips.setVisible(bool(self.files))
        self.changed.emit()
        return True

    def _problem(self, paths: list[Path]) -> str:
        if len({*self.files, *paths}) > MAX_FILES:
            return f"A post can carry at most {MAX_FILES} files."
        for path in paths:
            if not path.is_file():
                return f"{path.name} is not a file (folders cannot be attached)."
            size = path.stat().st_size
            if size > self.limit:
                return (
                    f"{path.name} is {human_size(size)}; this community allows files up to "
                    f"{human_size(self.limit)}. Nothing was attached."
                )
        return ""

    def _add_chip(self, path: Path) -> None:
        chip = QFrame()
        chip.setObjectName("attachmentChip")
        chip.setProperty("path", str(path))
        column = QVBoxLayout(chip)
        column.setContentsMargins(8, 2, 2, 2)
        column.setSpacing(1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel(_chip_text(path, path in self._pasted))
        label.setMaximumWidth(LABEL_W)
        label.setToolTip(str(path))
        remove = QToolButton()
        remove.setIcon(icon("close"))
        remove.setText(f"Remove {path.name}")
        remove.setAccessibleName(f"Remove {path.name}")
        remove.setToolTip(f"Remove {path.name}")
        remove.setAutoRaise(True)
        remove.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        remove.clicked.connect(lambda: self.remove(path.absolute()))
        row.addWidget(label)
        row.addWidget(remove)
        bar = QProgressBar()
        bar.setObjectName("uploadProgress")
        bar.setRange(0, 1000)
        bar.setFixedHeight(4)
        bar.setTextVisible(False)
        bar.setAccessibleName(f"Preparing {path.name}")
        bar.hide()
        column.addLayout(row)
        column.addWidget(bar)
        self._chip_row.addWidget(chip)
        self._parts[path.absolute()] = _ChipParts(label, remove, bar)

    def chip_widgets(self) -> list[QFrame]:
        return [w for w in self.chips.findChildren(QFrame, "attachmentChip")]

    def remove(self, path: Path) -> None:
        if path in self.files:
            self.files.remove(path)
        self._parts.pop(path, None)
        for chip in self.chip_widgets():
            if chip.property("path") == str(path):
                chip.hide()
                chip.deleteLater()
        self._forget_pasted(path)
        self.chips.setVisible(bool(self.files))
        self.changed.emit()

    def _forget_pasted(self, path: Path) -> None:
        if path in self._pasted:
            self._pasted.discard(path)
            with contextlib.suppress(OSError):
                path.unlink()

    def clear(self) -> None:
        for path in list(self.files):
            self.remove(path)
        self.error.hide()

    # -- while the node prepares the files ----------------------------------------

    def follow_uploads(self, client: ControlClient) -> None:
        """Show the node's `blob_progress` "up" events (transfers.upload_of) on the chips."""
        client.notified.connect(self._on_client_notified)

    def set_sending(self, sending: bool) -> None:
        """A post with these files is on its way: they stay as they are until it is done.

        (A pasted image removed now would vanish under the node reading it.)
        """
        self.button.setEnabled(not sending)
        for path, parts in self._parts.items():
            parts.remove.setEnabled(not sending)
            if not sending:
                parts.bar.hide()
                parts.label.setMaximumWidth(LABEL_W)
                parts.label.setText(_chip_text(path, path in self._pasted))

    def _on_client_notified(self, method: str, params: dict[str, Any]) -> None:
        upload = upload_of(method, params)
        parts = None if upload is None else self._parts.get(Path(upload.path))
        if upload is None or parts is None:
            return
        parts.remove.setEnabled(False)
        parts.label.setMaximumWidth(LABEL_W + 120)  # room for "preparing 157 MB of 412 MB"
        parts.bar.setValue(round(upload.fraction * 1000))
        parts.bar.show()
        name = "Pasted image" if Path(upload.path) in self._pasted else Path(upload.path).name
        if upload.stored:
            parts.label.setText(f"{name}  ·  ready")
        else:
            parts.label.setText(
                f"{name}  ·  preparing {human_size(upload.done)} of {human_size(upload.size)}"
            )
        self.upload_progressed.emit(upload.path)

    # -- pasting and dropping ------------------------------------------------------

    def watch_drops(self, widget: QWidget) -> None:
        """Files dropped on `widget` (a scroll area: on its viewport) are attached."""
        target = widget.viewport() if hasattr(widget, "viewport") else widget
        widget.setAcceptDrops(True)
        target.setAcceptDrops(True)
        target.installEventFilter(self)

    def watch(self, widget: QWidget) -> None:
        """Drops on `widget`, and Ctrl+V of an image or of files in it, are attached."""
        widget.installEventFilter(self)
        self.watch_drops(widget)

    def paste_image(self, image: QImage) -> bool:
        folder = self.paste_dir or _private_paste_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # Several composers share the directory: a random part keeps names apart.
        path = folder / f"pasted-{stamp}-{os.getpid()}-{secrets.token_hex(4)}.png"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        if not image.save(str(path)):
            path.unlink()
            self.error.setText("The pasted image could not be saved.")
            self.error.show()
            return False
        self._pasted.add(path)
        if not self.add([path]):
            self._forget_pasted(path)
            return False
        return True

    def _paste(self) -> bool:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return False
        if mime.hasImage():
            image = QImage(mime.imageData())
            return not image.isNull() and (self.paste_image(image) or True)
        files = _local_files(mime)
        if files:
            self.add(files)
            return True
        return False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.matches(QKeySequence.StandardKey.Paste) and self._paste():
                return True
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDropEvent
        ):
            if _local_files(event.mimeData()):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            files = _local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                self.add(files)
                return True
        return super().eventFilter(obj, event)

    # -- sending -----------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        return {"attach": [str(p) for p in self.files]} if self.files else {}

    def accept_sent(self) -> None:
        """The node stored the post: its files are in the node; pasted copies go."""
        self.clear()


class AttachTray(AttachList):
    """The list installed into a `Composer`: drops, Ctrl+V, and Send with files alone."""

    def __init__(self, composer: Any, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent, "Attach files (or drop or paste them)", data_dir / PASTE_DIR)
        self.composer = composer
        self._install()

    def _install(self) -> None:
        layout: QBoxLayout = self.composer.layout()
        edit = self.composer.edit
        for i in range(layout.count()):
            item = layout.itemAt(i)
            row = item.layout() if item is not None else None
            if isinstance(row, QBoxLayout) and row.indexOf(edit) >= 0:
                row.insertWidget(row.indexOf(edit), self.button, 0, Qt.AlignmentFlag.AlignVCenter)
                layout.insertWidget(i, self.error)
                layout.insertWidget(i, self.chips)
                break
        self.composer.send_button.clicked.connect(self._on_send_button_clicked)
        self.watch(edit)

    def _send_files_alone(self) -> bool:
        c = self.composer
        if not self.files or c.edit.toPlainText().strip() or c.editing:
            return False
        if c.timed_out_until is not None:
            return False
        c.sent.emit("", c.reply_to)
        return True

    def _on_send_button_clicked(self) -> None:
        self._send_files_alone()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and obj is self.composer.edit
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers()
            in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
            and self._send_files_alone()
        ):
            return True
        return super().eventFilter(obj, event)


@dataclass(frozen=True)
class _ChipParts:
    label: QLabel
    remove: QToolButton
    bar: QProgressBar


def _chip_text(path: Path, pasted: bool = False) -> str:
    name = "Pasted image" if pasted else path.name  # its file name is a stamp
    try:
        return f"{name}  ·  {human_size(path.stat().st_size)}"
    except OSError:
        return path.name  # gone since it was attached: the node will say so


def _private_paste_dir() -> Path:
    """Where a surface with no data dir at hand (a dialog) writes pasted images: one
    owner-only directory per app process, removed when it exits."""
    global _PASTE_TEMP
    if _PASTE_TEMP is None:
        _PASTE_TEMP = Path(tempfile.mkdtemp(prefix="p2pcommunity-pasted-"))
        atexit.register(shutil.rmtree, _PASTE_TEMP, True)
    return _PASTE_TEMP


_PASTE_TEMP: Path | None = None


def _local_files(mime: Any) -> list[Path]:
    if mime is None or not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(u.isLocalFile() for u in urls):
        return []
    return [Path(u.toLocalFile()) for u in urls[: MAX_FILES + 1]]
