"""Issue 16 in the app: an edit the policy refuses stays in the box, and the composer
says why, as it does for a new message."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from .test_app_flow import send, timeline_texts
from .test_safety_queue import two_apps
from .test_two_apps import SYNC_MS, call


def test_an_edit_that_adds_a_forbidden_link_is_refused_in_words(qtbot, make_app) -> None:
    alice, bob, community = two_apps(qtbot, make_app)
    call(qtbot, alice, "policy set", {"community": community, "key": "max_links", "value": "0"})
    qtbot.waitUntil(
        lambda: call(qtbot, bob, "policy show", {"community": community})["max_links"] == 0,
        timeout=SYNC_MS,
    )
    send(qtbot, bob, "the crag is dry")
    qtbot.waitUntil(lambda: "the crag is dry" in timeline_texts(bob), timeout=10_000)
    composer = bob.chat.composer
    edit = composer.edit
    QTest.mouseClick(edit.viewport(), Qt.MouseButton.LeftButton)
    QTest.keyClick(edit, Qt.Key.Key_Up)  # edit my last message
    assert composer.editing and edit.toPlainText() == "the crag is dry"
    QTest.keyClicks(edit, ": https://x.example")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: composer.notice.text().startswith("Too many links"), timeout=10_000)
    assert composer.notice.isVisibleTo(composer)
    assert composer.editing and edit.toPlainText() == "the crag is dry: https://x.example"
    assert "the crag is dry" in timeline_texts(bob)
