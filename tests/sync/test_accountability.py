"""Issue 16: the moderation log, appeals and context notes, across several nodes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.accountability import open_text, seal_text
from p2pcommunity.sync.crypto import OP_TAG, canonical_cbor, sha256, sign
from p2pcommunity.sync.docs.memberdoc import post_id_for
from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, Rejected
from p2pcommunity.sync.log.appeal_rules import post_id_of
from p2pcommunity.sync.log.envelope import make_op
from p2pcommunity.sync.log.ops import SignedOp
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, member_club, new_service, peer_of, sync_docs, sync_log

Group = tuple[Service, Service, Service, Service, str]


@pytest.fixture
def group(tmp_path: Path) -> Group:
    """admin, moderator, mallory (acted on) and bob (a bystander), all synced."""
    (admin, mod, mallory, bob), cid = member_club(
        tmp_path, "admin", "mod", "mallory", "bob", moderator="mod", rule="trusted helper"
    )
    return admin, mod, mallory, bob, cid


def _everyone_syncs(services: list[Service], cid: str) -> None:
    for source in services:
        for target in services:
            if source is not target:
                sync_log(source, target, cid)
                sync_docs(source, target, cid, source.me)


def _hidden_post(group: Group) -> str:
    admin, mod, mallory, bob, cid = group
    post = mallory.post(cid, "general", "a heated remark")["post_id"]
    _everyone_syncs([admin, mod, mallory, bob], cid)
    mod.governance.hide(cid, post, "too heated", rule="rule 2: be kind")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    return str(post)


def test_every_member_lists_the_same_modlog_with_actor_target_reason_and_rule(
    group: Group,
) -> None:
    admin, mod, mallory, bob, cid = group
    post = _hidden_post(group)
    # Concurrent acts of two moderators, each unaware of the other's.
    mod.governance.timeout(cid, peer_of(mallory), "1h", rule="rule 3")
    admin.governance.unhide(cid, post, rule="second look")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    logs = [s.accountability.modlog(cid)["entries"] for s in (admin, mod, mallory, bob)]
    assert all(entries == logs[0] for entries in logs)
    actions = [e["action"] for e in logs[0]]
    assert sorted(actions[:2]) == ["timeout", "unhide"] and actions[2:] == ["hide", "role_set"]
    hide = logs[0][2]
    assert hide["actor"] == peer_of(mod) and hide["target"] == post
    assert hide["reason"] == "too heated" and hide["rule"] == "rule 2: be kind"
    assert logs[0][-1]["target"] == peer_of(mod) and logs[0][-1]["rule"] == "trusted helper"
    assert [e["id"] for e in bob.accountability.modlog(cid, limit=1)["entries"]] == [
        logs[0][0]["id"]
    ]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_modlog_does_not_depend_on_the_order_ops_arrive_in(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    tmp = tmp_path_factory.mktemp("order")
    admin, mod, mallory = (new_service(tmp, n) for n in ("admin", "mod", "mallory"))
    cid = admin.community_create("Club")["community_id"]
    for who in (mod, mallory):
        admin.member_add(cid, peer_of(who))
    admin.role_set(cid, peer_of(mod), "moderator")
    sync_log(admin, mod, cid)
    mod.governance.timeout(cid, peer_of(mallory), "1h", rule="r1")  # concurrent with...
    admin.governance.timeout(cid, peer_of(mallory), "2h", rule="r2")  # ...this one
    admin.role_set(cid, peer_of(mod), "member")  # and a demotion concurrent with mod's act
    ops = {op.data: op for s in (admin, mod) for op in s.community(cid).log.ops_in_order()}
    shuffled = list(ops.values())
    random.Random(seed).shuffle(shuffled)
    reader = new_service(tmp, f"reader{seed}")
    community = reader.node_support.take_up(bytes.fromhex(cid))
    for _ in range(len(shuffled)):  # parents may come later: bounded redelivery
        community.receive_ops(shuffled)
    sync_log(admin, mallory, cid)
    sync_log(mod, mallory, cid)
    mallory_log = mallory.accountability.modlog(cid)["entries"]
    assert community.log.state() == mallory.community(cid).state
    assert [e["id"] for e in mallory_log] == [
        e["id"]
        for e in (
            reader.accountability._entry(community.log.counted_ops(), op)
            for op in reversed(community.log.counted_ops())
            if op.type in ("timeout", "role_set")
        )
    ]
    # The moderator's timeout was concurrent with the demotion: dropped in pass 2, listed nowhere.
    assert [e["rule"] for e in mallory_log if e["action"] == "timeout"] == ["r2"]


def test_a_reversed_appeal_unhides_the_post_everywhere_and_only_admins_read_it(
    group: Group,
) -> None:
    admin, mod, mallory, bob, cid = group
    post = _hidden_post(group)
    assert all(post not in [p["id"] for p in s.read(cid, "general")["posts"]] for s in (bob, mod))
    entry = mallory.accountability.modlog(cid)["entries"][0]["id"]
    appeal_id = mallory.accountability.appeal(cid, entry[:10], "I was quoting a film")["appeal_id"]
    _everyone_syncs([admin, mod, mallory, bob], cid)

    def my_appeals(s: Service) -> list[dict]:
        return s.accountability.modlog(cid)["my_appeals"]

    assert my_appeals(mallory) == [{"id": appeal_id, "entry": entry, "outcome": None}]
    assert my_appeals(admin) == [] and my_appeals(bob) == []
    for outsider in (bob, mod, mallory):
        with pytest.raises(Forbidden):
            outsider.accountability.appeals(cid)
    sealed = admin.community(cid).log.op(bytes.fromhex(appeal_id)).body["sealed"]
    assert open_text(bob.key, sealed) is None and open_text(mod.key, sealed) is None
    assert b"film" not in sealed
    (row,) = admin.accountability.appeals(cid)["appeals"]
    assert row["text"] == "I was quoting a film" and row["member"] == peer_of(mallory)
    assert row["outcome"] is None
    admin.accountability.appeal_resolve(cid, appeal_id, "reverse", "context makes it fine")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    for s in (admin, mod, mallory, bob):
        assert post in [p["id"] for p in s.read(cid, "general")["posts"]]
        top = s.accountability.modlog(cid)["entries"][:2]
        assert [e["action"] for e in top] == ["unhide", "appeal_reverse"]
        assert top[0]["rule"] == f"appeal {appeal_id[:16]}"
        assert top[1]["target"] == peer_of(mallory) and top[1]["reason"] == "context makes it fine"
    assert admin.accountability.appeals(cid)["appeals"][0]["outcome"] == "reverse"
    assert my_appeals(mallory) == [{"id": appeal_id, "entry": entry, "outcome": "reverse"}]
    with pytest.raises(DomainError):
        admin.accountability.appeal_resolve(cid, appeal_id, "uphold")


def test_reversing_a_timeout_and_a_demotion_restores_what_was_before(group: Group) -> None:
    admin, mod, mallory, bob, cid = group
    admin.governance.timeout(cid, peer_of(mallory), "1d")
    admin.role_set(cid, peer_of(mod), "member", rule="inactive")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    entries = {e["action"]: e["id"] for e in admin.accountability.modlog(cid)["entries"]}
    a1 = mallory.accountability.appeal(cid, entries["timeout"], "it was a joke")["appeal_id"]
    demotion = admin.accountability.modlog(cid)["entries"][0]["id"]
    a2 = mod.accountability.appeal(cid, demotion, "I am active")["appeal_id"]
    _everyone_syncs([admin, mod, mallory, bob], cid)
    admin.accountability.appeal_resolve(cid, a1, "reverse")
    admin.accountability.appeal_resolve(cid, a2, "reverse")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    for s in (mallory, bob):
        state = s.community(cid).state
        assert state.members[mallory.me].timeout_until_ms is None
        assert state.role_of(mod.me) is not None and state.role_of(mod.me).name == "MODERATOR"


def _raw_appeal(who: Service, cid: str, entry: bytes, local: str | None = None) -> object:
    community = who.community(cid)
    body: dict[str, object] = {"entry": entry, "sealed": seal_text("x", [who.me])}
    if local is not None:
        body["local"] = local
    return make_op(who.key, community.id, community.log.heads(), "appeal", body, clock())


def test_an_appeal_by_someone_the_entry_did_not_act_on_stores_nothing(group: Group) -> None:
    admin, _mod, mallory, bob, cid = group
    _hidden_post(group)
    entry = bytes.fromhex(admin.accountability.modlog(cid)["entries"][0]["id"])
    with pytest.raises(Forbidden):
        bob.accountability.appeal(cid, entry.hex(), "not mine but unfair")
    # bob's own app skips its checks: it claims the hidden post with a made-up local id.
    for local in (None, "made-up"):
        forged = _raw_appeal(bob, cid, entry, local)
        before = len(admin.community(cid).log)
        with pytest.raises(Rejected):
            admin.community(cid).receive_ops([forged])  # type: ignore[list-item]
        assert len(admin.community(cid).log) == before
        assert forged.data not in [d for d, _ in admin.store.ops(bytes.fromhex(cid))]  # type: ignore[attr-defined]
    # An appeal of something that is not a moderation act (the community's genesis).
    genesis = bytes.fromhex(cid)
    with pytest.raises(Rejected):
        admin.community(cid).receive_ops([_raw_appeal(mallory, cid, genesis)])  # type: ignore[list-item]


def test_a_second_appeal_of_the_same_entry_stores_nothing(group: Group) -> None:
    admin, _mod, mallory, _bob, cid = group
    post = _hidden_post(group)
    entry = admin.accountability.modlog(cid)["entries"][0]["id"]
    mallory.accountability.appeal(cid, entry, "first")
    with pytest.raises(DomainError):
        mallory.accountability.appeal(cid, entry, "second")
    _everyone_syncs([admin, mallory], cid)
    local = mallory.store.read_model.post(post).local_id  # type: ignore[union-attr]
    assert post_id_of(mallory.me, local) == post_id_for(mallory.me, local) == post
    again = _raw_appeal(mallory, cid, bytes.fromhex(entry), local)
    before = admin.store.ops(bytes.fromhex(cid))
    with pytest.raises(Rejected):
        admin.community(cid).receive_ops([again])  # type: ignore[list-item]
    assert admin.store.ops(bytes.fromhex(cid)) == before
    assert len(admin.accountability.appeals(cid)["appeals"]) == 1


def test_a_context_note_shows_under_the_post_for_everyone(group: Group) -> None:
    admin, mod, mallory, bob, cid = group
    post = mallory.post(cid, "general", "the moon is cheese")["post_id"]
    _everyone_syncs([admin, mod, mallory, bob], cid)
    with pytest.raises(Forbidden):
        bob.accountability.note(cid, post, "no it is not")
    mod.accountability.note(cid, post, "Samples say rock.")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    for s in (admin, mallory, bob):
        (shown,) = s.read(cid, "general")["posts"]
        assert shown["note"] == "Samples say rock."
    assert bob.accountability.modlog(cid)["entries"][0]["action"] == "note_set"
    mod.accountability.note_remove(cid, post[:8])
    _everyone_syncs([mod, bob], cid)
    assert bob.read(cid, "general")["posts"][0]["note"] is None
    with pytest.raises(Invalid):
        mod.accountability.note(cid, post, " ")


def test_a_bad_rule_field_is_refused_on_receipt(group: Group) -> None:
    admin, mod, mallory, _bob, cid = group
    community = mod.community(cid)
    for rule in (7, "x" * 129):
        record = {
            "v": 1,
            "c": community.id,
            "a": mod.me,
            "p": community.log.heads(),
            "t": "untimeout",
            "b": {"member": mallory.me, "rule": rule},
            "ms": clock(),
        }
        data = canonical_cbor(record)  # signed by hand: make_op refuses a bad body
        op = SignedOp(data, sign(mod.key, OP_TAG, community.id, sha256(data)))
        with pytest.raises(Rejected):
            admin.community(cid).receive_ops([op])
    with pytest.raises(Invalid):
        mod.governance.untimeout(cid, peer_of(mallory), rule="y" * 200)


def test_reports_carry_a_category_counted_and_collapse_for_the_reporter_only(
    group: Group,
) -> None:
    admin, mod, mallory, bob, cid = group
    post = mallory.post(cid, "general", "buy cheap watches")["post_id"]
    _everyone_syncs([admin, mod, mallory, bob], cid)
    with pytest.raises(Invalid):
        bob.governance.report(cid, post, "ads", "rude")
    bob.governance.report(cid, post, "ads", "spam")
    bob.governance.report(cid, post, "and again")
    _everyone_syncs([admin, mod, mallory, bob], cid)
    seen = mod.governance.reports(cid)
    assert sorted(r["category"] for r in seen["reports"]) == ["other", "spam"]
    assert seen["counts"] == {"harassment": 0, "spam": 1, "misinformation": 0, "other": 1}
    assert [p["reported_by_me"] for p in bob.read(cid, "general")["posts"]] == [True]
    for other in (admin, mod, mallory):
        assert [p["reported_by_me"] for p in other.read(cid, "general")["posts"]] == [False]
    with pytest.raises(Forbidden):
        bob.governance.reports(cid)
