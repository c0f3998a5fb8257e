"""Files on the knowledge side (issue 15): New topic by drop and paste, topic replies, wiki
pages, the node's upload progress on the chips, and `attachment keep` for a shown image.

Against a real node; only QFileDialog is replaced (files_helpers.pick_files). The upload
progress events are injected into the app's own client, in the node's shape (the
control API's `blob_progress`, direction "up" with the path being prepared).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QToolButton, QWidget

from p2pcommunity.ui.files.area import AttachmentArea
from p2pcommunity.ui.files.transfers import upload_of
from p2pcommunity.ui.knowledge.dialogs import NewPageDialog

from .files_helpers import photo, pick_files
from .test_app_flow import create_community
from .test_knowledge_topics import WAIT, click, make_qa_channel, open_dialog, started
from .test_two_apps import call


def drop(widget: QWidget, paths: list[Path]) -> None:
    """Drag `paths` onto `widget` (its viewport, if it scrolls) and drop them."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = widget.viewport() if hasattr(widget, "viewport") else widget
    for kind in (QDropEvent.Type.DragEnter, QDropEvent.Type.Drop):
        event = QDropEvent(
            QPointF(target.rect().center()),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            kind,
        )
        QApplication.sendEvent(target, event)
        assert event.isAccepted()


def paste_image(qtbot, edit: QWidget, picture: Path) -> None:
    QGuiApplication.clipboard().setImage(QImage(str(picture)))
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


def progress(path: Path, done: int, size: int, state: str = "preparing") -> dict:
    return {"community_id": "ab" * 32, "direction": "up", "path": str(path), "done": done} | {
        "size": size,
        "state": state,
    }


def test_new_topic_takes_dropped_and_pasted_files_and_a_reply_carries_files(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app = started(qtbot, make_app("alice"), "Alice")
    community = create_community(qtbot, app, "Climbing club")
    make_qa_channel(qtbot, app, "beta")
    click(qtbot, app.chat.knowledge.topics.new_button)
    dialog = open_dialog(qtbot, app)
    topo = tmp_path / "topo.pdf"
    topo.write_bytes(b"%PDF-1.4\n%north face\n")
    drop(dialog.body, [topo])
    assert dialog.attach.files == [topo]
    paste_image(qtbot, dialog.body, photo(tmp_path / "shot.png", 320, 200))
    assert dialog.body.toPlainText() == ""  # the image did not go into the text
    pasted = dialog.attach.files[1]
    assert pasted.name.startswith("pasted-") and (pasted.stat().st_mode & 0o077) == 0
    drop(dialog, [tmp_path / "shot.png"])  # anywhere on the dialog
    assert len(dialog.attach.files) == 3
    qtbot.keyClicks(dialog.title, "Which route on the north face?")
    qtbot.keyClicks(dialog.body, "Topo and a photo attached.")
    click(qtbot, dialog.ok_button)
    page = app.chat.knowledge.topic
    qtbot.waitUntil(lambda: bool(page.cards), timeout=WAIT)
    posts = call(qtbot, app, "thread", {"community": community, "post": page.topic_id})["posts"]
    names = [(a["name"], a["mime"]) for a in posts[0]["attachments"]]
    assert names[0] == ("topo.pdf", "application/pdf") and names[2] == ("shot.png", "image/png")
    assert names[1][0].startswith("pasted-") and names[1][1] == "image/png"
    assert not pasted.exists()  # the pasted copy went once the node had it
    strip = page.cards[0].strip
    assert strip is not None and [a["name"] for a in strip.attachments] == [n for n, _ in names]
    assert strip.isVisible() and strip.height() >= strip.heightForWidth(strip.width()) - 4

    # a reply: a picked file, a dropped one, and the text
    notes = tmp_path / "grades.txt"
    notes.write_text("6a 6b\n", encoding="utf-8")
    pick_files(monkeypatch, [notes])
    click(qtbot, page.attach.button)
    drop(page.reply_edit, [topo])
    assert page.attach.files == [notes, topo]
    qtbot.keyClicks(page.reply_edit, "see the grades")
    click(qtbot, page.reply_button)
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT)
    reply = call(qtbot, app, "thread", {"community": community, "post": page.topic_id})["posts"][1]
    assert reply["text"] == "see the grades"
    assert [a["name"] for a in reply["attachments"]] == ["grades.txt", "topo.pdf"]
    assert not page.attach.files and not page.attach.chips.isVisible()
    strip = page.cards[1].strip
    assert strip is not None and len(strip.places()) == 2
    assert all(p.save is not None for p in strip.places())  # cards with a Save button
    # a reply of files alone
    pick_files(monkeypatch, [notes])
    click(qtbot, page.attach.button)
    click(qtbot, page.reply_button)
    qtbot.waitUntil(lambda: len(page.cards) == 3, timeout=WAIT)


