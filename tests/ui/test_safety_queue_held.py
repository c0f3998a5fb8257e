"""Issue 16 in the app: "Go to message" on a held post, from the moderation queue.

Two apps, two real nodes on 127.0.0.1. Alice (owner) holds posts with a word;
Bob's post with it waits for approval. A held post is in its moderators'
timelines (marked held), so "Go to message" shows it there; once Alice has
blocked Bob, no timeline of hers shows it, and the app says that, rather than
"too far back", and stays on the queue, which shows the message in context.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from p2pcommunity.ui.safety.queue import ModerationQueue

from .test_app_flow import send
from .test_safety_queue import community_page, row, two_apps
from .test_two_apps import SYNC_MS, call


def test_go_to_a_held_message_from_the_queue(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    call(qtbot, alice, "words add", {"community": community, "word": "raffle", "action": "hold"})
    # A channel made after the word tells when Bob's node has the log up to the word.
    call(qtbot, alice, "channel create", {"community": community, "name": "later"})

    def bob_channels() -> list[str]:
        return [
            c["name"]
            for c in call(qtbot, bob, "channel list", {"community": community})["channels"]
        ]

    qtbot.waitUntil(lambda: "later" in bob_channels(), timeout=SYNC_MS)
    raffle = "Join my RAFFLE tonight"
    send(qtbot, bob, raffle)
    qtbot.waitUntil(lambda: row(bob, raffle).get("held") is True, timeout=10_000)
    qtbot.waitUntil(lambda: row(alice, raffle).get("held") is True, timeout=SYNC_MS)
    held_id, bob_id = row(alice, raffle)["id"], row(alice, raffle)["author"]

    queue = community_page(alice, "Moderation queue")
    assert isinstance(queue, ModerationQueue)
    qtbot.waitUntil(lambda: queue.pending.topLevelItemCount() == 1, timeout=SYNC_MS)

    def go() -> None:
        queue.pending.setCurrentItem(queue.pending.topLevelItem(0))
        qtbot.waitUntil(queue.go_button.isEnabled, timeout=10_000)
        qtbot.mouseClick(queue.go_button, Qt.MouseButton.LeftButton)

    # A moderator's timeline has the held post: the button shows it there, selected
    go()
    view = alice.chat.timeline_view
    qtbot.waitUntil(lambda: alice.chat.centre.currentWidget() is not queue, timeout=10_000)
    qtbot.waitUntil(
        lambda: (
            view.model().mapToSource(view.currentIndex()).row()
            == alice.chat.timeline.row_of(held_id)
        ),
        timeout=10_000,
    )

    # Alice blocks Bob: the queue still lists his held post, no timeline of hers has it
    call(qtbot, alice, "block", {"peer": bob_id})
    queue = community_page(alice, "Moderation queue")
    qtbot.waitUntil(lambda: queue.pending.topLevelItemCount() == 1, timeout=10_000)
    alice.window.statusBar().clearMessage()
    go()
    status = alice.window.statusBar()
    qtbot.waitUntil(lambda: bool(status.currentMessage()), timeout=10_000)
    assert status.currentMessage() == (
        "You blocked its author, so this held message is not in your timeline; "
        "the queue shows it in context."
    )
    assert alice.chat.centre.currentWidget() is queue
    assert raffle in queue.context.toPlainText()
