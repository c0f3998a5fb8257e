"""The control server (trio) against the blocking client, over real Unix sockets.

Each test runs the server with `trio.run` and drives it from a worker thread
(`trio.to_thread.run_sync`), the way the CLI would from another process.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import platformdirs
import pytest
import trio

from p2pcommunity.control import protocol as p
from p2pcommunity.control import server as server_module
from p2pcommunity.control.client import ControlClient, ControlError
from p2pcommunity.control.server import ControlServer, ControlServerRunning, serve_control
from p2pcommunity.sync.errors import DomainError, NotFound

T = TypeVar("T")
TIMEOUT = 20.0


class Handler:
    def __init__(self) -> None:
        self.released = trio.Event()
        # Set (from the trio thread) when a "wait" request is being handled:
        # the client thread waits on it instead of sleeping and hoping.
        self.waiting = threading.Event()

    async def __call__(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "echo":
            return {"echo": params}
        if method == "sleep":
            await trio.sleep(params["seconds"])
            return {"slept": params["seconds"]}
        if method == "missing":
            raise NotFound("no such post")
        if method == "boom":
            raise RuntimeError("kaboom")
        if method == "not_a_dict":
            return [1, 2]  # type: ignore[return-value]
        if method == "wait":
            self.waiting.set()
            await self.released.wait()
            return {"waited": True}
        if method == "release":
            self.released.set()
            return {}
        raise p.MethodNotFound(f"unknown method {method!r}")


def run_node(
    data_dir: Path, client_side: Callable[[ControlServer], T], handler: Handler | None = None
) -> T:
    """Serve `data_dir` while `client_side(server)` runs in a thread; return its result."""

    async def main() -> T:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_control, data_dir, handler or Handler())
            with trio.fail_after(TIMEOUT):
                # (trio-typing's stale stubs do not know abandon_on_cancel)
                result = await trio.to_thread.run_sync(  # type: ignore[call-arg]
                    client_side, server, abandon_on_cancel=True
                )
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    assert not (data_dir / "control.sock").exists()
    assert not (data_dir / "control.path").exists()
    return result


def connect(data_dir: Path, timeout: float = 5.0) -> ControlClient:
    client = ControlClient.connect(data_dir, timeout=timeout)
    assert client is not None
    return client


async def echo_from_a_thread(data_dir: Path) -> Any:
    """What a client connecting from a worker thread, as the app does, gets for `echo`."""
    client = await trio.to_thread.run_sync(connect, data_dir)
    with client:
        return await trio.to_thread.run_sync(client.call, "echo")


def read_lines(sock: socket.socket, count: int) -> list[dict[str, Any]]:
    """Read until `count` whole JSON lines have come; fails if the server closes first."""
    buf = b""
    while buf.count(b"\n") < count:
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def raw_exchange(path: Path, payload: bytes, expected_lines: int) -> list[dict[str, Any]]:
    """Send raw bytes, read `expected_lines` answers (the connection stays usable)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(payload)
        return read_lines(sock, expected_lines)


# ------------------------------------------------------------------ requests


def test_round_trip_and_cleanup(tmp_path: Path) -> None:
    def client_side(server: ControlServer) -> list[dict[str, Any]]:
        assert server.socket_path == tmp_path / "control.sock"
        assert stat.S_IMODE(os.stat(server.socket_path).st_mode) == 0o600
        with connect(tmp_path) as client:
            return [
                client.call("echo", {"text": "héllo ✓", "n": 1}),
                client.call("echo"),
                client.call("sleep", {"seconds": 0}),
            ]

    results = run_node(tmp_path, client_side)
    assert results == [{"echo": {"text": "héllo ✓", "n": 1}}, {"echo": {}}, {"slept": 0}]


def test_no_node_means_no_client(tmp_path: Path) -> None:
    assert ControlClient.connect(tmp_path) is None
    # A socket file left by a dead node: nobody answers, still no client.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(tmp_path / "control.sock"))
    assert (tmp_path / "control.sock").exists()
    assert ControlClient.connect(tmp_path) is None


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(tmp_path / "control.sock"))

    def client_side(server: ControlServer) -> dict[str, Any]:
        with connect(tmp_path) as client:
            return client.call("echo", {"a": 1})

    assert run_node(tmp_path, client_side) == {"echo": {"a": 1}}