def test_a_wiki_page_takes_files_when_created_and_when_edited(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app = started(qtbot, make_app("alice"), "Alice")
    community = create_community(qtbot, app, "Rust learners")
    pane = app.chat.knowledge
    click(qtbot, pane.pages_button)
    click(qtbot, pane.pages.new_button)
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in app.window.findChildren(NewPageDialog)), timeout=WAIT
    )
    dialog = next(d for d in app.window.findChildren(NewPageDialog) if d.isVisible())
    qtbot.waitUntil(lambda: dialog.attach.limit == 25 * 1000**2, timeout=WAIT)
    qtbot.keyClicks(dialog.title, "Getting started")
    qtbot.keyClicks(dialog.text, "# Install")
    paste_image(qtbot, dialog.text, photo(tmp_path / "setup.png", 400, 300))
    assert len(dialog.attach.files) == 1
    click(qtbot, dialog.ok_button)
    view = pane.pages.view
    qtbot.waitUntil(lambda: view.page.get("title") == "Getting started", timeout=WAIT)
    (att,) = view.page["attachments"]
    assert att["mime"] == "image/png" and (att["width"], att["height"]) == (400, 300)
    assert view.strip is not None and view.strip.attachments == view.page["attachments"]
    assert view.strip.places()[0].save is None  # an image, inline

    click(qtbot, view.edit_button)
    cheat = tmp_path / "cheatsheet.txt"
    cheat.write_text("cargo build\n", encoding="utf-8")
    drop(view.editor, [cheat])
    assert view.attach.files == [cheat] and view.attach.chips.isVisible()
    click(qtbot, view.save_button)
    qtbot.waitUntil(lambda: len(view.page.get("attachments", [])) == 2, timeout=WAIT)
    shown = call(qtbot, app, "page show", {"community": community, "page": view.page["id"]})
    assert [a["name"] for a in shown["attachments"]][1] == "cheatsheet.txt"
    assert shown["text"] == "# Install"  # attaching kept the text
    assert view.strip is not None and len(view.strip.attachments) == 2
    assert not view.attach.files

    # detached in the editor: gone from the page, the image stays
    click(qtbot, view.edit_button)
    detach = next(
        b for b in view.held.findChildren(QToolButton) if b.text() == "Detach cheatsheet.txt"
    )
    click(qtbot, detach)
    assert not detach.isVisible()
    click(qtbot, view.save_button)
    qtbot.waitUntil(lambda: len(view.page.get("attachments", [])) == 1, timeout=WAIT)
    shown = call(qtbot, app, "page show", {"community": community, "page": view.page["id"]})
    assert [a["mime"] for a in shown["attachments"]] == ["image/png"]

    # an over-limit file is refused in the editor too, with the community's limit
    call(qtbot, app, "community set", {"community": community, "max_file_size": "1kB"})
    app.chat._refresh_info()
    qtbot.waitUntil(lambda: view.attach.limit == 1000, timeout=WAIT)
    click(qtbot, view.edit_button)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * 5000)
    pick_files(monkeypatch, [big])
    click(qtbot, view.attach.button)
    assert view.attach.error.isVisible() and view.attach.files == []


