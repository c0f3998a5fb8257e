"""The node's end of the local control API (trio).

One task per connection reads lines and answers them strictly in order; a
second task per connection is its only writer, draining a bounded queue fed
by both the answers and `ControlServer.broadcast`. A client that stops
reading while events pile up is disconnected rather than allowed to stall
the node or grow its memory; it can reconnect and re-read state.

Nothing a client sends can stop the server: malformed lines get a JSON-RPC
error, a `DomainError` from the handler becomes an application error with its
CLI code, and any other exception is logged with its traceback and answered
with an internal error.

The socket file is the server's: created owner-only, replaced at start only
when nobody answers on it, removed (with its pointer file) at exit. Two nodes
on one data dir are already excluded by the data dir lock; the liveness probe
here is a second, clearer line of defence.

With the `tcp` transport (`transport`: Windows, or forced by
`P2PCOMMUNITY_CONTROL_TRANSPORT=tcp`) the same server listens on 127.0.0.1
port 0 and publishes port and token in an owner-only endpoint file instead;
a connection counts only after its first line matched the token, and until
then it gets no byte back. Everything after that is transport-blind.
"""

from __future__ import annotations

import hmac
import logging
import os
import socket as stdlib_socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from p2pcommunity.control import protocol as p
from p2pcommunity.control import transport as t
from p2pcommunity.identity import ensure_data_dir
from p2pcommunity.sync.errors import DomainError
from p2pcommunity.sync.storage.store import environment_error

if TYPE_CHECKING:
    # libp2p pulls in trio-typing, whose stale stubs shadow trio's own types
    # and lack `trio.TaskStatus`; its `TaskStatus` is the same protocol.
    from trio_typing import TaskStatus

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

SUBSCRIBE = "subscribe"
UNSUBSCRIBE = "unsubscribe"
OUTGOING_QUEUE = 1024
"""Lines waiting for a slow client before it is disconnected."""
PROBE_TIMEOUT = 2.0
AUTH_TIMEOUT = 10.0
"""How long a `tcp` client may take to send its token."""
RECEIVE_SIZE = 65536


class ControlServerRunning(DomainError, code="locked"):
    """A live node already answers on this data dir's control socket."""


class _Connection:
    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.outgoing_send, self.outgoing_receive = trio.open_memory_channel[bytes](OUTGOING_QUEUE)
        self.cancel_scope = trio.CancelScope()
        self.subscribed = False
        self.events: frozenset[str] | None = None  # None: every event

    def wants(self, method: str) -> bool:
        return self.subscribed and (self.events is None or method in self.events)

    def push(self, line: bytes) -> None:
        """Queue a notification without waiting; drop the client if it lags too far."""
        try:
            self.outgoing_send.send_nowait(line)
        except trio.WouldBlock:
            log.warning("control client not reading its events; disconnecting it")
            self.cancel_scope.cancel()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass  # the connection is closing


