"""The `tcp` control transport: loopback only, an owner-only endpoint file, a token first.

`test_control_server.py` runs its transport-blind tests on both transports
(conftest); these are the `tcp` counterparts of its Unix-socket-file tests,
plus what only `tcp` has: the token.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from p2pcommunity.control import protocol as p
from p2pcommunity.control import transport as t
from p2pcommunity.control.client import ControlClient
from p2pcommunity.control.server import ControlServer, ControlServerRunning, serve_control

from .test_control_server import (
    TIMEOUT,
    Handler,
    connect,
    echo_from_a_thread,
    read_lines,
    run_node,
)


@pytest.fixture(autouse=True)
def tcp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(t.TRANSPORT_ENV, t.TCP)


def dial(server: ControlServer) -> socket.socket:
    assert server.endpoint is not None
    sock = socket.create_connection((server.endpoint.host, server.endpoint.port), timeout=5)
    return sock


def closed_without_a_word(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_round_trip_endpoint_file_and_cleanup(tmp_path: Path) -> None:
    def client_side(server: ControlServer) -> dict[str, Any]:
        endpoint_file = tmp_path / "control.tcp"
        assert server.transport == t.TCP
        assert server.socket_path == endpoint_file
        assert stat.S_IMODE(endpoint_file.stat().st_mode) == 0o600
        host, port, token = endpoint_file.read_text().split()
        assert host == "127.0.0.1"
        assert server.endpoint == t.TcpEndpoint("127.0.0.1", int(port), token)
        assert len(token) == 64
        assert t.resolve_address(tmp_path) == str(endpoint_file)
        assert not (tmp_path / "control.sock").exists()
        with connect(tmp_path) as client:
            return client.call("echo", {"text": "héllo ✓"})

    assert run_node(tmp_path, client_side) == {"echo": {"text": "héllo ✓"}}
    assert not (tmp_path / "control.tcp").exists()
    assert ControlClient.connect(tmp_path) is None


def test_the_listener_is_on_loopback_only(tmp_path: Path) -> None:
    def client_side(server: ControlServer) -> str:
        assert server.endpoint is not None
        return server.endpoint.host

    assert run_node(tmp_path, client_side) == "127.0.0.1"


@pytest.mark.parametrize(
    "first_line",
    [b"0" * 64 + b"\n", b"\n", b"x" * 300, b""],
    ids=["wrong token", "empty line", "overlong garbage", "half-closed at once"],
)
def test_without_the_token_the_connection_is_closed(tmp_path: Path, first_line: bytes) -> None:
    request = p.encode(p.Request(1, "echo", {"leaked": True}))

    def client_side(server: ControlServer) -> tuple[bool, dict[str, Any]]:
        with dial(server) as sock:
            sock.sendall(first_line + request)
            if not first_line:
                sock.shutdown(socket.SHUT_WR)
            refused = closed_without_a_word(sock)
        with connect(tmp_path) as client:  # the right token still works
            return refused, client.call("echo", {"n": 1})

    refused, answer = run_node(tmp_path, client_side)
    assert refused
    assert answer == {"echo": {"n": 1}}


def test_token_and_requests_in_one_packet_are_all_answered_in_order(tmp_path: Path) -> None:
    batch = [(1, "sleep", {"seconds": 0.1}), (2, "echo", {"i": 2}), (3, "echo", {"i": 3})]
    requests = b"".join(p.encode(p.Request(*args)) for args in batch)

    def client_side(server: ControlServer) -> list[dict[str, Any]]:
        assert server.endpoint is not None
        with dial(server) as sock:
            sock.sendall(server.endpoint.auth_line() + b"garbage\n" + requests)
            return read_lines(sock, 4)

    answers = run_node(tmp_path, client_side)
    assert [a["id"] for a in answers] == [None, 1, 2, 3]
    assert answers[0]["error"]["code"] == p.PARSE_ERROR
    assert answers[3]["result"] == {"echo": {"i": 3}}


def test_a_stale_endpoint_file_is_replaced(tmp_path: Path) -> None:
    with socket.socket() as dead:  # a port nobody listens on any more
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
    t.write_endpoint(tmp_path / "control.tcp", t.TcpEndpoint("127.0.0.1", port, "ab" * 32))
    assert ControlClient.connect(tmp_path) is None

    def client_side(server: ControlServer) -> dict[str, Any]:
        assert server.endpoint is not None and server.endpoint.token != "ab" * 32
        with connect(tmp_path) as client:
            return client.call("echo", {"a": 1})

    assert run_node(tmp_path, client_side) == {"echo": {"a": 1}}


def test_a_second_server_refuses_on_either_transport(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve_control, tmp_path, Handler())
            for kind in (t.TCP, t.UNIX):
                monkeypatch.setenv(t.TRANSPORT_ENV, kind)
                with trio.fail_after(TIMEOUT), pytest.raises(ControlServerRunning):
                    await serve_control(tmp_path, Handler())
            assert server.socket_path.exists()
            assert not (tmp_path / "control.sock").exists()
            assert await echo_from_a_thread(tmp_path) == {"echo": {}}
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert not (tmp_path / "control.tcp").exists()


def test_an_endpoint_file_others_can_read_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "control.tcp"
    t.write_endpoint(path, t.TcpEndpoint("127.0.0.1", 9, "ab" * 32))
    os.chmod(path, 0o644)
    with pytest.raises(PermissionError):
        ControlClient.connect(tmp_path)


@pytest.mark.parametrize(
    "text", ["", "127.0.0.1 9", "10.0.0.1 9 tok", "127.0.0.1 0 tok", "127.0.0.1 x tok"]
)
def test_a_malformed_endpoint_file_means_no_node(tmp_path: Path, text: str) -> None:
    path = tmp_path / "control.tcp"
    path.write_text(text)
    path.chmod(0o600)
    assert t.read_endpoint(path) is None
    assert ControlClient.connect(tmp_path) is None


def test_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(t.TRANSPORT_ENV, "pigeon")
    with pytest.raises(ValueError, match="pigeon"):
        t.transport()
    monkeypatch.setenv(t.TRANSPORT_ENV, " TCP ")
    assert t.transport() == t.TCP
    monkeypatch.delenv(t.TRANSPORT_ENV)
    assert t.transport() == t.default_transport()
