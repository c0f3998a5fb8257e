"""Light and dark palettes that follow the system's color scheme.

Qt 6 Fusion follows `QStyleHints.colorScheme` on platforms whose theme reports
one; we set an explicit palette for each scheme so the app looks the same on
every platform (and under Xvfb), and switch when `colorSchemeChanged` fires.
A small style sheet adds what a palette cannot: spacing, the rail, cards,
and a focus ring that one can see (2px in `focus` on every control that takes
keyboard focus; Fusion's own is a faint 1px line). Buttons, line edits and
lists are styled in every state, not only on focus, so that the ring does
not make the control jump or lose its frame.

Every colour pair that carries text meets WCAG AA (4.5:1) and the focus ring
3:1 against the surfaces it is drawn on; tests/ui/test_contrast.py computes
it from these tables and the style sheet, so a colour change that breaks it
fails there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from p2pcommunity.ui.icons import ICON_DIR

# A styled QSpinBox (border, focus ring) loses the platform's arrows: ours, then.
ICONS = ICON_DIR.as_posix()

LIGHT = {
    "window": "#f3f4f6",
    "base": "#ffffff",
    "alt": "#f5f6f8",
    "text": "#1c2024",
    "muted": "#5b5e66",
    "button": "#ffffff",
    "mid": "#d9d9e0",
    "midlight": "#e8e8ec",
    "accent": "#3e63dd",
    "accent_text": "#ffffff",
    "link": "#3358d4",
    "rail": "#e4e6eb",
    "sidebar": "#eceef2",
    "focus": "#3e63dd",
    "error": "#b3262b",
    "success": "#18794e",
}
DARK = {
    "window": "#18191b",
    "base": "#111113",
    "alt": "#1d1e21",
    "text": "#edeef0",
    "muted": "#9b9ea8",
    "button": "#222325",
    "mid": "#363a3f",
    "midlight": "#2b2d31",
    "accent": "#3e63dd",
    "accent_text": "#ffffff",
    "link": "#9eb1ff",
    "rail": "#0c0c0e",
    "sidebar": "#18191b",
    "focus": "#8da4ef",
    "error": "#ff9592",
    "success": "#3dd68c",
}


def luminance(color: QColor) -> float:
    """WCAG relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.redF(), color.greenF(), color.blueF()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def readable(color: QColor, background: QColor, ratio: float = 4.5) -> QColor:
    """`color`, darkened (on a light background) or lightened until it reads as text."""
    light_bg = luminance(background) > 0.18
    out = QColor(color)
    for _ in range(40):
        if contrast_ratio(out, background) >= ratio:
            break
        lightness = out.lightness()
        lightness = max(0, lightness - 6) if light_bg else min(255, lightness + 6)
        out = QColor.fromHsl(out.hslHue(), out.hslSaturation(), lightness, out.alpha())
    return out


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
    pal.setColor(role.BrightText, QColor(c["error"]))
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
    font-size: 18pt; border-radius: 22px; background: {c["base"]}; color: {c["success"]};
}}
QToolButton#addCommunity::menu-indicator {{ image: none; }}
QLabel#sectionLabel {{ color: {c["muted"]}; font-size: 8pt; font-weight: 600; padding: 6px 16px 4px; }}
QLabel#muted {{ color: {c["muted"]}; }}
QLabel#error {{ color: {c["error"]}; }}
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
QLabel#counter {{ color: {c["muted"]}; font-size: 8pt; }}
QLabel#counter[over="true"] {{ color: {c["error"]}; font-weight: 600; }}
QLabel#composerNotice {{ color: {c["error"]}; font-weight: 600; padding: 2px 4px; }}
QFrame#notificationBanner {{
    background: {c["alt"]}; border: 1px solid {c["mid"]}; border-left: 4px solid {c["focus"]};
}}
QLabel#bannerText {{ color: {c["text"]}; }}
{focus_rules(c)}
QStatusBar {{ color: {c["muted"]}; }}
QSplitter::handle {{ background: {c["midlight"]}; width: 1px; }}
"""


def focus_rules(c: dict[str, str]) -> str:
    """A visible focus ring for every kind of control, and the states it sits on."""
    ring = f"2px solid {c['focus']}"
    return f"""
QPushButton {{
    background: {c["button"]}; color: {c["text"]}; border: 1px solid {c["mid"]};
    border-radius: 6px; padding: 5px 14px; min-height: 18px;
}}
QPushButton:hover {{ background: {c["midlight"]}; }}
QPushButton:pressed {{ background: {c["mid"]}; }}
QPushButton:disabled {{ color: {c["muted"]}; background: {c["alt"]}; }}
QPushButton:focus {{ border: {ring}; padding: 4px 13px; }}
QToolButton {{ border: 2px solid transparent; border-radius: 6px; }}
QToolButton:focus {{ border: {ring}; }}
QLineEdit, QSpinBox {{
    background: {c["base"]}; color: {c["text"]}; border: 1px solid {c["mid"]};
    border-radius: 6px; padding: 4px 6px;
}}
QLineEdit:focus, QSpinBox:focus {{ border: {ring}; padding: 3px 5px; }}
QSpinBox::up-button, QSpinBox::down-button {{
    subcontrol-origin: padding; width: 18px; border: none; background: transparent;
}}
QSpinBox::up-button {{ subcontrol-position: top right; }}
QSpinBox::down-button {{ subcontrol-position: bottom right; }}
QSpinBox::up-button:hover, QSpinBox::down-button:hover {{ background: {c["midlight"]}; }}
QSpinBox::up-arrow {{ image: url({ICONS}/spin-up.svg); width: 10px; height: 6px; }}
QSpinBox::down-arrow {{ image: url({ICONS}/spin-down.svg); width: 10px; height: 6px; }}
QComboBox:focus {{ border: {ring}; border-radius: 6px; }}
QPlainTextEdit, QTextEdit, QTextBrowser {{ border: 1px solid {c["mid"]}; border-radius: 6px; }}
QPlainTextEdit:focus, QTextEdit:focus, QTextBrowser:focus {{ border: {ring}; }}
QAbstractItemView {{ border: 2px solid transparent; }}
QAbstractItemView:focus {{ border: {ring}; }}
QCheckBox, QRadioButton {{ border: 2px solid transparent; border-radius: 4px; padding: 2px; }}
QCheckBox:focus, QRadioButton:focus {{ border: {ring}; }}
QTabBar::tab:focus {{ border: {ring}; }}
QPlainTextEdit#messageEdit:focus {{ border: {ring}; padding: 3px 5px; }}
"""


def apply_theme(app: QApplication, dark: bool | None = None) -> None:
    """Apply the palette for `dark` (default: what the system says)."""
    if dark is None:
        dark = current_scheme_dark()
    app.setStyle("Fusion")
    app.setPalette(palette_for(dark))
    app.setStyleSheet(style_sheet(dark))
