"""Screenshots of personal safety (issue 16): a muted channel in the sidebar, and the
"Mute words and channels" dialog with its blocked members.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/mute_screenshots.py

Three apps on temporary data dirs (three real nodes on 127.0.0.1): Alice owns
"Climbing club" with #gear and #offtopic, Bob and Carol are members. Alice posts
in both channels; Bob mutes #offtopic (dimmed, no badge, #gear keeps its badge),
mutes a word and blocks Carol. Every node is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_screenshots import LOCAL, call, grab, qt, spin, start, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.theme import apply_theme


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-mute-shots-"))
    apps = alice, bob, carol = tuple(App(tmp / n, LOCAL) for n in ("alice", "bob", "carol"))
    try:
        for app, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
            start(app, name)
        cid = call(alice, "community create", {"name": "Climbing club"})["community_id"]
        for channel in ("gear", "offtopic"):
            call(alice, "channel create", {"community": cid, "name": channel})
        addr = call(alice, "whoami", {})["addrs"][0]
        for member in (bob, carol):
            call(alice, "member add", {"community": cid, "peer": member.peer_id})
            call(member, "join", {"community": cid, "bootstrap": [addr], "timeout": 30})
            member.chat.refresh_communities(select=cid)
        alice.chat.refresh_communities(select=cid)
        wait(lambda: bool(bob.chat.channel), what="general")
        for channel, text in (("gear", "New rope in the club locker"), ("offtopic", "Cat pics!")):
            for _ in range(3):
                call(alice, "post", {"community": cid, "channel": channel, "text": text})
        call(carol, "post", {"community": cid, "channel": "general", "text": "Buy my ropes"})

        def unread(channel: str) -> int:
            listed = call(bob, "channel list", {"community": cid})["channels"]
            return int(next(c["unread"] for c in listed if c["name"] == channel))

        wait(lambda: unread("gear") == 3 and unread("offtopic") == 3, what="sync")
        call(bob, "channel mute", {"community": cid, "channel": "offtopic"})
        call(bob, "mute add", {"word": "spoilers"})
        call(bob, "block", {"peer": carol.peer_id})
        bob.chat.reload_timeline()
        bob.window.show()
        spin(1500)
        grab(bob.window, "safety-muted-channel.png")
        dialog = bob.chat.menus.safety.open_mutes()
        wait(lambda: dialog.blocked.count() == 1, what="blocked list")
        dialog.blocked.setCurrentRow(0)
        spin(500)
        grab(dialog, "safety-mutes-blocked.png")
        dialog.close()
    finally:
        for app in apps:
            app.shutdown()
        wait(lambda: not any(a.node.stopping for a in apps), 20, "nodes to stop")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
