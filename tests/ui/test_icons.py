"""Buttons draw real icons and carry names; emoji render in colour, not as boxes.

Offscreen, no node: the chat page is built on an unconnected client, its
header buttons and a post's reaction menu are rendered, and their pixels are
looked at. The emoji checks need a colour emoji font (the system's, which
`make` installs, or a bundle's); they are skipped, saying so, without one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtGui import QFont, QIcon, QImage, QPainter, QTextLayout
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLineEdit,
    QMenu,
    QStyleOptionViewItem,
    QToolButton,
)

from p2pcommunity.ui import icons
from p2pcommunity.ui.actions import REACTIONS
from p2pcommunity.ui.chat import ChatPage
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.delegate import ChannelDelegate
from p2pcommunity.ui.models import ChannelListModel

SYSTEM_EMOJI_DIRS = [Path("/usr/share/fonts"), Path("/usr/local/share/fonts")]


def system_emoji_font() -> Path | None:
    for base in SYSTEM_EMOJI_DIRS:
        for path in base.rglob(icons.EMOJI_FONT_FILE) if base.is_dir() else ():
            return path
    return None


def opaque_pixels(image: QImage) -> int:
    return sum(
        1
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 0
    )


@pytest.fixture
def page(qtbot, tmp_path: Path) -> ChatPage:
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    chat = ChatPage(ControlClient(), settings)
    qtbot.addWidget(chat)
    chat.resize(900, 600)
    chat.show()
    return chat


def test_every_icon_button_has_a_drawn_icon_and_a_name(page: ChatPage) -> None:
    ours = [
        b for b in page.findChildren(QToolButton) if not isinstance(b.parent(), QLineEdit)
    ]  # (a line edit's clear button is Qt's own)
    assert all(b.accessibleName() for b in ours), [b.text() for b in ours]
    buttons = [b for b in ours if not b.icon().isNull()]
    named = {b.accessibleName() for b in buttons}
    assert {"Search", "Members", "Edit your profile", "Cancel"} <= named
    assert len(page.header_buttons) == 2
    for button in [*page.header_buttons, *buttons]:
        assert not button.icon().isNull(), button.accessibleName()
        assert button.accessibleName() and button.accessibleName() == button.text()
        assert button.text().isascii()  # no glyph that needs an emoji font
        pixmap = button.icon().pixmap(button.iconSize())
        assert opaque_pixels(pixmap.toImage()) > 20, f"{button.text()} icon draws nothing"
    for button in page.header_buttons:
        assert opaque_pixels(button.grab().toImage()) > 20


@pytest.mark.parametrize("name", icons.NAMES)
def test_each_fallback_svg_renders(name: str, qtbot) -> None:
    icon = QIcon(str(icons.ICON_DIR / f"{name}.svg"))
    assert opaque_pixels(icon.pixmap(24, 24).toImage()) > 20
    with pytest.raises(KeyError):
        icons.icon("no-such-icon")


def test_the_reaction_menu_names_each_reaction(page: ChatPage, qtbot) -> None:
    post = {"id": "p1", "author": "someone", "author_name": "Sam", "text": "hi"}
    page.menus.post_menu(post, QPoint(10, 10), in_thread=False)
    menu = next(m for m in page.findChildren(QMenu) if m.title() == "" and m.isVisible())
    react = next(a.menu() for a in menu.actions() if a.text() == "React")
    texts = [a.text() for a in react.actions()]
    assert texts == [f"{emoji}  {name}" for emoji, name in REACTIONS]
    react.popup(QPoint(40, 40))
    qtbot.waitUntil(react.isVisible, timeout=5_000)
    assert opaque_pixels(react.grab().toImage()) > 0
    menu.close()


def glyph_runs(text: str) -> list[tuple[str, list[int]]]:
    """(font family, glyph indexes) of each run Qt would draw `text` with."""
    layout = QTextLayout(text, QFont())
    layout.beginLayout()
    layout.createLine()
    layout.endLayout()
    return [(r.rawFont().familyName(), list(r.glyphIndexes())) for r in layout.glyphRuns()]


def test_reaction_emoji_are_drawn_from_the_colour_emoji_font(qtbot) -> None:
    if system_emoji_font() is None and icons.load_emoji_font() is None:
        pytest.skip("no colour emoji font here (make installs fonts-noto-color-emoji)")
    for emoji, name in REACTIONS:
        runs = glyph_runs(emoji)
        # Glyph 0 is the font's empty box (.notdef); a text font's own emoji are monochrome.
        assert runs and all(family == icons.EMOJI_FAMILY for family, _ in runs), (name, runs)
        assert all(0 not in glyphs for _, glyphs in runs), (name, runs)


def test_a_shipped_emoji_font_is_registered(qtbot, tmp_path: Path) -> None:
    assert icons.load_emoji_font([tmp_path]) is None  # nothing shipped: nothing loaded
    font = system_emoji_font()
    if font is None:
        pytest.skip("no colour emoji font here to ship (make installs fonts-noto-color-emoji)")
    shutil.copy(font, tmp_path / icons.EMOJI_FONT_FILE)
    assert icons.load_emoji_font([tmp_path]) == icons.EMOJI_FAMILY


def test_no_button_text_needs_an_emoji_font(page: ChatPage) -> None:
    """The Pages entry and every other button of the page (knowledge, files, safety
    included) read in a text font: an emoji there is an empty box without a colour
    emoji font (📄 was)."""
    texts = [b.text() for b in page.findChildren(QAbstractButton)]
    assert "Pages" in texts
    needs_emoji = [t for t in texts if any(ord(c) >= 0x1F000 for c in t)]
    assert needs_emoji == []
    pages = next(b for b in page.findChildren(QAbstractButton) if b.text() == "Pages")
    assert not pages.icon().isNull()


def _channel_row(kind: str) -> QImage:
    model = ChannelListModel()
    model.set_rows([{"id": "c1", "name": "help", "kind": kind, "unread": 0}])
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 240, 30)
    option.palette = QApplication.palette()
    option.font = QApplication.font()
    image = QImage(240, 30, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    ChannelDelegate().paint(painter, option, model.index(0))
    painter.end()
    return image


def test_forum_and_qa_channels_are_marked_by_their_icon(qtbot) -> None:
    chat, forum, qa = (_channel_row(kind) for kind in ("chat", "forum", "qa"))
    mark = QRect(14, 0, 16, 30)  # where "#" or the kind's icon is drawn
    assert chat.copy(mark) != forum.copy(mark) and chat.copy(mark) != qa.copy(mark)
    assert forum.copy(mark) != qa.copy(mark)
    assert opaque_pixels(qa.copy(mark)) > 20
