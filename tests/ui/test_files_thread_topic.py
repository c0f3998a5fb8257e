"""Attaching beyond the channel composer: the thread panel's reply box and "New topic".

Against a real node; only QFileDialog is replaced (files_helpers.pick_files).
The thread is opened by clicking its "1 reply →" link, files are picked with
the paperclip, and what arrives is read back with `thread`.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt

from p2pcommunity.ui.app import App
from p2pcommunity.ui.text_select import TextSelector

from .files_helpers import photo, pick_files
from .test_app_flow import send, timeline_texts
from .test_files_attach import MS, ready
from .test_knowledge_topics import click, make_qa_channel, open_dialog
from .test_two_apps import call


def click_replies_link(qtbot, app: App, row: int) -> None:
    """Click the "n replies →" under a timeline row (found with the delegate's own hit test)."""
    view = app.chat.timeline_view
    index = view.model().index(row, 0)
    view.scrollTo(index)
    qtbot.waitUntil(lambda: view.visualRect(index).width() > 300, timeout=MS)
    option = TextSelector(view).option_for(index)
    rect = view.visualRect(index)
    points = (
        QPoint(x, y)
        for y in range(rect.top(), rect.bottom(), 2)
        for x in range(rect.left() + 40, rect.left() + 160, 20)
    )
    hits = (p for p in points if view.post_delegate.hit(option, index, QPointF(p))[0] == "replies")
    point = next(hits, None)
    assert point is not None, "no replies link on the row"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def open_thread(qtbot, app: App, community: str, text: str, reply: str) -> str:
    """Post `text` and a `reply` to it, open its thread by its link; the root's id."""
    chat = app.chat
    send(qtbot, app, text)
    qtbot.waitUntil(lambda: text in timeline_texts(app), timeout=MS)
    root = chat.timeline.rows()[-1]["id"]
    call(
        qtbot,
        app,
        "post",
        {"community": community, "channel": "general", "text": reply, "reply_to": root},
    )
    chat.timeline.refresh()
    qtbot.waitUntil(lambda: reply in timeline_texts(app), timeout=MS)
    row = next(i for i, r in enumerate(chat.timeline.rows()) if r["id"] == root)
    click_replies_link(qtbot, app, row)
    panel = chat.thread_panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.model.rowCount() == 2, timeout=MS)
    return str(root)


def test_a_thread_reply_carries_its_files_and_the_limit_holds_there_too(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app, community = ready(qtbot, make_app)
    chat = app.chat
    root = open_thread(qtbot, app, community, "who has the topo?", "me")
    panel = chat.thread_panel

    tray = chat.files.thread_tray
    assert tray.button.isVisible() and tray.button.accessibleName() == "Attach files"
    assert tray is not chat.files.tray
    pic = photo(tmp_path / "topo.png", 400, 300)
    extra = tmp_path / "north-face-sector-notes.txt"
    extra.write_text("6a 6b\n", encoding="utf-8")
    pick_files(monkeypatch, [pic, extra])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    # the panel is narrow: the chips wrap onto a second line, each shown whole
    chips = tray.chip_widgets()
    qtbot.waitUntil(lambda: chips[1].geometry().top() > chips[0].geometry().top(), timeout=MS)
    assert all(c.width() >= c.sizeHint().width() for c in chips)
    qtbot.mouseClick(chips[1].findChild(type(tray.button)), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len([c for c in tray.chip_widgets() if c.isVisible()]) == 1)
    assert tray.files == [pic]
    assert tray.chips.isVisible() and not chat.files.tray.files  # the channel's tray is apart

    edit = panel.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "here it is")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=MS)
    assert not tray.files and not tray.chips.isVisible()
    posts = call(qtbot, app, "thread", {"community": community, "post": root})["posts"]
    reply = posts[-1]
    assert reply["text"] == "here it is" and reply["reply_to"] == root
    (att,) = reply["attachments"]
    assert (att["name"], att["mime"], att["width"], att["height"]) == (
        "topo.png",
        "image/png",
        400,
        300,
    )

    # a file alone: the Send button with an empty box
    notes = tmp_path / "grades.txt"
    notes.write_text("6a 6b 6c\n", encoding="utf-8")
    pick_files(monkeypatch, [notes])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=MS)
    posts = call(qtbot, app, "thread", {"community": community, "post": root})["posts"]
    assert [a["name"] for a in posts[-1]["attachments"]] == ["grades.txt"]

    # the community's limit reaches the thread's tray
    call(qtbot, app, "community set", {"community": community, "max_file_size": "1kB"})
    chat._refresh_info()  # as a community_changed refresh would
    qtbot.waitUntil(lambda: tray.limit == 1000, timeout=MS)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00\x01" * 2500)
    pick_files(monkeypatch, [big])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    assert tray.error.isVisible() and tray.error.text().startswith("big.bin is 5.0 KB")
    assert tray.files == [] and not tray.chip_widgets()


