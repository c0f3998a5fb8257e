"""The app on an 800x600 screen, for the README (issue 13, item 6).

Run under Xvfb with a screen of exactly that size:

    xvfb-run -s "-screen 0 800x600x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/make_small_screens.py

One app on a temporary data dir (one real node on 127.0.0.1): a community with
a few messages, the main window at 800x600 (`small-800x600.png`) and the
invite dialog with a code, fitted to that screen (`invite-800x600.png`). The
node is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Its helpers, and its QApplication (made when it is imported).
from make_screenshots import LOCAL, call, grab, qt, spin, start, tear_down, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.dialogs import InviteDialog
from p2pcommunity.ui.theme import apply_theme


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-small-"))
    app = App(tmp / "alice", LOCAL)
    try:
        start(app, "Alice Martin")
        cid = call(app, "community create", {"name": "Climbing club"})["community_id"]
        call(app, "channel create", {"community": cid, "name": "trips", "topic": "Weekend plans"})
        for text in (
            "Welcome to the club! Read the rules, then say hello.",
            "Saturday: bouldering at the quarry, 10:00. Who is in?",
            "I can drive three people from the station.",
        ):
            call(app, "post", {"community": cid, "channel": "general", "text": text})
        app.chat.refresh_communities(select=cid)
        wait(lambda: app.stage == "chat" and len(app.chat.timeline.rows()) == 3, what="chat")
        app.window.resize(800, 600)
        app.window.move(0, 0)
        spin(800)
        grab(app.window, "small-800x600.png")
        dialog = InviteDialog(app.client, cid, "Climbing club", app.window)
        dialog.show()
        dialog.create_button.click()
        wait(lambda: bool(dialog.code.toPlainText()), 20, "invite")
        dialog.move(0, 0)
        spin(600)
        print(
            "invite dialog:", dialog.frameGeometry().width(), "x", dialog.frameGeometry().height()
        )
        grab(dialog, "invite-800x600.png")
        dialog.close()
    finally:
        app.shutdown()
        wait(lambda: not app.node.stopping, 20, "node stopped")
        tear_down([app])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
