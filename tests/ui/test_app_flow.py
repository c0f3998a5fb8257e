from __future__ import annotations

from p2pcommunity.ui.app import App

from .conftest import START_MS, start_with_name


def test_first_run_asks_a_name_then_welcomes(qtbot, make_app) -> None:
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    assert app.name == "Alice"
    assert app.peer_id.startswith("12D3Koo")
    assert app.node.started_by_us
    assert app.window.pages.currentWidget() is app.window.welcome


def create_community(qtbot, app: App, name: str) -> str:
    created: list[str] = []
    app.chat.communities_listed.connect(lambda n: None)
    app.dialogs.open_create()
    from p2pcommunity.ui.dialogs import CreateCommunityDialog

    dialog = app.window.findChild(CreateCommunityDialog)
    assert dialog is not None
    dialog.created.connect(created.append)
    dialog.name.setText(name)
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: bool(created), timeout=10_000)
    qtbot.waitUntil(
        lambda: app.stage == "chat" and app.chat.community == created[0], timeout=10_000
    )
    qtbot.waitUntil(lambda: bool(app.chat.channel), timeout=10_000)
    return created[0]


def send(qtbot, app: App, text: str) -> None:
    edit = app.chat.composer.edit
    edit.setPlainText(text)
    from PySide6.QtCore import Qt

    qtbot.keyClick(edit, Qt.Key.Key_Return)


def timeline_texts(app: App) -> list[str]:
    return [r["text"] for r in app.chat.timeline.rows()]


def test_create_community_post_and_see_it(qtbot, make_app, qtmodeltester) -> None:
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    create_community(qtbot, app, "Climbing club")
    assert [r["name"] for r in app.chat.communities.rows()] == ["Climbing club"]
    assert [r["name"] for r in app.chat.channels.rows()] == ["general"]
    send(qtbot, app, "Hello, wall!")
    qtbot.waitUntil(lambda: "Hello, wall!" in timeline_texts(app), timeout=10_000)
    assert app.chat.composer.edit.toPlainText() == ""  # the box cleared once the node took it
    send(qtbot, app, "Second\nline")
    qtbot.waitUntil(lambda: len(timeline_texts(app)) == 2, timeout=10_000)
    assert timeline_texts(app) == ["Hello, wall!", "Second\nline"]
    row = app.chat.timeline.rows()[0]
    assert row["author"] == app.peer_id and row["author_name"] == "Alice"
    qtbot.waitUntil(lambda: app.chat.members.rowCount() == 1, timeout=10_000)
    for model in (app.chat.communities, app.chat.channels, app.chat.members, app.chat.timeline):
        qtmodeltester.check(model, force_py=True)


def test_quitting_leaves_no_node_behind(qtbot, make_app) -> None:
    from p2pcommunity.control.protocol import resolve_socket_path
    from p2pcommunity.ui.node_process import _pid_alive

    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    pid = app.node.pid
    assert pid is not None and _pid_alive(pid)
    with qtbot.waitSignal(app.node.stopped, timeout=15_000) as stopped:
        app.shutdown()  # returns at once; the node exits while the loop runs
    assert stopped.args == [True]
    app.window.allow_close = True
    app.window.close()
    assert not _pid_alive(pid)
    assert resolve_socket_path(app.data_dir) is None


def test_attaches_to_a_running_node_and_leaves_it(qtbot, make_app) -> None:
    from p2pcommunity.ui.node_process import _pid_alive

    first: App = make_app("alice")
    start_with_name(qtbot, first, "Alice")
    pid = first.node.pid
    second = App(first.data_dir, ["/ip4/127.0.0.1/tcp/0"])
    qtbot.addWidget(second.window)
    second.start()
    qtbot.waitUntil(lambda: second.stage == "welcome", timeout=START_MS)
    assert not second.node.started_by_us
    second.shutdown()
    assert pid is not None and _pid_alive(pid)
