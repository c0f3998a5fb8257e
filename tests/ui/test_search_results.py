"""Search results: prefixes match, each names its channel, the match is marked,
reaction chips look like chips, and the text can be selected and copied with the mouse.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from p2pcommunity.ui.delegate import MATCH_LIGHT
from p2pcommunity.ui.post_text import match_spans, search_terms
from p2pcommunity.ui.text_select import TextSelector
from p2pcommunity.ui.theme import apply_theme

from .test_keyboard_focus import open_app
from .test_two_apps import call


def search_for(qtbot, app, query: str, count: int) -> None:
    app.chat.open_search()
    field = app.chat.search_panel.field
    field.clear()
    QTest.keyClicks(field, query)
    QTest.keyClick(field, Qt.Key.Key_Return)
    model = app.chat.search_panel.model
    qtbot.waitUntil(lambda: model.rowCount() == count, timeout=10_000)


def colors_in(image, rect) -> set[str]:
    ratio = image.devicePixelRatio()
    return {
        QColor(image.pixel(int(x * ratio), int(y * ratio))).name()
        for x in range(rect.left() + 1, rect.right())
        for y in range(rect.top() + 1, rect.bottom())
    }


def test_results_name_the_channel_mark_the_match_and_draw_chips(qtbot, make_app) -> None:
    app, community, ids = open_app(qtbot, make_app, ("reading-now",))
    apply_theme(QApplication.instance(), dark=False)  # the side panel's style sheet, as in the app
    try:
        text = "Finished Middlemarch at last"
        post = call(
            qtbot,
            app,
            "post",
            {"community": community, "channel": ids["reading-now"], "text": text},
        )
        call(qtbot, app, "react", {"community": community, "post": post["post_id"], "emoji": "👍"})
        search_for(qtbot, app, "middle", 1)  # a prefix finds the word
        panel = app.chat.search_panel
        row = panel.model.rows()[0]
        assert row["channel_name"] == "reading-now"
        assert "1 result" in panel.status.text()
        view = panel.view
        index = panel.model.index(0, 0)
        delegate = view.post_delegate
        assert delegate._channel_label(index) == "in #reading-now"
        assert match_spans(delegate.shown(index)[0], search_terms("middle")) == [(9, 6)]

        qtbot.waitUntil(lambda: view.visualRect(index).height() > 0, timeout=5_000)
        # the window, not the list alone: the list's background is the panel's
        image = app.window.grab().toImage()
        shift = view.viewport().mapTo(app.window, QPoint(0, 0))
        option = TextSelector(view).option_for(index)
        layout, _h, origin = delegate.text_layout(option, index)
        line = layout.lineAt(0)
        start = int(origin.x() + line.cursorToX(9)[0])
        end = int(origin.x() + line.cursorToX(15)[0])
        match_rect = option.rect.adjusted(0, 0, 0, 0)
        match_rect.setLeft(start)
        match_rect.setRight(end)
        match_rect.setTop(int(origin.y()))
        match_rect.setBottom(int(origin.y() + line.height()))
        assert QColor(MATCH_LIGHT).name() in colors_in(image, match_rect.translated(shift))

        # the chip is a light pill, not a black one
        ((_emoji, chip),) = delegate.chip_rects(option, index)
        inside = chip.adjusted(3, 3, -chip.width() // 2, -3)
        inside.setWidth(6)
        seen = colors_in(image, inside.translated(shift))
        assert all(QColor(c).lightness() > 128 for c in seen), seen
    finally:
        QApplication.instance().setStyleSheet("")


def test_result_text_selects_with_the_mouse_and_copies(qtbot, make_app) -> None:
    app, community, ids = open_app(qtbot, make_app, ("reading-now",))
    text = "Finished Middlemarch at last"
    call(qtbot, app, "post", {"community": community, "channel": ids["reading-now"], "text": text})
    search_for(qtbot, app, "middlemarch", 1)
    view = app.chat.search_panel.view
    index = view.model().index(0, 0)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0, timeout=5_000)
    delegate = view.post_delegate
    option = TextSelector(view).option_for(index)
    layout, _h, origin = delegate.text_layout(option, index)
    line = layout.lineAt(0)
    y = int(origin.y() + line.height() / 2)

    def at(char: int) -> QPoint:
        return QPoint(int(origin.x() + line.cursorToX(char)[0]) + 1, y)

    viewport = view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at(9))
    QTest.mouseMove(viewport, at(14))
    QTest.mouseMove(viewport, at(20))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at(20))
    selection = delegate.selection
    assert selection is not None and selection.text_of(text) == "Middlemarch"
    # a drag that selected is not a click: the result did not take us away
    assert app.chat.channel == ids["general"]
    QGuiApplication.clipboard().clear()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "Middlemarch"
    # a plain click still opens the result in its channel
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=at(2))
    qtbot.waitUntil(lambda: app.chat.channel == ids["reading-now"], timeout=10_000)
    assert delegate.selection is None or not delegate.selection.span[1]
