"""The create dialogs: the name field has the focus, the button says "Create", and an
error goes away once the input is fixed (issue 13, item 5a). Driven by keys only."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QWidget

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.dialogs import CreateChannelDialog, CreateCommunityDialog


def focused() -> QWidget | None:
    return QApplication.focusWidget()


def type_keys(qtbot, text: str) -> None:
    """Type into whatever has the focus, as a person does."""
    widget = focused()
    assert widget is not None
    qtbot.keyClicks(widget, text)


def test_create_community_dialog_types_into_the_name_and_clears_its_error(qtbot) -> None:
    client = ControlClient()  # not connected: a submitted request fails at once
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = CreateCommunityDialog(client, parent)
    dialog.open()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: focused() is dialog.name, timeout=2_000)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.text() == "Create"

    # Enter with no name: an error, and the dialog stays
    qtbot.keyClick(focused(), Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.error.isVisibleTo(dialog)
    assert "name" in dialog.error.text()

    # typing fixes it: the error goes at the first key
    type_keys(qtbot, "Climbing club")
    assert dialog.name.text() == "Climbing club"
    assert not dialog.error.isVisibleTo(dialog)

    # Tab goes to the description, not to the buttons
    qtbot.keyClick(focused(), Qt.Key.Key_Tab)
    assert focused() is dialog.description


def test_create_channel_dialog_starts_in_the_name_and_says_create(qtbot) -> None:
    client = ControlClient()
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = CreateChannelDialog(client, "c" * 64, parent)
    dialog.open()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: focused() is dialog.name, timeout=2_000)
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).text() == "Create"
    qtbot.keyClick(focused(), Qt.Key.Key_Return)
    assert dialog.error.isVisibleTo(dialog)
    type_keys(qtbot, "#news")
    assert not dialog.error.isVisibleTo(dialog)
    # Enter now sends "channel create" (and, with no node, shows why it failed)
    qtbot.keyClick(focused(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.error.isVisibleTo(dialog), timeout=2_000)
    assert "connected" in dialog.error.text().lower()
