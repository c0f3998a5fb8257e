"""A `--no-listen` member is reached by another member through N's circuit relay."""

from __future__ import annotations

from typing import Any

from tests.e2e.nodes import RunningNode, community_with, init_all, start_node, wait_for
from tests.e2e.test_operator_node import _texts, start_no_listen, stop_proc


def test_a_no_listen_member_is_reached_through_the_relay(make_cli: Any) -> None:
    alice, dora, relay = make_cli("alice"), make_cli("dora"), make_cli("n")
    init_all(alice, dora, relay, named=True)
    community = community_with(alice, "Behind NAT", dora, relay)
    dora_id = dora.json("whoami")["peer_id"]
    relay_id = relay.json("whoami")["peer_id"]
    n = start_node(relay, "--relay")
    a: RunningNode | None = start_node(alice)
    d = None
    try:
        relay("join", community, "--bootstrap", a.addr)
        alice("node", "add", community, relay_id, n.addr)
        wait_for(lambda: relay.json("community", "show", community)["nodes"])
        dora("join", community, "--bootstrap", n.addr)
        d = start_no_listen(dora)
        # Dora reserves a slot on N and publishes /p2p/<N>/p2p-circuit/p2p/<dora>.
        relayed = f"{n.addr}/p2p-circuit/p2p/{dora_id}"
        wait_for(lambda: relayed in dora.json("whoami")["addrs"], timeout=30)
        # Alice learns that address from Dora's member document and dials it through N.
        wait_for(lambda: dora_id in alice.json("status")["peers"], timeout=40)
        dora("post", community, "general", "hello from behind the NAT")
        wait_for(lambda: "hello from behind the NAT" in _texts(alice, community), timeout=20)
        alice("post", community, "general", "hello back")
        wait_for(lambda: "hello back" in _texts(dora, community), timeout=20)
        members = {m["name"]: m for m in alice.json("member", "list", community)["members"]}
        assert members["dora"]["status"] == "online"
        # `status` connections (CLI.md "Reach"): N directly; Dora through N, unless she
        # dialled Alice's own address herself (she can: only Alice cannot dial her).
        conns = alice.json("status")["connections"]
        assert {c["kind"] for c in conns if c["peer_id"] == relay_id} == {"direct"}, conns
        for c in conns:
            assert c["kind"] == ("relayed" if "/p2p-circuit" in c["addr"] else "direct"), conns
        assert dora_id in {c["peer_id"] for c in conns}, conns
    finally:
        codes = [x.stop() for x in (a, n) if x is not None]
        if d is not None:
            codes.append(stop_proc(d))
    assert codes == [0] * len(codes)
