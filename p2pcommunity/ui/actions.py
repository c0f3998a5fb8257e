"""What the user can do: the post, member and community menus.

`ChatActions` builds the menus from the page's state (who I am, my role in
the current community) and turns each choice into a control request through
the page's `simple` helper, asking first with a non-blocking dialog where an
action is destructive or needs a reason. It holds the page it serves and
nothing else: no state of its own.

What it may use of the page is written down in `ActionHost`, public names
only; `ChatPage` satisfies it (mypy checks that where it builds its
`ChatActions`), and neither side touches the other's underscored names.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QDialog, QMenu, QMessageBox

from p2pcommunity.ui.dialogs import ONLY_ADMINS_INVITE, ask_text, confirm_leave
from p2pcommunity.ui.models import short_peer

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from PySide6.QtWidgets import QWidget

    from p2pcommunity.ui.client import ControlClient

# Each with its name: the menu reads well, and to a screen reader, even where
# the emoji font is missing and a glyph would be an empty box.
REACTIONS = (
    ("👍", "Thumbs up"),
    ("❤️", "Heart"),
    ("😂", "Laughing"),
    ("🎉", "Party"),
    ("😮", "Surprised"),
    ("😢", "Sad"),
    ("🙏", "Thanks"),
    ("👀", "Looking"),
)
ADMINS = ("owner", "admin")
MODERATORS = ("owner", "admin", "moderator")
TIMEOUTS = (("10 minutes", "10m"), ("1 hour", "1h"), ("1 day", "1d"), ("1 week", "7d"))


class ActionHost(Protocol):
    """The part of the chat page that its actions use: state, requests, a few verbs, signals.

    No widgets: the actions say what should happen (reply to this, edit that),
    the page knows which composer or view does it."""

    client: ControlClient
    me: str
    community: str
    channel: str
    info: dict[str, Any]
    invite_wanted: SignalInstance
    settings_wanted: SignalInstance
    status_message: SignalInstance

    @property
    def my_role(self) -> str: ...
    def refresh_communities(self) -> None: ...
    def report_error(self, message: str, code: str) -> None: ...
    def open_thread(self, post_id: str) -> None: ...
    def react(self, post_id: str, emoji: str) -> None: ...
    def simple(self, method: str, params: dict[str, Any], done_text: str = "") -> None: ...
    def start_reply(self, post_id: str, author: str) -> None: ...
    def start_edit(self, post_id: str, text: str) -> None: ...
    def insert_mention(self, peer: str) -> None: ...
    def reload_timeline(self) -> None: ...


class ChatActions(QObject):
    def __init__(self, page: ActionHost, widget: QWidget) -> None:
        """`widget` (the page itself) parents this object and its menus and dialogs."""
        super().__init__(widget)
        self.page = page
        self.widget = widget
        # Imported here: ui/safety's dialogs use this module's TIMEOUTS and role names.
        from p2pcommunity.ui.safety.hooks import SafetyActions

        self.safety = SafetyActions(page, widget)  # issue 16

    # ------------------------------------------------------------------ community

    def fill_community_menu(self, menu: QMenu) -> None:
        page = self.page
        menu.clear()
        name = page.info.get("name", "")
        invite = menu.addAction(
            "Invite people…", lambda: page.invite_wanted.emit(page.community, name)
        )
        if page.my_role not in ADMINS:
            # Greyed out, and saying why: in the text a screen reader reads, and on hover.
            invite.setEnabled(False)
            invite.setText(f"Invite people… ({ONLY_ADMINS_INVITE.lower()})")
            invite.setToolTip(ONLY_ADMINS_INVITE)
            invite.setStatusTip(ONLY_ADMINS_INVITE)
            menu.setToolTipsVisible(True)
        menu.addAction("Community settings…", lambda: page.settings_wanted.emit(page.community))
        self.safety.fill_community_menu(menu)
        menu.addAction(
            "Copy community id", lambda: QGuiApplication.clipboard().setText(page.community)
        )
        menu.addSeparator()
        menu.addAction("Leave community…", self.confirm_leave)

    def confirm_leave(self) -> None:
        page = self.page
        community = page.community

        def leave() -> None:
            def done(_result: dict[str, Any]) -> None:
                if page.community == community:
                    page.community = ""
                    page.channel = ""
                page.refresh_communities()

            page.client.request(
                "leave", {"community": community}, on_result=done, on_error=page.report_error
            )

        confirm_leave(self.widget, page.info.get("name", ""), leave)

    # ------------------------------------------------------------------ posts

    def post_menu(self, post: dict[str, Any], pos: QPoint, in_thread: bool) -> None:
        page = self.page
        mine = post.get("author") == page.me
        author = post.get("author_name") or short_peer(post.get("author", ""))
        menu = QMenu(self.widget)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        hidden = bool(post.get("hidden"))
        if hidden and page.my_role in MODERATORS:
            menu.addAction("Unhide (moderation)", lambda: self.unhide_post(post["id"]))
            menu.addSeparator()
        if not in_thread and not hidden:
            menu.addAction("Reply", lambda: page.start_reply(post["id"], author))
            menu.addAction("Open thread", lambda: page.open_thread(post["id"]))
        react = menu.addMenu("React")
        for emoji, name in REACTIONS:
            react.addAction(f"{emoji}  {name}", partial(page.react, post["id"], emoji))
        menu.addAction(
            "Copy text", lambda: QGuiApplication.clipboard().setText(post.get("text", ""))
        )
        menu.addSeparator()
        if mine:
            if not hidden:
                menu.addAction("Edit", lambda: page.start_edit(post["id"], post.get("text", "")))
            menu.addAction("Delete", lambda: self.confirm_delete(post))
        else:
            menu.addAction("Report…", lambda: self.report_post(post))
            if page.my_role in MODERATORS and not hidden:
                menu.addAction("Hide (moderation)…", lambda: self.hide_post(post["id"]))
            menu.addAction(f"Block {author}", lambda: self.block(post.get("author", ""), author))
        self.safety.fill_post_menu(menu, post)
        menu.popup(pos)

    def confirm_delete(self, post: dict[str, Any]) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete message",
            "Delete this message? It disappears for everyone, though the signed history "
            "still holds it.",
            QMessageBox.StandardButton.Cancel,
            self.widget,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(_result: int) -> None:
            if box.clickedButton() is delete:
                self.page.simple("delete", {"post": post["id"]})

        box.finished.connect(finished)
        box.open()

    def report_post(self, post: dict[str, Any]) -> QDialog:
        return self.safety.report(post)  # with its category (issue 16)

    def hide_post(self, post_id: str) -> None:
        ask_text(
            self.widget,
            "Hide message",
            "Reason (shown to moderators):",
            lambda reason: self.page.simple(
                "hide", {"post": post_id, "reason": reason or None}, "Message hidden."
            ),
        )

    def unhide_post(self, post_id: str) -> None:
        self.page.simple("unhide", {"post": post_id}, "Message shown again.")

    def block(self, peer: str, name: str) -> None:
        page = self.page

        def done(_result: dict[str, Any]) -> None:
            page.status_message.emit(f"Blocked {name}. Their messages are hidden on this computer.")
            page.reload_timeline()

        page.client.request("block", {"peer": peer}, on_result=done, on_error=page.report_error)

    # ------------------------------------------------------------------ members

    def on_members_panel_context_menu_requested(self, member: dict[str, Any], pos: QPoint) -> None:
        page = self.page
        peer = member.get("peer_id", "")
        name = member.get("name") or short_peer(peer)
        me = peer == page.me
        role = page.my_role
        owner = peer == page.info.get("owner")
        menu = QMenu(self.widget)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction("Mention", lambda: page.insert_mention(peer))
        menu.addAction("Copy peer id", lambda: QGuiApplication.clipboard().setText(peer))
        if not me and not owner and role in ADMINS:
            roles = menu.addMenu("Set role")
            for new_role in ("admin", "moderator", "member"):
                act = QAction(new_role.capitalize(), roles)
                act.setCheckable(True)
                act.setChecked(member.get("role") == new_role)
                act.triggered.connect(
                    lambda _c=False, r=new_role: page.simple(
                        "role set", {"peer": peer, "role": r}, f"{name} is now {r}."
                    )
                )
                roles.addAction(act)
        if not me and not owner and role in MODERATORS:
            timeout = menu.addMenu("Time out")
            for label, duration in TIMEOUTS:
                timeout.addAction(
                    label,
                    partial(
                        page.simple,
                        "timeout",
                        {"peer": peer, "duration": duration},
                        f"{name} is timed out for {label}.",
                    ),
                )
            if member.get("status") == "timed_out":
                menu.addAction(
                    "End time-out",
                    lambda: page.simple("untimeout", {"peer": peer}, f"{name} can post again."),
                )
        if not me and not owner and role in ADMINS:
            menu.addAction(
                f"Remove {name} from the community",
                lambda: page.simple("member remove", {"peer": peer}, f"{name} was removed."),
            )
        if not me:
            menu.addSeparator()
            menu.addAction(f"Block {name}", lambda: self.block(peer, name))
        menu.popup(pos)
