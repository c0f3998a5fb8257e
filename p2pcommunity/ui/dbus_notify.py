"""Desktop notifications: org.freedesktop.Notifications over D-Bus, the tray as fallback.

Why not QtDBus: PySide6 6.12's QtDBus exists, but its Python binding cannot
marshal an unsigned 32-bit integer. A Python int goes out as `i`, and
`QDBusArgument << int` picks the `ushort` overload (`q`), so `Notify` leaves
as `sisssava{sv}i` instead of `susssasa{sv}i`, and a GDBus-based server (GNOME
Shell, dunst, mako ...) refuses the call for its signature. So the message
is built by jeepney (a pure-Python, sans-I/O D-Bus marshaller) and carried
over a `QLocalSocket` on Qt's own loop: no thread, no blocking call, no
trio. The conversation is a small state machine: connect, SASL EXTERNAL,
`Hello`, then one `Notify` per notification; each call has a deadline.
Anything that goes wrong (no session bus, no notification server, an error
reply, a timeout) reports `failed`, and `Notifier` falls back to the tray.

`Notifier` is what the app uses: it always shows the in-window banner, and
when the window is not in front (or hidden), also the desktop notification,
unless the user turned notifications off in Preferences.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.auth import BEGIN, AuthenticationError, Authenticator
from jeepney.bus import get_connectable_addresses
from jeepney.bus_messages import message_bus
from jeepney.low_level import HeaderFields, Message, Parser
from PySide6.QtCore import QByteArray, QObject, QSettings, QTimer, Signal
from PySide6.QtNetwork import QLocalSocket
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

log = logging.getLogger(__name__)

APP_NAME: Final = "p2pcommunity"
NOTIFICATIONS: Final = "notifications/enabled"  # the Preferences switch (ui/preferences.py)
CALL_TIMEOUT_MS: Final = 5000
EXPIRE_MS: Final = 8000
MAX_PENDING: Final = 32  # notifications waiting for the bus; older ones are dropped
MAX_BUFFER: Final = 1 << 20  # a bus that sends more than this without a message is dropped
SERVER: Final = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.freedesktop.Notifications",
)


class _State(Enum):
    IDLE = "idle"  # no connection
    CONNECTING = "connecting"
    AUTH = "auth"  # SASL
    HELLO = "hello"  # waiting for the bus to name us
    READY = "ready"


@dataclass
class _Pending:
    summary: str
    body: str
    serial: int = 0  # set when sent


def session_bus_path(address: str | None) -> str | None:
    """The socket path of the first unix address in a D-Bus address ('\\0…' for abstract)."""
    if not address:
        return None
    try:
        return str(next(get_connectable_addresses(address)))
    except (RuntimeError, ValueError, StopIteration):
        return None


class DBusNotifier(QObject):
    """Sends `Notify` calls to the session bus's notification server, asynchronously."""

    delivered = Signal(int)  # the server's notification id
    failed = Signal(str, str, str)  # summary, body, why

    def __init__(self, address: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._address = address  # None: DBUS_SESSION_BUS_ADDRESS when connecting
        self._state = _State.IDLE
        self._socket: QLocalSocket | None = None
        self._auth: Authenticator | None = None
        self._parser = Parser()
        self._serial = 0
        self._hello_serial = 0
        self._queue: list[_Pending] = []  # not sent yet (waiting for READY)
        self._sent: dict[int, _Pending] = {}  # serial -> sent, waiting for the reply
        self._deadline = QTimer(self)
        self._deadline.setSingleShot(True)
        self._deadline.setInterval(CALL_TIMEOUT_MS)
        self._deadline.timeout.connect(self._on_deadline_timeout)

    @property
    def state(self) -> str:
        return self._state.value

    def notify(self, summary: str, body: str) -> None:
        """Ask for a notification; `delivered` or `failed` follows, never an exception."""
        self._queue.append(_Pending(summary, body))
        if len(self._queue) > MAX_PENDING:
            dropped = self._queue.pop(0)
            self.failed.emit(dropped.summary, dropped.body, "too many notifications waiting")
        if self._state is _State.READY:
            self._send_queue()
        elif self._state is _State.IDLE:
            self._connect()
        self._deadline.start()

    def close(self) -> None:
        self._fail_all("closed")
        self._drop_socket()

    # ------------------------------------------------------------------ connection

    def _connect(self) -> None:
        address = self._address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        path = session_bus_path(address)
        if path is None:
            # Emitted from the loop, so a caller never sees `failed` inside notify().
            QTimer.singleShot(0, self, lambda: self._fail_all("no D-Bus session bus"))
            return
        sock = QLocalSocket(self)
        if path.startswith("\0"):
            sock.setSocketOptions(QLocalSocket.SocketOption.AbstractNamespaceOption)
            path = path[1:]
        sock.connected.connect(self._on_socket_connected)
        sock.readyRead.connect(self._on_socket_ready_read)
        sock.errorOccurred.connect(self._on_socket_error_occurred)
        sock.disconnected.connect(self._on_socket_disconnected)
        self._socket = sock
        self._parser = Parser()
        self._state = _State.CONNECTING
        sock.connectToServer(path)

    def _write(self, data: bytes) -> None:
        if self._socket is not None and data:
            self._socket.write(QByteArray(data))

    def _on_socket_connected(self) -> None:
        self._state = _State.AUTH
        self._auth = Authenticator()
        self._write(self._auth.data_to_send() or b"")

    def _on_socket_ready_read(self) -> None:
        sock = self._socket
        if sock is None:
            return
        data = bytes(sock.readAll().data())
        try:
            if self._state is _State.AUTH:
                self._feed_auth(data)
            else:
                self._feed_messages(data)
        except (AuthenticationError, ValueError) as exc:
            # A bus that speaks garbage: drop it, like any malformed input.
            log.warning("D-Bus: %s", exc)
            self._fail_all(f"D-Bus protocol error: {exc}")
            self._drop_socket()

    def _feed_auth(self, data: bytes) -> None:
        assert self._auth is not None
        self._auth.feed(data)
        reply = self._auth.data_to_send()
        if reply:
            self._write(reply)
        if self._auth.authenticated:
            # (jeepney's Authenticator leaves sending BEGIN to its caller)
            self._write(BEGIN)
            self._state = _State.HELLO
            self._hello_serial = self._next_serial()
            self._write(message_bus.Hello().serialise(self._hello_serial))

    def _feed_messages(self, data: bytes) -> None:
        if self._parser.buf.bytes_buffered + len(data) > MAX_BUFFER:
            raise ValueError("message too large")
        for msg in self._parser.feed(data):
            self._on_message(msg)

    def _on_message(self, msg: Message) -> None:
        kind = msg.header.message_type
        if kind not in (MessageType.method_return, MessageType.error):
            return  # signals (NameAcquired ...) are not for us
        serial = msg.header.fields.get(HeaderFields.reply_serial, 0)
        if serial == self._hello_serial and self._state is _State.HELLO:
            if kind is MessageType.error:
                self._fail_all(f"the bus refused Hello: {_error_text(msg)}")
                self._drop_socket()
                return
            self._state = _State.READY
            self._send_queue()
            return
        pending = self._sent.pop(serial, None)
        if pending is None:
            return
        if kind is MessageType.error:
            self.failed.emit(pending.summary, pending.body, _error_text(msg))
        else:
            body: Any = msg.body
            self.delivered.emit(int(body[0]) if body and isinstance(body[0], int) else 0)
        if not self._sent and not self._queue:
            self._deadline.stop()

    def _send_queue(self) -> None:
        queue, self._queue = self._queue, []
        for pending in queue:
            pending.serial = self._next_serial()
            call = new_method_call(
                SERVER,
                "Notify",
                "susssasa{sv}i",
                (APP_NAME, 0, APP_NAME, pending.summary, pending.body, [], {}, EXPIRE_MS),
            )
            self._sent[pending.serial] = pending
            self._write(call.serialise(pending.serial))

    def _next_serial(self) -> int:
        self._serial = self._serial % 0xFFFFFFF0 + 1
        return self._serial

    # ------------------------------------------------------------------ failure

    def _on_deadline_timeout(self) -> None:
        if self._sent or self._queue:
            self._fail_all("no answer from the notification service")
            if self._state is not _State.READY:
                self._drop_socket()

    def _on_socket_error_occurred(self, _error: QLocalSocket.LocalSocketError) -> None:
        why = self._socket.errorString() if self._socket is not None else "socket error"
        self._fail_all(f"D-Bus: {why}")
        self._drop_socket()

    def _on_socket_disconnected(self) -> None:
        self._fail_all("the D-Bus connection closed")
        self._drop_socket()

    def _fail_all(self, why: str) -> None:
        waiting = [*self._sent.values(), *self._queue]
        self._sent.clear()
        self._queue.clear()
        self._deadline.stop()
        for pending in waiting:
            self.failed.emit(pending.summary, pending.body, why)

    def _drop_socket(self) -> None:
        sock, self._socket = self._socket, None
        self._state = _State.IDLE
        self._auth = None
        if sock is not None:
            for signal in (sock.connected, sock.readyRead, sock.errorOccurred, sock.disconnected):
                signal.disconnect()
            sock.abort()
            sock.deleteLater()


def _error_text(msg: Message) -> str:
    name = msg.header.fields.get(HeaderFields.error_name, "error")
    detail = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
    return f"{name}: {detail}" if detail else str(name)


class Notifier(QObject):
    """The app's notifications: the banner always; D-Bus, else the tray, when not in front."""

    shown = Signal(str, str, str)  # title, text, how ("dbus", "tray", "window")

    def __init__(
        self,
        window: QWidget,
        banner: Any,  # widgets.NotificationBanner: anything with show_notification(title, text)
        settings: QSettings,
        tray: Callable[[], QSystemTrayIcon | None],
        icon: Any = None,
        dbus: DBusNotifier | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.window = window
        self.banner = banner
        self.settings = settings
        self.tray = tray
        self.icon = icon
        self.dbus = dbus or DBusNotifier(parent=self)
        self.dbus.delivered.connect(self._on_dbus_delivered)
        self.dbus.failed.connect(self._on_dbus_failed)
        self._titles: list[tuple[str, str]] = []  # sent over D-Bus, waiting for the answer

    @property
    def enabled(self) -> bool:
        return str(self.settings.value(NOTIFICATIONS, "true")).lower() != "false"

    def notify(self, title: str, text: str) -> None:
        self.banner.show_notification(title, text)
        self.shown.emit(title, text, "window")
        if not self.enabled:
            return
        if self.window.isVisible() and self.window.isActiveWindow():
            return  # the banner is in sight
        self._titles.append((title, text))
        self.dbus.notify(title, text)

    def _on_dbus_delivered(self, _id: int) -> None:
        if self._titles:
            title, text = self._titles.pop(0)
            self.shown.emit(title, text, "dbus")

    def _on_dbus_failed(self, summary: str, body: str, why: str) -> None:
        if (summary, body) in self._titles:
            self._titles.remove((summary, body))
        log.info("desktop notification failed (%s); using the tray", why)
        tray = self.tray()
        if tray is not None and tray.isVisible():
            if self.icon is not None:
                tray.showMessage(summary, body, self.icon, EXPIRE_MS)
            else:
                tray.showMessage(summary, body)
            self.shown.emit(summary, body, "tray")