def test_requests_on_one_connection_are_answered_in_order(tmp_path: Path) -> None:
    batch: list[tuple[int, str, dict[str, Any]]] = [
        (1, "sleep", {"seconds": 0.2}),
        (2, "echo", {"i": 2}),
        (3, "sleep", {"seconds": 0.05}),
        (4, "echo", {"i": 4}),
    ]
    requests = b"".join(p.encode(p.Request(*args)) for args in batch)

    def client_side(server: ControlServer) -> list[dict[str, Any]]:
        return raw_exchange(server.socket_path, requests, 4)

    answers = run_node(tmp_path, client_side)
    assert [a["id"] for a in answers] == [1, 2, 3, 4]
    assert answers[1]["result"] == {"echo": {"i": 2}}


def test_many_clients_at_once(tmp_path: Path) -> None:
    def one_client(n: int) -> list[dict[str, Any]]:
        with connect(tmp_path) as client:
            return [client.call("echo", {"client": n, "i": i}) for i in range(20)]

    def client_side(server: ControlServer) -> list[list[dict[str, Any]]]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one_client, range(8)))

    results = run_node(tmp_path, client_side)
    assert results == [[{"echo": {"client": n, "i": i}} for i in range(20)] for n in range(8)]


def test_a_slow_request_does_not_block_other_clients(tmp_path: Path) -> None:
    handler = Handler()

    def client_side(server: ControlServer) -> dict[str, Any]:
        with connect(tmp_path) as waiter, connect(tmp_path) as other, ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(waiter.call, "wait")
            assert handler.waiting.wait(TIMEOUT), "the wait request never reached the handler"
            # The handler holds "wait" until released: the other client is served meanwhile.
            assert other.call("echo", {"x": 1}) == {"echo": {"x": 1}}
            assert not waiting.done()
            other.call("release")
            return waiting.result(timeout=TIMEOUT)

    assert run_node(tmp_path, client_side, handler) == {"waited": True}


# ------------------------------------------------------------------ errors


def test_domain_errors_arrive_with_their_cli_code(tmp_path: Path) -> None:
    def client_side(server: ControlServer) -> None:
        with connect(tmp_path) as client:
            with pytest.raises(ControlError) as info:
                client.call("missing")
            assert isinstance(info.value, DomainError)
            assert info.value.code == "not_found"
            assert str(info.value) == "no such post"
            assert info.value.rpc_code == p.APPLICATION_ERROR

            with pytest.raises(ControlError) as info:
                client.call("no_such_method")
            assert info.value.code == "invalid"
            assert info.value.rpc_code == p.METHOD_NOT_FOUND

            with pytest.raises(ControlError) as info:
                client.call("subscribe", {"events": "post_added"})
            assert info.value.rpc_code == p.INVALID_PARAMS

            assert client.call("echo", {"still": "fine"}) == {"echo": {"still": "fine"}}

    run_node(tmp_path, client_side)


def test_a_handler_crash_does_not_kill_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def client_side(server: ControlServer) -> None:
        with connect(tmp_path) as client:
            for method in ("boom", "not_a_dict"):
                with pytest.raises(ControlError) as info:
                    client.call(method)
                assert info.value.code == "internal"
                assert info.value.rpc_code == p.INTERNAL_ERROR
                assert "kaboom" not in str(info.value)
            assert client.call("echo", {"after": "crash"}) == {"echo": {"after": "crash"}}
        with connect(tmp_path) as client:
            assert client.call("echo") == {"echo": {}}

    with caplog.at_level(logging.ERROR, logger="p2pcommunity.control.server"):
        run_node(tmp_path, client_side)
    crash = [r for r in caplog.records if r.exc_info is not None]
    assert len(crash) == 1
    assert "boom" in crash[0].getMessage()
    assert crash[0].exc_info is not None and crash[0].exc_info[0] is RuntimeError


