"""Screenshots of issue 15 in the app: an image inline in the timeline, a file card downloading.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/files_screenshots.py

Two apps on two temporary data dirs (two real nodes on 127.0.0.1): Alice
posts a photo of the crag and a 20 MB guidebook; Bob's window is grabbed
with the photo inline (its signed thumbnail), then once more while the
guidebook downloads after a click on its card's Save (the save dialog is
answered by this script). Every node is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Its QApplication, spin/wait/call/start: the same steps as the timeline's shots.
from make_screenshots import LOCAL, OUT, call, qt, spin, start, tear_down, wait
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QCursor, QImage, QPainter, QPen, QRadialGradient
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog, QWidget

from p2pcommunity.ui.app import App
from p2pcommunity.ui.text_select import TextSelector
from p2pcommunity.ui.theme import apply_theme


def sunset(path: Path) -> Path:
    """A picture of a crag at dusk, drawn here (no stock photo in the repo)."""
    w, h = 1200, 800
    image = QImage(w, h, QImage.Format.Format_RGB32)
    p = QPainter(image)
    sky = QRadialGradient(w * 0.7, h * 0.35, w * 0.8)
    sky.setColorAt(0, QColor("#ffd27f"))
    sky.setColorAt(0.35, QColor("#f08a5d"))
    sky.setColorAt(1, QColor("#3b3b6d"))
    p.fillRect(image.rect(), sky)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#fff3d6"))
    p.drawEllipse(QPoint(int(w * 0.7), int(h * 0.38)), 70, 70)
    for color, points in (
        ("#5a4a6b", [(0, 560), (260, 300), (420, 420), (560, 240), (760, 520), (1200, 380)]),
        ("#2e2640", [(0, 680), (300, 470), (520, 600), (820, 430), (1200, 640)]),
    ):
        p.setBrush(QColor(color))
        p.drawPolygon([QPoint(x, y) for x, y in points] + [QPoint(w, h), QPoint(0, h)])
    p.setPen(QPen(QColor("#f7e3b5"), 3, Qt.PenStyle.DashLine))
    p.drawLine(560, 240, 520, 600)  # the route
    p.end()
    image.save(str(path))
    return path


def grab(widget: QWidget, name: str) -> None:
    widget.grab().save(str(OUT / name))
    print("wrote", OUT / name)


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-files-shots-"))
    apps = {name: App(tmp / name.lower(), LOCAL) for name in ("Alice", "Bob")}
    alice, bob = apps["Alice"], apps["Bob"]
    try:
        for name, app in apps.items():
            start(app, name)
        cid = str(call(alice, "community create", {"name": "Climbing club"})["community_id"])
        call(alice, "member add", {"community": cid, "peer": bob.peer_id})
        bootstrap = call(alice, "whoami", {})["addrs"][:1]
        call(bob, "join", {"community": cid, "bootstrap": bootstrap, "timeout": 30})
        alice.chat.refresh_communities(select=cid)
        wait(lambda: bool(alice.chat.channel), what="general")
        general = alice.chat.channel
        pic = sunset(tmp / "crag-at-dusk.png")
        guide = tmp / "guidebook-2026.zip"
        guide.write_bytes(b"PK\x03\x04" + os.urandom(20 * 1000 * 1000))

        def post(app: App, text: str, attach: list[Path] | None = None) -> None:
            params: dict[str, Any] = {"community": cid, "channel": general, "text": text}
            if attach:
                params["attach"] = [str(p) for p in attach]
            call(app, "post", params)

        post(bob, "Anyone up for the north face on Saturday?")
        post(alice, "Yes! This is how it looked last evening, the route is the dashed line", [pic])
        post(alice, "And the new guidebook, topos for all the sectors:", [guide])
        bob.chat.refresh_communities(select=cid)
        wait(
            lambda: sum(bool(r.get("attachments")) for r in bob.chat.timeline.rows()) == 2,
            60,
            "posts at Bob's",
        )
        alice.window.hide()  # it lies over Bob's window (no window manager places them)
        bob.window.raise_()
        bob.window.activateWindow()
        view = bob.chat.timeline_view
        view.follow_bottom()
        spin(1500)
        grab(bob.window, "files-inline.png")

        rows = bob.chat.timeline.rows()
        row = max(i for i, r in enumerate(rows) if r.get("attachments"))
        index = view.model().index(row, 0)
        (card,) = view.post_delegate.attachment_places(TextSelector(view).option_for(index), index)
        assert card.save is not None
        target = tmp / "saved-guidebook.zip"
        QFileDialog.getSaveFileName = staticmethod(lambda *a, **k: (str(target), ""))  # type: ignore[assignment]
        transfers = bob.chat.files.transfers
        cid_blob = str(card.att["cid"])
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=card.save.center())
        edit = bob.chat.composer.edit
        QCursor.setPos(edit.mapToGlobal(edit.rect().center()))  # no hover band in the shot
        QTest.mouseMove(edit, edit.rect().center())
        wait(lambda: 0.2 <= (transfers.fraction(cid_blob) or 0) <= 0.8, 120, "download")
        grab(bob.window, "files-progress.png")
        wait(lambda: target.exists(), 120, "saved")
        assert target.read_bytes() == guide.read_bytes()
    finally:
        stop_all(list(apps.values()))
        shutil.rmtree(tmp, ignore_errors=True)


def stop_all(apps: list[App]) -> None:
    """Shut every app down and wait (bounded) until its node has stopped."""
    for app in apps:
        app.shutdown()
    wait(lambda: not any(app.node.stopping for app in apps), 20, "nodes to stop")
    tear_down(apps)


if __name__ == "__main__":
    main()
