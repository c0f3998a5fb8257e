"""Search in the side panel: the request, and results that say where and what matched.

The node matches every word as a prefix and names each result's channel
(`channel`, `channel_name`; issue 13 interface 6). The results are drawn by
the same `PostDelegate` as the timeline, told the search words (their
matching prefixes are highlighted) and the channel names (each header says
"in #general", also for an older node that sends only the channel id).
Activating a result asks the page to show it: `post_wanted`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from p2pcommunity.ui.client import ControlClient, friendly_error
from p2pcommunity.ui.post_text import search_terms
from p2pcommunity.ui.widgets import SearchPanel

LIMIT = 50


class SearchController(QObject):
    post_wanted = Signal(dict)  # a result row: the page shows it in its channel

    def __init__(self, client: ControlClient, panel: SearchPanel, parent: QObject) -> None:
        super().__init__(parent)
        self.client = client
        self.panel = panel
        self.community = ""
        self._generation = 0
        panel.view.post_delegate.channel_names = {}
        panel.searched.connect(self.search)
        panel.result_activated.connect(self.post_wanted)

    def set_channel_names(self, names: dict[str, str]) -> None:
        """channel id -> name, for results of a node that sends no `channel_name`."""
        self.panel.view.post_delegate.channel_names = dict(names)
        self.panel.view.viewport().update()

    def search(self, query: str) -> None:
        if not query or not self.community:
            return
        self._generation += 1
        generation, community = self._generation, self.community
        self.panel.status.setText("Searching…")

        def done(result: dict[str, Any]) -> None:
            if generation != self._generation or community != self.community:
                return  # a newer search, or another community, answered first
            posts = list(result.get("posts", []))
            delegate = self.panel.view.post_delegate
            delegate.terms = search_terms(query)
            delegate.selection = None
            delegate.invalidate()
            self.panel.model.set_posts(posts)
            self.panel.status.setText(
                f"{len(posts)} result{'s' if len(posts) != 1 else ''} for “{query}”"
                if posts
                else f"Nothing found for “{query}”."
            )

        def failed(message: str, code: str) -> None:
            if generation == self._generation:
                self.panel.status.setText(friendly_error(message, code))

        self.client.request(
            "search",
            {"community": community, "query": query, "limit": LIMIT},
            on_result=done,
            on_error=failed,
        )

    def clear(self) -> None:
        """Another community: its results do not belong here."""
        self._generation += 1
        self.panel.model.set_posts([])
        self.panel.status.setText("")
