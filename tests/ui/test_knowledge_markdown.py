"""Markdown in topics, replies and pages is rendered safely (issue 14, Formatting).

No node here: `MarkdownView` alone, shown and driven by the mouse. The remote
image test runs a real HTTP server on 127.0.0.1 and checks that it never saw
a request; the local one checks that a real PNG on disk is not loaded either
(a plain QTextDocument would load it: that is what makes the test able to fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QImage, QTextCursor, QTextDocument
from PySide6.QtWidgets import QToolTip

from p2pcommunity.ui.knowledge.markdown import MarkdownView, render_markdown

from .markdown_helpers import OpenedUrls, browser_replaced, recording_server


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    with recording_server() as server:
        yield server


def shown(qtbot, text: str) -> MarkdownView:
    view = MarkdownView()
    qtbot.addWidget(view)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    view.set_markdown(text)
    return view


def test_a_remote_image_is_never_fetched(qtbot, image_server) -> None:
    base, seen = image_server
    url = f"{base}/tracker.png?reader=me"
    view = shown(qtbot, f'Look: ![a cat]({url})\n\n<img src="{base}/raw.png">')
    view.repaint()
    qtbot.wait(500)  # anything that would fetch has had its chance
    assert seen == []
    text = view.toPlainText()
    assert f"[image not loaded: {url}]" in text
    assert f'<img src="{base}/raw.png">' in text  # raw HTML: text, and nothing fetched


def test_a_local_image_is_not_loaded_either(qtbot, tmp_path: Path) -> None:
    png = tmp_path / "tall.png"
    image = QImage(40, 900, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    assert image.save(str(png))
    source = f"![x]({QUrl.fromLocalFile(str(png)).toString()})"
    plain = QTextDocument()
    plain.setMarkdown(source)
    plain.setTextWidth(600)
    assert plain.size().height() > 800  # Qt alone would load it from disk
    view = shown(qtbot, source)
    assert view.document().size().height() < 200
    assert "[image not loaded:" in view.toPlainText()


def test_raw_html_is_shown_as_text(qtbot) -> None:
    view = shown(qtbot, "Hi <b>there</b>\n\n<script>alert(1)</script>\n\n<a href='x:y'>z</a>")
    text = view.toPlainText()
    assert "Hi <b>there</b>" in text
    assert "<script>alert(1)</script>" in text
    cursor = view.document().find("there")
    assert not cursor.charFormat().font().bold()
    assert not view.document().find("z").charFormat().isAnchor()


def test_code_is_monospace_on_the_code_background(qtbot) -> None:
    view = shown(qtbot, "Run `cargo run` now.\n\n```sh\nrustup update\nls\n```\n\n# Title\n")
    doc = view.document()
    inline = doc.find("cargo run")
    assert (
        inline.charFormat().fontFixedPitch()
        or "mono" in inline.charFormat().font().family().lower()
    )
    assert inline.charFormat().background().style() != Qt.BrushStyle.NoBrush
    block = doc.find("rustup update").block()
    assert block.blockFormat().background().style() != Qt.BrushStyle.NoBrush
    assert doc.find("Title").block().blockFormat().headingLevel() == 1
    words = doc.find("now").block().blockFormat()
    assert words.background().style() == Qt.BrushStyle.NoBrush  # prose keeps the page's


def _link_point(view: MarkdownView, word: str) -> QPoint:
    cursor = view.document().find(word)
    middle = QTextCursor(view.document())
    middle.setPosition((cursor.selectionStart() + cursor.selectionEnd()) // 2)
    return view.cursorRect(middle).center()


SCHEMES = ("https", "http", "mailto", "file", "javascript", "p2pcommunity")


@pytest.fixture
def opened() -> Iterator[OpenedUrls]:
    """The system browser, replaced: what QDesktopServices would have opened, per scheme."""
    with browser_replaced(SCHEMES) as sink:
        yield sink


def test_links_show_their_target_and_open_only_web_and_mail(qtbot, opened) -> None:
    target = "https://example.org/a/very/long/path?q=1#frag"
    view = shown(
        qtbot,
        f"[docs]({target}) and [mail](mailto:bob@example.org) and [files](file:///etc/passwd)"
        " and [script](javascript:alert(1))",
    )
    refused: list[str] = []
    hovered: list[str] = []
    view.link_refused.connect(refused.append)
    view.link_hovered.connect(hovered.append)

    docs = _link_point(view, "docs")
    qtbot.mouseMove(view.viewport(), docs)
    qtbot.waitUntil(lambda: target in hovered, timeout=3_000)
    assert view.toolTip() == target
    QToolTip.hideText()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=docs)
    qtbot.waitUntil(lambda: opened.urls == [target], timeout=3_000)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_link_point(view, "mail"))
    qtbot.waitUntil(lambda: len(opened.urls) == 2, timeout=3_000)
    assert opened.urls[1] == "mailto:bob@example.org"

    for word in ("files", "script"):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_link_point(view, word))
    qtbot.waitUntil(lambda: len(refused) == 2, timeout=3_000)
    assert len(opened.urls) == 2  # neither reached the system
    assert "file:///etc/passwd" in refused[0] and "Not opened" in refused[0]


def test_render_markdown_keeps_markdown_text_for_an_empty_body(qtbot) -> None:
    view = shown(qtbot, "")
    assert view.toPlainText() == ""
    doc = QTextDocument()
    render_markdown(doc, "plain words", view.palette())
    assert doc.toPlainText() == "plain words"