def test_a_new_topic_carries_its_files_within_the_communitys_limit(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    app, community = ready(qtbot, make_app)
    app.window.resize(1280, 800)
    call(qtbot, app, "community set", {"community": community, "max_file_size": "2kB"})
    make_qa_channel(qtbot, app, "beta")
    click(qtbot, app.chat.knowledge.topics.new_button)
    dialog = open_dialog(qtbot, app)
    attach = dialog.attach
    assert attach.limit == 2000  # from `community show`, before anything is picked
    assert attach.button.isVisible() and not attach.chips.isVisible()

    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * 5000)
    pick_files(monkeypatch, [big])
    click(qtbot, attach.button)
    assert attach.error.isVisible() and attach.error.text() == (
        "big.bin is 5.0 KB; this community allows files up to 2.0 KB. Nothing was attached."
    )
    assert attach.files == []

    topo = tmp_path / "topo.txt"
    topo.write_text("route 1: 6a\n", encoding="utf-8")
    sketch = tmp_path / "sketch.csv"
    sketch.write_text("route,grade\n1,6a\n", encoding="utf-8")
    pick_files(monkeypatch, [topo, sketch])
    click(qtbot, attach.button)
    assert not attach.error.isVisible()
    assert [c.property("path") for c in attach.chip_widgets()] == [str(topo), str(sketch)]
    remove = next(
        b
        for b in attach.chips.findChildren(type(attach.button))
        if b.accessibleName() == "Remove sketch.csv"
    )
    click(qtbot, remove)
    assert attach.files == [topo]

    qtbot.keyClicks(dialog.title, "Which route on the north face?")
    qtbot.keyClicks(dialog.body, "The topo is attached.")
    click(qtbot, dialog.ok_button)
    page = app.chat.knowledge.topic
    qtbot.waitUntil(lambda: bool(page.cards), timeout=MS)
    topic = page.cards[0].post
    assert topic.get("title") == "Which route on the north face?"
    posts = call(qtbot, app, "thread", {"community": community, "post": topic["id"]})["posts"]
    (att,) = posts[0]["attachments"]
    assert (att["name"], att["size"]) == ("topo.txt", topo.stat().st_size)


def test_a_refused_thread_reply_says_why_and_keeps_its_files(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    """A reply refused by the policy is said in words (not the node's code), and its
    files are neither lost nor locked: the tray is usable again for the next try."""
    app, community = ready(qtbot, make_app)
    chat = app.chat
    call(qtbot, app, "words add", {"community": community, "word": "scam", "action": "block"})
    root = open_thread(qtbot, app, community, "anyone selling ropes?", "ask Ana")
    panel = chat.thread_panel

    tray = chat.files.thread_tray
    pic = photo(tmp_path / "rope.png", 200, 100)
    pick_files(monkeypatch, [pic])
    qtbot.mouseClick(tray.button, Qt.MouseButton.LeftButton)
    edit = panel.composer.edit
    edit.setFocus()
    qtbot.keyClicks(edit, "that offer is a SC4M")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    status = app.window.statusBar()
    qtbot.waitUntil(lambda: "word the moderators blocked" in status.currentMessage(), timeout=MS)
    assert "blocked_word" not in status.currentMessage()
    assert tray.files == [pic] and tray.button.isEnabled()
    assert panel.model.rowCount() == 2
    posts = call(qtbot, app, "thread", {"community": community, "post": root})["posts"]
    assert [p["text"] for p in posts] == ["anyone selling ropes?", "ask Ana"]
