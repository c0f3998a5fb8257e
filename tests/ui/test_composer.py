"""The composer as a person uses it: typing, completing, pasting, Up, a timeout, drafts.

Offscreen, no node: a `Composer` on its own, shown, driven by key clicks
and the clipboard (a person reaches 8,000 characters by pasting, not by
typing them). The tests with real nodes are in test_composer_app.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from p2pcommunity.ui.composer import COUNTER_FROM, MAX_CHARS, Composer, local_time_text
from p2pcommunity.ui.drafts import FILE_NAME, DraftStore

ALICE = "12D3KooWAliceAliceAliceAliceAliceAliceAliceAliceAli"
BOB = "12D3KooWBobBobBobBobBobBobBobBobBobBobBobBobBobBobBo"
BOB2 = "12D3KooWBob2Bob2Bob2Bob2Bob2Bob2Bob2Bob2Bob2Bob2Bob2"


@pytest.fixture
def composer(qtbot) -> Composer:
    box = Composer()
    qtbot.addWidget(box)
    box.resize(600, 120)
    box.show()
    qtbot.waitExposed(box)
    box.edit.setFocus()
    return box


def paste(qtbot, composer: Composer, text: str) -> None:
    QGuiApplication.clipboard().setText(text)
    qtbot.keyClick(composer.edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)


# ------------------------------------------------------------------ mentions


def test_the_completer_inserts_the_display_name(qtbot, composer: Composer) -> None:
    composer.edit.set_members({ALICE: "Alice", BOB: "Bob Smith"})
    qtbot.keyClicks(composer.edit, "hi @al")
    popup = composer.edit.completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=5_000)
    qtbot.keyClick(popup, Qt.Key.Key_Tab)  # the open popup has the keyboard
    assert composer.edit.toPlainText() == "hi @Alice "
    assert ALICE not in composer.edit.toPlainText()


def test_enter_in_the_popup_completes_a_name_with_a_space(qtbot, composer: Composer) -> None:
    composer.edit.set_members({ALICE: "Alice", BOB: "Bob Smith"})
    sent: list[tuple[str, str]] = []
    composer.sent.connect(lambda text, reply: sent.append((text, reply)))
    qtbot.keyClicks(composer.edit, "@Bob S")  # the space does not end the completion
    popup = composer.edit.completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=5_000)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert composer.edit.toPlainText() == "@Bob Smith "
    assert sent == []  # Enter chose the name; it did not send
    qtbot.keyClicks(composer.edit, "hello")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sent == [("@Bob Smith hello", "")]


def test_a_shared_name_falls_back_to_the_peer_id(qtbot, composer: Composer) -> None:
    composer.edit.set_members({BOB: "Bob", BOB2: "bob"})
    qtbot.keyClicks(composer.edit, "@bo")
    popup = composer.edit.completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=5_000)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Tab)
    # "@Bob" would name nobody (two members have it): only the id reaches the one picked
    assert composer.edit.toPlainText() in (f"@{BOB} ", f"@{BOB2} ")


def test_an_email_address_does_not_open_the_completer(qtbot, composer: Composer) -> None:
    composer.edit.set_members({ALICE: "Alice"})
    qtbot.keyClicks(composer.edit, "mail me at me@al")
    assert not composer.edit.completer.popup().isVisible()


# ------------------------------------------------------------------ counter


def test_the_counter_appears_near_the_limit_and_blocks_sending_over_it(
    qtbot, composer: Composer
) -> None:
    sent: list[str] = []
    composer.sent.connect(lambda text, _r: sent.append(text))
    paste(qtbot, composer, "x" * (COUNTER_FROM - 1))
    assert not composer.counter.isVisible()
    qtbot.keyClicks(composer.edit, "x")
    assert composer.counter.isVisible()
    assert composer.counter.text() == f"{COUNTER_FROM:,} / {MAX_CHARS:,}"
    assert composer.send_button.isEnabled()

    paste(qtbot, composer, "y" * (MAX_CHARS - COUNTER_FROM))
    assert composer.counter.text() == f"{MAX_CHARS:,} / {MAX_CHARS:,}"
    assert composer.send_button.isEnabled()  # exactly the limit is fine
    qtbot.keyClicks(composer.edit, "zz")
    assert composer.counter.text() == f"{MAX_CHARS + 2:,} / {MAX_CHARS:,} — 2 too many"
    assert composer.counter.property("over") is True
    assert not composer.send_button.isEnabled()
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert sent == []

    qtbot.keyClick(composer.edit, Qt.Key.Key_Backspace)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Backspace)
    assert composer.send_button.isEnabled()
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert len(sent) == 1 and len(sent[0]) == MAX_CHARS


# ------------------------------------------------------------------ Up


def test_up_in_an_empty_box_asks_to_edit_the_last_message(qtbot, composer: Composer) -> None:
    asked: list[bool] = []
    composer.edit_last_requested.connect(lambda: asked.append(True))
    qtbot.keyClicks(composer.edit, "draft")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Up)
    assert asked == []  # Up moves the cursor in text
    composer.edit.selectAll()
    qtbot.keyClick(composer.edit, Qt.Key.Key_Delete)
    qtbot.keyClick(composer.edit, Qt.Key.Key_Up)
    assert asked == [True]


# ------------------------------------------------------------------ timeout


def test_a_timed_out_member_cannot_type_and_sees_until_when(qtbot, composer: Composer) -> None:
    sent: list[str] = []
    composer.sent.connect(lambda text, _r: sent.append(text))
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    iso = until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    composer.set_timed_out(iso)
    local = until.astimezone()
    expected = f"You are timed out until {local_time_text(until)}"
    assert composer.notice.isVisible() and composer.notice.text() == expected
    assert f"{local:%H:%M}" in expected and "T" not in expected.split("until")[1]
    assert not composer.edit.isEnabled() and not composer.send_button.isEnabled()
    qtbot.keyClicks(composer.edit, "let me in")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert composer.edit.toPlainText() == "" and sent == []

    composer.set_timed_out(None)  # the moderator ended it
    assert not composer.notice.isVisible()
    assert composer.edit.isEnabled() and composer.send_button.isEnabled()
    composer.edit.setFocus()
    qtbot.keyClicks(composer.edit, "thanks")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sent == ["thanks"]


def test_the_box_opens_again_by_itself_when_the_timeout_ends(qtbot, composer: Composer) -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=600)
    composer.set_timed_out(soon.isoformat())
    assert not composer.edit.isEnabled()
    with qtbot.waitSignal(composer.timeout_ended, timeout=15_000):
        pass
    assert composer.edit.isEnabled() and not composer.notice.isVisible()


def test_a_timeout_in_the_past_or_garbage_changes_nothing(qtbot, composer: Composer) -> None:
    for value in ("2001-01-01T00:00:00.000Z", "not a time", 42, None, ""):
        composer.set_timed_out(value)
        assert composer.edit.isEnabled() and not composer.notice.isVisible(), value


def test_a_timeout_ending_another_day_names_the_day(qtbot) -> None:
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    later = now + timedelta(days=2)
    text = local_time_text(later, now)
    assert text.endswith(f"{later.astimezone():%H:%M}") and "," in text


# ------------------------------------------------------------------ drafts


def with_drafts(qtbot, path: Path) -> Composer:
    """A composer keeping its drafts in the file at `path`."""
    box = Composer()
    qtbot.addWidget(box)
    box.set_drafts(DraftStore(path))
    return box


def focused_with_drafts(qtbot, path: Path, key: str) -> Composer:
    """`with_drafts`, shown, on the draft of `key`, with the keyboard focus."""
    box = with_drafts(qtbot, path)
    box.show()
    box.set_draft_key(key)
    box.edit.setFocus()
    return box


def test_drafts_follow_the_channel_and_survive_a_restart(qtbot, tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    first = focused_with_drafts(qtbot, path, "c1/general")
    qtbot.keyClicks(first.edit, "half a thought")
    first.set_draft_key("c1/random")
    assert first.edit.toPlainText() == ""
    qtbot.keyClicks(first.edit, "another")
    first.set_draft_key("c1/general")
    assert first.edit.toPlainText() == "half a thought"
    assert not first.has_unsent_drafts()  # kept: quitting loses nothing
    first.hide()  # the window closes: saved at once
    assert json.loads(path.read_text()) == {"c1/random": "another", "c1/general": "half a thought"}
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no temporary file left

    second = with_drafts(qtbot, path)
    second.set_draft_key("c1/random")
    assert second.edit.toPlainText() == "another"


def test_a_sent_message_leaves_no_draft_and_an_edit_keeps_it(qtbot, tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    box = focused_with_drafts(qtbot, path, "c1/general")
    qtbot.keyClicks(box.edit, "my draft")
    box.start_edit("post-1", "an old message")
    assert box.has_unsent_drafts()  # an edit in progress would be lost
    qtbot.keyClick(box.edit, Qt.Key.Key_Escape)
    assert box.edit.toPlainText() == "my draft"
    box.accept_sent()  # as after the node took it
    box.flush_draft()
    assert json.loads(path.read_text()) == {}


def test_an_unreadable_drafts_file_is_ignored(qtbot, tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("{not json")
    store = DraftStore(path)
    assert store.get("c1/general") == ""
    assert path.read_text() == "{not json"  # left alone until there is something to save


def test_the_thread_composer_without_drafts_reports_unsent_text(qtbot, composer: Composer) -> None:
    assert not composer.has_unsent_drafts()
    qtbot.keyClicks(composer.edit, "reply in a thread")
    assert composer.has_unsent_drafts()
