"""Screenshots of attaching beyond the channel composer: a thread reply, a new topic.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/attach_screenshots.py

One app on a temporary data dir (a real node on 127.0.0.1): Alice asks in
#general and gets a reply, opens the thread and attaches a photo to her
answer (the shot is taken with the chip in the thread's reply box); then in
a Q&A channel she starts "Ask a question" with a file attached. The file
picker is answered by this script. The node is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

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
        grab(dialog, "files-new-topic.png")
        dialog.reject()
    finally:
        stop_all([alice])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
