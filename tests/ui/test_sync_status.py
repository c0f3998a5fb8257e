"""The status bar tells the truth about sync right after a join, not at the next poll."""

from __future__ import annotations

from p2pcommunity.ui.app import App

from .conftest import start_with_name
from .test_app_flow import create_community
from .test_two_apps import SYNC_MS, join_as_member

NEVER_MS = 600_000  # longer than the test: only the sync events can update the bar


def test_join_names_the_community_and_counts_peers_at_once(qtbot, make_app) -> None:
    alice: App = make_app("alice")
    bob: App = make_app("bob")
    start_with_name(qtbot, alice, "Alice")
    start_with_name(qtbot, bob, "Bob")
    bob.sync_status.timer.setInterval(NEVER_MS)
    qtbot.waitUntil(lambda: bob.window.peers_label.text() == "No peers connected", timeout=10_000)
    community = create_community(qtbot, alice, "Climbing club")

    shown: list[str] = []
    for method in ("set_syncing", "set_synced"):
        original = getattr(bob.window, method)
        setattr(bob.window, method, lambda text, f=original: (shown.append(text), f(text)))
    join_as_member(qtbot, alice, bob, community)

    qtbot.waitUntil(lambda: bob.window.peers_label.text() == "1 peer connected", timeout=SYNC_MS)
    qtbot.waitUntil(lambda: any("up to date" in t for t in shown), timeout=SYNC_MS)
    assert shown, "no sync state was shown"
    # Before the log arrives the name is not known; it is never made up.
    assert shown[0] in (
        "Syncing the community you are joining with 1 member…",
        "Syncing Climbing club with 1 member…",
    ), shown
    assert shown[-1] == "Climbing club is up to date · 1 member online", shown

    # Alice goes away: the bar says what Bob waits for, not that all is well.
    qtbot.waitUntil(lambda: bob.chat.members.rowCount() == 2, timeout=SYNC_MS)
    alice.shutdown()
    bob.sync_status.timer.setInterval(200)
    qtbot.waitUntil(
        lambda: (
            bob.window.sync_label.text() == "Waiting for a member of Climbing club to come online"
        ),
        timeout=SYNC_MS,
    )
    assert bob.window.peers_label.text() == "No peers connected"
