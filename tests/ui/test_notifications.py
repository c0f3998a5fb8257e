"""Mentions and replies in a channel that is not open still notify."""

from __future__ import annotations

from p2pcommunity.ui.app import App

from .test_two_apps import SYNC_MS, call, club_before_join, join_as_member


def channel_id(qtbot, app: App, community: str, name: str) -> str:
    channels = call(qtbot, app, "channel list", {"community": community})["channels"]
    return next(c["id"] for c in channels if c["name"] == name)


def test_mention_and_reply_in_another_channel_notify(qtbot, make_app) -> None:
    alice, bob, community = club_before_join(qtbot, make_app)
    call(qtbot, alice, "channel create", {"community": community, "name": "random"})
    random = channel_id(qtbot, alice, community, "random")
    question = call(
        qtbot, alice, "post", {"community": community, "channel": random, "text": "Who climbs?"}
    )
    join_as_member(qtbot, alice, bob, community)
    qtbot.waitUntil(lambda: alice.chat.channel != "", timeout=10_000)
    general = alice.chat.channel
    assert alice.chat.channels.row_at(alice.chat.channels.row_of(general))["name"] == "general"
    qtbot.waitUntil(
        lambda: bool(
            call(qtbot, bob, "read", {"community": community, "channel": random})["posts"]
        ),
        timeout=SYNC_MS,
    )

    seen: list[tuple[str, str]] = []
    alice.chat.notification_wanted.connect(lambda title, text: seen.append((title, text)))
    text = f"@{alice.peer_id} are you coming?"
    mention = call(qtbot, bob, "post", {"community": community, "channel": random, "text": text})
    qtbot.waitUntil(lambda: any("mentioned you" in t for t, _ in seen), timeout=SYNC_MS)
    assert alice.chat.channel == general  # still on #general
    assert any(t.endswith("mentioned you") and x == text for t, x in alice.notifications)
    row = alice.chat.channels.row_of(random)
    qtbot.waitUntil(
        lambda: int(alice.chat.channels.row_at(row).get("unread") or 0) >= 1, timeout=10_000
    )

    reply = "Me!"
    answer = call(
        qtbot,
        bob,
        "post",
        {"community": community, "channel": random, "text": reply, "reply_to": question["post_id"]},
    )
    qtbot.waitUntil(
        lambda: any(t.endswith("replied to you") and x == reply for t, x in seen), timeout=SYNC_MS
    )

    # A later sync round does not notify again: one more post (neither a mention
    # nor a reply) makes the watcher read the channel's newest posts, the mention
    # and the reply among them. Once it has considered that post, the round is
    # over (a read's posts are considered in one go), so the count is final.
    considered: list[str] = []
    consider = alice.chat.watcher.consider

    def recording(community_id: str, post: dict) -> None:
        consider(community_id, post)
        considered.append(str(post.get("id", "")))

    alice.chat.watcher.consider = recording  # type: ignore[method-assign]
    later = call(qtbot, bob, "post", {"community": community, "channel": random, "text": "Later"})
    qtbot.waitUntil(lambda: later["post_id"] in considered, timeout=SYNC_MS)
    assert {mention["post_id"], answer["post_id"]} <= set(considered)  # looked at again
    assert len(seen) == 2, seen
