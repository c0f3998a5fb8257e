"""The GUI's control API client: JSON-RPC 2.0 lines over a `QLocalSocket` or `QTcpSocket`.

Shaped like Parsec's GUI jobs: `request` writes one line and returns at once
with a `Call`; its answer arrives later on Qt's event loop (`readyRead`) as the
call's `finished` or `failed` signal (and the optional per-request callbacks).
Nothing here blocks, sleeps or spawns a thread. The node answers the requests
of one connection strictly in order, so a long request (`join`) gets its own
`ControlClient` to keep the main connection responsive.

`connect_to` takes an address from `control.transport.resolve_address`: a
Unix socket path (`QLocalSocket`), or the `tcp` endpoint file, whose port it
dials on 127.0.0.1 (`QTcpSocket`) and whose token it writes before anything
else. Both are `QIODevice`s with the same signals, so past `connect_to`
nothing here knows which one it holds.

Event notifications (after `subscribe`) arrive as `community_changed` and
`sync_progressed` signals; any other event as `notified`. Errors keep the
node's CLI code (`Call.code`), and `friendly_error` turns one into a sentence
for a message box: never a traceback.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QAbstractSocket, QHostAddress, QLocalSocket, QTcpSocket

from p2pcommunity.control import protocol as p
from p2pcommunity.control import transport as t

_Socket = TypeVar("_Socket", QLocalSocket, QTcpSocket)
Result = dict[str, Any]
OnResult = Callable[[Result], None]
OnError = Callable[[str, str], None]
"""(message, CLI code)."""

_CODE_HINTS = {
    "not_found": "Not found",
    "forbidden": "Not allowed",
    "invalid": "Invalid",
    "exists": "Already exists",
    "expired": "Expired",
    "revoked": "Revoked",
    "used_up": "Used up",
    "network": "Network problem",
    "locked": "Busy",
    "timeout": "Timed out",
    "internal": "The node failed",
    "disconnected": "Not connected",
    "unsupported": "Not available yet",
}


def friendly_error(message: str, code: str) -> str:
    """A one-line, human message for an error of the node."""
    message = message.strip() or "unknown error"
    if code == "unsupported":
        return f"This node does not support that yet ({message})."
    title = _CODE_HINTS.get(code)
    text = message[0].upper() + message[1:]
    if not text.endswith((".", "!", "?")):
        text += "."
    return f"{title}: {text}" if title and code not in ("invalid",) else text


class Call(QObject):
    """One pending request. Exactly one of `finished`/`failed` is emitted, once."""

    finished = Signal(dict)
    failed = Signal(str, str)  # message, CLI code

    def __init__(self, request_id: int, method: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.id = request_id
        self.method = method
        self.done = False
        self.result: Result | None = None
        self.message = ""
        self.code = ""

    def _resolve(self, result: Result) -> None:
        if not self.done:
            self.done, self.result = True, result
            self.finished.emit(result)

    def _reject(self, message: str, code: str) -> None:
        if not self.done:
            self.done, self.message, self.code = True, message, code
            self.failed.emit(message, code)


class ControlClient(QObject):
    connected = Signal()
    disconnected = Signal()
    community_changed = Signal(str, str)  # community id, kind
    sync_progressed = Signal(str, bool)  # community id, caught up
    notified = Signal(str, dict)  # any other event: method, params
    request_failed = Signal(str, str, str)  # method, message, CLI code (every failure)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._socket: QLocalSocket | QTcpSocket = self._new_socket(QLocalSocket(self))
        self._reader = p.LineReader()
        self._ids = itertools.count(1)
        self._pending: dict[int, Call] = {}
        self._callbacks: dict[int, tuple[OnResult | None, OnError | None]] = {}
        self._was_connected = False
        self._auth_line = b""
        self.address: Path | str = ""

    def _new_socket(self, sock: _Socket) -> _Socket:
        for signal, slot in self._socket_slots(sock):
            signal.connect(slot)
        return sock

    def _socket_slots(self, sock: QLocalSocket | QTcpSocket) -> list[tuple[Any, Any]]:
        return [
            (sock.connected, self._on_socket_connected),
            (sock.disconnected, self._on_socket_disconnected),
            (sock.readyRead, self._on_socket_ready_read),
            (sock.errorOccurred, self._on_socket_error),
        ]

    # ------------------------------------------------------------------ connection

    def connect_to(self, address: Path | str) -> None:
        """Connect asynchronously; `connected` or `disconnected` follows."""
        self.address = address  # a long request's own connection dials the same
        self._reader = p.LineReader()
        self._auth_line = b""
        old = self._socket
        if t.is_endpoint_address(address):
            try:
                endpoint = t.read_endpoint(Path(address))
            except PermissionError:
                endpoint = None
            sock = self._new_socket(QTcpSocket(self))
            self._replace_socket(old, sock)
            if endpoint is None:
                # No node there: report it as a refused connection is, later.
                QTimer.singleShot(0, self.disconnected.emit)
                return
            self._auth_line = endpoint.auth_line()
            sock.connectToHost(QHostAddress(endpoint.host), endpoint.port)
        else:
            local = self._new_socket(QLocalSocket(self))
            self._replace_socket(old, local)
            local.connectToServer(str(address))

    def _replace_socket(
        self, old: QLocalSocket | QTcpSocket, new: QLocalSocket | QTcpSocket
    ) -> None:
        for signal, slot in self._socket_slots(old):
            signal.disconnect(slot)  # its last signals are not ours to handle any more
        old.abort()
        old.deleteLater()
        self._socket = new

    @property
    def is_connected(self) -> bool:
        if isinstance(self._socket, QTcpSocket):
            return self._socket.state() == QAbstractSocket.SocketState.ConnectedState
        return self._socket.state() == QLocalSocket.LocalSocketState.ConnectedState

    def close(self) -> None:
        self._socket.abort()
        self._fail_all("the connection to the node was closed")

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        on_result: OnResult | None = None,
        on_error: OnError | None = None,
    ) -> Call:
        """Send `method` now; the answer comes as the returned call's signals."""
        call = Call(next(self._ids), method, self)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        self._pending[call.id] = call
        self._callbacks[call.id] = (on_result, on_error)
        if not self.is_connected:
            self._settle_error(call.id, "not connected to the node", "disconnected")
            return call
        try:
            line = p.encode(p.Request(call.id, method, clean))
        except (ValueError, TypeError) as exc:
            self._settle_error(call.id, f"cannot send {method}: {exc}", "invalid")
            return call
        self._socket.write(line)
        self._socket.flush()
        return call

    def subscribe(self, events: list[str] | None = None) -> Call:
        return self.request("subscribe", {"events": events})

    # ------------------------------------------------------------------ plumbing

    def _on_socket_connected(self) -> None:
        if self._auth_line:
            self._socket.write(self._auth_line)  # before any request: the `tcp` token
            self._socket.flush()
        self._was_connected = True
        self.connected.emit()

    def _on_socket_disconnected(self) -> None:
        self._fail_all("lost the connection to the node")
        if self._was_connected:
            self._was_connected = False
        self.disconnected.emit()

    def _on_socket_error(
        self, error: QLocalSocket.LocalSocketError | QAbstractSocket.SocketError
    ) -> None:
        if error in (
            QLocalSocket.LocalSocketError.PeerClosedError,
            QAbstractSocket.SocketError.RemoteHostClosedError,
        ):
            return  # `disconnected` follows
        if not self._was_connected:
            self.disconnected.emit()

    def _on_socket_ready_read(self) -> None:
        data = bytes(self._socket.readAll().data())
        for line in self._reader.feed(data):
            if isinstance(line, p.Overflow):
                continue
            try:
                message = p.decode(line)
            except p.MalformedMessage:
                continue
            self._dispatch(message)

    def _dispatch(self, message: p.Message) -> None:
        if isinstance(message, p.Notification):
            params = message.params
            if message.method == "community_changed":
                self.community_changed.emit(
                    str(params.get("community_id", "")), str(params.get("kind", ""))
                )
            elif message.method == "sync_progress":
                self.sync_progressed.emit(
                    str(params.get("community_id", "")), bool(params.get("caught_up"))
                )
            else:
                self.notified.emit(message.method, dict(params))
        elif isinstance(message, p.Response):
            if isinstance(message.id, int):
                self._settle_result(message.id, message.result)
        elif isinstance(message, p.ErrorResponse) and isinstance(message.id, int):
            code = message.cli_code
            if message.code == p.METHOD_NOT_FOUND or message.message.startswith("unknown command"):
                code = "unsupported"
            self._settle_error(message.id, message.message, code)

    def _settle_result(self, request_id: int, result: Result) -> None:
        call = self._pending.pop(request_id, None)
        on_result, _ = self._callbacks.pop(request_id, (None, None))
        if call is None:
            return
        if on_result is not None:
            on_result(result)
        call._resolve(result)
        call.deleteLater()

    def _settle_error(self, request_id: int, message: str, code: str) -> None:
        call = self._pending.pop(request_id, None)
        _, on_error = self._callbacks.pop(request_id, (None, None))
        if call is None:
            return
        self.request_failed.emit(call.method, message, code)
        if on_error is not None:
            on_error(message, code)
        call._reject(message, code)
        call.deleteLater()

    def _fail_all(self, message: str) -> None:
        for request_id in list(self._pending):
            self._settle_error(request_id, message, "disconnected")
