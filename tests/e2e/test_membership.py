"""Invites, roles and moderation across real nodes on loopback (issue 4)."""

from __future__ import annotations

from typing import Any

from p2pcommunity.datadir import CLOCK_OFFSET_ENV
from tests.e2e.nodes import community_with, init_all, start_node, wait_for


def _texts(cli: Any, community: str) -> list[str]:
    return [p["text"] for p in cli.json("read", community, "general")["posts"]]


def _community_with_member(make_cli: Any) -> tuple[Any, Any, str]:
    alice, bob = make_cli("alice"), make_cli("bob")
    init_all(alice, bob, named=True)
    community = community_with(alice, "Gardeners")
    alice("rules", "set", community, "Be kind. No spam.")
    alice("post", community, "general", "welcome")
    alice("member", "add", community, bob.json("whoami")["peer_id"])
    return alice, bob, community


def test_join_with_an_invite_while_the_admin_is_offline(make_cli: Any) -> None:
    alice, bob, community = _community_with_member(make_cli)
    carol = make_cli("carol")
    carol("init", "--name", "carol")
    node_a = start_node(alice)
    node_b = None
    try:
        bob.json("join", community, "--bootstrap", node_a.addr)
        node_b = start_node(bob, "--bootstrap", node_a.addr)
        invite = alice.json("invite", "create", community, "--uses", "2")["invite"]
        wait_for(lambda: len(bob.json("community", "show", community)["rules"]) > 0)
        # Bob must have the invite op? No: the code carries it. Stop the admin.
        assert node_a.stop() == 0
        node_a = None
        joined = carol("join", invite, "--bootstrap", node_b.addr, "--timeout", "20").out
        assert joined.startswith(community)
        assert "Be kind. No spam." in joined  # the rules are shown on join
        shown = carol.json("community", "show", community)
        assert shown["rules_version"] == 1 and shown["role"] == "member"
        assert _texts(carol, community) == ["welcome"]
        assert "Be kind" in carol("community", "show", community).out
        # Bob's node admitted carol and now lists her as a member.
        wait_for(
            lambda: "carol" in [m["name"] for m in bob.json("member", "list", community)["members"]]
        )
    finally:
        for node in (node_a, node_b):
            if node is not None:
                node.stop()


def test_expired_revoked_and_used_up_invites_are_refused(make_cli: Any) -> None:
    alice = make_cli("alice")
    alice("init")
    community = alice.json("community", "create", "Club")["community_id"]
    node_a = start_node(alice)
    try:
        used = alice.json("invite", "create", community, "--uses", "1")["invite"]
        revoked = alice.json("invite", "create", community)
        alice("invite", "revoke", community, revoked["invite_id"])
        listed = {i["invite_id"]: i for i in alice.json("invite", "list", community)["invites"]}
        assert listed[revoked["invite_id"]]["revoked"] is True
        first, second, third = make_cli("j1"), make_cli("j2"), make_cli("j3")
        for cli in (first, second, third):
            cli("init")
        assert first.json("join", used, "--timeout", "20")["community_id"] == community
        wait_for(lambda: len(alice.json("member", "list", community)["members"]) == 2)
        again = second("--json", "join", used, "--timeout", "20", check=False)
        assert again.code == 1 and again.error()["code"] == "used_up", again.err
        gone = third("--json", "join", revoked["invite"], "--timeout", "20", check=False)
        assert gone.code == 1 and gone.error()["code"] == "revoked", gone.err
        for cli in (second, third):
            assert cli.json("community", "list")["communities"] == []
    finally:
        node_a.stop()


def test_hidden_posts_vanish_everywhere_and_reports_stay_sealed(make_cli: Any) -> None:
    alice, bob, community = _community_with_member(make_cli)
    mod = make_cli("mod")
    mod("init", "--name", "mod")
    alice("member", "add", community, mod.json("whoami")["peer_id"])
    alice("role", "set", community, mod.json("whoami")["peer_id"], "moderator")
    node_a = start_node(alice)
    nodes = [node_a]
    try:
        for cli in (bob, mod):
            cli.json("join", community, "--bootstrap", node_a.addr)
            nodes.append(start_node(cli, "--bootstrap", node_a.addr))
        spam = bob.json("post", community, "general", "buy cheap pills")["post_id"]
        for cli in (alice, mod):
            wait_for(lambda cli=cli: "buy cheap pills" in _texts(cli, community))
        alice("report", community, spam, "spam")
        wait_for(lambda: mod.json("reports", community)["reports"])
        report = mod.json("reports", community)["reports"][0]
        assert report["reason"] == "spam" and report["post"] == spam
        assert bob("--json", "reports", community, check=False).error()["code"] == "forbidden"
        mod("hide", community, spam, "--reason", "spam")
        for cli in (alice, bob, mod):
            wait_for(lambda cli=cli: "buy cheap pills" not in _texts(cli, community))
        plain = bob("--json", "hide", community, spam, check=False)
        assert plain.code == 1 and plain.error()["code"] == "forbidden"
    finally:
        for node in nodes:
            node.stop()


def test_a_removed_member_can_no_longer_post_anywhere(make_cli: Any) -> None:
    alice, bob, community = _community_with_member(make_cli)
    node_a = start_node(alice)
    node_b = None
    try:
        bob.json("join", community, "--bootstrap", node_a.addr)
        node_b = start_node(bob, "--bootstrap", node_a.addr)
        bob("post", community, "general", "before removal")
        wait_for(lambda: "before removal" in _texts(alice, community))
        bob_id = bob.json("whoami")["peer_id"]
        alice("member", "remove", community, bob_id)
        wait_for(
            lambda: any(
                m["status"] == "removed" for m in bob.json("member", "list", community)["members"]
            )
        )
        refused = bob("--json", "post", community, "general", "after removal", check=False)
        assert refused.code == 1 and refused.error()["code"] == "forbidden"
        statuses = {
            m["peer_id"]: m["status"] for m in alice.json("member", "list", community)["members"]
        }
        assert statuses[bob_id] == "removed"
        assert "before removal" in _texts(alice, community)  # earlier posts stay
    finally:
        for node in (node_a, node_b):
            if node is not None:
                node.stop()


def test_an_expired_invite_is_refused(make_cli: Any) -> None:
    alice, late = make_cli("alice"), make_cli("late")
    init_all(alice, late)
    community = community_with(alice, "Club")
    invite = alice.json("invite", "create", community, "--expires", "1h")["invite"]
    # The joiner's clock runs two hours ahead (datadir.CLOCK_OFFSET_ENV) instead
    # of the test sleeping past the expiry.
    two_hours_on = {CLOCK_OFFSET_ENV: str(2 * 3600 * 1000)}
    result = late("--json", "join", invite, "--timeout", "10", check=False, env=two_hours_on)
    assert result.code == 1 and result.error()["code"] == "expired"
    assert late.json("community", "list")["communities"] == []