class ControlServer:
    """Handle on a running control server; `serve_control` hands it out via `task_status`."""

    def __init__(
        self, socket_path: Path, handler: Handler, endpoint: t.TcpEndpoint | None = None
    ) -> None:
        self.socket_path = socket_path
        """The Unix socket, or with `tcp` the endpoint file: what `resolve_address` finds."""
        self.endpoint = endpoint
        """With `tcp`: where it listens and the token a client must send first."""
        self._handler = handler
        self._connections: set[_Connection] = set()

    @property
    def transport(self) -> str:
        return t.UNIX if self.endpoint is None else t.TCP

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def broadcast(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Push a notification to every client subscribed to `method`. Never blocks.

        Call it from the trio thread (from another thread: `trio.from_thread.run_sync`).
        """
        targets = [c for c in self._connections if c.wants(method)]
        if not targets:
            return
        line = p.encode(p.Notification(method, params or {}))
        for conn in targets:
            conn.push(line)

    # ------------------------------------------------------------------ connections

    async def _serve_connection(self, stream: trio.abc.Stream) -> None:
        try:
            early = b"" if self.endpoint is None else await self._authenticate(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            early = None
        if early is None:
            await trio.aclose_forcefully(stream)
            return
        conn = _Connection(stream)
        self._connections.add(conn)
        try:
            with conn.cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop, conn)
                    try:
                        await self._read_loop(conn, early)
                    finally:
                        # The writer flushes what is queued, then ends.
                        conn.outgoing_send.close()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the client went away
        finally:
            self._connections.discard(conn)
            await trio.aclose_forcefully(stream)

    async def _write_loop(self, conn: _Connection) -> None:
        async with conn.outgoing_receive:
            async for line in conn.outgoing_receive:
                await conn.stream.send_all(line)

    async def _authenticate(self, stream: trio.abc.Stream) -> bytes | None:
        """The bytes after a correct token line, or None: close without a word."""
        assert self.endpoint is not None
        expected = self.endpoint.token.encode("ascii")
        buf = b""
        with trio.move_on_after(AUTH_TIMEOUT):
            while b"\n" not in buf and len(buf) <= t.MAX_TOKEN_LINE:
                data = await stream.receive_some(RECEIVE_SIZE)
                if not data:
                    return None
                buf += data
        line, newline, rest = buf.partition(b"\n")
        if not newline or not hmac.compare_digest(line.removesuffix(b"\r"), expected):
            log.warning("control connection without the right token; closed")
            return None
        return rest

    async def _read_loop(self, conn: _Connection, early: bytes = b"") -> None:
        reader = p.LineReader()
        data = early
        while True:
            if not data:
                data = await conn.stream.receive_some(RECEIVE_SIZE)
                if not data:
                    return
            for line in reader.feed(data):
                reply = await self._answer(conn, line)
                if reply is not None:
                    await conn.outgoing_send.send(self._encode_reply(reply))
            data = b""

    @staticmethod
    def _encode_reply(reply: p.Response | p.ErrorResponse) -> bytes:
        try:
            return p.encode(reply)
        except (ValueError, TypeError) as exc:
            log.error("control handler returned an unencodable result: %s", exc)
            message = "result too large" if isinstance(exc, p.MessageTooLong) else "bad result"
            return p.encode(p.error_response(reply.id, p.INTERNAL_ERROR, message, p.INTERNAL_CODE))

    async def _answer(
        self, conn: _Connection, line: bytes | p.Overflow
    ) -> p.Response | p.ErrorResponse | None:
        if isinstance(line, p.Overflow):
            return p.error_response(
                None, p.INVALID_REQUEST, f"message longer than {p.MAX_LINE} bytes", "invalid"
            )
        try:
            message = p.decode(line)
        except p.MalformedMessage as exc:
            return exc.error
        if isinstance(message, p.Notification):
            await self._dispatch(conn, None, message.method, message.params)
            return None  # a notification gets no answer, not even an error
        if isinstance(message, p.Request):
            outcome = await self._dispatch(conn, message.id, message.method, message.params)
            if isinstance(outcome, p.ErrorResponse):
                return outcome
            return p.Response(message.id, outcome)
        return p.error_response(  # a client has no business sending responses
            None, p.INVALID_REQUEST, "unexpected response from a client", "invalid"
        )

    async def _dispatch(
        self, conn: _Connection, request_id: p.RequestId | None, method: str, params: p.Params
    ) -> dict[str, Any] | p.ErrorResponse:
        try:
            if method == SUBSCRIBE:
                result = self._subscribe(conn, params)
            elif method == UNSUBSCRIBE:
                conn.subscribed, conn.events = False, None
                result = {}
            else:
                result = await self._handler(method, params)
        except DomainError as exc:
            return p.application_error(request_id, exc)
        except Exception as exc:
            failure = environment_error(exc)  # the store's file or disk: not a bug
            if failure is not None:
                log.error("control method %r failed: %s", method, failure)
                return p.application_error(request_id, failure)
            log.exception("control method %r failed", method)
            return p.error_response(
                request_id, p.INTERNAL_ERROR, f"internal error: {type(exc).__name__}", "internal"
            )
        if not isinstance(result, dict):
            log.error("control method %r returned %s, not a dict", method, type(result).__name__)
            return p.error_response(request_id, p.INTERNAL_ERROR, "bad result", "internal")
        return result

    @staticmethod
    def _subscribe(conn: _Connection, params: p.Params) -> dict[str, Any]:
        events = params.get("events")
        if events is None:
            conn.subscribed, conn.events = True, None
            return {"events": None}
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise p.InvalidParams('"events" must be a list of event names, or null for all')
        conn.subscribed, conn.events = True, frozenset(events)
        return {"events": sorted(conn.events)}


# ---------------------------------------------------------------------- the socket file


def _ensure_private_dir(path: Path) -> None:
    """Create `path` (mode 0700) if missing; refuse one that others could tamper with."""
    old_umask = os.umask(0o077)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    finally:
        os.umask(old_umask)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user; not using it")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


async def _someone_answers(path: Path) -> bool:
    """True if a live server accepts connections on `path` (or we cannot tell)."""
    probe = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    with probe:
        try:
            with trio.move_on_after(PROBE_TIMEOUT):
                await probe.connect(os.fspath(path))
            return True  # it accepted, or it hangs: either way something is there
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True


async def _bind(path: Path) -> trio.socket.SocketType:
    try:
        st = path.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerRunning(f"{path} exists and is not a socket; remove it")
        if await _someone_answers(path):
            raise ControlServerRunning(
                f"a p2pcommunity node already serves {path}; stop it or use another --data-dir"
            )
        log.info("removing stale control socket %s", path)
        path.unlink(missing_ok=True)

    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        old_umask = os.umask(0o077)
        try:
            await sock.bind(os.fspath(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _write_pointer(pointer: Path, target: Path) -> None:
    tmp = pointer.with_name(pointer.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.fsencode(target) + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, pointer)


def _unlink_if_ours(path: Path, identity: tuple[int, int]) -> None:
    try:
        st = path.lstat()
        if (st.st_dev, st.st_ino) == identity:
            path.unlink()
    except OSError:
        pass


async def _tcp_node_answers(endpoint: t.TcpEndpoint) -> bool:
    """True if a live control server holds `endpoint` (it answers a request after the token).

    A port that merely accepts may by now belong to some other program: only
    an answer in JSON-RPC counts.
    """
    probe = p.encode(p.Request(0, UNSUBSCRIBE, {}))  # no side effects
    try:
        with trio.move_on_after(PROBE_TIMEOUT):
            stream = await trio.open_tcp_stream(endpoint.host, endpoint.port)
            async with stream:
                await stream.send_all(endpoint.auth_line() + probe)
                reply = await stream.receive_some(RECEIVE_SIZE)
                return reply.startswith(b"{")
    except OSError:
        return False
    return False


async def _remove_stale_socket(data_dir: Path) -> None:
    """Before serving `tcp`: a Unix socket of an earlier node must not shadow the endpoint."""
    socket_path = p.resolve_socket_path(data_dir)
    if socket_path is None or not hasattr(stdlib_socket, "AF_UNIX"):
        return
    if await _someone_answers(socket_path):
        raise ControlServerRunning(
            f"a p2pcommunity node already serves {socket_path}; stop it or use another --data-dir"
        )
    log.info("removing stale control socket %s", socket_path)
    socket_path.unlink(missing_ok=True)
    (data_dir / p.POINTER_FILE).unlink(missing_ok=True)


async def _refuse_if_tcp_node_runs(endpoint_file: Path) -> None:
    try:
        published = t.read_endpoint(endpoint_file)
    except PermissionError as exc:
        raise ControlServerRunning(f"{exc}; remove it") from None
    if published is not None and await _tcp_node_answers(published):
        raise ControlServerRunning(
            f"a p2pcommunity node already serves {endpoint_file}; stop it or use another --data-dir"
        )


async def _bind_tcp(endpoint_file: Path) -> trio.socket.SocketType:
    await _refuse_if_tcp_node_runs(endpoint_file)
    sock = trio.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM)
    try:
        await sock.bind((t.LOOPBACK, 0))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_control(
    data_dir: Path,
    handler: Handler,
    *,
    task_status: TaskStatus[ControlServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the control API for `data_dir` until cancelled.

    `server = await nursery.start(serve_control, data_dir, handler)`: once it
    returns, the socket accepts connections and `server.broadcast` works.
    Raises `ControlServerRunning` (code "locked") when a live node already
    answers on the socket. The transport is `transport.transport()`'s.
    """
    data_dir = data_dir.absolute()
    ensure_data_dir(data_dir)
    if t.transport() == t.TCP:
        await _serve_tcp(data_dir, handler, task_status)
    else:
        await _serve_unix(data_dir, handler, task_status)


async def _serve(
    server: ControlServer, sock: trio.socket.SocketType, task_status: TaskStatus[ControlServer]
) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started(server)
        await trio.serve_listeners(
            server._serve_connection, [trio.SocketListener(sock)], handler_nursery=nursery
        )


async def _serve_tcp(
    data_dir: Path, handler: Handler, task_status: TaskStatus[ControlServer]
) -> None:
    endpoint_file = data_dir / t.ENDPOINT_FILE
    await _remove_stale_socket(data_dir)
    sock = await _bind_tcp(endpoint_file)
    identity: tuple[int, int] | None = None
    try:
        endpoint = t.TcpEndpoint(t.LOOPBACK, sock.getsockname()[1], t.new_token())
        t.write_endpoint(endpoint_file, endpoint)
        st = endpoint_file.lstat()
        identity = (st.st_dev, st.st_ino)
        await _serve(ControlServer(endpoint_file, handler, endpoint), sock, task_status)
    finally:
        sock.close()
        if identity is not None:
            _unlink_if_ours(endpoint_file, identity)
        log.debug("control listener on %s closed", endpoint_file)


async def _serve_unix(
    data_dir: Path, handler: Handler, task_status: TaskStatus[ControlServer]
) -> None:
    socket_path = p.socket_path_for(data_dir)
    pointer = data_dir / p.POINTER_FILE
    if socket_path.parent != data_dir:
        _ensure_private_dir(socket_path.parent)
    # A `tcp` node's endpoint (another transport setting) must not shadow this socket.
    endpoint_file = data_dir / t.ENDPOINT_FILE
    await _refuse_if_tcp_node_runs(endpoint_file)
    endpoint_file.unlink(missing_ok=True)
    sock = await _bind(socket_path)
    socket_identity: tuple[int, int] | None = None
    pointer_identity: tuple[int, int] | None = None
    try:
        st = socket_path.lstat()
        socket_identity = (st.st_dev, st.st_ino)
        if socket_path.parent != data_dir:
            _write_pointer(pointer, socket_path)
            pst = pointer.lstat()
            pointer_identity = (pst.st_dev, pst.st_ino)
        else:
            pointer.unlink(missing_ok=True)  # stale: the data dir was moved or renamed
        await _serve(ControlServer(socket_path, handler), sock, task_status)
    finally:
        sock.close()
        if socket_identity is not None:
            _unlink_if_ours(socket_path, socket_identity)
        if pointer_identity is not None:
            _unlink_if_ours(pointer, pointer_identity)
        log.debug("control socket %s closed", socket_path)
