"""Issue 16 with real nodes on 127.0.0.1: what every peer and an always-on node do."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from p2pcommunity.datadir import now_ms
from p2pcommunity.joining import join
from p2pcommunity.sync.errors import Forbidden
from p2pcommunity.sync.safety.policy import PolicyError, safety_of
from tests.net.harness import HarnessNode, cluster, run, wait_all, wait_until
from tests.sync.skipping_author import raw_edit, raw_post


def stored_ids(node: HarnessNode, cid: bytes, author: HarnessNode) -> set[str]:
    """The posts of `author` this node stores, shown or not."""
    return {p.id for p in node.store.safety.posts(cid, author.pk)}


def events(node: HarnessNode) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    node.node.notify = lambda method, params: seen.append((method, params))
    return seen


def set_policy(admin: HarnessNode, cid: bytes, *rules: tuple[str, str], **words: str) -> None:
    for key, value in rules:
        admin.service.safety.policy_set(cid.hex(), key, value)
    for word, action in words.items():
        admin.service.safety.words_add(cid.hex(), word.replace("_", " "), action)


def make_always_on(admin: HarnessNode, node: HarnessNode, cid: bytes) -> None:
    admin.service.governance.node_add(cid.hex(), node.peer_id, node.addrs[0])


def test_check_skipping_posts_are_hidden_everywhere_and_never_forwarded() -> None:
    """Four members whose app skips its checks each break one rule: slow mode, a
    blocked word, probation (a link) and the mention limit. The admin, who gets
    them straight from their authors, hides them; the always-on node refuses to
    store them, so bob, who syncs only through it, never holds them."""

    async def body() -> None:
        async with cluster(7) as (admin, node, bob, *cheats):
            cid = admin.create_community(members=[node, bob, *cheats])
            make_always_on(admin, node, cid)
            ref = cid.hex()
            rules = ("slow_mode.general", "60s"), ("max_mentions", "2"), ("probation", "7d")
            set_policy(admin, cid, *rules, scam="block")
            refused = events(node)
            await node.connect(admin, cid)
            await bob.connect(node, cid)
            for cheat in cheats:
                await cheat.connect(node, cid)
                await cheat.connect(admin, cid)
            base = now_ms()
            fine = {raw_post(c.service, ref, f"fine {i}", base) for i, c in enumerate(cheats)}
            slow, word, probation, mentions = cheats
            later = base + 61_000  # past slow mode: each of the others breaks one rule only
            bad = {
                raw_post(slow.service, ref, "too soon", base + 1000),
                raw_post(word.service, ref, "a real SC4M, see", later),
                raw_post(probation.service, ref, "see https://x.example", later),
                raw_post(mentions.service, ref, "hi all", later, mentions=3),
            }
            await wait_until(
                lambda: sum(len(stored_ids(admin, cid, c)) for c in cheats) == 8, what="admin"
            )

            def refusals() -> dict[str, str]:
                # One per session that offers the change (its author, the admin, the
                # other cheats who got it from the admin), each with the same rule.
                return {p["owner"]: p["rule"] for m, p in refused if m == "changes_refused"}

            await wait_until(lambda: len(refusals()) == 4, what="the node's refusals")
            assert refusals() == {
                slow.peer_id: "slow_mode",
                word.peer_id: "blocked_word",
                probation.peer_id: "probation",
                mentions.peer_id: "max_mentions",
            }
            await wait_all((admin, node, bob, *cheats), lambda n: len(n.texts(cid)) == 4)
            for n in (admin, node, bob, *cheats):
                assert sorted(n.texts(cid)) == [f"fine {i}" for i in range(4)]
            for holder in (node, bob):
                held = set().union(*(stored_ids(holder, cid, c) for c in cheats))
                assert held == fine and not held & bad
            # The refusal leaves sync whole: a fresh session still catches up both ways.
            await bob.connect(node, cid)
            assert admin.replicated(cid)["ops"] == bob.replicated(cid)["ops"]

    run(body)


def test_a_future_dated_post_does_not_escape_probation_once_witnessed() -> None:
    """A new member dates a link a year ahead, past their probation. The always-on
    node witnessed the post's arrival; from its `witness` op on, every peer judges
    the post at the witnessed time (plus the skew) and hides it."""

    async def body() -> None:
        async with cluster(4) as (admin, node, bob, newbie):
            node.node.witness_delay_s = 0
            cid = admin.create_community(members=[node, bob, newbie])
            make_always_on(admin, node, cid)
            ref = cid.hex()
            set_policy(admin, cid, ("probation", "7d"))
            for who in (node, bob, newbie):
                await who.connect(admin, cid)
            await bob.connect(node, cid)
            await newbie.connect(node, cid)
            year = 366 * 86_400_000
            post = raw_post(newbie.service, ref, "see https://x.example", now_ms() + year)
            await wait_until(lambda: any(o.type == "witness" for o in _ops(bob, cid)))
            await wait_all((admin, node, bob, newbie), lambda n: _has_witness(n, cid))
            for n in (admin, node, bob, newbie):
                assert n.texts(cid) == []
                verdict = n.service.safety.verdicts(n.community(cid))[post]
                assert verdict.rule == "probation"
            assert post in stored_ids(admin, cid, newbie)

    run(body)


def test_the_always_on_node_never_forwards_rejected_posts_or_blocked_edits() -> None:
    """A post rejected before it reaches the always-on node is refused there; one
    rejected after the node stored it is kept but no longer served, and its
    author's next post, which her app writes to a new segment, is; an edit that
    adds a blocked word is refused. Bob, who syncs only through the node, never
    holds any of them."""

    async def body() -> None:
        async with cluster(6) as (admin, node, bob, alice, carol, dave):
            cid = admin.create_community(members=[node, bob, alice, carol, dave])
            make_always_on(admin, node, cid)
            ref = cid.hex()
            set_policy(admin, cid, crypto="hold", scam="block")
            refused = events(node)
            # Rejected before the node sees it: dave reaches only the admin, for now.
            await dave.connect(admin, cid)
            early = dave.service.post(ref, "general", "crypto for sale")["post_id"]
            await wait_until(lambda: early in stored_ids(admin, cid, dave), what="dave's post")
            admin.service.safety.reject(ref, early, "spam")
            await node.connect(admin, cid)
            await wait_until(
                lambda: (
                    (dave.peer_id, "rejected")
                    in {(p["owner"], p["rule"]) for m, p in refused if m == "changes_refused"}
                ),
                what="the refusal of a rejected post",
            )
            assert early not in stored_ids(node, cid, dave)
            # Rejected after the node stored it.
            await alice.connect(node, cid)
            late = alice.service.post(ref, "general", "cheap crypto here")["post_id"]
            await wait_until(lambda: late in stored_ids(admin, cid, alice), what="alice's post")
            admin.service.safety.reject(ref, late, "spam")
            for n in (node, alice):
                await wait_until(lambda n=n: late in safety_of(n.community(cid).state).rejected)
            # Alice's app, seeing its post rejected, writes her next post to a new
            # segment, which the node serves.
            after = alice.post(cid, "sorry, won't happen again")
            await wait_until(lambda: after in stored_ids(node, cid, alice), what="alice's next")
            # An edit that adds a blocked word; the honest app refuses to send it.
            await carol.connect(node, cid)
            fine = carol.post(cid, "hello there")
            with pytest.raises(PolicyError):
                carol.service.edit(ref, fine, "hello there, scam")
            raw_edit(carol.service, ref, fine, "hello there, SC4M", now_ms())
            await wait_until(
                lambda: (
                    (carol.peer_id, "blocked_word")
                    in {(p["owner"], p["rule"]) for m, p in refused if m == "changes_refused"}
                ),
                what="the refusal of the edit",
            )
            assert sorted(node.texts(cid)) == ["hello there", "sorry, won't happen again"]

            await bob.connect(node, cid)
            assert bob.replicated(cid)["ops"] == admin.replicated(cid)["ops"]
            assert sorted(bob.texts(cid)) == ["hello there", "sorry, won't happen again"]
            assert stored_ids(bob, cid, dave) == set()
            assert stored_ids(bob, cid, alice) == {after}
            assert stored_ids(node, cid, alice) == {late, after}

    run(body)


def _ops(node: HarnessNode, cid: bytes) -> list[Any]:
    return [node.community(cid).log.op(o.hash) for o in node.community(cid).log.ops_in_order()]


def _has_witness(node: HarnessNode, cid: bytes) -> bool:
    return any(o.type == "witness" for o in _ops(node, cid))


def test_held_posts_word_lists_appeals_and_the_modlog_across_nodes() -> None:
    """A held post reaches a plain member's node only as a hidden one until a
    moderator approves it; only moderators read the watched words (a
    non-member's node gets no log at all); a reversed appeal undoes its hide on
    every node and tells the appealing member's node; every member's node lists
    the same moderation log."""

    async def body() -> None:
        async with cluster(4) as (admin, bob, newbie, stranger):
            cid = admin.create_community(members=[bob, newbie])
            ref = cid.hex()
            set_policy(
                admin, cid, ("probation", "7d"), ("probation.hold", "on"), Secret_Phrase="flag"
            )
            told = events(bob)
            await bob.connect(admin, cid)
            await newbie.connect(admin, cid)
            await newbie.connect(bob, cid)

            held = newbie.service.post(ref, "general", "hello, new here")
            assert held["held"] is True
            await wait_until(lambda: held["post_id"] in stored_ids(bob, cid, newbie))
            await wait_until(lambda: held["post_id"] in stored_ids(admin, cid, newbie))
            assert bob.texts(cid) == [] and admin.texts(cid) == ["hello, new here"]
            admin.service.safety.approve(ref, held["post_id"])
            await wait_until(lambda: bob.texts(cid) == ["hello, new here"], what="approval")

            with pytest.raises(Forbidden):
                bob.service.safety.words_list(ref)
            assert admin.service.safety.words_list(ref)["words"] == [
                {"word": "Secret Phrase", "action": "flag"}
            ]
            raw = b"".join(op.data for op in bob.community(cid).log.ops_in_order())
            assert b"ecret" not in raw
            with trio.fail_after(20):
                runner = await stranger.node.open_session(
                    admin.peer_id, admin.addrs, stranger.service.node_support.take_up(cid)
                )
                await runner.finished.wait()
            assert runner.refused == "not_member" and len(stranger.community(cid).log) == 0

            admin.service.safety.policy_set(ref, "probation.hold", "off")
            await wait_until(lambda: not bob.service.safety.policy_show(ref)["probation_hold"])
            bobs = bob.post(cid, "bob speaks")
            await wait_until(lambda: bobs in stored_ids(admin, cid, bob))
            admin.service.governance.hide(ref, bobs, "off topic")
            await wait_until(lambda: "bob speaks" not in bob.texts(cid), what="the hide")
            entry = bob.service.accountability.modlog(ref)["entries"][0]
            assert entry["action"] == "hide"
            appeal = bob.service.accountability.appeal(ref, entry["id"], "it was on topic")
            await wait_until(lambda: bool(admin.service.accountability.appeals(ref)["appeals"]))
            admin.service.accountability.appeal_resolve(ref, appeal["appeal_id"], "reverse")
            await wait_all((admin, bob, newbie), lambda n: "bob speaks" in n.texts(cid))

            def outcomes() -> list[dict[str, Any]]:
                return [p for method, p in told if method == "appeal_resolved"]

            # The node tells once the session's step is done, a moment after the store.
            await wait_until(lambda: bool(outcomes()), what="the appeal_resolved event")
            await bob.connect(admin, cid)  # a fresh session brings nothing to tell again
            assert [(o["appeal_id"], o["outcome"]) for o in outcomes()] == [
                (appeal["appeal_id"], "reverse")
            ]
            logs = [n.service.accountability.modlog(ref)["entries"] for n in (admin, bob, newbie)]
            assert logs[0] == logs[1] == logs[2]
            actions = {e["action"] for e in logs[0]}
            assert {"post_approve", "hide", "appeal_reverse", "unhide"} <= actions

    run(body)


def test_with_no_always_on_node_the_admitter_witnesses_its_invitee() -> None:
    """No always-on node: alice invites bob (probation 1 h, no links), bob's app
    skips its checks and dates a link a year ahead. Alice's node, his admitter,
    witnesses it; carol, who syncs only with alice, ends with it hidden."""

    async def body() -> None:
        async with cluster(3) as (alice, bob, carol):
            alice.node.witness_delay_s = 0
            cid = alice.create_community(members=[carol])
            ref = cid.hex()
            set_policy(alice, cid, ("probation", "1h"))
            code = alice.service.governance.invite_create(ref)["invite"]
            await join(bob.node, code, alice.addrs, timeout=20)
            await carol.connect(alice, cid)
            year = 366 * 86_400_000
            post = raw_post(bob.service, ref, "see https://x.example", now_ms() + year)
            await wait_all((alice, carol), lambda n: post in stored_ids(n, cid, bob))
            await wait_all((alice, bob, carol), lambda n: _has_witness(n, cid))
            witness = next(o for o in _ops(carol, cid) if o.type == "witness")
            assert witness.author == alice.pk
            for n in (alice, bob, carol):
                assert n.texts(cid) == []
                assert n.service.safety.verdicts(n.community(cid))[post].rule == "probation"

    run(body)


def test_the_always_on_node_never_forwards_an_edit_that_adds_a_forbidden_link() -> None:
    """An edit is judged by the text rules too: the honest app refuses to add a link
    where links are forbidden, the node refuses the check-skipping app's edit, and
    bob, who syncs only through the node, keeps the post as it was."""

    async def body() -> None:
        async with cluster(4) as (admin, node, carol, bob):
            cid = admin.create_community(members=[node, carol, bob])
            make_always_on(admin, node, cid)
            set_policy(admin, cid, ("max_links", "0"))
            refused = events(node)
            await node.connect(admin, cid)
            await carol.connect(node, cid)  # carol and bob reach only the node
            await wait_until(
                lambda: safety_of(carol.community(cid).state).current("max_links") == 0,
                what="the policy at carol",
            )
            fine = carol.post(cid, "the crag is dry today")
            await wait_until(lambda: fine in stored_ids(node, cid, carol), what="carol's post")
            with pytest.raises(PolicyError):
                carol.service.edit(cid.hex(), fine, "the crag is dry: https://x.example")
            raw_edit(carol.service, cid.hex(), fine, "dry! www.x.example", now_ms())
            await wait_until(
                lambda: (
                    (carol.peer_id, "max_links")
                    in {(p["owner"], p["rule"]) for m, p in refused if m == "changes_refused"}
                ),
                what="the refusal of the edit",
            )
            await bob.connect(node, cid)
            await wait_until(lambda: fine in stored_ids(bob, cid, carol), what="the post at bob")
            assert bob.texts(cid) == node.texts(cid) == ["the crag is dry today"]

    run(body)
