"""Small helpers for building the knowledge views' widgets."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QWidget

W = TypeVar("W", bound=QWidget)


def named(widget: W, object_name: str, accessible: str = "", tip: str = "") -> W:
    """`widget` with its object name (style sheets, tests) and what a screen reader says."""
    widget.setObjectName(object_name)
    if accessible:
        widget.setAccessibleName(accessible)
    if tip:
        widget.setToolTip(tip)
    return widget
