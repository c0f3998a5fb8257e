"""The full image of an attachment, in a dialog sized to the screen; Save… from there.

Shown only once the whole image was fetched, checked and decoded within the
limits of images.py (transfers.py); the dialog draws a QImage already in
memory and never hands the file to another program.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.files.area import human_size


class ImageViewer(QDialog):
    save_wanted = Signal()

    def __init__(self, image: QImage, name: str, size: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(name)
        self.setAccessibleName(f"Image {name}")
        screen = QGuiApplication.primaryScreen()
        room = screen.availableSize() * 0.85 if screen is not None else QSize(1000, 700)
        shown = QPixmap.fromImage(image)
        if image.width() > room.width() or image.height() > room.height() - 80:
            shown = shown.scaled(
                QSize(room.width(), room.height() - 80),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.picture = QLabel()
        self.picture.setPixmap(shown)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setAccessibleName(name)
        scroll = QScrollArea()
        scroll.setWidget(self.picture)
        scroll.setWidgetResizable(True)
        scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        info = QLabel(f"{name} · {image.width()} × {image.height()} · {human_size(size)}")
        info.setObjectName("muted")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.save_button = QPushButton("Save…")
        self.save_button.setAccessibleName(f"Save {name}")
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.save_button.clicked.connect(self.save_wanted)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(info)
        layout.addWidget(buttons)
        self.resize(
            min(room.width(), max(shown.width() + 40, 360)),
            min(room.height(), shown.height() + 110),
        )
