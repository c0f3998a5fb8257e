"""Reports reach the moderators' viewer; search results jump to their post in its channel."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from p2pcommunity.ui.app import App
from p2pcommunity.ui.reports import HIDDEN, SHOWN, ReportColumn, ReportsDialog, ReportsModel

from .conftest import answer_text, start_with_name
from .test_app_flow import create_community, send, timeline_texts
from .test_two_apps import SYNC_MS, call, club_before_join, join_as_member


def menu_texts(app: App) -> list[str]:
    menu = QMenu()
    app.chat.menus.fill_community_menu(menu)
    return [a.text() for a in menu.actions()]


def test_a_members_report_reaches_the_moderators_viewer(qtbot, make_app, qtmodeltester) -> None:
    alice, bob, community = club_before_join(qtbot, make_app)
    send(qtbot, alice, "Buy cheap ropes at example.com")
    qtbot.waitUntil(lambda: len(timeline_texts(alice)) == 1, timeout=10_000)
    join_as_member(qtbot, alice, bob, community)
    qtbot.waitUntil(lambda: len(timeline_texts(bob)) == 1, timeout=SYNC_MS)
    qtbot.waitUntil(lambda: bob.chat.my_role == "member", timeout=10_000)

    # Bob, a member, reports the post from its menu; he has no reports viewer
    assert "Reports…" not in menu_texts(bob)
    post = bob.chat.timeline.rows()[0]
    report = bob.chat.menus.report_post(post)
    report.reason.setText("It is spam")
    report.send_button.click()
    qtbot.waitUntil(
        lambda: "Report sent" in bob.window.statusBar().currentMessage(), timeout=10_000
    )
    refused = ReportsDialog(bob.client, community, bob.window)
    qtbot.addWidget(refused)
    qtbot.waitUntil(lambda: refused.status.text().startswith("Not allowed"), timeout=10_000)

    # Alice, the owner, opens the viewer from the community menu once the report synced
    assert "Reports…" in menu_texts(alice)
    qtbot.waitUntil(
        lambda: bool(call(qtbot, alice, "reports", {"community": community})["reports"]),
        timeout=SYNC_MS,
    )
    alice.chat.menus.fill_community_menu(alice.chat.community_menu)
    next(a for a in alice.chat.community_menu.actions() if a.text() == "Reports…").trigger()
    dialog = alice.window.findChild(ReportsDialog)
    assert dialog is not None and dialog.isVisible()
    model = dialog.model
    qtbot.waitUntil(
        lambda: model.rowCount() == 1 and model.row_at(0).get("state") == SHOWN, timeout=10_000
    )
    qtbot.waitUntil(lambda: model.index(0, ReportColumn.REPORTER).data() == "Bob", timeout=10_000)
    assert model.index(0, ReportColumn.REASON).data() == "It is spam"
    assert model.index(0, ReportColumn.POST).data() == "Alice: Buy cheap ropes at example.com"
    assert model.index(0, ReportColumn.TIME).data()
    # the viewer closes (and is deleted) below: check a model that outlives it
    checked = ReportsModel()
    qtmodeltester.check(checked, force_py=True)
    checked.set_reports(call(qtbot, alice, "reports", {"community": community})["reports"])
    checked.set_names({bob.peer_id: "Bob"})
    checked.set_post(post["id"], SHOWN, model.row_at(0))
    checked.set_post(post["id"], HIDDEN)
    checked.set_reports([])
    assert dialog.go_button.isEnabled() and dialog.hide_button.isEnabled()

    # Go to post: the dialog closes and the post is the timeline's current row
    dialog.go_button.click()
    view = alice.chat.timeline_view
    qtbot.waitUntil(
        lambda: (view.post_at(view.currentIndex()) or {}).get("id") == post["id"], timeout=10_000
    )
    assert not dialog.isVisible()

    # Hide post: the row says so, and the post leaves Bob's timeline
    dialog = alice.dialogs.open_reports(community)
    model = dialog.model
    qtbot.waitUntil(lambda: model.row_at(0).get("state") == SHOWN, timeout=10_000)
    dialog.hide_post()
    answer_text(qtbot, dialog, "spam")
    qtbot.waitUntil(lambda: model.row_at(0).get("state") == HIDDEN, timeout=10_000)
    assert model.index(0, ReportColumn.POST).data() == "(hidden by a moderator)"
    assert not dialog.go_button.isEnabled()
    qtbot.waitUntil(lambda: timeline_texts(bob) == [], timeout=SYNC_MS)
    dialog.reload()
    qtbot.waitUntil(lambda: model.row_at(0).get("state") == HIDDEN, timeout=10_000)


def test_search_result_jumps_to_its_channel_and_pages_back(qtbot, make_app) -> None:
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    community = create_community(qtbot, app, "Climbing club")
    general = app.chat.channel
    call(qtbot, app, "post", {"community": community, "channel": general, "text": "the needle"})
    for i in range(14):
        call(qtbot, app, "post", {"community": community, "channel": general, "text": f"hay {i}"})
    random = call(qtbot, app, "channel create", {"community": community, "name": "random"})
    app.chat.timeline.page = 5  # the needle is three pages back
    app.chat.on_community_changed(community, "test")
    qtbot.waitUntil(lambda: app.chat.channels.rowCount() == 2, timeout=10_000)
    random_id = random["channel_id"]
    app.chat.go_to(community, random_id)
    qtbot.waitUntil(lambda: app.chat.channel == random_id, timeout=10_000)

    app.chat.open_search()
    app.chat.search_panel.field.setText("needle")
    app.chat.search_panel.field.returnPressed.emit()
    results = app.chat.search_panel.model
    qtbot.waitUntil(lambda: results.rowCount() == 1, timeout=10_000)
    hit = results.rows()[0]
    assert hit["channel"] == general
    app.chat.search_panel.view.activated.emit(results.index(0))

    view = app.chat.timeline_view

    def shown() -> bool:
        post = view.post_at(view.currentIndex())
        return app.chat.channel == general and bool(post) and post["id"] == hit["id"]

    qtbot.waitUntil(shown, timeout=10_000)
    assert app.chat.timeline.rowCount() >= 15
    assert view.visualRect(view.currentIndex()).intersects(view.viewport().rect())
