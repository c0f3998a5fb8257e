"""Times as the CLI and control API show them: ISO 8601, UTC, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ms(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
