"""Screenshots of issue 14 in the app: a Q&A topic list, a topic, a wiki page and its history.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/knowledge_screenshots.py

Two apps on two temporary data dirs (two real nodes on 127.0.0.1): Alice
creates a community with a Q&A channel, tags and a guide page; Bob joins,
asks, answers and votes; Alice accepts an answer and edits the guide. The
views are then opened by clicks, as a person would, and grabbed. Every node
is stopped at the end.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

# The helpers (and the QApplication) of the timeline's screenshots: run from this folder.
from make_screenshots import LOCAL, call, grab, qt, spin, start, tear_down, wait
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from p2pcommunity.ui.app import App
from p2pcommunity.ui.knowledge.history import HistoryWindow
from p2pcommunity.ui.theme import apply_theme

GUIDE = """# Getting started

Welcome to the **Rust learners** wiki. Keep answers here short and *link* to
[the Rust book](https://doc.rust-lang.org/book/) where you can.

## Installing

1. Install `rustup` from your package manager or the website.
2. Run the toolchain installer:

```sh
rustup toolchain install stable
cargo new hello && cd hello
cargo run
```

## House rules

> Ask in **#help**, answer with code, and accept the answer that solved it.

- Be kind to beginners
- Paste errors as text, not screenshots
"""

QUESTION = """I get this when I push to a vector I am iterating over:

```
error[E0502]: cannot borrow `v` as mutable because it is also borrowed as immutable
```

What is the idiomatic fix?"""

ANSWER = """Collect what you want to add first, then extend after the loop:

```rust
let extra: Vec<i32> = v.iter().map(|x| x * 2).collect();
v.extend(extra);
```

The loop borrows `v` immutably; `extend` needs it mutably, so they cannot overlap."""


def stop_all(apps: list[App], tmp: Path) -> None:
    """Quit both apps, let their nodes stop (NodeProcess bounds that), remove the data dirs."""
    for app in apps:
        app.shutdown()
    stopping = [app.node for app in apps]
    wait(lambda: not any(node.stopping for node in stopping), 20, "the nodes to stop")
    tear_down(apps)
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-shots-"))
    alice, bob = App(tmp / "alice", LOCAL), App(tmp / "bob", LOCAL)
    try:
        for app, name in ((alice, "Alice"), (bob, "Bob")):
            start(app, name)
        cid = call(alice, "community create", {"name": "Rust learners"})["community_id"]
        alice.chat.refresh_communities(select=cid)
        wait(lambda: alice.chat.channel != "", what="general")
        help_id = call(alice, "channel create", {"community": cid, "name": "help", "kind": "qa"})[
            "channel_id"
        ]
        for tag in ("borrowing", "cargo", "async", "beginner"):
            call(alice, "tag create", {"community": cid, "name": tag})
        call(alice, "member add", {"community": cid, "peer": bob.peer_id})
        addr = call(alice, "whoami", {})["addrs"][0]
        call(bob, "join", {"community": cid, "bootstrap": [addr], "timeout": 30})

        def topic(app: App, title: str, text: str, tags: list[str]) -> str:
            params = {"community": cid, "channel": help_id, "title": title, "text": text}
            return str(call(app, "topic create", params | {"tag": tags})["post_id"])

        def seen(app: App, post: str) -> None:
            """Wait until `app`'s node has the post (synced from the other node)."""
            ok: list[bool] = []

            def ask() -> None:
                ok.clear()
                app.client.request(
                    "thread",
                    {"community": cid, "post": post},
                    on_result=lambda _r: ok.append(True),
                    on_error=lambda _m, _c: ok.append(False),
                )

            deadline = time.monotonic() + 30
            while True:
                ask()
                wait(lambda: bool(ok), 10, "thread")
                if ok[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"post {post} never synced")
                spin(200)

        def reply(app: App, to: str, text: str) -> str:
            seen(app, to)
            params = {"community": cid, "channel": help_id, "text": text, "reply_to": to}
            return str(call(app, "post", params)["post_id"])

        def vote(app: App, post: str, way: str = "up") -> None:
            seen(app, post)
            call(app, "vote", {"community": cid, "post": post, "direction": way})

        q1 = topic(
            alice,
            "Cannot borrow `v` as mutable inside a for loop",
            QUESTION,
            ["borrowing", "beginner"],
        )
        a1 = reply(bob, q1, "Iterate over indices instead: `for i in 0..v.len()`.")
        a2 = reply(bob, q1, ANSWER)
        vote(bob, q1)
        vote(alice, a2)
        vote(alice, a1, "down")
        call(alice, "accept", {"community": cid, "post": a2})
        q2 = topic(
            bob,
            "How do I add a local crate as a dependency?",
            "My workspace has two crates; `cargo build` cannot find the second.",
            ["cargo"],
        )
        reply(alice, q2, 'Use a path dependency: `mylib = { path = "../mylib" }`.')
        vote(alice, q2)
        call(alice, "accept", {"community": cid, "post": reply(bob, q2, "Thanks, that did it!")})
        topic(
            bob,
            "When should I reach for tokio instead of threads?",
            "I have a handful of blocking HTTP calls.",
            ["async"],
        )
        q4 = topic(
            alice,
            "Read this first: how to ask a good question",
            "Say what you tried, paste the **full** error.",
            ["beginner"],
        )
        call(alice, "pin", {"community": cid, "post": q4})
        page = call(
            alice,
            "page create",
            {
                "community": cid,
                "title": "Getting started",
                "text": GUIDE.replace("## House rules", "## Rules")
                .replace("your package manager or the website", "the website")
                .replace("Be kind", "Be nice"),
            },
        )
        wait(lambda: bool(call(bob, "page list", {"community": cid})["pages"]), 30, "page sync")
        call(bob, "page edit", {"community": cid, "page": page["page_id"], "text": GUIDE})
        call(alice, "page create", {"community": cid, "title": "FAQ", "text": "# FAQ\n"})
        alice.chat.on_community_changed(cid, "shots")
        spin(1500)

        bob.window.hide()  # it lies over Alice's window (no window manager places them)
        alice.window.raise_()
        alice.window.activateWindow()
        chat = alice.chat
        row = chat.channels.row_of(help_id)
        QTest.mouseClick(
            chat.channel_view.viewport(),
            Qt.MouseButton.LeftButton,
            pos=chat.channel_view.visualRect(chat.channels.index(row)).center(),
        )
        topics = chat.knowledge.topics
        wait(lambda: topics.model.rowCount() == 4, 20, "topics")
        chat.side.hide()
        grab(alice.window, "knowledge-topics.png")

        first = next(i for i, r in enumerate(topics.model.rows()) if r["id"] == q1)
        view = topics.view
        QTest.mouseClick(
            view.viewport(),
            Qt.MouseButton.LeftButton,
            pos=view.visualRect(topics.model.index(first)).center(),
        )
        page_view = chat.knowledge.topic
        wait(lambda: len(page_view.cards) == 3, 20, "topic")
        grab(alice.window, "knowledge-topic.png")

        QTest.mouseClick(chat.knowledge.pages_button, Qt.MouseButton.LeftButton)
        pages = chat.knowledge.pages
        wait(lambda: pages.view.page.get("title") == "FAQ" or pages.list.count() == 2, 20, "pages")
        pages.list.setCurrentRow(1)
        wait(lambda: pages.view.page.get("title") == "Getting started", 20, "guide")
        grab(alice.window, "knowledge-page.png")

        QTest.mouseClick(pages.view.history_button, Qt.MouseButton.LeftButton)
        history = alice.window.findChild(HistoryWindow)
        assert history is not None
        wait(lambda: history.table.rowCount() == 2, 20, "history rows")
        history.table.selectRow(1)  # Bob's edit: what it inserted and deleted
        wait(lambda: "House" in history.diff_view.toPlainText(), 20, "the diff")
        grab(history, "knowledge-history.png")
        apply_theme(qt, True)
        spin(300)
        grab(history, "knowledge-history-dark.png")
        apply_theme(qt, False)
    finally:
        stop_all([alice, bob], tmp)


if __name__ == "__main__":
    main()
