"""`run --mdns`: two members whose known addresses are stale find each other on the LAN.

mDNS needs multicast, which a shared machine's loopback does not carry. So the
scenario runs in a network namespace of its own (`unshare -n`, as root), whose
loopback gets the multicast flag and route: nothing leaves it, and both node
processes, started inside, see only each other. The namespace ends with its
last process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli
from tests.e2e.nodes import start_node, wait_for

ROOT = Path(__file__).resolve().parents[2]
NETNS_SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def _texts(cli: Cli, community: str) -> list[str]:
    return [p["text"] for p in cli.json("read", community, "general")["posts"]]


def scenario(tmp: str) -> None:
    """Inside the namespace: join once, then both nodes restart on new ports with --mdns."""
    alice, bob = Cli(Path(tmp) / "alice"), Cli(Path(tmp) / "bob")
    alice("init", "--name", "alice")
    bob("init", "--name", "bob")
    community = alice.json("community", "create", "Neighbours")["community_id"]
    alice("member", "add", community, bob.json("whoami")["peer_id"])
    first = start_node(alice)
    try:
        bob("join", community, "--bootstrap", first.addr)
    finally:
        assert first.stop() == 0
    # Port 0: the restarted node listens elsewhere, so what Bob knows is stale.
    alice("post", community, "general", "found you on the LAN")
    nodes = [start_node(alice, "--mdns"), start_node(bob, "--mdns")]
    try:
        assert nodes[0].addr != first.addr
        wait_for(lambda: "found you on the LAN" in _texts(bob, community), timeout=40)
        bob("post", community, "general", "and back")
        wait_for(lambda: "and back" in _texts(alice, community), timeout=40)
        # Bob reached Alice at an address mDNS gave him: `status` says "lan".
        alice_id = alice.json("whoami")["peer_id"]
        kinds = [c["kind"] for c in bob.json("status")["connections"] if c["peer_id"] == alice_id]
        assert "lan" in kinds, bob.json("status")["connections"]
    finally:
        codes = [n.stop() for n in nodes]
    assert codes == [0, 0]


@pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("ip")),
    reason="a network namespace needs root, unshare and ip",
)
def test_members_with_stale_addresses_meet_by_mdns(tmp_path: Path) -> None:
    code = f"from tests.e2e.test_lan_discovery import scenario; scenario({str(tmp_path)!r})"
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", f'{NETNS_SETUP} && exec "$0" -c "$1"', sys.executable, code],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        },
    )
    logs = "\n".join(
        f"{p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in tmp_path.glob("*.log")
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{logs}"
