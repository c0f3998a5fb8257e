"""Sending from the chat page's composers: a message, a reply in a thread, an edit.

Split from chat.py: the requests a composer's signals start and what their
answers do to the page (the composer cleared, the timeline refreshed, a safety
refusal said in words). It holds the page and nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from p2pcommunity.ui.safety.errors import HELD_TEXT, SAFETY_CODES, sentence

if TYPE_CHECKING:
    from p2pcommunity.ui.chat import ChatPage


class Sending(QObject):
    def __init__(self, page: ChatPage) -> None:
        super().__init__(page)
        self.page = page

    def _on_composer_sent(self, text: str, reply_to: str) -> None:
        page = self.page
        if not page.channel:
            return
        page.composer.send_button.setEnabled(False)
        page.files.tray.set_sending(True)  # the node is reading the files: they stay put

        def done(result: dict[str, Any]) -> None:
            page.composer.send_button.setEnabled(True)
            page.files.tray.set_sending(False)
            page.menus.safety.posted(result)  # held for approval: the composer says so
            page.composer.accept_sent()
            page.files.tray.accept_sent()
            page.timeline_view.follow_bottom()
            page.timeline.refresh()

        def failed(message: str, code: str) -> None:
            page.composer.send_button.setEnabled(True)
            page.files.tray.set_sending(False)
            if not page.menus.safety.post_failed(message, code):  # slow mode etc., in words
                page.report_error(message, code)

        params = {"channel": page.channel, "text": text, "reply_to": reply_to or None}
        params |= page.files.post_params()
        page.client.request(
            "post", {"community": page.community, **params}, on_result=done, on_error=failed
        )

    def _on_thread_composer_sent(self, text: str, _reply_to: str) -> None:
        page = self.page
        root = page.thread_panel.root_id
        held = page.thread_panel.model.rows()
        channel = str(held[0].get("channel") or page.channel) if held else page.channel

        page.files.thread_tray.set_sending(True)

        def done(result: dict[str, Any]) -> None:
            page.files.thread_tray.set_sending(False)
            if result.get("held"):
                page.status_message.emit(HELD_TEXT)
            page.thread_panel.composer.accept_sent()
            page.files.thread_tray.accept_sent()
            page.open_thread(root)
            page.timeline.refresh()

        def failed(message: str, code: str) -> None:
            # The composer notice belongs to the channel's composer: a reply's
            # refusal is said in words in the status bar instead.
            page.files.thread_tray.set_sending(False)
            if code in SAFETY_CODES:
                page.status_message.emit(sentence(code, message))
            else:
                page.report_error(message, code)

        params = {"channel": channel, "text": text, "reply_to": root}
        params |= page.files.thread_tray.params()
        page.client.request(
            "post", {"community": page.community, **params}, on_result=done, on_error=failed
        )

    def _on_composer_edited(self, post_id: str, text: str) -> None:
        page = self.page

        def done(_result: dict[str, Any]) -> None:
            page.composer.accept_sent()
            page.timeline.refresh()

        def failed(message: str, code: str) -> None:
            # A refused edit stays in the box, and the composer says why, as for a post.
            if not page.menus.safety.post_failed(message, code):
                page.report_error(message, code)

        page.client.request(
            "edit",
            {"community": page.community, "post": post_id, "text": text},
            on_result=done,
            on_error=failed,
        )

    def _on_composer_edit_last_requested(self) -> None:
        """Up in an empty box: edit my newest message of this channel that I still may."""
        page = self.page
        for row in reversed(page.timeline.rows()):
            if row.get("author") == page.me and not row.get("kind") and not row.get("hidden"):
                page.start_edit(row["id"], row.get("text", ""))
                return
