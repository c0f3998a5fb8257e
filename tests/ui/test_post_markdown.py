"""Chat posts are drawn as Markdown, safely (issue 14), by the timeline's one delegate.

No node here: a `PostListView` over a `PostListModel` with a `TextSelector`, as
chat_layout.py builds them, shown and driven by the mouse and the keyboard.
The remote image test runs an HTTP server on 127.0.0.1 and checks that it
never saw a request; the link tests replace the system browser with URL
handlers, so nothing leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QTextFormat
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip

from p2pcommunity.ui.delegate import MATCH_LIGHT
from p2pcommunity.ui.knowledge.markdown import code_background
from p2pcommunity.ui.models import PostListModel
from p2pcommunity.ui.post_body import MarkdownBody, keep_line_breaks, looks_like_markdown
from p2pcommunity.ui.text_select import TextSelector
from p2pcommunity.ui.widgets import PostListView

from .markdown_helpers import OpenedUrls, browser_replaced, recording_server

ALICE = "12D3KooW" + "A" * 44  # a peer id as the node writes it in a mention


def timeline(qtbot, *texts: str) -> tuple[PostListView, TextSelector]:
    view = PostListView()
    qtbot.addWidget(view)
    model = PostListModel(view)
    model.group = False
    model.set_posts(
        [
            {
                "id": f"p{i}",
                "author": "bob",
                "author_name": "Bob",
                "time": f"2026-01-02T10:0{i}:00.000Z",
            }
            | {"text": text}
            for i, text in enumerate(texts)
        ]
    )
    view.setModel(model)
    view.post_delegate.names = {ALICE: "Alice"}
    selector = TextSelector(view)
    view.resize(700, 560)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.visualRect(model.index(0, 0)).height() > 0, timeout=3_000)
    return view, selector


def body_of(view: PostListView, selector: TextSelector, row: int = 0):
    index = view.model().index(row, 0)
    body, height, origin = view.post_delegate.text_layout(selector.option_for(index), index)
    return body, height, origin


def point_of(view: PostListView, selector: TextSelector, word: str, row: int = 0) -> QPoint:
    """The middle of `word` in the row, in viewport coordinates."""
    body, _h, origin = body_of(view, selector, row)
    assert isinstance(body, MarkdownBody)
    cursor = body.doc.find(word)
    position = (cursor.selectionStart() + cursor.selectionEnd()) // 2
    return (origin + _doc_point(body, position)).toPoint()


def _doc_point(body: MarkdownBody, position: int) -> QPointF:
    block = body.doc.findBlock(position)
    layout = block.layout()
    line = layout.lineForTextPosition(position - block.position())
    top = body.doc.documentLayout().blockBoundingRect(block).top()
    x = line.cursorToX(position - block.position())[0]
    return QPointF(layout.position().x() + x, top + line.y() + line.height() / 2)


FORMATTED = (
    "Some *soft* and **strong** words with `inline code`.\n\n"
    "```python\nprint('hi')\nx = 1\n```\n\n"
    "- first\n- second\n\n"
    "> quoted line\n\n"
    "# A heading"
)


def test_a_chat_row_shows_emphasis_code_lists_quotes_and_flat_headings(qtbot) -> None:
    view, selector = timeline(qtbot, FORMATTED, "a plain post")
    body, height, _origin = body_of(view, selector)
    assert isinstance(body, MarkdownBody)
    doc = body.doc
    assert body.text == (
        "Some soft and strong words with inline code.\n"
        "print('hi')\nx = 1\nfirst\nsecond\nquoted line\nA heading"
    )
    assert doc.find("soft").charFormat().fontItalic()
    assert doc.find("strong").charFormat().fontWeight() >= QFont.Weight.Bold
    inline = doc.find("inline code").charFormat()
    assert inline.fontFixedPitch() or "mono" in inline.font().family().lower()
    background = code_background(QGuiApplication.palette())
    fence = doc.find("print('hi')").block()
    assert fence.blockFormat().background().color() == background
    assert fence.next().blockFormat().background().color() == background  # the whole block
    assert doc.find("first").block().textList() is not None
    assert doc.find("second").block().textList() is not None
    assert (
        doc.find("quoted line")
        .block()
        .blockFormat()
        .hasProperty(QTextFormat.Property.BlockQuoteLevel)
    )
    heading = doc.find("A heading")
    assert heading.block().blockFormat().headingLevel() == 0  # a post is not a page
    assert heading.charFormat().fontWeight() >= QFont.Weight.Bold
    assert heading.charFormat().intProperty(QTextFormat.Property.FontSizeAdjustment) == 0

    # drawn: the code block's background is on screen inside the row
    index = view.model().index(0, 0)
    row_rect = view.visualRect(index)
    assert row_rect.height() >= height  # the row is as tall as its formatted text
    image = view.viewport().grab(row_rect).toImage()
    seen = {
        image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())
    }
    assert background.name() in seen

    # a post without Markdown syntax keeps the fast path
    plain, _h, _o = body_of(view, selector, 1)
    assert not isinstance(plain, MarkdownBody)


def test_single_newlines_stay_line_breaks_without_breaking_blocks() -> None:
    assert not looks_like_markdown("see you at 5\nbring cake")
    assert looks_like_markdown("see `x`")
    assert keep_line_breaks("*a*\nb\n\n- x\n- y") == "*a*\u2028b\n\n- x\n- y"
    assert keep_line_breaks("```\na\nb\n```") == "```\na\nb\n```"  # code is never touched
    assert keep_line_breaks("> one\n> two") == "> one\u2028two"
    assert keep_line_breaks("Title\n--\nnext") == "Title\n--\nnext"  # a heading stays one
    assert keep_line_breaks("| a | b |\n|---|---|\n| 1 | 2 |").count("\u2028") == 0


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    with recording_server() as server:
        yield server


def test_images_are_never_fetched_and_html_is_text(qtbot, image_server, tmp_path: Path) -> None:
    base, seen = image_server
    png = tmp_path / "tall.png"
    image = QImage(40, 900, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    assert image.save(str(png))
    local = QUrl.fromLocalFile(str(png)).toString()
    view, selector = timeline(
        qtbot,
        f'Look ![cat]({base}/t.png?reader=me) <img src="{base}/raw.png"> <b>bold?</b>'
        f"\n\n![disk]({local})",
    )
    view.viewport().repaint()
    qtbot.wait(300)  # anything that would fetch has had its chance
    assert seen == []
    body, height, _origin = body_of(view, selector)
    assert f"[image not loaded: {base}/t.png?reader=me]" in body.text
    assert f"[image not loaded: {local}]" in body.text
    assert height < 200  # the 900 px image on disk was not loaded either
    assert f'<img src="{base}/raw.png"> <b>bold?</b>' in body.text
    assert body.doc.find("bold?").charFormat().fontWeight() < QFont.Weight.Bold


SCHEMES = ("https", "http", "mailto", "file", "javascript")


@pytest.fixture
def opened() -> Iterator[OpenedUrls]:
    """The system browser, replaced: what QDesktopServices.openUrl would have opened."""
    with browser_replaced(SCHEMES) as sink:
        yield sink


def test_links_show_their_target_and_only_web_links_open(qtbot, opened) -> None:
    target = "https://example.org/a/long/path?q=1#frag"
    view, selector = timeline(
        qtbot, f"[docs]({target}) or [run](javascript:alert(1)) or [disk](file:///etc/passwd)"
    )
    refused: list[str] = []
    view.post_delegate.link_refused.connect(refused.append)
    viewport = view.viewport()

    docs = point_of(view, selector, "docs")
    assert selector.link_at(QPointF(docs)) == target
    QTest.mouseMove(viewport, docs - QPoint(0, 40))
    QTest.mouseMove(viewport, docs)
    qtbot.waitUntil(lambda: QToolTip.text() == target, timeout=3_000)  # the full target
    QToolTip.hideText()

    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=docs)
    qtbot.waitUntil(lambda: opened.urls == [target], timeout=3_000)
    for word in ("run", "disk"):
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=point_of(view, selector, word))
    assert len(refused) == 2
    assert opened.urls == [target]  # neither reached the system
    assert "javascript:alert(1)" in refused[0] and "Not opened" in refused[0]
    assert "file:///etc/passwd" in refused[1]
    assert "Not opened" in QToolTip.text()  # the refusal is shown where the click was


def test_mentions_and_search_matches_are_marked_in_a_formatted_post(qtbot) -> None:
    view, selector = timeline(qtbot, f"**Ping** @{ALICE}: see `middle` of the _middlemarch_ notes")
    delegate = view.post_delegate
    delegate.terms = ["middle"]
    body, _h, _o = body_of(view, selector)
    assert isinstance(body, MarkdownBody)
    assert body.text == "Ping @Alice: see middle of the middlemarch notes"
    assert delegate.shown(view.model().index(0, 0))[0] == body.text  # what a copy copies
    start = body.text.index("@Alice")
    assert body.mentions == [(start, len("@Alice"))]
    mention = body.doc.find("@Alice").charFormat()
    assert mention.fontWeight() == QFont.Weight.DemiBold
    assert mention.foreground().color().name() != QGuiApplication.palette().text().color().name()
    for word in ("middle", "middlemarch"):
        cursor = body.doc.find(word, body.text.index(word))
        cursor.setPosition(cursor.selectionStart() + 1)
        assert cursor.charFormat().background().color() == QColor(MATCH_LIGHT)
    assert body.doc.find("notes").charFormat().background().style() == Qt.BrushStyle.NoBrush


def test_a_name_is_never_read_as_markdown(qtbot) -> None:
    view, selector = timeline(qtbot, f"hi @{ALICE} *there*")
    view.post_delegate.names = {ALICE: "_al_"}
    body, _h, _o = body_of(view, selector)
    assert body.text == "hi @_al_ there"
    assert not body.doc.find("al").charFormat().fontItalic()


def test_selecting_a_formatted_post_copies_the_shown_text(qtbot) -> None:
    view, selector = timeline(qtbot, "Some **strong** words")
    body, _h, origin = body_of(view, selector)
    assert isinstance(body, MarkdownBody)
    start = body.text.index("strong")

    def at(position: int) -> QPoint:
        return (origin + _doc_point(body, position)).toPoint() + QPoint(1, 0)

    viewport = view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=at(start))
    QTest.mouseMove(viewport, at(start + 3))
    QTest.mouseMove(viewport, at(start + len("strong")))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=at(start + len("strong")))
    assert selector.selected_text() == "strong"
    QGuiApplication.clipboard().clear()
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "strong"  # not "**strong**"
