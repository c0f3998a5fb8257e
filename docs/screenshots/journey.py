"""The issue-13 journey, one screenshot per step, into docs/screenshots/journey/.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/journey.py

Two apps on two temporary data dirs (two real nodes on 127.0.0.1). Alice: first
run -> create a community (typed into the dialog) -> invite. Bob: first run ->
pastes the code -> the rules, accepted -> posts. Alice mentions him by typing
"@Bob"; Bob mentions her back and her window shows the banner. Alice searches,
hides Bob's post as the admin, Bob sees it flagged, and both quit with Ctrl+Q
(Bob with a draft typed, still there when his app starts again). Every node is
stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit, QMessageBox, QWidget

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Its helpers, and its QApplication (made when it is imported).
from make_screenshots import LOCAL, call, qt, spin, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.dialogs import CreateCommunityDialog, InviteDialog
from p2pcommunity.ui.theme import apply_theme

OUT = Path(__file__).resolve().parent / "journey"
RULES = """1. Be kind: climbing is for everyone, whatever the grade.
2. Gear swaps happen in #gear-swap only.
3. What is said here stays here."""
STEP = [0]


def shot(widget: QWidget, name: str) -> None:
    STEP[0] += 1
    spin(500)
    path = OUT / f"{STEP[0]:02d}-{name}.png"
    widget.grab().save(str(path))
    print("wrote", path)


def first_run(app: App, name: str) -> None:
    app.window.resize(1280, 800)
    app.window.move(0, 0)
    app.window.show()
    app.start()
    wait(lambda: app.stage == "name", 20, f"{name}: name page")
    field = app.window.name_page.name
    field.setFocus()
    QTest.keyClicks(field, name)
    if name == "Alice":
        shot(app.window, "first-run")
    QTest.keyClick(field, Qt.Key.Key_Return)
    wait(lambda: app.stage in ("welcome", "chat"), what=f"{name} ready")


def front(app: App, other: App) -> None:
    other.window.hide()  # no window manager: the one in front is the one shown
    app.show_window()
    spin(300)


def send(app: App, text: str) -> None:
    edit = app.chat.composer.edit
    edit.setFocus()
    QTest.keyClicks(edit, text)
    popup = edit.completer.popup()
    if popup.isVisible():  # the text goes as typed; the list of names is not used
        popup.hide()
    QTest.keyClick(edit, Qt.Key.Key_Return)


def press_quit(app: App) -> None:
    """Ctrl+Q; the menu's Quit if the shortcut did not reach the window."""
    asked = []
    app.window.quit_requested.connect(lambda: asked.append(True))
    target = QApplication.focusWidget() or app.window
    QTest.keyClick(target, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    spin(500)
    if not asked:
        print("Ctrl+Q did not reach the window (no window manager?): Community > Quit")
        quit_action = next(a for a in app.window.findChildren(QAction) if a.text() == "&Quit")
        quit_action.trigger()


def status_of(app: App, peer: str) -> str:
    for row in app.chat.members.rows():
        if row.get("peer_id") == peer:
            return str(row.get("status", ""))
    return ""


def row_with(app: App, text: str) -> dict[str, Any] | None:
    for row in app.chat.timeline.rows():
        if text in str(row.get("text", "")):
            return row
    return None


def main() -> None:
    apply_theme(qt, False)
    OUT.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-journey-"))
    alice, bob = App(tmp / "alice", LOCAL), App(tmp / "bob", LOCAL)
    apps = [alice, bob]
    try:
        # 1. first run: the name page, then the welcome
        first_run(alice, "Alice")
        shot(alice.window, "welcome")

        # 2. create a community, typed into the dialog
        alice.window.welcome.findChild(QWidget, "createButton").click()
        wait(lambda: alice.window.findChild(CreateCommunityDialog) is not None, 10, "create")
        create = alice.window.findChild(CreateCommunityDialog)
        QTest.keyClicks(create.name, "Climbing club")
        QTest.keyClicks(create.description, "Bouldering, trips and gear swaps")
        shot(create, "create")
        QTest.keyClick(create.description, Qt.Key.Key_Return)
        wait(lambda: alice.stage == "chat" and bool(alice.chat.channel), 20, "alice chat")
        cid = alice.chat.community
        call(alice, "rules set", {"community": cid, "text": RULES})
        send(alice, "Welcome to the climbing club! Thursday, 7pm at the usual gym.")
        wait(lambda: row_with(alice, "Welcome to the climbing") is not None, 20, "post")
        shot(alice.window, "community")

        # 3. invite
        alice.dialogs.open_invite(cid, "Climbing club")
        invite = alice.window.findChild(InviteDialog)
        invite.create_button.click()
        wait(lambda: bool(invite.code.toPlainText()), 20, "invite code")
        code = invite.code.toPlainText()
        shot(invite, "invite")
        invite.close()

        # 4. Bob joins: the code, the rules, accepted
        alice.window.hide()
        first_run(bob, "Bob")
        join = bob.open_join()
        join.code.setFocus()
        join.code.setPlainText(code)  # pasted
        shot(join, "join-code")
        join.join_button.click()
        wait(lambda: join.stack.currentIndex() == join.RULES, 60, "rules")
        shot(join, "join-rules")
        join.rules_view.agree_button.click()
        wait(lambda: bob.stage == "chat" and bool(bob.chat.channel), 30, "bob chat")
        wait(lambda: row_with(bob, "Welcome to the climbing") is not None, 30, "bob sync")
        shot(bob.window, "joined")

        # 5. post
        send(bob, "Hi all! New here. Is there a beginners' session?")
        wait(lambda: row_with(bob, "New here") is not None, 20, "bob post")
        shot(bob.window, "post")

        # 6. mention: typed, not picked from the completion list
        send(bob, "@Alice thanks for the invite, see you Thursday")
        front(alice, bob)
        wait(lambda: row_with(alice, "thanks for the invite") is not None, 30, "mention synced")
        mention = row_with(alice, "thanks for the invite") or {}
        print("mention reaches alice, mentions_me:", mention.get("mentions_me"))

        # 7. notification: the in-window banner
        try:
            wait(lambda: alice.banner.isVisible(), 15, "banner")
        except TimeoutError as exc:
            print("no banner:", exc)
        print("notifications:", alice.notifications)
        shot(alice.window, "mention-notification")

        # 8. search
        alice.chat.open_search()
        QTest.keyClicks(alice.chat.search_panel.field, "begin")
        QTest.keyClick(alice.chat.search_panel.field, Qt.Key.Key_Return)
        wait(lambda: alice.chat.search_panel.model.rowCount() >= 1, 15, "results")
        alice.banner.hide()
        shot(alice.window, "search")
        alice.chat.close_panel()

        # 9. moderate: Alice (admin) hides Bob's post, with a reason
        target = row_with(alice, "New here")
        assert target is not None
        alice.chat.menus.hide_post(str(target["id"]))
        ask = alice.window.findChild(QInputDialog)
        QTest.keyClicks(ask.findChild(QLineEdit), "duplicate of the FAQ")
        shot(ask, "hide-reason")
        QTest.keyClick(ask.findChild(QLineEdit), Qt.Key.Key_Return)
        wait(lambda: bool((row_with(alice, "New here") or {}).get("hidden")), 20, "hidden")
        shot(alice.window, "hidden-moderator")
        front(bob, alice)
        wait(lambda: bool((row_with(bob, "New here") or {}).get("hidden")), 30, "bob sees it")
        shot(bob.window, "hidden-author")

        # 10. quit: Bob with a draft typed (kept for the next start), then Alice
        bob.chat.composer.edit.setFocus()
        QTest.keyClicks(bob.chat.composer.edit, "one more thing: chalk")
        press_quit(bob)
        spin(500)
        box = bob.window.findChild(QMessageBox)
        if box is not None and box.isVisible():  # a draft that would be lost: asked first
            shot(box, "quit-draft")
            box.findChild(QWidget, "quitAnyway").click()
        wait(lambda: not bob.window.isVisible() and not bob.node.stopping, 20, "bob quit")
        print("bob quit; his node stopped:", not bob.node.stopping)
        front(alice, bob)
        wait(lambda: status_of(alice, bob.peer_id) == "offline", 30, "Bob shown offline")
        shot(alice.window, "bob-quit")
        press_quit(alice)
        wait(lambda: not alice.window.isVisible() and not alice.node.stopping, 20, "alice quit")
        print("alice quit; her node stopped:", not alice.node.stopping)

        # and Bob's next start: his draft is still there
        again = App(tmp / "bob", LOCAL)
        apps.append(again)
        again.window.resize(1280, 800)
        again.show_window()
        again.start()
        wait(lambda: again.stage == "chat" and bool(again.chat.channel), 30, "bob again")
        spin(1000)
        print("draft after restart:", again.chat.composer.edit.toPlainText())
        shot(again.window, "restart-draft")
        press_quit(again)
        wait(lambda: not again.node.stopping, 20, "bob quit again")
    finally:
        for app in apps:
            app.shutdown()
        wait(lambda: not any(a.node.stopping for a in apps), 20, "nodes to stop")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
