"""Real `p2pcommunity-node run` processes syncing over loopback."""

from __future__ import annotations

import signal
from typing import Any

from tests.e2e.nodes import community_with, init_all, start_node, wait_for


def _texts(cli: Any, community: str) -> list[str]:
    return [p["text"] for p in cli.json("read", community, "general")["posts"]]


def test_join_with_bootstrap_then_live_posts_both_ways(make_cli: Any) -> None:
    alice, bob = make_cli("alice"), make_cli("bob")
    init_all(alice, bob, named=True)
    community = community_with(alice, "Gardeners")
    alice("post", community, "general", "before bob")
    alice("member", "add", community, bob.json("whoami")["peer_id"])
    node_a = start_node(alice)
    node_b = None
    try:
        # Bob has no node: join runs networking in-process until synced, then exits.
        assert bob.json("join", community, "--bootstrap", node_a.addr) == {
            "community_id": community
        }
        assert _texts(bob, community) == ["before bob"]
        node_b = start_node(bob, "--bootstrap", node_a.addr)
        alice("post", community, "general", "live from alice")
        wait_for(lambda: "live from alice" in _texts(bob, community))
        bob("post", community, "general", "hi alice")
        wait_for(lambda: "hi alice" in _texts(alice, community))
        members = {m["name"]: m for m in alice.json("member", "list", community)["members"]}
        assert members["bob"]["status"] == "online"
        status = alice.json("status")
        assert status["peers"] == [bob.json("whoami")["peer_id"]]
        assert status["communities"][0]["members_online"] == 1
    finally:
        codes = [n.stop(signal.SIGTERM) for n in (node_a, node_b) if n is not None]
    assert codes == [0] * len(codes)


def test_a_non_member_is_refused_and_gets_nothing(make_cli: Any) -> None:
    alice, mallory = make_cli("alice"), make_cli("mallory")
    init_all(alice, mallory)
    community = community_with(alice, "Private")
    alice("post", community, "general", "secret")
    node_a = start_node(alice)
    try:
        result = mallory(
            "--json", "join", community, "--bootstrap", node_a.addr, "--timeout", "10", check=False
        )
        assert result.code == 1
        assert result.error()["code"] == "forbidden"
        assert mallory.json("community", "list")["communities"] == []
    finally:
        assert node_a.stop() == 0


def test_second_node_on_the_same_data_dir_is_refused(make_cli: Any) -> None:
    alice = make_cli("alice")
    alice("init")
    node_a = start_node(alice)
    try:
        import subprocess

        from tests.e2e.conftest import NODE

        second = subprocess.run(
            [
                *NODE,
                "--data-dir",
                str(alice.data_dir),
                "--json",
                "run",
                "--listen",
                "/ip4/127.0.0.1/tcp/0",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1
        assert "another p2pcommunity node" in second.stderr
    finally:
        assert node_a.stop() == 0


def test_cli_commands_go_through_a_running_node(make_cli: Any) -> None:
    alice = make_cli("alice")
    alice("init", "--name", "alice")
    node_a = start_node(alice)
    try:
        community = alice.json("community", "create", "Club")["community_id"]
        post = alice.json("post", community, "general", "via the node")["post_id"]
        assert alice.json("read", community, "general")["posts"][0]["id"] == post
        assert alice.json("whoami")["addrs"] == node_a.addrs
        bad = alice("--json", "read", community, "nope", check=False)
        assert bad.code == 1 and bad.error()["code"] == "not_found"
    finally:
        assert node_a.stop() == 0
    # and the data is there offline afterwards
    assert alice.json("read", community, "general")["posts"][0]["text"] == "via the node"
