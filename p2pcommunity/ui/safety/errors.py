"""The node's safety refusals of a post, in words, shown in the composer.

`post` fails with `slow_mode`, `rate_limited`, `probation`, `max_mentions`,
`max_links` or `blocked_word` (the node's own check, docs/safety.md); a held
post succeeds with `"held": true`. The composer's notice line says what
happened and what to do; for slow mode it counts down the time left, from the
channel's slow mode (`policy show`) and this member's last post in it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel

SAFETY_CODES = (
    "slow_mode",
    "rate_limited",
    "probation",
    "max_mentions",
    "max_links",
    "blocked_word",
)
HELD_TEXT = (
    "Your message waits for a moderator's approval; until then only you and the moderators see it."
)


def sentence(code: str, message: str) -> str:
    detail = message.strip().rstrip(".")
    if code == "slow_mode":
        return f"Slow mode is on here ({detail.removeprefix('slow mode: ')})."
    if code == "rate_limited":
        return f"You are posting too fast: {detail}. Wait a little and send it again."
    if code == "probation":
        return (
            "New members cannot post links or mention several people yet. "
            "Your message was not sent; it is still in the box."
        )
    if code in ("max_mentions", "max_links"):
        return f"Too many {'mentions' if code == 'max_mentions' else 'links'}: {detail}."
    if code == "blocked_word":
        return (
            "Your message contains a word the moderators blocked in this community. "
            "Rephrase it and send it again."
        )
    return detail


def _ago_s(iso: str | None, now: datetime) -> float | None:
    try:
        then = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - then).total_seconds()


class ComposerNotice(QObject):
    """Drives one composer's notice line for safety refusals."""

    def __init__(self, notice: QLabel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notice = notice
        self.text = ""
        self.remaining = 0
        self._prefix = ""
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)

    def show(self, text: str) -> None:
        self._timer.stop()
        self.text = text
        self.notice.setText(text)
        self.notice.setAccessibleName(text)
        self.notice.show()

    def clear(self) -> None:
        if self.text and self.notice.text() == self.text:
            self.notice.hide()
            self.notice.setText("")
        self._timer.stop()
        self.text = ""

    def slow_mode(self, text: str, slow_s: int, last_post: str | None) -> None:
        """Count down from the member's last post in the channel, when it is known."""
        ago = _ago_s(last_post, datetime.now(UTC)) if last_post else None
        self._prefix = text
        if not slow_s or ago is None or ago >= slow_s:
            self.show(text)
            return
        self.remaining = max(1, int(slow_s - ago + 0.999))
        self._show_remaining()
        self._timer.start()

    def _show_remaining(self) -> None:
        text = f"{self._prefix} You can post again in {_duration(self.remaining)}."
        self.text = text
        self.notice.setText(text)
        self.notice.setAccessibleName(text)
        self.notice.show()

    def _tick(self) -> None:
        self.remaining -= 1
        if self.remaining <= 0:
            self.clear()
            return
        self._show_remaining()


def _duration(seconds: int) -> str:
    if seconds <= 90:  # "1 min" would hide the countdown's last minute
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def last_own_post(rows: list[dict[str, object]], me: str, channel: str) -> str | None:
    mine = [r for r in rows if r.get("author") == me and r.get("channel", channel) == channel]
    return str(mine[-1].get("time")) if mine else None
