"""Channel badges: they count what I can see, and a mention is marked apart.

Two apps on two real nodes: Bob posts in #random while Alice reads #general.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from p2pcommunity.ui.app import App
from p2pcommunity.ui.delegate import MENTION_BADGE, UNREAD_BADGE, channel_badge
from p2pcommunity.ui.models import ChannelRole

from .test_two_apps import SYNC_MS, call, club_before_join


def join_directly(qtbot, alice: App, bob: App, community: str) -> None:
    """Alice adds Bob's key; Bob's node joins through the control API (and accepts the rules)."""
    call(qtbot, alice, "member add", {"community": community, "peer": bob.peer_id})
    addr = call(qtbot, alice, "whoami", {})["addrs"][0]
    job = bob.client.request("join", {"community": community, "bootstrap": [addr], "timeout": 30})
    with qtbot.waitSignal(job.finished, timeout=SYNC_MS):
        pass
    bob.chat.refresh_communities(select=community)
    qtbot.waitUntil(
        lambda: bob.chat.community == community and bool(bob.chat.channel), timeout=10_000
    )


def badge_colors(app: App, channel_id: str) -> set[str]:
    """The colours drawn in the right part of a channel's row."""
    view = app.chat.channel_view
    rect = view.visualRect(app.chat.channels.index(app.chat.channels.row_of(channel_id)))
    image = view.viewport().grab().toImage()
    ratio = image.devicePixelRatio()
    seen = set()
    for x in range(rect.right() - 50, rect.right()):
        for y in range(rect.top(), rect.bottom()):
            seen.add(QColor(image.pixel(int(x * ratio), int(y * ratio))).name())
    return seen


def test_badges_count_visible_posts_and_mark_mentions(qtbot, make_app) -> None:
    alice, bob, community = club_before_join(qtbot, make_app)
    random = call(qtbot, alice, "channel create", {"community": community, "name": "random"})
    random_id = random["channel_id"]
    join_directly(qtbot, alice, bob, community)
    alice.window.show()
    qtbot.waitExposed(alice.window)

    def post(text: str) -> dict[str, Any]:
        params = {"community": community, "channel": random_id, "text": text}
        return call(qtbot, bob, "post", params)

    plain = post("anyone at the wall tonight?")
    post("@Alice you said you would come")
    channels = alice.chat.channels

    def random_row() -> dict[str, Any]:
        row = channels.row_of(random_id)
        return channels.row_at(row) if row >= 0 else {}

    qtbot.waitUntil(lambda: random_row().get("unread") == 2, timeout=SYNC_MS)
    qtbot.waitUntil(lambda: random_row().get("mentions") == 1, timeout=SYNC_MS)
    index = channels.index(channels.row_of(random_id))
    assert index.data(ChannelRole.MENTIONS) == 1
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == "#random, 2 unread, 1 mention"
    assert channel_badge(2, 1) == ("@ 1", MENTION_BADGE)
    qtbot.waitUntil(lambda: MENTION_BADGE in badge_colors(alice, random_id), timeout=5_000)

    # Alice hides the plain post: the badge counts what she can still see
    call(qtbot, alice, "hide", {"community": community, "post": plain["post_id"]})
    alice.chat.on_community_changed(community, "test")
    qtbot.waitUntil(lambda: random_row().get("unread") == 1, timeout=SYNC_MS)
    # once she has read the channel the badge goes; a post without a mention is grey
    alice.chat.go_to(community, random_id)
    qtbot.waitUntil(lambda: random_row().get("unread") == 0, timeout=10_000)
    assert random_row().get("mentions") == 0
    general = next(r["id"] for r in channels.rows() if r["name"] == "general")
    alice.chat.go_to(community, general)
    post("plain again")
    qtbot.waitUntil(lambda: random_row().get("unread") == 1, timeout=SYNC_MS)
    assert random_row().get("mentions") == 0
    assert channel_badge(1, 0) == ("1", UNREAD_BADGE)
    qtbot.waitUntil(lambda: UNREAD_BADGE in badge_colors(alice, random_id), timeout=5_000)
    assert MENTION_BADGE not in badge_colors(alice, random_id)