def test_garbage_lines_get_errors_and_the_connection_keeps_working(tmp_path: Path) -> None:
    payload = b"".join(
        [
            b"this is not json\n",
            b"[1, 2, 3]\n",
            b"\xff\xfe\xfd\n",
            b'{"jsonrpc": "2.0", "id": 5, "method": "echo", "params": [1]}\n',
            b'{"jsonrpc": "2.0", "id": 6, "result": {}}\n',
            b'{"jsonrpc": "2.0", "method": "echo"}\n',  # a notification: no answer
            b"\n",
            b'{"jsonrpc": "2.0", "id": 7, "method": "echo", "params": {"ok": 1}}\n',
        ]
    )

    def client_side(server: ControlServer) -> list[dict[str, Any]]:
        return raw_exchange(server.socket_path, payload, 6)

    answers = run_node(tmp_path, client_side)
    codes = [a.get("error", {}).get("code") for a in answers]
    assert codes == [
        p.PARSE_ERROR,
        p.INVALID_REQUEST,
        p.PARSE_ERROR,
        p.INVALID_PARAMS,
        p.INVALID_REQUEST,
        None,
    ]
    assert [a["id"] for a in answers] == [None, None, None, 5, None, 7]
    assert all(a["error"]["data"]["code"] == "invalid" for a in answers[:5])
    assert answers[5]["result"] == {"echo": {"ok": 1}}


def test_an_oversized_line_gets_an_error_and_the_connection_survives(tmp_path: Path) -> None:
    payload = b"x" * (p.MAX_LINE + 100) + b"\n" + p.encode(p.Request(1, "echo", {}))

    def client_side(server: ControlServer) -> list[dict[str, Any]]:
        return raw_exchange(server.socket_path, payload, 2)

    too_long, answer = run_node(tmp_path, client_side)
    assert too_long["error"]["code"] == p.INVALID_REQUEST
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": {"echo": {}}}


def test_client_sees_connection_error_when_the_node_goes_away(tmp_path: Path) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, tmp_path, Handler())
            client = await trio.to_thread.run_sync(connect, tmp_path)
            assert await trio.to_thread.run_sync(client.call, "echo") == {"echo": {}}
            nursery.cancel_scope.cancel()
        with pytest.raises(ConnectionError):
            await trio.to_thread.run_sync(client.call, "echo")
        assert client.closed
        with pytest.raises(ConnectionError):
            client.call("echo")

    trio.run(main)
    assert not (tmp_path / "control.sock").exists()


def test_call_timeout_then_the_late_answer_is_skipped(tmp_path: Path) -> None:
    handler = Handler()

    def client_side(server: ControlServer) -> None:
        with connect(tmp_path, timeout=5) as client, connect(tmp_path) as other:
            # "wait" is answered only once released: the timeout cannot race the answer.
            with pytest.raises(ControlError) as info:
                client.call("wait", timeout=0.05)
            assert info.value.code == "timeout"
            other.call("release")
            # Answers on one connection come in order: the late "wait" answer comes
            # first and is dropped, then the echo's.
            assert client.call("echo", {"n": 2}) == {"echo": {"n": 2}}

    run_node(tmp_path, client_side, handler)


# ------------------------------------------------------------------ the socket file


@pytest.fixture
def runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    short = Path(tempfile.mkdtemp(prefix="p2pc"))
    monkeypatch.setattr(platformdirs, "user_runtime_dir", lambda app: str(short / app))
    yield short / "p2pcommunity"
    shutil.rmtree(short)


