"""ARCHITECTURE §5.6 over real nodes: a removed admin writes on, offline, with
backdated parents, and reconnects to peers other than the owner."""

from __future__ import annotations

import trio

from tests.net.harness import close_session, community_cluster, wait_until


def test_a_removed_admins_late_ops_and_posts_are_rejected_by_every_peer() -> None:
    async def scenario() -> None:
        with trio.fail_after(90):
            async with community_cluster(4) as ((owner, bob, mallory, carol), cid):
                owner.service.role_set(cid.hex(), mallory.peer_id, "admin")
                for peer in (bob, mallory, carol):
                    await peer.connect(owner, cid)
                mallory.post(cid, "fine post")
                await wait_until(lambda: "fine post" in carol.texts(cid))
                # Mallory and carol go offline (their sessions end).
                for peer in (mallory, carol):
                    runner = peer.node.sessions_of(cid)[0]
                    await close_session(runner, owner)
                # The owner removes mallory, knowing her first post; bob learns it.
                owner.service.governance.member_remove(cid.hex(), mallory.peer_id)
                await wait_until(lambda: not bob.community(cid).state.is_member(mallory.pk))
                # Offline and unaware, mallory acts as an admin and posts on: her op's
                # parents predate the removal (concurrent with it).
                mallory.service.channel_create(cid.hex(), "evil")
                mallory.post(cid, "late abuse")
                # Bob refuses her outright: she is no member in his state.
                refused = await mallory.node.open_session(
                    bob.peer_id, bob.addrs, mallory.community(cid)
                )
                await refused.finished.wait()
                assert refused.refused == "not_member"
                assert "late abuse" not in bob.texts(cid)
                # Carol, who has not seen the removal, takes everything from mallory...
                await carol.connect(mallory, cid)
                assert "late abuse" in carol.texts(cid)
                assert carol.community(cid).state.channel_by_name("evil") is not None
                # ...then meets bob: the removal reaches her, the late op stays in the
                # DAG but counts for nothing, and her copy is rebuilt at the heads.
                await carol.connect(bob, cid)
                await wait_until(lambda: "late abuse" not in carol.texts(cid))
                for peer in (owner, bob, carol):
                    state = peer.community(cid).state
                    assert state.channel_by_name("evil") is None
                    assert not state.is_member(mallory.pk)
                    assert peer.texts(cid) == ["fine post"]
                assert bob.replicated(cid)["channels"] == carol.replicated(cid)["channels"]

    trio.run(scenario)
