"""Forum and Q&A channels in the app, against real nodes (issue 14).

Everything is done as a user does it: the channel "+" and its kind, the tags
window, "Ask a question", the reply box, the vote arrows, Accept, Pin, the
list's filters. One app alone first (Alice owns the community, so she may do
everything); then Bob, a member on a second node, votes on Alice's question.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from p2pcommunity.ui.app import App
from p2pcommunity.ui.dialogs import CreateChannelDialog
from p2pcommunity.ui.knowledge.dialogs import MAX_TAGS, MAX_TITLE, NewTopicDialog
from p2pcommunity.ui.knowledge.tags import TagsDialog
from p2pcommunity.ui.knowledge.topic_page import OWN_POST

from .conftest import start_with_name
from .test_app_flow import create_community
from .test_two_apps import SYNC_MS, join_as_member

WAIT = 10_000


def started(qtbot, app: App, name: str) -> App:
    """The app on screen (clicks need visible widgets) and through its first run."""
    app.window.resize(1280, 800)
    app.window.show()
    qtbot.waitExposed(app.window)
    start_with_name(qtbot, app, name)
    return app


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def choose(qtbot, combo, text: str) -> None:
    """Pick a combo box entry with the keyboard, as a person tabbing through does."""
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(combo.count()):
        if combo.currentText() == text:
            return
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == text


def click_channel(qtbot, app: App, name: str) -> None:
    chat = app.chat
    qtbot.waitUntil(lambda: any(r.get("name") == name for r in chat.channels.rows()), timeout=WAIT)
    row = next(i for i, r in enumerate(chat.channels.rows()) if r.get("name") == name)
    rect = chat.channel_view.visualRect(chat.channels.index(row))
    qtbot.mouseClick(chat.channel_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def make_qa_channel(qtbot, app: App, name: str) -> None:
    chat = app.chat
    qtbot.waitUntil(lambda: chat.add_channel_button.isVisible(), timeout=WAIT)
    click(qtbot, chat.add_channel_button)
    dialog = app.window.findChild(CreateChannelDialog)
    assert dialog is not None
    qtbot.keyClicks(dialog.name, name)
    choose(qtbot, dialog.kind, "Q&A: questions, votes and accepted answers")
    click(qtbot, dialog.buttons.button(QDialogButtonBox.StandardButton.Ok))
    pane = chat.knowledge
    qtbot.waitUntil(lambda: pane.currentWidget() is pane.topics and pane.topics.qa, timeout=WAIT)


def add_tags(qtbot, app: App, names: list[str]) -> TagsDialog:
    click(qtbot, app.chat.knowledge.topics.tags_button)
    tags = app.window.findChild(TagsDialog)
    assert tags is not None and tags.isVisible()
    for name in names:
        qtbot.keyClicks(tags.name, name)
        qtbot.keyClick(tags.name, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda n=name: bool(tags.list.findItems(f"#{n}", Qt.MatchFlag.MatchExactly)),
            timeout=WAIT,
        )
    return tags


def open_dialog(qtbot, app: App) -> NewTopicDialog:
    """The new-topic dialog on screen (a closed one may linger until Qt deletes it)."""

    def shown() -> list[NewTopicDialog]:
        return [d for d in app.window.findChildren(NewTopicDialog) if d.isVisible()]

    qtbot.waitUntil(lambda: len(shown()) == 1, timeout=WAIT)
    return shown()[0]


def ask(qtbot, app: App, title: str, body: str, tags: int = 0) -> None:
    topics = app.chat.knowledge.topics
    click(qtbot, topics.new_button)
    dialog = open_dialog(qtbot, app)
    qtbot.keyClicks(dialog.title, title)
    qtbot.keyClicks(dialog.body, body)
    dialog.tags.setFocus()
    for row in range(tags):
        dialog.tags.setCurrentRow(row)
        qtbot.keyClick(dialog.tags.viewport(), Qt.Key.Key_Space)
    click(qtbot, dialog.ok_button)
    page = app.chat.knowledge.topic
    qtbot.waitUntil(
        lambda: bool(page.cards) and page.cards[0].post.get("title") == title, timeout=WAIT
    )


def test_a_qa_channel_opens_on_its_topics_and_a_question_gets_an_accepted_answer(
    qtbot, make_app
) -> None:
    alice = started(qtbot, make_app("alice"), "Alice")
    create_community(qtbot, alice, "Rust learners")
    make_qa_channel(qtbot, alice, "help")
    pane = alice.chat.knowledge
    topics = pane.topics
    assert topics.new_button.text() == "Ask a question"
    assert not alice.chat.timeline_view.isVisible()  # not a timeline
    qtbot.waitUntil(lambda: topics.stack.currentWidget() is topics.empty, timeout=WAIT)
    assert "No questions yet" in topics.empty.text()

    # tags, made by the owner in the tags window; a bad name gets the node's error
    names = ["borrowing", "cargo", "async", "beginner", "errors", "traits"]
    tags = add_tags(qtbot, alice, names)
    qtbot.keyClicks(tags.name, "Two words")
    qtbot.keyClick(tags.name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not tags.error.isHidden(), timeout=WAIT)
    assert tags.list.count() == len(names)
    tags.close()

    # the new-topic dialog: a title is required, counted, at most 200; at most 5 tags
    click(qtbot, topics.new_button)
    dialog = open_dialog(qtbot, alice)
    qtbot.waitUntil(lambda: dialog.tags.count() == len(names), timeout=WAIT)
    assert not dialog.ok_button.isEnabled()
    assert dialog.counter.text() == f"0/{MAX_TITLE}"
    qtbot.keyClicks(dialog.title, "x" * (MAX_TITLE + 30))
    assert len(dialog.title.text()) == MAX_TITLE and dialog.counter.text() == "200/200"
    dialog.tags.setFocus()
    for row in range(MAX_TAGS + 1):
        dialog.tags.setCurrentRow(row)
        qtbot.keyClick(dialog.tags.viewport(), Qt.Key.Key_Space)
    assert len(dialog.chosen_tags()) == MAX_TAGS
    assert "at most 5 tags" in dialog.error.text()
    click(qtbot, dialog.ok_button)  # no body: refused in place, nothing sent
    assert dialog.isVisible() and "body" in dialog.error.text()
    dialog.reject()

    ask(qtbot, alice, "Cannot borrow v as mutable", "The **loop** holds `v`.", tags=2)
    page = pane.topic
    question = page.cards[0]
    assert question.post["tags"] == ["async", "beginner"]
    assert "loop" in question.body.toPlainText() and "**" not in question.body.toPlainText()
    # my own post: the arrows are there, disabled, and say why
    assert not question.votes.up.isEnabled() and question.votes.up.toolTip() == OWN_POST

    # a reply through the reply box (Ctrl+Enter), then Accept on it
    qtbot.keyClicks(page.reply_edit, "Collect first, then extend.")
    qtbot.keyClick(page.reply_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(page.cards) == 2, timeout=WAIT)
    assert page.reply_edit.toPlainText() == ""
    qtbot.keyClicks(page.reply_edit, "A second reply.")
    click(qtbot, page.reply_button)
    qtbot.waitUntil(lambda: len(page.cards) == 3, timeout=WAIT)
    second = page.cards[2]
    assert second.post["text"] == "A second reply." and second.accept_button is not None
    click(qtbot, second.accept_button)
    # the accepted answer comes first under the question, marked
    qtbot.waitUntil(
        lambda: len(page.cards) == 3 and page.cards[1].post.get("accepted") is True,
        timeout=WAIT,
    )
    assert page.cards[1].post["text"] == "A second reply."
    assert page.cards[1].accept_button.text() == "Unaccept"
    assert page.cards[2].accept_button.text() == "Accept answer"

    # pin it (the owner moderates), back to the list: solved, pinned, two answers
    click(qtbot, page.cards[0].pin_button)
    qtbot.waitUntil(lambda: page.cards[0].post.get("pinned") is True, timeout=WAIT)
    assert page.cards[0].pin_button.text() == "Unpin"
    click(qtbot, alice.chat.findChild(type(page.cards[0].pin_button), "backButton"))
    qtbot.waitUntil(
        lambda: (
            [(r["solved"], r["pinned"], r["replies"]) for r in topics.model.rows()]
            == [(True, True, 2)]
        ),
        timeout=WAIT,
    )
    summary = topics.model.index(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert summary.startswith("Pinned:") and "solved" in summary

    # a second, unanswered question; the filters and the pinned-first order
    ask(qtbot, alice, "How do I add a local crate?", "Two crates in one workspace.")
    click(qtbot, alice.chat.findChild(type(page.reply_button), "backButton"))
    qtbot.waitUntil(lambda: topics.model.rowCount() == 2, timeout=WAIT)
    choose(qtbot, topics.sort, "Newest")
    qtbot.waitUntil(
        lambda: (
            [r["title"] for r in topics.model.rows()]
            == ["Cannot borrow v as mutable", "How do I add a local crate?"]
        ),
        timeout=WAIT,
    )
    choose(qtbot, topics.filter, "Unanswered")
    qtbot.waitUntil(
        lambda: [r["title"] for r in topics.model.rows()] == ["How do I add a local crate?"],
        timeout=WAIT,
    )
    choose(qtbot, topics.filter, "Solved")
    qtbot.waitUntil(
        lambda: [r["title"] for r in topics.model.rows()] == ["Cannot borrow v as mutable"],
        timeout=WAIT,
    )
    choose(qtbot, topics.filter, "All topics")
    choose(qtbot, topics.tag, "#beginner")
    qtbot.waitUntil(
        lambda: [r["title"] for r in topics.model.rows()] == ["Cannot borrow v as mutable"],
        timeout=WAIT,
    )
    choose(qtbot, topics.tag, "#cargo")
    qtbot.waitUntil(lambda: topics.stack.currentWidget() is topics.empty, timeout=WAIT)
    assert "No topic matches" in topics.empty.text()

    # a topic opens with a click on its row; a chat channel shows its timeline again
    choose(qtbot, topics.tag, "Any tag")
    qtbot.waitUntil(lambda: topics.model.rowCount() == 2, timeout=WAIT)
    rect = topics.view.visualRect(topics.model.index(1))
    qtbot.mouseClick(topics.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: pane.currentWidget() is page, timeout=WAIT)
    click_channel(qtbot, alice, "general")
    qtbot.waitUntil(lambda: pane.currentWidget() is pane.chat_centre, timeout=WAIT)
    assert alice.chat.composer.isVisible()  # the timeline and its composer
    click_channel(qtbot, alice, "help")
    qtbot.waitUntil(lambda: pane.currentWidget() is topics, timeout=WAIT)

    # a search result in a qa channel, chosen from #general, opens its topic
    click_channel(qtbot, alice, "general")
    qtbot.waitUntil(lambda: pane.currentWidget() is pane.chat_centre, timeout=WAIT)
    alice.chat.open_search()
    qtbot.keyClicks(alice.chat.search_panel.field, "extend")
    qtbot.keyClick(alice.chat.search_panel.field, Qt.Key.Key_Return)
    results = alice.chat.search_panel
    qtbot.waitUntil(lambda: results.model.rowCount() == 1, timeout=WAIT)
    results.view.setFocus()
    results.view.setCurrentIndex(results.model.index(0, 0))
    qtbot.keyClick(results.view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: pane.currentWidget() is page and len(page.cards) == 3, timeout=WAIT)
    assert page.cards[0].post["title"] == "Cannot borrow v as mutable"


def test_a_member_votes_on_a_question_and_takes_the_vote_back(qtbot, make_app) -> None:
    alice = started(qtbot, make_app("alice"), "Alice")
    bob = started(qtbot, make_app("bob"), "Bob")
    community = create_community(qtbot, alice, "Rust learners")
    make_qa_channel(qtbot, alice, "help")
    ask(qtbot, alice, "Why is my build slow?", "It takes **minutes**.")
    join_as_member(qtbot, alice, bob, community)
    qtbot.waitUntil(lambda: bob.chat.my_role == "member", timeout=WAIT)

    click_channel(qtbot, bob, "help")
    topics = bob.chat.knowledge.topics
    qtbot.waitUntil(lambda: topics.model.rowCount() == 1, timeout=SYNC_MS)
    rect = topics.view.visualRect(topics.model.index(0))
    qtbot.mouseClick(topics.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    page = bob.chat.knowledge.topic
    qtbot.waitUntil(lambda: len(page.cards) == 1, timeout=WAIT)
    card = page.cards[0]
    # a member on someone else's question: may vote; neither accept nor pin
    assert card.votes.up.isEnabled() and card.pin_button is None
    assert not topics.tags_button.isVisibleTo(topics)

    click(qtbot, card.votes.up)
    qtbot.waitUntil(lambda: page.cards[0].votes.total.text() == "1", timeout=WAIT)
    assert page.cards[0].votes.up.isChecked() and not page.cards[0].votes.down.isChecked()
    click(qtbot, page.cards[0].votes.down)  # changes the vote, never counts twice
    qtbot.waitUntil(lambda: page.cards[0].votes.total.text() == "-1", timeout=WAIT)
    assert page.cards[0].votes.down.isChecked() and not page.cards[0].votes.up.isChecked()

    # Alice's list shows Bob's vote once it synced
    alice_topics = alice.chat.knowledge.topics
    click(qtbot, alice.chat.findChild(type(page.reply_button), "backButton"))
    qtbot.waitUntil(
        lambda: alice_topics.model.rowCount() == 1 and alice_topics.model.rows()[0]["votes"] == -1,
        timeout=SYNC_MS,
    )

    click(qtbot, page.cards[0].votes.down)  # pressing the pressed arrow takes it back
    qtbot.waitUntil(lambda: page.cards[0].votes.total.text() == "0", timeout=WAIT)
    assert not page.cards[0].votes.down.isChecked()
    assert QApplication.activeModalWidget() is None
