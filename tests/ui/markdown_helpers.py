"""What the Markdown tests share: a local HTTP server that records every request
(an image it served would be a leak), and the system browser replaced by a sink
that records what would have been opened, so nothing leaves the process."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import ClassVar

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@contextmanager
def recording_server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1: its base URL and the paths it was asked for."""
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class OpenedUrls(QObject):
    """Stands in for the system browser: the URLs QDesktopServices.openUrl got."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


@contextmanager
def browser_replaced(schemes: Iterable[str]) -> Iterator[OpenedUrls]:
    """Until the block ends, URLs of these schemes go to an `OpenedUrls`."""
    schemes = tuple(schemes)
    sink = OpenedUrls()
    for scheme in schemes:
        QDesktopServices.setUrlHandler(scheme, sink, "open")
    try:
        yield sink
    finally:
        for scheme in schemes:
            QDesktopServices.unsetUrlHandler(scheme)
