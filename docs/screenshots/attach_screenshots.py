"""Screenshots of attaching beyond the channel composer: a thread reply, a new topic.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/attach_screenshots.py

One app on a temporary data dir (a real node on 127.0.0.1): Alice asks in
#general and gets a reply, opens the thread and attaches a photo to her
answer (the shot is taken with the chip in the thread's reply box); then in
a Q&A channel she starts "Ask a question" with a file attached and a
screenshot pasted (Ctrl+V), posts it and answers with a file; last, a big
video in #general's composer while the node prepares it. The file picker
and the clipboard are filled by this script, and the upload progress is one
`blob_progress` event in the node's shape given to the app's client (the
node of this tree may prepare a file too fast to catch). The node is
stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from files_screenshots import stop_all, sunset
from make_screenshots import LOCAL, call, grab, qt, spin, start, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.knowledge.dialogs import NewTopicDialog
from p2pcommunity.ui.theme import apply_theme


def choose(paths: list[Path]) -> None:
    QFileDialog.getOpenFileNames = staticmethod(  # type: ignore[assignment]
        lambda *a, **k: ([str(p) for p in paths], "")
    )


def asked_and_answered(alice: App) -> tuple[str, str]:
    """A community whose #general holds a question with one reply: its id and the question's."""
    start(alice, "Alice")
    cid = str(call(alice, "community create", {"name": "Climbing club"})["community_id"])
    alice.chat.refresh_communities(select=cid)
    wait(lambda: bool(alice.chat.channel), what="general")
    said = {"community": cid, "channel": alice.chat.channel}
    root = call(alice, "post", {**said, "text": "Has anyone a photo of the crag?"})["post_id"]
    call(alice, "post", {**said, "text": "Not me", "reply_to": root})
    return cid, str(root)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-attach-shots-"))
    apply_theme(qt, False)
    alice = App(tmp / "alice", LOCAL)
    try:
        cid, root = asked_and_answered(alice)
        alice.chat.open_thread(root)
        wait(lambda: alice.chat.thread_panel.model.rowCount() == 2, what="thread")
        notes = tmp / "sector-notes.txt"
        notes.write_text("north face: 6a-7b\n", encoding="utf-8")
        choose([sunset(tmp / "crag-at-dusk.png"), notes])
        alice.chat.files.thread_tray.button.click()
        alice.chat.thread_panel.composer.edit.setPlainText("Here, from last evening")
        grab(alice.window, "files-thread-attach.png")

        call(alice, "channel create", {"community": cid, "name": "beta", "kind": "qa"})
        alice.chat.refresh_communities(select=cid)
        spin(800)
        channel = next(r for r in alice.chat.channels.rows() if r.get("name") == "beta")
        alice.chat.select_channel(str(channel["id"]))
        wait(lambda: alice.chat.knowledge.isVisible(), what="the Q&A channel")
        alice.chat.knowledge.open_new_topic()
        wait(lambda: alice.window.findChild(NewTopicDialog) is not None, what="the dialog")
        dialog = alice.window.findChild(NewTopicDialog)
        assert dialog is not None
        topo = tmp / "north-face-topo.pdf"
        topo.write_bytes(b"%PDF-1.4\n" + b"0" * 180_000)
        choose([topo, tmp / "crag-at-dusk.png"])
        dialog.attach.button.click()
        dialog.title.setText("Which line is the classic on the north face?")
        dialog.body.setPlainText("The topo and a photo are attached; is it the dashed line?")
        QGuiApplication.clipboard().setImage(QImage(str(tmp / "crag-at-dusk.png")).scaled(640, 400))
        dialog.body.setFocus()
        QTest.keyClick(dialog.body, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        grab(dialog, "files-new-topic.png")
        dialog.ok_button.click()
        topic = alice.chat.knowledge.topic
        wait(lambda: bool(topic.cards), what="the topic")
        choose([notes])
        topic.attach.button.click()
        topic.reply_edit.setPlainText("The notes say 6b+ for the dashed line.")
        topic.reply_button.click()
        wait(lambda: len(topic.cards) == 2, what="the reply")
        alice.chat.close_panel()
        spin(400)
        bar = topic.scroll_area.verticalScrollBar()
        bar.setValue(bar.maximum())
        grab(alice.window, "files-topic.png")

        alice.chat.select_channel(str(alice.chat.channels.rows()[0]["id"]))
        spin(600)
        call(alice, "community set", {"community": cid, "max_file_size": "2GB"})
        alice.chat.files.tray.limit = 2 * 1000**3  # as the next `community show` would say
        video = tmp / "approach-walk.mp4"
        with video.open("wb") as out:
            out.truncate(412 * 1000 * 1000)  # sparse: the size is what the chip shows
        tray = alice.chat.files.tray
        choose([video])
        tray.button.click()
        alice.chat.composer.edit.setPlainText("The approach walk, filmed on Sunday")
        event = {"community_id": cid, "direction": "up", "path": str(video)}
        alice.client.notified.emit(
            "blob_progress",
            event | {"done": 157 * 1000 * 1000, "size": 412 * 1000 * 1000, "state": "preparing"},
        )
        grab(alice.window, "files-upload-progress.png")
        tray.clear()
    finally:
        stop_all([alice])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
