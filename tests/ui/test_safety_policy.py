"""Issue 16 in the app: the policy form, the composer's refusals in words, personal mutes.

Alice (owner) sets slow mode in #general and blocks a word from the safety
settings; Bob's composer says why his posts are refused (with slow mode's
time left). Bob mutes a word and then the channel: those posts fold for him
alone and do not notify him.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from p2pcommunity.ui.app import App
from p2pcommunity.ui.safety.personal import MuteDialog
from p2pcommunity.ui.safety.policy import PolicyDialog

from .test_app_flow import send, timeline_texts
from .test_safety_queue import collapsed, community_dialog, row, two_apps
from .test_two_apps import SYNC_MS, call


def wait_for_log(qtbot, alice: App, bob: App, community: str, marker: str) -> None:
    """A channel made last tells when Bob's node has Alice's log up to it."""
    call(qtbot, alice, "channel create", {"community": community, "name": marker})

    def names() -> list[str]:
        return [
            c["name"]
            for c in call(qtbot, bob, "channel list", {"community": community})["channels"]
        ]

    qtbot.waitUntil(lambda: marker in names(), timeout=SYNC_MS)


def test_policy_refusals_in_words_and_personal_mutes(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)

    settings = community_dialog(alice, "Safety settings…")
    assert isinstance(settings, PolicyDialog)
    qtbot.waitUntil(lambda: "general" in settings.slow, timeout=10_000)
    slow = settings.slow["general"]
    slow.selectAll()
    qtbot.keyClicks(slow, "60")
    mentions = settings.counts["max_mentions"]
    mentions.selectAll()
    qtbot.keyClicks(mentions, "3")
    qtbot.mouseClick(settings.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: settings.status.text().startswith("Policy version 2"), timeout=10_000)
    policy = call(qtbot, alice, "policy show", {"community": community})
    assert policy["slow_mode"] == {"general": 60} and policy["max_mentions"] == 3
    qtbot.keyClicks(settings.word, "scam")  # the action defaults to block
    qtbot.keyClick(settings.word, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: settings.words.topLevelItemCount() == 1, timeout=10_000)
    settings.close()

    # Bob, a member, sees the policy but cannot change it, nor read the words
    readonly = community_dialog(bob, "Community policy…")
    assert isinstance(readonly, PolicyDialog)
    wait_for_log(qtbot, alice, bob, community, "later")
    readonly.reload()
    qtbot.waitUntil(
        lambda: readonly.slow.get("general") is not None and readonly.slow["general"].value() == 60,
        timeout=10_000,
    )
    assert not readonly.slow["general"].isEnabled() and readonly.save_button.isHidden()
    assert readonly.tabs.count() == 1
    readonly.close()

    composer = bob.chat.composer
    send(qtbot, bob, "what a SC4M")
    qtbot.waitUntil(lambda: "word the moderators blocked" in composer.notice.text(), timeout=10_000)
    assert composer.edit.toPlainText() == "what a SC4M"  # not lost
    composer.edit.clear()
    send(qtbot, bob, "hello all")
    qtbot.waitUntil(lambda: "hello all" in timeline_texts(bob), timeout=10_000)
    assert composer.notice.text() == ""
    send(qtbot, bob, "me again")
    qtbot.waitUntil(lambda: "You can post again in" in composer.notice.text(), timeout=10_000)
    assert composer.notice.text().startswith("Slow mode is on here (one post per 60 s here).")
    left = int(composer.notice.text().split("again in ")[1].split(" s")[0])
    assert 0 < left <= 60
    qtbot.waitUntil(lambda: f"again in {left - 1} s" in composer.notice.text(), timeout=5_000)

    # Personal mutes: a word, then the channel; Alice's app is not affected
    send(qtbot, alice, "cheap pills here")
    send_and_wait = "@Bob look at this"
    qtbot.waitUntil(lambda: "cheap pills here" in timeline_texts(bob), timeout=SYNC_MS)
    mutes = community_dialog(bob, "Mute words and channels…")
    assert isinstance(mutes, MuteDialog)
    qtbot.keyClicks(mutes.word, "PILLS")
    qtbot.keyClick(mutes.word, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: mutes.words.count() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: row(bob, "cheap pills here").get("muted") is True, timeout=10_000)
    assert collapsed(bob, "cheap pills here") and not collapsed(alice, "cheap pills here")
    qtbot.waitUntil(
        lambda: "general" in {c.text().lstrip("#") for c in mutes.channel_checks.values()},
        timeout=10_000,
    )
    general = next(c for c in mutes.channel_checks.values() if c.text() == "#general")
    qtbot.waitUntil(general.isVisible, timeout=5_000)
    qtbot.mouseClick(general, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: bool(call(qtbot, bob, "mute list", {"community": community}).get("channels")),
        timeout=10_000,
    )
    before = list(bob.notifications)
    alice.chat.composer.edit.clear()
    send(qtbot, alice, send_and_wait)
    qtbot.waitUntil(lambda: row(bob, send_and_wait).get("muted") is True, timeout=SYNC_MS)
    assert row(bob, send_and_wait).get("mentions_me") is True
    qtbot.wait(1_000)
    assert bob.notifications == before  # a muted channel does not notify
    assert collapsed(bob, send_and_wait)
