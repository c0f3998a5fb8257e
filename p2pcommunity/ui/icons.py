"""Icons that render everywhere, and the colour emoji font.

A button glyph drawn from a font (🔍, 👥) is an empty box on a machine without
a colour emoji font, so buttons get real icons: the platform's own where it
has one (a freedesktop icon theme on Linux; Qt 6.7+ maps the same standard
names to Segoe Fluent on Windows and SF Symbols on macOS), else the SVG
drawn for this app in `icons/` next to this module. Every icon button also
carries text and an accessible name (`icon_button`), not a tooltip alone.

Emoji in content (posts, reactions) still need a font: `load_emoji_font`
registers the colour emoji font shipped in a bundle (`make dist` puts it in
`fonts/`), so a bundle does not depend on the machine having one. From
source, the system's font (`fonts-noto-color-emoji`, installed by `make`) is
found through fontconfig as usual.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from PySide6.QtCore import QSize
from PySide6.QtGui import QFontDatabase, QIcon
from PySide6.QtWidgets import QToolButton

ICON_DIR: Final = Path(__file__).resolve().parent / "icons"
EMOJI_FONT_FILE: Final = "NotoColorEmoji.ttf"
EMOJI_FAMILY: Final = "Noto Color Emoji"

# Our name -> the platform's standard icon, when there is one.
_THEME: Final[dict[str, QIcon.ThemeIcon]] = {
    "search": QIcon.ThemeIcon.EditFind,
    "close": QIcon.ThemeIcon.WindowClose,
    "attach": QIcon.ThemeIcon.MailAttachment,
}
NAMES: Final = ("search", "members", "edit", "close", "attach", "page", "forum", "qa")


def icon(name: str) -> QIcon:
    """The icon `name` (one of `NAMES`): the platform's, else ours. Never a null icon."""
    if name not in NAMES:
        raise KeyError(f"no icon named {name!r}")
    fallback = QIcon(str(ICON_DIR / f"{name}.svg"))
    theme = _THEME.get(name)
    if theme is not None and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme, fallback)
    return fallback


def icon_button(name: str, text: str, tooltip: str | None = None) -> QToolButton:
    """An auto-raised tool button showing icon `name`, named `text` for screen readers."""
    button = QToolButton()
    button.setIcon(icon(name))
    button.setText(text)
    button.setAccessibleName(text)
    button.setToolTip(tooltip or text)
    button.setToolButtonStyle(button.toolButtonStyle().ToolButtonIconOnly)
    button.setIconSize(QSize(18, 18))
    button.setAutoRaise(True)
    return button


def bundled_font_dirs() -> list[Path]:
    """Where a bundle keeps its fonts (PyInstaller's `sys._MEIPASS/fonts`), if this is one."""
    base = getattr(sys, "_MEIPASS", None)
    return [Path(base) / "fonts"] if base else []


def load_emoji_font(dirs: list[Path] | None = None) -> str | None:
    """Register a shipped colour emoji font with Qt; its family, or None if none is shipped.

    Call once after the QApplication exists. Qt then falls back to it for
    every emoji that the text font lacks.
    """
    for directory in bundled_font_dirs() if dirs is None else dirs:
        path = directory / EMOJI_FONT_FILE
        if not path.is_file():
            continue
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id >= 0:
            families = QFontDatabase.applicationFontFamilies(font_id)
            return families[0] if families else EMOJI_FAMILY
    return None