def test_upload_progress_shows_on_the_chip_and_in_the_status_bar(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app = started(qtbot, make_app("alice"), "Alice")
    create_community(qtbot, app, "Climbing club")
    files = app.chat.files
    video = tmp_path / "approach.mp4"
    video.write_bytes(b"\x00" * 4000)
    pick_files(monkeypatch, [video])
    click(qtbot, files.tray.button)
    assert len(files.tray.chip_widgets()) == 1
    parts = files.tray._parts[video]
    assert not parts.bar.isVisible() and parts.remove.isEnabled()

    client = app.chat.client
    client.notified.emit("blob_progress", progress(video, 1000, 4000))
    assert parts.bar.isVisible() and parts.bar.value() == 250
    assert parts.label.text() == "approach.mp4  ·  preparing 1.0 KB of 4.0 KB"
    assert not parts.remove.isEnabled()  # the node is reading it
    assert files.transfers.running() == 1 and files.indicator.isVisible()
    client.notified.emit("blob_progress", progress(tmp_path / "other.bin", 1, 9))
    assert parts.bar.value() == 250  # another composer's file
    client.notified.emit("blob_progress", progress(video, 4000, 4000, "stored"))
    assert parts.bar.value() == 1000 and parts.label.text() == "approach.mp4  ·  ready"
    assert files.transfers.running() == 1  # other.bin is still being prepared
    client.notified.emit("blob_progress", progress(tmp_path / "other.bin", 9, 9, "stored"))
    assert files.transfers.running() == 0 and not files.indicator.isVisible()
    files.tray.set_sending(False)  # the post failed: the chip is as before
    assert not parts.bar.isVisible() and parts.remove.isEnabled()
    assert parts.label.text() == "approach.mp4  ·  4.0 KB"

    # a peer fetching one of our blobs: the card says how much went
    cid = "bafyreib" + "a" * 52
    serving = {"community_id": "ab" * 32, "direction": "up", "cid": cid, "sending": True}
    client.notified.emit(
        "blob_progress",
        serving | {"state": "complete", "sent_chunks": 3, "total_chunks": 8, "size": 2_000_000},
    )
    area = AttachmentArea(files.transfers)
    assert area._progress_text(cid) == "Sending to members · 3 of 8 chunks sent"


def test_upload_of_reads_only_the_nodes_shape() -> None:
    good = progress(Path("/tmp/a.bin"), 5, 10)
    up = upload_of("blob_progress", good)
    assert up is not None and (up.path, up.done, up.size, up.stored) == ("/tmp/a.bin", 5, 10, False)
    assert up.fraction == 0.5
    assert upload_of("blob_progress", good | {"state": "stored"}).fraction == 1.0  # type: ignore[union-attr]
    for bad in (
        good | {"direction": "down"},
        good | {"state": "fetching"},
        good | {"done": -1},
        good | {"size": "10"},
        good | {"path": ""},
        good | {"path": "x" * 5000},
        {k: v for k, v in good.items() if k != "path"} | {"cid": "bafy"},
    ):
        assert upload_of("blob_progress", bad) is None
    assert upload_of("post_added", good) is None


def test_a_shown_image_is_kept_once_per_session(qtbot, make_app, tmp_path, monkeypatch) -> None:
    app = started(qtbot, make_app("alice"), "Alice")
    community = create_community(qtbot, app, "Climbing club")
    pic = photo(tmp_path / "crag.png", 300, 200)
    call(
        qtbot,
        app,
        "post",
        {"community": community, "channel": "general", "text": "crag", "attach": [str(pic)]},
    )
    app.chat.timeline.refresh()
    qtbot.waitUntil(
        lambda: any(r.get("attachments") for r in app.chat.timeline.rows()), timeout=WAIT
    )
    att = next(r for r in app.chat.timeline.rows() if r.get("attachments"))["attachments"][0]
    transfers = app.chat.files.transfers
    sent: list[tuple[str, dict]] = []
    request = transfers.client.request

    def spy(method, params=None, *args, **kwargs):
        sent.append((method, dict(params or {})))
        return request(method, params, *args, **kwargs)

    monkeypatch.setattr(transfers.client, "request", spy)
    keeps = lambda: [p for m, p in sent if m == "attachment keep"]  # noqa: E731
    transfers.thumb(att)  # the inline thumbnail is in the post: nothing to keep for it
    assert keeps() == []
    app.chat.files.open_image(att)
    qtbot.waitUntil(lambda: att["cid"] in app.chat.files.viewers, timeout=WAIT)
    assert keeps() == [{"community": community, "cid": att["cid"]}]
    app.chat.files.viewers[att["cid"]].close()
    transfers._images.clear()  # fetched and decoded again: still one keep
    app.chat.files.open_image(att)
    qtbot.waitUntil(lambda: transfers.image(att["cid"]) is not None, timeout=WAIT)
    assert len(keeps()) == 1
