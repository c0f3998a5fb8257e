"""`p2pcommunity://join/<code>` links, and handing them to an app that already runs.

A desktop opens such a link by starting `p2pcommunity URL` (the `.desktop`
file registers the scheme). One app runs per data dir, so the new process
first offers the link to the running app over a `QLocalSocket` keyed on the
data dir and exits if someone took it; otherwise it becomes that app and
listens with an `InstanceServer` for the next one.

The address is `DATA_DIR/app.sock` (owner-only, like the data dir) when that
fits a socket address; only a data dir too deep for one falls back to a name
derived from its path (Qt puts it in the temp dir). The handoff is one line
of text, "open" or "link URL", read with a size bound; a line that is neither
is ignored, so another local program can at most ask us to show a join
dialog, which joins nothing until the user clicks Join.

`hand_to_running` blocks for at most a second: it runs before any window
exists, never from a slot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from urllib.parse import unquote

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from p2pcommunity.control.protocol import MAX_SOCKET_PATH

log = logging.getLogger(__name__)

SCHEME = "p2pcommunity"
JOIN_PREFIX = f"{SCHEME}://join/"
INSTANCE_FILE = "app.sock"
MAX_LINE = 16 * 1024
HANDOFF_TIMEOUT_MS = 1000
# An invite code is base64url after its prefix, a community id is hex: both fit.
_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,8192}$")


class LinkError(ValueError):
    """Not a join link this app can open; the message says why, for the user."""


def make_link(code: str) -> str:
    return JOIN_PREFIX + code.strip()


def is_link(text: str) -> bool:
    return text.strip().lower().startswith(f"{SCHEME}:")


def parse_link(url: str) -> str:
    """The invite code of a `p2pcommunity://join/<code>` link; `LinkError` otherwise."""
    text = url.strip()
    if not text.lower().startswith(JOIN_PREFIX):
        raise LinkError("that is not a p2pcommunity join link (p2pcommunity://join/…)")
    # Browsers and chat apps may percent-encode, and add a slash or a query.
    code = unquote(text[len(JOIN_PREFIX) :]).split("?", 1)[0].split("#", 1)[0].strip("/ ")
    if not _CODE.match(code):
        raise LinkError("that join link is damaged: its invite code has characters no code has")
    return code


def instance_address(data_dir: Path) -> str:
    """Where the app of `data_dir` listens for links (a socket path, or a Qt server name)."""
    data_dir = data_dir.absolute()
    in_dir = data_dir / INSTANCE_FILE
    if len(os.fsencode(in_dir)) <= MAX_SOCKET_PATH:
        return str(in_dir)
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:24]
    return f"p2pcommunity-app-{digest}"


def hand_to_running(data_dir: Path, url: str = "", timeout_ms: int = HANDOFF_TIMEOUT_MS) -> bool:
    """Give `url` (or just "show yourself") to the app running on `data_dir`; False if none."""
    socket = QLocalSocket()
    socket.connectToServer(instance_address(data_dir))
    if not socket.waitForConnected(timeout_ms):
        return False
    line = f"link {url.strip()}\n" if url.strip() else "open\n"
    socket.write(line.encode("utf-8"))
    sent = socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return sent


class InstanceServer(QObject):
    """The running app's end of the handoff: emits what the next `p2pcommunity` sent."""

    link_received = Signal(str)  # the URL, unparsed: the app reports a bad one
    shown = Signal()  # "open": a second start without a link

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.address = instance_address(data_dir)
        self.data_dir = data_dir.absolute()
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_server_new_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Listen, replacing a stale address left by an app that died (none answered it)."""
        if self.address.startswith(str(self.data_dir)):
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self._server.listen(self.address):
            return True
        QLocalServer.removeServer(self.address)
        ok = self._server.listen(self.address)
        if not ok:
            log.warning(
                "cannot listen for links on %s: %s", self.address, self._server.errorString()
            )
        return ok

    def close(self) -> None:
        self._server.close()

    def _on_server_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            if socket is None:
                break
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._on_socket_ready_read(s))
            socket.disconnected.connect(lambda s=socket: self._forget(s))
            self._on_socket_ready_read(socket)

    def _forget(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        if socket not in self._buffers:
            return
        data = self._buffers[socket] + bytes(socket.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_LINE:
                log.warning("dropped an over-long handoff line")
                self._buffers.pop(socket, None)
                socket.abort()
            else:
                self._buffers[socket] = data
            return
        line, _rest = data.split(b"\n", 1)
        self._buffers.pop(socket, None)
        socket.disconnectFromServer()
        text = line[:MAX_LINE].decode("utf-8", "replace").strip()
        if text == "open":
            self.shown.emit()
        elif text.startswith("link "):
            self.link_received.emit(text[len("link ") :].strip())
        else:
            log.warning("ignored a handoff line that is neither 'open' nor 'link URL'")
