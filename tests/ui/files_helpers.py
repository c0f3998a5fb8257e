"""Shared steps of the files tests: make files, pick them, click an attachment."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter
from PySide6.QtWidgets import QFileDialog

from p2pcommunity.ui.app import App
from p2pcommunity.ui.files.area import Placed
from p2pcommunity.ui.text_select import TextSelector


def photo(path: Path, width: int = 800, height: int = 500) -> Path:
    """A real PNG with a gradient and a dark band (so a thumbnail is not flat)."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    gradient = QLinearGradient(0, 0, width, height)
    gradient.setColorAt(0, QColor("#f4a259"))
    gradient.setColorAt(0.5, QColor("#5b8e7d"))
    gradient.setColorAt(1, QColor("#264653"))
    painter.fillRect(image.rect(), gradient)
    painter.setBrush(QColor("#f8f1e5"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(width * 2 // 3, height // 6, height // 4, height // 4)
    painter.setBrush(QColor("#1d3331"))
    painter.drawPolygon(
        [
            QPoint(0, height),
            QPoint(width // 3, height // 3),
            QPoint(width * 2 // 3, height),
            QPoint(width, height // 2),
            QPoint(width, height),
        ]
    )
    painter.end()
    assert image.save(str(path))
    return path


def bomb_png(path: Path, side: int = 60_000) -> Path:
    """A 1-bit side x side PNG of zeros: a few hundred KB that decode to gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" * (1 + (side + 7) // 8)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )
    return path


def pick_files(monkeypatch, paths: list[Path]) -> None:
    """The next file picker 'chooses' `paths` (the only test hook: QFileDialog)."""
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(p) for p in paths], ""))
    )


def choose_save_path(monkeypatch, path: Path) -> None:
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), ""))
    )


def places(qtbot, app: App, row: int) -> list[Placed]:
    view = app.chat.timeline_view
    index = view.model().index(row, 0)  # the view's model (a proxy over the timeline)
    view.scrollTo(index)
    qtbot.waitUntil(lambda: view.visualRect(index).width() > 300, timeout=10_000)
    option = TextSelector(view).option_for(index)
    return view.post_delegate.attachment_places(option, index)


def click(qtbot, app: App, point: QPoint) -> None:
    qtbot.mouseClick(app.chat.timeline_view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def row_with_attachment(app: App) -> int:
    rows = app.chat.timeline.rows()
    return next(i for i in range(len(rows) - 1, -1, -1) if rows[i].get("attachments"))
