"""Screenshots of the app with a populated community, for the README.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1400x900x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/make_screenshots.py

Three apps on three temporary data dirs (three real nodes on 127.0.0.1):
Alice creates a community and invites Bob and Carol, everybody talks, then
Alice's window is grabbed in light and dark, plus the invite dialog and the
join flow. Every node is stopped at the end.
"""

from __future__ import annotations

import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

OUT = Path(__file__).resolve().parent
LOCAL = ["/ip4/127.0.0.1/tcp/0"]

qt = QApplication(sys.argv)

from p2pcommunity.ui.app import App  # noqa: E402
from p2pcommunity.ui.dialogs import InviteDialog  # noqa: E402
from p2pcommunity.ui.join import JoinDialog  # noqa: E402
from p2pcommunity.ui.theme import apply_theme  # noqa: E402


def tear_down(apps: list[App]) -> None:
    """Delete the apps' Qt objects now, while the QApplication lives.

    Left to the interpreter's exit they would be destroyed after it (module
    globals go in no fixed order), and Qt crashes there (a segfault at exit).
    """
    for app in apps:
        app.window.deleteLater()
        app.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def spin(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait(cond: Callable[[], bool], timeout: float = 45.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        spin(50)


def call(app: App, method: str, params: dict[str, Any]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    err: list[str] = []
    app.client.request(method, params, on_result=out.append, on_error=lambda m, c: err.append(m))
    wait(lambda: bool(out or err), 30, method)
    if err:
        raise RuntimeError(f"{method}: {err[0]}")
    return out[0]


def grab(widget: QWidget, name: str) -> None:
    spin(400)
    widget.grab().save(str(OUT / name))
    print("wrote", OUT / name)


def start(app: App, name: str) -> None:
    app.window.resize(1280, 800)
    app.window.show()
    app.start()
    if app.stage == "name":
        app.window.name_page.name.setText(name)
        app.window.name_page.button.click()
    wait(lambda: app.stage in ("welcome", "chat"), what=f"{name} ready")


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-shots-"))
    apps: list[App] = []
    try:
        alice, bob, carol = (App(tmp / n, LOCAL) for n in ("alice", "bob", "carol"))
        apps += [alice, bob, carol]
        start(alice, "Alice Martin")
        grab(alice.window, "welcome.png")
        start(bob, "Bob")
        start(carol, "Carol Nguyen")
        cid = call(
            alice,
            "community create",
            {"name": "Climbing club", "description": "Bouldering, trips and gear swaps"},
        )["community_id"]
        for name, topic in (("trips", "Weekend plans"), ("gear-swap", "Buy, sell, lend")):
            call(alice, "channel create", {"community": cid, "name": name, "topic": topic})
        try:
            call(alice, "rules set", {"community": cid, "text": RULES})
        except RuntimeError as exc:
            print("rules set:", exc)
        addr = call(alice, "whoami", {})["addrs"][0]
        for member in (bob, carol):
            call(alice, "member add", {"community": cid, "peer": member.peer_id})
            call(member, "join", {"community": cid, "bootstrap": [addr], "timeout": 30})
        call(alice, "role set", {"community": cid, "peer": carol.peer_id, "role": "moderator"})
        chat = [
            (alice, "Welcome everyone! This is our new home, no server involved 🎉"),
            (bob, "Nice! Is the Thursday session at the usual gym?"),
            (alice, "Yes, 7pm. Bring chalk, the new problems on the cave wall are slopey."),
            (carol, "I'm in. Anyone up for Fontainebleau the weekend after?"),
            (bob, f"@{carol.peer_id} count me in, I can drive two people."),
            (carol, "Great, I'll start a thread in #trips with the details."),
            (alice, "Reminder: the new route-setting schedule is pinned in the rules."),
        ]
        ids: list[str] = []
        for app, text in chat:
            ids.append(
                call(app, "post", {"community": cid, "channel": "general", "text": text})["post_id"]
            )
            time.sleep(0.05)
        wait(lambda: _count(alice, cid) >= len(chat), 30, "posts synced to alice")
        call(alice, "react", {"community": cid, "post": ids[0], "emoji": "🎉"})
        call(bob, "react", {"community": cid, "post": ids[0], "emoji": "🎉"})
        call(carol, "react", {"community": cid, "post": ids[0], "emoji": "❤️"})
        call(bob, "react", {"community": cid, "post": ids[2], "emoji": "👍"})
        call(
            carol,
            "post",
            {"community": cid, "channel": "general", "text": "Same here!", "reply_to": ids[1]},
        )
        call(
            alice,
            "post",
            {
                "community": cid,
                "channel": "general",
                "text": "It is, see you there.",
                "reply_to": ids[1],
            },
        )
        call(
            bob,
            "edit",
            {
                "community": cid,
                "post": ids[4],
                "text": f"@{carol.peer_id} count me in, I can drive two people (and the crash pads).",
            },
        )
        call(
            alice,
            "post",
            {"community": cid, "channel": "trips", "text": "Fontainebleau, 14–15 June"},
        )
        spin(2500)
        alice.chat.refresh_communities(select=cid)
        wait(
            lambda: alice.stage == "chat" and alice.chat.timeline.rowCount() >= len(chat),
            20,
            "alice timeline",
        )
        spin(1500)
        alice.chat.side.show()
        grab(alice.window, "main-light.png")
        apply_theme(qt, True)
        alice.window.update()
        grab(alice.window, "main-dark.png")
        apply_theme(qt, False)

        # thread panel
        alice.chat.open_thread(ids[1])
        spin(800)
        grab(alice.window, "thread.png")
        alice.chat.close_panel()

        # invite dialog
        dialog = InviteDialog(alice.client, cid, "Climbing club", alice.window)
        dialog.open()
        dialog._on_create_clicked()
        wait(lambda: dialog.code.isVisible() or dialog.error.isVisible(), 20, "invite")
        if dialog.code.isVisible():
            grab(dialog, "invite.png")
            code = dialog.code.toPlainText()
        else:
            print("invite dialog: ", dialog.error.text())
            code = ""
        dialog.close()

        # join flow, with a fourth member
        dave = App(tmp / "dave", LOCAL)
        apps.append(dave)
        start(dave, "Dave")
        grab(dave.window, "join-welcome.png")
        dave.open_join()
        join = dave.window.findChild(JoinDialog)
        assert join is not None
        join.code.setPlainText(code or cid)
        if not code:
            join.bootstrap.setText(addr)
        grab(join, "join-code.png")
        join._on_join_clicked()
        join.grab().save(str(OUT / "join-progress.png"))
        wait(lambda: join.stack.currentIndex() == join.RULES or not join.isVisible(), 40, "join")
        if join.isVisible():
            grab(join, "join-rules.png")
            join.rules_view.agree_button.click()
        wait(lambda: dave.stage == "chat", 20, "dave chat")
        spin(1500)
        grab(dave.window, "join-done.png")
    finally:
        for app in apps:
            app.shutdown()
        wait(lambda: not any(a.node.stopping for a in apps), 20, "nodes to stop")
        tear_down(apps)
        shutil.rmtree(tmp, ignore_errors=True)


def _count(app: App, cid: str) -> int:
    return len(call(app, "read", {"community": cid, "channel": "general", "limit": 50})["posts"])


RULES = """1. Be kind. Climbing is for everyone, whatever the grade.
2. Safety first: no beta-spraying on dangerous moves, always check your partner.
3. Gear swaps happen in #gear-swap only.
4. What is said here stays here."""


if __name__ == "__main__":
    main()
