"""Light and dark palettes that follow the system's color scheme.

Qt 6 Fusion follows `QStyleHints.colorScheme` on platforms whose theme reports
one; we set an explicit palette for each scheme so the app looks the same on
every platform (and under Xvfb), and switch when `colorSchemeChanged` fires.
A small style sheet adds what a palette cannot: spacing, the rail, cards.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    "window": "#f3f4f6",
    "base": "#ffffff",
    "alt": "#f5f6f8",
    "text": "#1c2024",
    "muted": "#80838d",
    "button": "#ffffff",
    "mid": "#d9d9e0",
    "midlight": "#e8e8ec",
    "accent": "#3e63dd",
    "accent_text": "#ffffff",
    "link": "#3358d4",
    "rail": "#e4e6eb",
    "sidebar": "#eceef2",
}
DARK = {
    "window": "#18191b",
    "base": "#111113",
    "alt": "#1d1e21",
    "text": "#edeef0",
    "muted": "#8b8d98",
    "button": "#222325",
    "mid": "#363a3f",
    "midlight": "#2b2d31",
    "accent": "#5472e4",
    "accent_text": "#ffffff",
    "link": "#9eb1ff",
    "rail": "#0c0c0e",
    "sidebar": "#18191b",
}


def current_scheme_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def palette_for(dark: bool) -> QPalette:
    c = DARK if dark else LIGHT
    pal = QPalette()
    role = QPalette.ColorRole
    for r, key in (
        (role.Window, "window"),
        (role.Base, "base"),
        (role.AlternateBase, "alt"),
        (role.Text, "text"),
        (role.WindowText, "text"),
        (role.ButtonText, "text"),
        (role.ToolTipText, "text"),
        (role.ToolTipBase, "base"),
        (role.Button, "button"),
        (role.Mid, "mid"),
        (role.Midlight, "midlight"),
        (role.Highlight, "accent"),
        (role.HighlightedText, "accent_text"),
        (role.Link, "link"),
        (role.PlaceholderText, "muted"),
    ):
        pal.setColor(r, QColor(c[key]))
    pal.setColor(role.Light, QColor(c["midlight"]).lighter(110))
    pal.setColor(role.Dark, QColor(c["mid"]).darker(130))
    pal.setColor(role.Shadow, QColor("#000000"))
    pal.setColor(role.BrightText, QColor("#ff5c5c"))
    muted = QColor(c["muted"])
    for r in (role.Text, role.WindowText, role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, r, muted)
    return pal


def style_sheet(dark: bool) -> str:
    c = DARK if dark else LIGHT
    return f"""
QFrame#rail {{ background: {c["rail"]}; }}
QListView#communityRail {{ background: transparent; }}
QFrame#sidebar {{ background: {c["sidebar"]}; }}
QListView#channels {{ background: transparent; }}
QFrame#center, QListView#timeline {{ background: {c["base"]}; }}
QFrame#channelHeader {{ background: {c["base"]}; border-bottom: 1px solid {c["midlight"]}; }}
QStackedWidget#sidePanel {{ background: {c["sidebar"]}; }}
QStackedWidget#sidePanel QListView {{ background: transparent; }}
QToolButton#communityHeader {{
    font-weight: 600; font-size: 11pt; text-align: left; padding: 12px 14px;
    border: none; border-bottom: 1px solid {c["midlight"]};
}}
QToolButton#communityHeader::menu-indicator {{ image: none; }}
QToolButton#addCommunity {{
    font-size: 18pt; border-radius: 22px; background: {c["base"]}; color: #30a46c;
}}
QToolButton#addCommunity::menu-indicator {{ image: none; }}
QLabel#sectionLabel {{ color: {c["muted"]}; font-size: 8pt; font-weight: 600; padding: 6px 16px 4px; }}
QLabel#muted {{ color: {c["muted"]}; }}
QLabel#error {{ color: #e5484d; }}
QLabel#heroTitle {{ font-size: 20pt; font-weight: 600; }}
QToolButton#headerButton {{ font-size: 13pt; border-radius: 6px; }}
QToolButton#headerButton:hover {{ background: {c["midlight"]}; }}
QLabel#panelTitle {{ font-weight: 600; }}
QLabel#channelTitle {{ font-size: 12pt; padding-right: 10px; }}
QFrame#card {{ background: {c["base"]}; border: 1px solid {c["mid"]}; border-radius: 10px; padding: 8px; }}
QFrame#composer {{ background: {c["base"]}; }}
QPlainTextEdit#messageEdit {{
    border: 1px solid {c["mid"]}; border-radius: 8px; padding: 4px 6px; background: {c["alt"]};
}}
QPlainTextEdit#inviteCode {{ font-family: monospace; }}
QStatusBar {{ color: {c["muted"]}; }}
QSplitter::handle {{ background: {c["midlight"]}; width: 1px; }}
"""


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Apply the palette for `dark` (default: what the system says)."""
    if dark is None:
        dark = current_scheme_dark()
    app.setStyle("Fusion")
    app.setPalette(palette_for(dark))
    app.setStyleSheet(style_sheet(dark))
