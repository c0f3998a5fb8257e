"""Screenshot of formatted chat posts (issue 14): code block, list, link, quote, mention.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/formatting_screenshots.py

One app on a temporary data dir (one real node on 127.0.0.1): Alice creates
a community and posts a few messages written in Markdown, then her window is
grabbed. The node is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Its helpers, and its QApplication (made when it is imported).
from make_screenshots import LOCAL, call, grab, qt, spin, start, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.theme import apply_theme

POSTS = (
    "Trip checklist for **Saturday**, please read it before you pack:",
    "- chalk and *two* pairs of shoes\n- the crash pads (`pad-1`, `pad-2`)\n- water, lots",
    "The forecast script, if anyone wants to run it:\n\n"
    "```python\nfrom weather import forecast\nprint(forecast('Fontainebleau', days=2))\n```",
    "> Bring a headlamp, the walk back is in the dark.\n\nGood advice from last year.",
    "Topo and parking: [bleau.info](https://bleau.info/apremont) (ask me if it is down)",
    "See you all at 8, car park side.",
)


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-shots-"))
    alice = App(tmp / "alice", LOCAL)
    try:
        start(alice, "Alice")
        cid = call(alice, "community create", {"name": "Climbing club"})["community_id"]
        alice.chat.refresh_communities(select=cid)
        wait(lambda: bool(alice.chat.channel), what="general")
        for text in POSTS:
            call(alice, "post", {"community": cid, "channel": alice.chat.channel, "text": text})
        wait(lambda: len(alice.chat.timeline.rows()) >= len(POSTS), what="posts")
        spin(1000)
        grab(alice.window, "formatting.png")
    finally:
        alice.shutdown()
        wait(lambda: not alice.node.stopping, 20, "node to stop")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
