"""The app over the `tcp` control transport (what Windows gets), forced on Linux.

The node the app starts inherits `P2PCOMMUNITY_CONTROL_TRANSPORT=tcp`, so the
whole path runs: the node's loopback listener and endpoint file,
`NodeProcess` finding it, the Qt client's `QTcpSocket` and its token.
"""

from __future__ import annotations

import stat

import pytest

from p2pcommunity.control import transport as t
from p2pcommunity.ui.app import App
from p2pcommunity.ui.client import ControlClient

from .conftest import start_with_name
from .test_app_flow import create_community, send, timeline_texts


def test_the_app_works_over_tcp_and_a_wrong_token_is_shut_out(
    qtbot, make_app, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(t.TRANSPORT_ENV, t.TCP)
    app: App = make_app("alice")
    start_with_name(qtbot, app, "Alice")
    endpoint_file = app.data_dir / t.ENDPOINT_FILE
    assert app.socket_path == str(endpoint_file)
    assert not (app.data_dir / "control.sock").exists()
    assert stat.S_IMODE(endpoint_file.stat().st_mode) == 0o600
    create_community(qtbot, app, "Over TCP")
    send(qtbot, app, "hello over loopback")
    qtbot.waitUntil(lambda: "hello over loopback" in timeline_texts(app), timeout=10_000)

    # The same port with someone else's guess at the token: connected, then shut out.
    real = t.read_endpoint(endpoint_file)
    assert real is not None
    forged_dir = tmp_path / "forged"
    forged_dir.mkdir(mode=0o700)
    t.write_endpoint(forged_dir / t.ENDPOINT_FILE, t.TcpEndpoint(real.host, real.port, "0" * 64))
    intruder = ControlClient()
    with qtbot.waitSignal(intruder.connected, timeout=10_000):
        intruder.connect_to(forged_dir / t.ENDPOINT_FILE)
    with qtbot.waitSignal(intruder.disconnected, timeout=15_000):
        call = intruder.request("whoami")
    assert call.done and call.code == "disconnected" and call.result is None
    intruder.close()

    # No endpoint at the address: a quiet "disconnected", as for a refused socket.
    lost = ControlClient()
    with qtbot.waitSignal(lost.disconnected, timeout=5_000):
        lost.connect_to(tmp_path / "nowhere" / t.ENDPOINT_FILE)
    assert not lost.is_connected

    app.shutdown()
    # The node removes its endpoint as it exits; stopping no longer blocks the GUI.
    qtbot.waitUntil(lambda: not endpoint_file.exists(), timeout=20_000)
