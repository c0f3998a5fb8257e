"""The app's icon and its system tray entry (show, keep syncing, quit).

The tray exists only where the desktop has one; without it, closing the window
quits (there would be no way back to a hidden window).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon


def app_icon() -> QIcon:
    pixmap = QPixmap(128, 128)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#3e63dd"))
    painter.drawRoundedRect(QRectF(4, 4, 120, 120), 28, 28)
    painter.setBrush(QColor("#ffffff"))
    for x, y in ((40, 44), (88, 44), (64, 88)):
        painter.drawEllipse(QRectF(x - 13, y - 13, 26, 26))
    painter.setPen(QPen(QColor("#ffffff"), 6))
    painter.drawLine(40, 44, 88, 44)
    painter.drawLine(40, 44, 64, 88)
    painter.drawLine(88, 44, 64, 88)
    painter.end()
    return QIcon(pixmap)


class Tray(QObject):
    """The tray icon and its menu; `icon` is None where the desktop has no tray."""

    def __init__(
        self,
        keep_syncing: bool,
        show_window: Callable[[], None],
        set_keep_syncing: Callable[[bool], None],
        quit_app: Callable[[], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.icon: QSystemTrayIcon | None = None
        self._told = False
        self._show_window = show_window
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        icon = QSystemTrayIcon(app_icon(), self)
        icon.setToolTip("p2pcommunity")
        self.menu = QMenu()
        self.menu.addAction("Show p2pcommunity", show_window)
        self.keep_action = self.menu.addAction("Keep syncing when the window is closed")
        self.keep_action.setCheckable(True)
        self.keep_action.setChecked(keep_syncing)
        self.keep_action.toggled.connect(set_keep_syncing)
        self.menu.addSeparator()
        self.menu.addAction("Quit", quit_app)
        icon.setContextMenu(self.menu)
        icon.activated.connect(self._on_activated)
        icon.show()
        self.icon = icon

    def show_keep_syncing(self, on: bool) -> None:
        if self.icon is not None and self.keep_action.isChecked() != on:
            self.keep_action.setChecked(on)

    def tell_still_syncing(self) -> None:
        """Once per run: the window closed, the node syncs on, here is where it went."""
        if self.icon is None or self._told:
            return
        self._told = True
        self.icon.showMessage(
            "Still syncing",
            "p2pcommunity keeps syncing in the background. Quit from the tray icon.",
            app_icon(),
            5000,
        )

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._show_window()
