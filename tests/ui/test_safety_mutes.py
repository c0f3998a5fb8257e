"""Issue 16 in the app: a muted channel in the sidebar, and the blocked members list.

Bob mutes #random from "Mute words and channels": the sidebar shows it dimmed
with no unread badge while the node still counts its unread posts. He blocks
Alice from a post's menu; the same dialog lists her under "Blocked members",
and a click on Unblock lets her posts back in.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget

from p2pcommunity.ui.app import App
from p2pcommunity.ui.models import ChannelRole
from p2pcommunity.ui.safety.personal import MuteDialog

from .test_app_flow import timeline_texts
from .test_safety_policy import wait_for_log
from .test_safety_queue import community_dialog, post_action, send_and_see, two_apps
from .test_two_apps import SYNC_MS, call


def sidebar(app: App, name: str) -> dict:
    """What bob's sidebar shows of channel `name`: muted, unread, and the screen reader text."""
    model = app.chat.channels
    found = [i for i, r in enumerate(model.rows()) if r.get("name") == name]
    if not found:
        return {"muted": False, "unread": 0, "spoken": "", "tip": ""}
    index = model.index(found[0])
    return {
        "muted": bool(index.data(ChannelRole.MUTED)),
        "unread": int(index.data(ChannelRole.UNREAD) or 0),
        "spoken": index.data(Qt.ItemDataRole.AccessibleTextRole),
        "tip": index.data(Qt.ItemDataRole.ToolTipRole) or "",
    }


def click_item(qtbot, view: QListWidget, row: int) -> None:
    item = view.item(row)
    view.scrollToItem(item)
    qtbot.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualItemRect(item).center()
    )


def test_a_muted_channel_is_dimmed_and_a_blocked_member_can_be_unblocked(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    call(qtbot, alice, "channel create", {"community": community, "name": "random"})
    wait_for_log(qtbot, alice, bob, community, "later")

    mutes = community_dialog(bob, "Mute words and channels…")
    assert isinstance(mutes, MuteDialog)
    qtbot.waitUntil(
        lambda: "#random" in {c.text() for c in mutes.channel_checks.values()}, timeout=10_000
    )
    random = next(c for c in mutes.channel_checks.values() if c.text() == "#random")
    qtbot.waitUntil(random.isVisible, timeout=5_000)
    qtbot.mouseClick(random, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sidebar(bob, "random")["muted"], timeout=10_000)
    assert not sidebar(bob, "general")["muted"]
    assert ", muted" in sidebar(bob, "random")["spoken"]
    assert "muted on this computer" in sidebar(bob, "random")["tip"]
    listed = call(qtbot, bob, "channel list", {"community": community})["channels"]
    assert {c["name"]: c["muted"] for c in listed}["random"] is True
    assert not any(
        c["muted"] for c in call(qtbot, alice, "channel list", {"community": community})["channels"]
    )
    assert mutes.blocked.count() == 0 and not mutes.unblock_button.isEnabled()
    mutes.close()

    # Bob blocks Alice from her post's menu; the dialog lists her, Unblock lets her back
    send_and_see(qtbot, alice, bob, "hello from alice")
    author = next(r for r in bob.chat.timeline.rows() if r["text"] == "hello from alice")
    name = author.get("author_name") or ""
    post_action(qtbot, bob, "hello from alice", f"Block {name}")
    qtbot.waitUntil(lambda: "hello from alice" not in timeline_texts(bob), timeout=10_000)
    mutes = community_dialog(bob, "Mute words and channels…")
    assert isinstance(mutes, MuteDialog)
    qtbot.waitUntil(lambda: mutes.blocked.count() == 1, timeout=10_000)
    assert name in mutes.blocked.item(0).text()
    assert not mutes.unblock_button.isEnabled()
    click_item(qtbot, mutes.blocked, 0)
    assert mutes.unblock_button.isEnabled()
    qtbot.mouseClick(mutes.unblock_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: mutes.blocked.count() == 0, timeout=10_000)
    assert call(qtbot, bob, "block list", {}) == {"blocked": []}
    qtbot.waitUntil(lambda: "hello from alice" in timeline_texts(bob), timeout=SYNC_MS)
    mutes.close()
