"""Where the safety dialogs meet the chat page: its menus, its composer, its notices.

`SafetyActions` is made by `ChatActions` (actions.py) for the community page.
It adds the community menu's safety entries (by role; the moderation log and
queue are pages of the community, pane.py, and the menu only shows them), the post menu's context
note entries (moderators), the report dialog with its categories, the
composer's refusals in words, and the member's appeal outcome notices. The
page is the duck-typed chat page (`ActionHost` and its models), never more.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDialog, QMenu, QWidget

from p2pcommunity.ui.actions import ADMINS, MODERATORS
from p2pcommunity.ui.dialogs import ask_text
from p2pcommunity.ui.safety.appeals import AppealsDialog, OutcomeWatcher
from p2pcommunity.ui.safety.errors import (
    HELD_TEXT,
    SAFETY_CODES,
    ComposerNotice,
    last_own_post,
    sentence,
)
from p2pcommunity.ui.safety.personal import MuteDialog
from p2pcommunity.ui.safety.policy import PolicyDialog
from p2pcommunity.ui.safety.report import ReportDialog

MAX_NOTE = 1000


class SafetyActions(QObject):
    def __init__(self, page: Any, widget: QWidget) -> None:
        super().__init__(widget)
        self.page = page
        self.widget = widget
        self.dialogs: list[QDialog] = []  # the open ones (tests and screenshots find them)
        self.outcomes = OutcomeWatcher(page.client, page.settings, lambda: page.me, self)
        self.outcomes.outcome_announced.connect(page.notification_wanted)
        page.client.community_changed.connect(self._on_client_community_changed)
        self.notice: ComposerNotice | None = None

    def _on_client_community_changed(self, community: str, _kind: str) -> None:
        self.outcomes.check(community, self._community_name(community))

    def _community_name(self, community: str) -> str:
        rows = self.page.communities.rows()
        return str(next((r.get("name") for r in rows if r.get("id") == community), "") or "")

    # ------------------------------------------------------------------ menus

    def fill_community_menu(self, menu: QMenu) -> None:
        role = self.page.my_role
        menu.addSeparator()
        pages = self.page.safety_pages
        if role in MODERATORS:
            menu.addAction("Moderation queue", pages.show_queue)
        menu.addAction("Moderation log", pages.show_modlog)
        if role in ADMINS:
            menu.addAction("Appeals…", self.open_appeals)
        menu.addAction(
            "Safety settings…" if role in MODERATORS else "Community policy…", self.open_policy
        )
        menu.addAction("Mute words and channels…", self.open_mutes)
        menu.addSeparator()

    def fill_post_menu(self, menu: QMenu, post: dict[str, Any]) -> None:
        if self.page.my_role not in MODERATORS:
            return
        if post.get("note"):
            menu.addAction("Edit context note…", lambda: self.add_note(post))
            menu.addAction(
                "Remove context note",
                lambda: self.page.simple("note remove", {"post": post["id"]}, "Note removed."),
            )
        else:
            menu.addAction("Add context note…", lambda: self.add_note(post))

    def add_note(self, post: dict[str, Any]) -> None:
        def done(text: str) -> None:
            text = text.strip()
            if not text:
                return
            if len(text) > MAX_NOTE:
                self.page.status_message.emit(f"A note has at most {MAX_NOTE} characters.")
                return
            self.page.simple(
                "note", {"post": post["id"], "text": text}, "Context note added under the message."
            )

        ask_text(
            self.widget,
            "Context note",
            "A note everyone sees under this message (sources, corrections):",
            done,
            text=str(post.get("note") or ""),
        )

    # ------------------------------------------------------------------ dialogs

    def _open(self, dialog: QDialog) -> QDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialogs.append(dialog)
        dialog.destroyed.connect(
            lambda *_: self.dialogs.remove(dialog) if dialog in self.dialogs else None
        )
        changed = getattr(dialog, "changed", None)
        if changed is not None:
            changed.connect(self.page.reload_timeline)
        dialog.open()
        return dialog

    def open_appeals(self) -> QDialog:
        return self._open(AppealsDialog(self.page.client, self.page.community, self.widget))

    def open_policy(self) -> QDialog:
        page = self.page
        return self._open(PolicyDialog(page.client, page.community, page.my_role, self.widget))

    def open_mutes(self) -> QDialog:
        return self._open(MuteDialog(self.page.client, self.page.community, self.widget))

    def report(self, post: dict[str, Any]) -> QDialog:
        dialog = ReportDialog(self.page.client, self.page.community, post, self.widget)
        dialog.reported.connect(self._on_report_dialog_reported)
        return self._open(dialog)

    def _on_report_dialog_reported(self, _post: str) -> None:
        self.page.status_message.emit(
            "Report sent to the moderators. The message is folded for you."
        )
        self.page.reload_timeline()

    # ------------------------------------------------------------------ composer

    def _composer_notice(self) -> ComposerNotice:
        if self.notice is None:
            self.notice = ComposerNotice(self.page.composer.notice, self)
        return self.notice

    def posted(self, result: dict[str, Any]) -> None:
        """After `post` answered: say so when the message is held."""
        notice = self._composer_notice()
        if result.get("held"):
            notice.show(HELD_TEXT)
        else:
            notice.clear()

    def post_failed(self, message: str, code: str) -> bool:
        """Show a safety refusal in the composer; False if `code` is not one."""
        if code not in SAFETY_CODES:
            return False
        text = sentence(code, message)
        notice = self._composer_notice()
        if code != "slow_mode":
            notice.show(text)
            return True
        page = self.page
        channel = page.channel
        names = {r.get("id"): r.get("name") for r in page.channels.rows()}
        last = last_own_post(page.timeline.rows(), page.me, channel)

        def done(policy: dict[str, Any]) -> None:
            slow = int((policy.get("slow_mode") or {}).get(names.get(channel), 0) or 0)
            notice.slow_mode(text, slow, last)

        page.client.request(
            "policy show",
            {"community": page.community},
            on_result=done,
            on_error=lambda _m, _c: notice.show(text),
        )
        return True
