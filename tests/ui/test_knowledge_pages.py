"""The wiki in the app, against a real node (issue 14): the Pages entry, a new page,
its Markdown, an edit, the history, a revert and who may edit. Clicks and keys only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QMessageBox

from p2pcommunity.ui.knowledge.dialogs import NewPageDialog
from p2pcommunity.ui.knowledge.history import DIFF_COLORS, HistoryWindow, change_text, diff_html
from p2pcommunity.ui.knowledge.pages import may_edit
from p2pcommunity.ui.theme import DARK, LIGHT, contrast_ratio

from .test_app_flow import create_community
from .test_knowledge_topics import WAIT, choose, click, click_channel, started
from .test_two_apps import call


def wait_box(qtbot, app) -> QMessageBox:
    def shown() -> list[QMessageBox]:
        return [b for b in app.window.findChildren(QMessageBox, "pageChanged") if b.isVisible()]

    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=WAIT)
    return shown()[0]


def test_a_page_is_written_edited_and_reverted_from_its_history(qtbot, make_app) -> None:
    alice = started(qtbot, make_app("alice"), "Alice")
    community = create_community(qtbot, alice, "Rust learners")
    pane = alice.chat.knowledge
    pages = pane.pages

    click(qtbot, pane.pages_button)
    qtbot.waitUntil(lambda: pane.currentWidget() is pages, timeout=WAIT)
    assert pane.pages_button.isChecked()
    assert not alice.chat.channel_view.currentIndex().isValid()  # no channel is current
    qtbot.waitUntil(lambda: pages.right.currentWidget() is pages.empty, timeout=WAIT)

    click(qtbot, pages.new_button)
    qtbot.waitUntil(
        lambda: any(d.isVisible() for d in alice.window.findChildren(NewPageDialog)),
        timeout=WAIT,
    )
    dialog = next(d for d in alice.window.findChildren(NewPageDialog) if d.isVisible())
    qtbot.keyClicks(dialog.title, "Getting started")
    for line in ("# Install", "", "Run `rustup` first:", "", "```", "cargo run", "```"):
        qtbot.keyClicks(dialog.text, line)
        qtbot.keyClick(dialog.text, Qt.Key.Key_Return)
    click(qtbot, dialog.ok_button)

    view = pages.view
    qtbot.waitUntil(lambda: view.page.get("title") == "Getting started", timeout=WAIT)
    assert pages.list.count() == 1 and pages.list.currentItem().text() == "Getting started"
    doc = view.viewer.document()
    assert doc.find("Install").block().blockFormat().headingLevel() == 1
    assert "#" not in view.viewer.toPlainText() and "```" not in view.viewer.toPlainText()
    code = doc.find("cargo run").block().blockFormat()
    assert code.background().style() != Qt.BrushStyle.NoBrush
    original = view.page["text"]

    # edit: the plain-text editor holds the Markdown; Save sends it as `page edit`
    click(qtbot, view.edit_button)
    assert view.editing and view.editor.toPlainText() == original
    view.editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(view.editor, "- be kind")
    click(qtbot, view.save_button)
    qtbot.waitUntil(
        lambda: not view.editing and "be kind" in view.page.get("text", ""), timeout=WAIT
    )
    assert view.page["text"] == original + "- be kind"
    assert doc.find("be kind").block().textList() is not None

    # the history: two versions, oldest first; revert to the first (a third version)
    click(qtbot, view.history_button)
    history = alice.window.findChild(HistoryWindow)
    assert history is not None and history.isVisible()
    qtbot.waitUntil(lambda: history.table.rowCount() == 2, timeout=WAIT)
    assert history.table.item(0, 1).text() == "Alice"
    assert history.table.item(1, 2).text() == "+9 \u22120"  # "- be kind"
    history.table.selectRow(1)
    assert not history.revert_button.isEnabled()  # the newest: nothing to revert to
    # the selected version's diff: what it inserted, coloured; the rest as it was
    qtbot.waitUntil(lambda: "- be kind" in history.diff_view.toPlainText(), timeout=WAIT)
    assert "cargo run" in history.diff_view.toPlainText()
    inserted = history.diff_view.document().find("be kind").charFormat()
    assert inserted.background().color().name() == DIFF_COLORS[False]["+"][1]
    history.table.selectRow(0)
    assert history.revert_button.isEnabled()
    click(qtbot, history.revert_button)
    qtbot.waitUntil(lambda: history.table.rowCount() == 3, timeout=WAIT)
    qtbot.waitUntil(lambda: view.page.get("text") == original, timeout=WAIT)
    assert "be kind" not in view.viewer.toPlainText()
    history.close()

    # someone saves while Alice edits: Save asks before undoing their change
    click(qtbot, view.edit_button)
    assert not pages.list.isEnabled()  # another page would drop the edit
    qtbot.keyClicks(view.editor, "mine ")
    page = {"community": community, "page": view.page["id"]}
    call(qtbot, alice, "page edit", page | {"append": "theirs"})
    click(qtbot, view.save_button)
    box = wait_box(qtbot, alice)
    keep = next(b for b in box.buttons() if b.text() == "Keep editing")
    click(qtbot, keep)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=WAIT)
    assert view.editing
    assert call(qtbot, alice, "page show", page)["text"] == original + "theirs"
    click(qtbot, view.save_button)
    box = wait_box(qtbot, alice)
    click(qtbot, next(b for b in box.buttons() if b.text() == "Save mine anyway"))
    qtbot.waitUntil(lambda: not view.editing, timeout=WAIT)
    assert call(qtbot, alice, "page show", page)["text"] == "mine " + original
    assert pages.list.isEnabled()

    # who may edit: the owner picks moderators; members could then no longer
    choose(qtbot, view.editors, "Editors: moderators")
    qtbot.waitUntil(lambda: view.page.get("editors") == "moderators", timeout=WAIT)
    assert not may_edit("member", "moderators") and may_edit("owner", "moderators")
    assert view.edit_button.isEnabled()

    # a channel brings the chat back; Pages again shows the same page
    click_channel(qtbot, alice, "general")
    qtbot.waitUntil(lambda: pane.currentWidget() is pane.chat_centre, timeout=WAIT)
    assert not pane.pages_button.isChecked()
    assert alice.chat.community == community
    click(qtbot, pane.pages_button)
    qtbot.waitUntil(lambda: pane.currentWidget() is pages and pages.list.count() == 1, timeout=WAIT)


def test_diff_colours_are_legible_in_both_themes() -> None:
    for dark, theme in ((False, LIGHT), (True, DARK)):
        for fg, bg in DIFF_COLORS[dark].values():
            assert contrast_ratio(QColor(fg), QColor(bg)) >= 4.5, (dark, fg, bg)
            assert contrast_ratio(QColor(theme["text"]), QColor(bg)) >= 4.5, (dark, bg)


def test_diff_html_escapes_and_strikes_deletions() -> None:
    shown = diff_html([["=", "a" * 1000], ["-", "<b>x</b>"], ["+", "y"]], dark=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in shown and "<b>" not in shown
    assert "line-through" in shown and DIFF_COLORS[True]["+"][1] in shown
    assert "a" * 1000 not in shown and "\u2026" in shown  # a long unchanged run, shortened
    assert change_text({"summary": "revert to abc", "added": 3, "removed": 1}) == (
        "+3 \u22121 \u00b7 revert to abc"
    )
    assert change_text({"summary": "+3 -1 chars", "added": None, "removed": None}) == (
        "+3 -1 chars"
    )