def test_long_data_dir_uses_runtime_dir_and_pointer_file(tmp_path: Path, runtime_dir: Path) -> None:
    data_dir = tmp_path / ("long-directory-name-" * 6)
    assert len(str(data_dir / "control.sock")) > p.MAX_SOCKET_PATH

    def client_side(server: ControlServer) -> dict[str, Any]:
        assert server.socket_path.parent == runtime_dir
        assert stat.S_IMODE(runtime_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(server.socket_path.stat().st_mode) == 0o600
        pointer = data_dir / "control.path"
        assert stat.S_IMODE(pointer.stat().st_mode) == 0o600
        assert pointer.read_text().strip() == str(server.socket_path)
        assert p.resolve_socket_path(data_dir) == server.socket_path
        assert not (data_dir / "control.sock").exists()
        with connect(data_dir) as client:
            return client.call("echo", {"long": True})

    assert run_node(data_dir, client_side) == {"echo": {"long": True}}
    assert list(runtime_dir.iterdir()) == []
    assert ControlClient.connect(data_dir) is None


def test_a_second_server_refuses_while_the_first_runs(tmp_path: Path) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_control, tmp_path, Handler())
            with trio.fail_after(TIMEOUT), pytest.raises(ControlServerRunning) as info:
                await serve_control(tmp_path, Handler())
            assert info.value.code == "locked"
            # The first one is untouched and still serves.
            assert server.socket_path.exists()
            assert await echo_from_a_thread(tmp_path) == {"echo": {}}
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert not (tmp_path / "control.sock").exists()


def test_a_file_in_the_way_is_not_deleted(tmp_path: Path) -> None:
    (tmp_path / "control.sock").write_text("not a socket")

    async def main() -> None:
        with trio.fail_after(TIMEOUT), pytest.raises(ControlServerRunning):
            await serve_control(tmp_path, Handler())

    trio.run(main)
    assert (tmp_path / "control.sock").read_text() == "not a socket"


# ------------------------------------------------------------------ notifications


def assert_nothing_pending(client: ControlClient) -> None:
    """No notification was sent to `client` before now, without waiting for one.

    A call is a barrier: the server writes a connection's notifications and
    answers through one queue, so any notification broadcast before the call
    arrives before its answer, and the client keeps it for later.
    """
    assert client.call("echo") == {"echo": {}}
    assert client.next_notification(timeout=0) is None


def test_notifications_reach_subscribed_clients(tmp_path: Path) -> None:
    def client_side(server: ControlServer) -> None:
        def broadcast(method: str, params: dict[str, Any]) -> None:
            trio.from_thread.run_sync(server.broadcast, method, params)

        with (
            connect(tmp_path) as posts_only,
            connect(tmp_path) as everything,
            connect(tmp_path) as nothing,
        ):
            assert posts_only.subscribe(["post_added"]) == {"events": ["post_added"]}
            assert everything.subscribe() == {"events": None}
            broadcast("peer_connected", {"peer": "12D3KooWx"})
            broadcast("post_added", {"id": "p1"})

            first = posts_only.next_notification(timeout=5)
            assert first == p.Notification("post_added", {"id": "p1"})
            # An event that arrives while a call waits is kept for later.
            broadcast("post_added", {"id": "p2"})
            assert posts_only.call("echo") == {"echo": {}}
            assert posts_only.next_notification(timeout=5) == p.Notification(
                "post_added", {"id": "p2"}
            )
            assert_nothing_pending(posts_only)

            stream = everything.iter_notifications()
            assert [next(stream).method for _ in range(3)] == [
                "peer_connected",
                "post_added",
                "post_added",
            ]
            assert_nothing_pending(nothing)

            everything.call("unsubscribe")
            broadcast("sync_progress", {"done": 1})
            assert_nothing_pending(everything)

    run_node(tmp_path, client_side)


def test_a_client_that_does_not_read_its_events_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server_module, "OUTGOING_QUEUE", 4)

    def client_side(server: ControlServer) -> None:
        with connect(tmp_path) as laggard, connect(tmp_path) as other:
            laggard.subscribe()
            assert trio.from_thread.run_sync(lambda: server.connection_count) == 2

            def burst() -> None:  # no checkpoint: the writer cannot drain in between
                for i in range(10):
                    server.broadcast("sync_progress", {"i": i})

            trio.from_thread.run_sync(burst)
            with pytest.raises(ConnectionError):
                for _ in range(11):
                    laggard.next_notification(timeout=5)
            assert other.call("echo") == {"echo": {}}

    with caplog.at_level(logging.WARNING, logger="p2pcommunity.control.server"):
        run_node(tmp_path, client_side)
    assert any("not reading" in r.getMessage() for r in caplog.records)
