"""A blocking control API client, for the CLI and scripts.

Plain `socket`, no trio: the CLI sends one command and exits. Requests are
answered in order, so `call` simply reads until the answer with its id;
notifications that arrive meanwhile (on a subscribed connection) are queued
for `next_notification`/`iter_notifications`. An answer whose id is not the
one awaited belongs to a call that timed out earlier and is dropped.

Errors: an application error is a `ControlError` (a `DomainError` whose
`.code` is the CLI code, so the CLI reports it exactly as an offline command
would); a node that goes away is a `ConnectionError`. Not thread-safe.

`connect` dials whichever transport the node published (`transport`): its
Unix socket, or 127.0.0.1 with the endpoint file's token sent first.

The GUI does not use this module (no blocking reads there); it speaks the
same `protocol` over `QLocalSocket` or `QTcpSocket`.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from p2pcommunity.control import protocol as p
from p2pcommunity.control import transport as t
from p2pcommunity.sync.errors import DomainError

DEFAULT_TIMEOUT = 10.0
RECEIVE_SIZE = 65536


class ControlError(DomainError):
    """The node refused or failed a request; `.code` is the CLI error code."""

    def __init__(self, message: str, code: str, rpc_code: int = p.APPLICATION_ERROR) -> None:
        super().__init__(message, code)
        self.rpc_code = rpc_code


def _check_owner(path: Path) -> None:
    getuid = getattr(os, "getuid", None)
    if getuid is not None and path.stat().st_uid != getuid():
        raise PermissionError(f"control socket {path} belongs to another user; not using it")


def _dial(address: str, timeout: float | None) -> socket.socket | None:
    """A connected socket to `address`, or None when nobody listens there any more."""
    path = Path(address)
    if t.is_endpoint_address(path):
        endpoint = t.read_endpoint(path)
        if endpoint is None:
            return None
        try:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        except ConnectionRefusedError:
            return None
        try:
            sock.sendall(endpoint.auth_line())
        except BaseException:
            sock.close()
            raise
        return sock
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _check_owner(path)
        sock.settimeout(timeout)
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except BaseException:
        sock.close()
        raise
    return sock


class ControlClient:
    """A connection to the node of one data dir. Use `ControlClient.connect`."""

    def __init__(self, sock: socket.socket, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._sock = sock
        self.timeout = timeout
        self._reader = p.LineReader()
        self._messages: deque[p.Message] = deque()
        self._notifications: deque[p.Notification] = deque()
        self._ids = itertools.count(1)
        self._closed = False

    @classmethod
    def connect(
        cls, data_dir: Path, timeout: float | None = DEFAULT_TIMEOUT
    ) -> ControlClient | None:
        """A client for the node running on `data_dir`, or None when none runs.

        `timeout` bounds the connect and, by default, each `call`.
        """
        for address in t.published_addresses(data_dir):
            sock = _dial(address, timeout)
            if sock is not None:
                return cls(sock, timeout)
        return None

    # ------------------------------------------------------------------ requests

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a request and wait for its result.

        `timeout` (default: the client's) bounds the wait; when it passes,
        `ControlError` with code "timeout" (the node may still carry it out).
        """
        request_id = next(self._ids)
        self._send(p.encode(p.Request(request_id, method, params or {})))
        deadline = self._deadline(timeout)
        while True:
            message = self._next_message(deadline)
            if message is None:
                raise ControlError(f"the node did not answer {method!r} in time", "timeout")
            if isinstance(message, p.Notification):
                self._notifications.append(message)
            elif message.id == request_id:
                if isinstance(message, p.ErrorResponse):
                    raise ControlError(message.message, message.cli_code, message.code)
                if isinstance(message, p.Response):
                    return message.result
            elif isinstance(message, p.ErrorResponse) and message.id is None:
                # The node could not parse something we sent: a bug on our side.
                raise ControlError(message.message, message.cli_code, message.code)
            # else: the late answer to a call that timed out; drop it.

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification (a request nobody answers)."""
        self._send(p.encode(p.Notification(method, params or {})))

    def subscribe(self, events: list[str] | None = None) -> dict[str, Any]:
        """Ask for event notifications: these `events`, or every event when None."""
        return self.call("subscribe", {"events": events})

    # ------------------------------------------------------------------ notifications

    def next_notification(self, timeout: float | None = None) -> p.Notification | None:
        """The next event notification, or None if none came in time.

        `timeout` in seconds; None means the client's default timeout.
        """
        if self._notifications:
            return self._notifications.popleft()
        deadline = self._deadline(timeout)
        while True:
            message = self._next_message(deadline)
            if message is None:
                return None
            if isinstance(message, p.Notification):
                return message
            # a stray answer to a call that timed out: drop it

    def iter_notifications(self) -> Iterator[p.Notification]:
        """Event notifications as they come; raises `ConnectionError` when the node goes away."""
        while True:
            notification = self.next_notification(timeout=None)
            if notification is not None:
                yield notification

    # ------------------------------------------------------------------ plumbing

    def _deadline(self, timeout: float | None) -> float | None:
        timeout = self.timeout if timeout is None else timeout
        return None if timeout is None else time.monotonic() + timeout

    def _send(self, line: bytes) -> None:
        if self._closed:
            raise ConnectionError("control connection is closed")
        try:
            self._sock.settimeout(self.timeout)
            self._sock.sendall(line)
        except OSError as exc:
            self.close()
            raise ConnectionError(f"lost the connection to the node: {exc}") from exc

    def _next_message(self, deadline: float | None) -> p.Message | None:
        """The next message, or None at the deadline."""
        while not self._messages:
            if self._closed:
                raise ConnectionError("control connection is closed")
            if deadline is None:
                self._sock.settimeout(None)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(RECEIVE_SIZE)
            except TimeoutError:
                return None
            except OSError as exc:
                self.close()
                raise ConnectionError(f"lost the connection to the node: {exc}") from exc
            if not data:
                self.close()
                raise ConnectionError("the node closed the control connection")
            for line in self._reader.feed(data):
                if isinstance(line, p.Overflow):
                    self.close()
                    raise ConnectionError("the node sent an oversized message")
                try:
                    self._messages.append(p.decode(line))
                except p.MalformedMessage as exc:
                    self.close()
                    raise ConnectionError(f"the node sent a malformed message: {exc}") from exc
        return self._messages.popleft()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
