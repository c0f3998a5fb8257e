"""What every knowledge view needs to know: the client, where it is, and who is looking.

One `Session` is shared by the topic list, the topic page and the wiki views
of a chat page; the page updates it when the community, the channel or the
member's role changes. Views read it and never keep their own copies, so a
role change (made a moderator) shows on the next refresh everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from p2pcommunity.ui.client import ControlClient, OnResult, friendly_error

MODERATORS = frozenset({"owner", "admin", "moderator"})


class Session(QObject):
    status_message = Signal(str)
    changed = Signal()  # something was written: views refresh what they show

    def __init__(self, client: ControlClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.community = ""
        self.me = ""
        self.role = "member"
        self.names: Callable[[], dict[str, str]] = dict

    @property
    def moderator(self) -> bool:
        return self.role in MODERATORS

    def name_of(self, peer: str) -> str:
        name = self.names().get(peer, "")
        return name or (f"{peer[:6]}…{peer[-4:]}" if len(peer) > 12 else peer)

    def report_error(self, message: str, code: str) -> None:
        self.status_message.emit(friendly_error(message, code))

    def ask(
        self,
        method: str,
        params: dict[str, Any],
        on_result: OnResult | None = None,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        """Send `method` for this community; a failure goes to the status bar unless handled."""
        community = self.community

        def done(result: dict[str, Any]) -> None:
            if community == self.community and on_result is not None:
                on_result(result)

        self.client.request(
            method,
            {"community": community, **params},
            on_result=done,
            on_error=on_error or self.report_error,
        )

    def write(self, method: str, params: dict[str, Any], done_text: str = "") -> None:
        """A change (vote, accept, pin ...): on success say so and let the views refresh."""

        def done(_result: dict[str, Any]) -> None:
            if done_text:
                self.status_message.emit(done_text)
            self.changed.emit()

        self.ask(method, params, done)
