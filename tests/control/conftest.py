"""Every control test runs on the transport it asks for; the server tests on both.

`P2PCOMMUNITY_CONTROL_TRANSPORT` picks the node's transport (control/transport.py).
The tests of `test_control_server.py` run once per transport, except the few
that are about the Unix socket file itself (its path, its mode, a stray file
in its place, raw `AF_UNIX` exchanges): `test_control_tcp.py` has their `tcp`
counterparts.
"""

from __future__ import annotations

import pytest

from p2pcommunity.control.transport import TCP, TRANSPORT_ENV, UNIX

UNIX_SOCKET_TESTS = frozenset(
    {
        "test_round_trip_and_cleanup",
        "test_requests_on_one_connection_are_answered_in_order",
        "test_garbage_lines_get_errors_and_the_connection_keeps_working",
        "test_an_oversized_line_gets_an_error_and_the_connection_survives",
        "test_long_data_dir_uses_runtime_dir_and_pointer_file",
        "test_a_file_in_the_way_is_not_deleted",
    }
)


@pytest.fixture(autouse=True)
def control_transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    kind: str = getattr(request, "param", UNIX)
    monkeypatch.setenv(TRANSPORT_ENV, kind)
    return kind


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "control_transport" not in metafunc.fixturenames:
        return
    if (
        metafunc.module.__name__.rpartition(".")[2] == "test_control_server"
        and metafunc.function.__name__ not in UNIX_SOCKET_TESTS
    ):
        metafunc.parametrize("control_transport", [UNIX, TCP], indirect=True)
