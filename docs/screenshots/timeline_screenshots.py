"""Screenshots of the timeline's issue-13 parts: the hover toolbar and search results.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/timeline_screenshots.py

Two apps on two temporary data dirs (two real nodes on 127.0.0.1): Alice
creates a community with #general and #reading-now, Bob joins and talks,
then Alice's window is grabbed with the mouse over a message (the toolbar),
and with a search for "middle" open. Every node is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtGui import QCursor
from PySide6.QtTest import QTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Its helpers, and its QApplication (made when it is imported).
from make_screenshots import LOCAL, call, grab, qt, spin, start, tear_down, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.theme import apply_theme


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-shots-"))
    alice, bob = App(tmp / "alice", LOCAL), App(tmp / "bob", LOCAL)
    try:
        start(alice, "Alice")
        start(bob, "Bob")
        cid = call(alice, "community create", {"name": "Book club"})["community_id"]
        alice.chat.refresh_communities(select=cid)
        wait(lambda: bool(alice.chat.channel), what="general")
        general = alice.chat.channel
        reading = call(alice, "channel create", {"community": cid, "name": "reading-now"})
        reading_id = reading["channel_id"]
        call(alice, "member add", {"community": cid, "peer": bob.peer_id})
        addr = call(alice, "whoami", {})["addrs"][0]
        call(bob, "join", {"community": cid, "bootstrap": [addr], "timeout": 30})

        def post(app: App, channel: str, text: str) -> str:
            params = {"community": cid, "channel": channel, "text": text}
            return str(call(app, "post", params)["post_id"])

        first = post(alice, general, "Welcome to the book club! What is everyone reading?")
        answer = post(bob, general, "Halfway through Middlemarch. Dorothea deserves better.")
        post(alice, general, "@Bob the Casaubon chapters are a slog, but it gets so good.")
        call(bob, "react", {"community": cid, "post": first, "emoji": "👍"})
        call(alice, "react", {"community": cid, "post": answer, "emoji": "❤️"})
        post(bob, reading_id, "Middlemarch, book four. Lydgate is making every mistake.")
        post(alice, reading_id, "Next month: something shorter than Middlemarch, please")
        wait(lambda: len(alice.chat.timeline.rows()) >= 3, what="posts")
        alice.chat.on_community_changed(cid, "shots")
        spin(1500)

        bob.window.hide()  # it lies over Alice's window (no window manager places them)
        alice.window.raise_()
        alice.window.activateWindow()
        spin(300)
        view = alice.chat.timeline_view
        row = alice.chat.timeline.row_of(answer)
        # the real pointer (Xvfb warps it), as a person's mouse would be
        spot = view.visualRect(view.model().index(row, 0)).center()
        QCursor.setPos(view.viewport().mapToGlobal(spot))
        spin(300)
        QTest.mouseMove(view.viewport(), spot)
        wait(lambda: alice.chat.toolbars[0].isVisible(), 10, "toolbar")
        grab(alice.window, "hover-toolbar.png")

        alice.chat.open_search()
        alice.chat.search_panel.field.setText("middle")
        alice.chat.search("middle")
        wait(lambda: alice.chat.search_panel.model.rowCount() >= 3, 10, "results")
        QCursor.setPos(
            alice.chat.composer.edit.mapToGlobal(alice.chat.composer.edit.rect().center())
        )
        grab(alice.window, "search.png")
    finally:
        for app in (alice, bob):
            app.shutdown()
        wait(lambda: not alice.node.stopping and not bob.node.stopping, 20, "nodes to stop")
        tear_down([alice, bob])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
