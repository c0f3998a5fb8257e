"""Text contrast meets WCAG AA (4.5:1) in the light and the dark theme.

Computed from the palette (`theme.palette_for`) and the style sheet
(`theme.style_sheet`): every palette role pair that draws text, every
`color:` of the style sheet against the surfaces it can sit on, and the
focus ring (a non-text indicator: 3:1) against every surface.
"""

from __future__ import annotations

import re

import pytest
from PySide6.QtGui import QColor, QPalette

from p2pcommunity.ui import theme

AA_TEXT = 4.5
AA_NON_TEXT = 3.0
R = QPalette.ColorRole


def luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_contrast_formula_is_right() -> None:
    assert contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)


TEXT_ROLES = [
    (R.Text, R.Base),
    (R.Text, R.AlternateBase),
    (R.WindowText, R.Window),
    (R.ButtonText, R.Button),
    (R.HighlightedText, R.Highlight),
    (R.PlaceholderText, R.Base),
    (R.PlaceholderText, R.AlternateBase),
    (R.PlaceholderText, R.Window),
    (R.Link, R.Base),
    (R.Link, R.Window),
    (R.ToolTipText, R.ToolTipBase),
    (R.Text, R.Midlight),  # a selected or hovered row
]


def surfaces(dark: bool) -> dict[str, QColor]:
    """Every colour text is drawn on: the palette's and the style sheet's backgrounds."""
    pal = theme.palette_for(dark)
    found = {
        role.name: pal.color(role)
        for role in (R.Base, R.AlternateBase, R.Window, R.Button, R.Midlight)
    }
    for value in re.findall(r"background:\s*(#[0-9a-fA-F]{6})", theme.style_sheet(dark)):
        found[value] = QColor(value)
    accent = pal.color(R.Highlight).name()
    found.pop(accent, None)  # accent surfaces carry accent_text, checked as Highlight
    return found


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_palette_text_meets_aa(dark: bool) -> None:
    pal = theme.palette_for(dark)
    low = [
        (fg.name, bg.name, round(contrast(pal.color(fg), pal.color(bg)), 2))
        for fg, bg in TEXT_ROLES
        if contrast(pal.color(fg), pal.color(bg)) < AA_TEXT
    ]
    assert low == [], low


def rules(sheet: str) -> list[tuple[str, str | None, str | None]]:
    """(selector, text colour, background colour) of each rule of a style sheet."""
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", sheet):
        fg = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", body)
        bg = re.search(r"background:\s*(#[0-9a-fA-F]{6})", body)
        found.append((selector.strip(), fg and fg.group(1), bg and bg.group(1)))
    return found


def page_surfaces(dark: bool) -> dict[str, QColor]:
    """Where a label without a background of its own may sit."""
    c = theme.DARK if dark else theme.LIGHT
    return {k: QColor(c[k]) for k in ("window", "base", "alt", "sidebar", "button", "midlight")}


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_style_sheet_text_meets_aa(dark: bool) -> None:
    pal = theme.palette_for(dark)
    found = rules(theme.style_sheet(dark))
    assert sum(1 for _s, fg, _b in found if fg) >= 5  # the parse found the sheet's colours
    low = []
    for selector, fg, bg in found:
        if fg and bg:
            pairs = {bg: QColor(bg)}
        elif fg:
            pairs = page_surfaces(dark)
        elif bg:  # the palette's text on this rule's own background
            fg = pal.color(R.Text).name()
            pairs = {bg: QColor(bg)}
        else:
            continue
        for name, surface in pairs.items():
            ratio = contrast(QColor(fg), surface)
            if ratio < AA_TEXT:
                low.append((selector, fg, name, round(ratio, 2)))
    assert low == [], low


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_focus_ring_stands_out_from_every_surface(dark: bool) -> None:
    colours = theme.DARK if dark else theme.LIGHT
    ring = QColor(colours["focus"])
    low = [
        (name, round(contrast(ring, bg), 2))
        for name, bg in surfaces(dark).items()
        if contrast(ring, bg) < AA_NON_TEXT
    ]
    assert low == [], low
    assert f"2px solid {colours['focus']}" in theme.style_sheet(dark)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_author_colour_reads_on_the_timeline(dark: bool) -> None:
    from p2pcommunity.ui.delegate import peer_color

    base = QColor((theme.DARK if dark else theme.LIGHT)["base"])
    peers = [f"12D3KooW{i:044d}" for i in range(400)]  # spread over the hues
    low = [
        (p, peer_color(p, dark).name(), round(contrast(peer_color(p, dark), base), 2))
        for p in peers
        if contrast(peer_color(p, dark), base) < AA_TEXT
    ]
    assert low == [], low[:5]
