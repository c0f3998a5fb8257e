"""Attaching in the real app, against a real node: picker, chips, paste, drop, the limit.

Only QFileDialog is replaced (files_helpers.pick_files); everything else is
clicks and keys on the window and the node's own answers.
"""

from __future__ import annotations

import resource

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from p2pcommunity.ui.app import App

from .conftest import start_with_name
from .files_helpers import bomb_png, click, photo, pick_files, places, row_with_attachment
from .test_app_flow import create_community, timeline_texts
from .test_two_apps import call

MS = 20_000


def ready(qtbot, make_app) -> tuple[App, str]:
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    community = create_community(qtbot, app, "Climbing club")
    app.window.show()
    qtbot.waitExposed(app.window)
    return app, community


def attachments(qtbot, app: App, community: str) -> list[dict]:
    posts = call(qtbot, app, "read", {"community": community, "channel": "general"})["posts"]
    return posts[-1]["attachments"] if posts else []


def test_picker_chips_and_send_post_files_with_and_without_text(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app, community = ready(qtbot, make_app)
    tray = app.chat.files.tray
    assert tray.button.accessibleName() == "Attach files" and not tray.button.icon().isNull()
    pic = photo(tmp_path / "crag.png")
    notes = tmp_path / "topo.txt"
    notes.write_text("route 1: 6a\n", encoding="utf-8")
    pick_files(monkeypatch, [pic, notes])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    assert [c.property("path") for c in tray.chip_widgets()] == [str(pic), str(notes)]
    assert tray.chips.isVisible()

    # remove one chip with its own button, by name
    remove = next(
        b
        for b in tray.chips.findChildren(type(tray.button))
        if b.accessibleName() == "Remove topo.txt"
    )
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len([c for c in tray.chip_widgets() if c.isVisible()]) == 1)
    assert tray.files == [pic]

    # a post of the image alone: Return in an empty box sends it
    edit = app.chat.composer.edit
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not tray.files, timeout=MS)
    qtbot.waitUntil(lambda: bool(attachments(qtbot, app, community)), timeout=MS)
    (att,) = attachments(qtbot, app, community)
    assert (att["name"], att["mime"], att["width"], att["height"]) == (
        "crag.png",
        "image/png",
        800,
        500,
    )
    assert att["local"] and att["thumb"]
    assert not tray.chips.isVisible()

    # text and a file together
    pick_files(monkeypatch, [notes])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(edit, "the topo")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "the topo" in timeline_texts(app), timeout=MS)
    (att,) = attachments(qtbot, app, community)
    assert (att["name"], att["mime"], att["size"]) == ("topo.txt", "text/plain", 12)

    # the timeline shows the image inline, from its thumbnail, and the file as a card
    qtbot.waitUntil(lambda: len(app.chat.timeline.rows()) == 2, timeout=MS)
    (image,) = places(qtbot, app, 0)
    assert image.save is None and image.box.width() == 360 and image.box.height() == 225
    assert app.chat.files.transfers.thumb(app.chat.timeline.rows()[0]["attachments"][0]) is not None
    (card,) = places(qtbot, app, 1)
    assert card.save is not None


def test_a_file_over_the_communitys_limit_is_refused_before_sending(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app, community = ready(qtbot, make_app)
    call(qtbot, app, "community set", {"community": community, "max_file_size": "1kB"})
    app.chat._refresh_info()  # as a community_changed refresh would
    tray = app.chat.files.tray
    qtbot.waitUntil(lambda: tray.limit == 1000, timeout=MS)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00\x01" * 2500)
    pick_files(monkeypatch, [big])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    assert tray.error.isVisible()
    assert tray.error.text() == (
        "big.bin is 5.0 KB; this community allows files up to 1.0 KB. Nothing was attached."
    )
    assert tray.files == [] and not tray.chip_widgets()
    assert call(qtbot, app, "storage", {})["blobs"] == 0


def test_a_pasted_image_is_attached_and_its_temp_file_removed_after_sending(
    qtbot, make_app, tmp_path
) -> None:
    app, community = ready(qtbot, make_app)
    from PySide6.QtGui import QImage

    QGuiApplication.clipboard().setImage(QImage(str(photo(tmp_path / "shot.png", 320, 200))))
    edit = app.chat.composer.edit
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    tray = app.chat.files.tray
    assert len(tray.files) == 1
    pasted = tray.files[0]
    assert pasted.parent == app.data_dir / "pasted" and pasted.is_file()
    assert (pasted.stat().st_mode & 0o077) == 0
    assert edit.toPlainText() == ""  # the image did not go into the text
    qtbot.keyClicks(edit, "error on screen")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "error on screen" in timeline_texts(app), timeout=MS)
    (att,) = attachments(qtbot, app, community)
    assert att["mime"] == "image/png" and (att["width"], att["height"]) == (320, 200)
    assert not pasted.exists()


def test_files_dropped_on_the_timeline_are_attached(qtbot, make_app, tmp_path) -> None:
    app, _community = ready(qtbot, make_app)
    doc = tmp_path / "map.pdf"
    doc.write_bytes(b"%PDF-1.4\n%meeting point\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(doc))])
    target = app.chat.timeline_stack.currentWidget()
    target = target.viewport() if hasattr(target, "viewport") else target
    point = QPointF(target.rect().center())
    for kind in (QDropEvent.Type.DragEnter, QDropEvent.Type.Drop):
        event = QDropEvent(
            point,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            kind,
        )
        QApplication.sendEvent(target, event)
        assert event.isAccepted()
    assert app.chat.files.tray.files == [doc]


def test_a_decompression_bomb_does_not_take_the_app_down(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app, _community = ready(qtbot, make_app)
    bomb = bomb_png(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 1_000_000  # 60000 x 60000 pixels
    pick_files(monkeypatch, [bomb])
    tray = app.chat.files.tray
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    edit = app.chat.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "look")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "look" in timeline_texts(app), timeout=MS)
    qtbot.waitUntil(lambda: bool(app.chat.timeline.rows()[-1].get("attachments")), timeout=MS)
    errors: list[str] = []
    app.chat.files.transfers.failed.connect(lambda m, _c: errors.append(m))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    row = row_with_attachment(app)
    (placed,) = places(qtbot, app, row)
    assert placed.save is None  # an image with no size: a placeholder to click
    click(qtbot, app, placed.box.center())
    qtbot.waitUntil(lambda: bool(errors), timeout=MS)
    assert "bomb.png cannot be shown" in errors[0]
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, grown_mb  # decoding it would take gigabytes
    (placed,) = places(qtbot, app, row)
    assert placed.save is not None  # shown as a file card from now on
    assert not app.chat.files.viewers
    assert not list((app.data_dir / "viewing").iterdir())  # the fetched copy is gone
    qtbot.keyClicks(edit, "still here")  # and the app goes on
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "still here" in timeline_texts(app), timeout=MS)
