"""Two apps on two data dirs, two real nodes on 127.0.0.1: join and see each other's posts."""

from __future__ import annotations

from typing import Any

from p2pcommunity.ui.app import App
from p2pcommunity.ui.join import JoinDialog

from .conftest import start_with_name
from .test_app_flow import create_community, send, timeline_texts

SYNC_MS = 30_000


def call(qtbot, app: App, method: str, params: dict[str, Any]) -> dict[str, Any]:
    call = app.client.request(method, params)
    with qtbot.waitSignal(call.finished, timeout=10_000) as blocker:
        pass
    return blocker.args[0]


def join_as_member(qtbot, alice: App, bob: App, community: str) -> None:
    """Alice adds Bob as a member; Bob joins through the join dialog with Alice's address."""
    call(qtbot, alice, "member add", {"community": community, "peer": bob.peer_id})
    addrs = call(qtbot, alice, "whoami", {})["addrs"]
    assert addrs and all("/127.0.0.1/" in a for a in addrs)

    bob.open_join()
    dialog = bob.window.findChild(JoinDialog)
    assert dialog is not None
    joined: list[str] = []
    dialog.joined.connect(joined.append)
    dialog.code.setPlainText(community)
    assert dialog.bootstrap.isVisibleTo(dialog)
    dialog.bootstrap.setText(addrs[0])
    dialog.join_button.click()
    assert dialog.stack.currentIndex() == 1  # the progress page while the node syncs
    qtbot.waitUntil(lambda: joined == [community], timeout=SYNC_MS)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)


def club_before_join(qtbot, make_app) -> tuple[App, App, str]:
    """Alice's and Bob's apps past the first run, and Alice's "Climbing club" (Bob is not
    a member yet): both apps and the community's id."""
    alice, bob = make_app("alice"), make_app("bob")
    start_with_name(qtbot, alice, "Alice")
    start_with_name(qtbot, bob, "Bob")
    return alice, bob, create_community(qtbot, alice, "Climbing club")


def club_of_two(qtbot, make_app) -> tuple[App, App, str]:
    """Alice's "Climbing club", which Bob joined as a member: both apps in the chat."""
    alice, bob, community = club_before_join(qtbot, make_app)
    join_as_member(qtbot, alice, bob, community)
    return alice, bob, community


def test_member_add_join_and_see_each_others_posts(qtbot, make_app) -> None:
    alice, bob, community = club_before_join(qtbot, make_app)
    send(qtbot, alice, "Welcome, Bob!")
    qtbot.waitUntil(lambda: "Welcome, Bob!" in timeline_texts(alice), timeout=10_000)

    join_as_member(qtbot, alice, bob, community)
    qtbot.waitUntil(lambda: "Welcome, Bob!" in timeline_texts(bob), timeout=SYNC_MS)

    send(qtbot, bob, "Thanks Alice!")
    qtbot.waitUntil(lambda: "Thanks Alice!" in timeline_texts(bob), timeout=10_000)
    qtbot.waitUntil(lambda: "Thanks Alice!" in timeline_texts(alice), timeout=SYNC_MS)
    # each sees the other in the member list, with names
    qtbot.waitUntil(lambda: alice.chat.members.rowCount() == 2, timeout=SYNC_MS)
    names = {r["name"] for r in bob.chat.members.rows()}
    assert names >= {"Alice"}

    # a moderator (the owner) hides Bob's post: both still have it, flagged (the
    # moderator to unhide it, its author to know), and the timelines draw it so
    post = next(r for r in alice.chat.timeline.rows() if r["text"] == "Thanks Alice!")
    alice.chat.simple("hide", {"post": post["id"], "reason": "test"})

    def hidden_in(app: App) -> bool:
        return any(r["id"] == post["id"] and r.get("hidden") for r in app.chat.timeline.rows())

    qtbot.waitUntil(lambda: hidden_in(alice), timeout=10_000)
    qtbot.waitUntil(lambda: hidden_in(bob), timeout=SYNC_MS)
    assert "Welcome, Bob!" in timeline_texts(bob)


def test_invite_join_with_rules_and_hide_reaches_the_other_app(qtbot, make_app) -> None:
    from p2pcommunity.ui.dialogs import InviteDialog

    alice, bob, community = club_before_join(qtbot, make_app)
    call(qtbot, alice, "rules set", {"community": community, "text": "Be kind."})

    invite = InviteDialog(alice.client, community, "Climbing club", alice.window)
    qtbot.addWidget(invite)
    invite.create_button.click()
    qtbot.waitUntil(lambda: bool(invite.code.toPlainText()), timeout=10_000)
    assert invite.error.isHidden()
    assert not invite.qr.pixmap().isNull()
    code = invite.code.toPlainText()

    bob.open_join()
    dialog = bob.window.findChild(JoinDialog)
    joined: list[str] = []
    dialog.joined.connect(joined.append)
    dialog.code.setPlainText(code)
    assert not dialog.bootstrap.isVisibleTo(dialog)
    dialog.join_button.click()
    qtbot.waitUntil(lambda: dialog.stack.currentIndex() == 2, timeout=SYNC_MS)
    assert "Be kind." in dialog.rules_view.rules.toPlainText()
    dialog.rules_view.agree_button.click()
    qtbot.waitUntil(lambda: joined == [community], timeout=10_000)
    qtbot.waitUntil(lambda: bob.stage == "chat" and bob.chat.community == community, timeout=10_000)

    qtbot.waitUntil(lambda: "Be kind." in bob.chat.info.get("rules", ""), timeout=10_000)
    qtbot.waitUntil(lambda: bool(bob.chat.channel), timeout=10_000)
    send(qtbot, bob, "hello from an invitee")
    qtbot.waitUntil(lambda: "hello from an invitee" in timeline_texts(bob), timeout=10_000)
    qtbot.waitUntil(lambda: "hello from an invitee" in timeline_texts(alice), timeout=SYNC_MS)


def test_node_errors_are_readable(qtbot, make_app) -> None:
    alice: App = make_app("alice")
    start_with_name(qtbot, alice, "Alice")
    bob_dialog = JoinDialog(alice.socket_path, alice.window)
    qtbot.addWidget(bob_dialog)
    bob_dialog.code.setPlainText("p2pc1-not-a-real-code")
    qtbot.waitUntil(lambda: bob_dialog.client.is_connected, timeout=5_000)
    bob_dialog.join_button.click()
    qtbot.waitUntil(
        lambda: bob_dialog.error.isVisible() or not bob_dialog.error.isHidden(), timeout=10_000
    )
    text = bob_dialog.error.text()
    assert text and "Traceback" not in text
    assert bob_dialog.stack.currentIndex() == 0
