"""Issue 16: with no always-on node, the member who admitted a newcomer witnesses
their documents while they are on probation (log/policy_rules.py `witness`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pcommunity.sync.errors import Rejected
from p2pcommunity.sync.safety.policy import safety_of
from p2pcommunity.sync.service import Service
from tests.sync.builders import (
    MovableClock,
    clock,
    new_service,
    peer_of,
    sync_docs,
    sync_log,
    texts,
)
from tests.sync.skipping_author import raw_post

YEAR_MS = 366 * 86_400_000
LINK = "see https://x.example"


@pytest.fixture
def club(tmp_path: Path) -> tuple[Service, Service, Service, Service, str, MovableClock]:
    """admin (on a clock the test moves) adds mod, bob and newbie; probation 1 h,
    and mod is a moderator (not on probation). Everyone holds the log."""
    admin_clock = MovableClock(clock())
    admin = new_service(tmp_path, "admin", now=admin_clock)
    mod, bob, newbie = (new_service(tmp_path, n) for n in ("mod", "bob", "newbie"))
    cid = admin.community_create("Club")["community_id"]
    for who in (mod, bob, newbie):
        admin.member_add(cid, peer_of(who))
    admin.role_set(cid, peer_of(mod), "moderator")
    admin.safety.policy_set(cid, "probation", "1h")
    for who in (mod, bob, newbie):
        sync_log(admin, who, cid)
    return admin, mod, bob, newbie, cid, admin_clock


def test_the_admitter_witnesses_a_future_dated_post_back_into_probation(club: tuple) -> None:
    admin, _mod, bob, newbie, cid, admin_clock = club
    post = raw_post(newbie, cid, LINK, admin_clock.ms + YEAR_MS)
    for who in (admin, bob):
        sync_docs(newbie, who, cid, newbie.me, ms=0)
        assert texts(who, cid) == [LINK]  # judged at its own date, past probation
    assert admin.safety.witness(admin.community(cid)) is True  # admin added newbie
    assert admin.safety.witness(admin.community(cid)) is False  # nothing new since
    sync_log(admin, bob, cid)
    for who in (admin, bob):
        assert texts(who, cid) == []
        assert who.safety.verdicts(who.community(cid))[post].rule == "probation"
    # It bounds the end of probation only: no other time rule reads it.
    witnessed = safety_of(bob.community(cid).state).witnessed[(newbie.me, 0)]
    assert witnessed.positions == () and witnessed.admitter is not None


def test_a_member_cannot_witness_members_it_did_not_admit(club: tuple) -> None:
    admin, _mod, bob, newbie, cid, _admin_clock = club
    raw_post(newbie, cid, LINK, clock() + YEAR_MS)
    sync_docs(newbie, bob, cid, newbie.me, ms=0)
    assert bob.safety.witness(bob.community(cid)) is False  # bob admitted no one
    with pytest.raises(Rejected):
        bob.community(cid).append_op(bob.key, "witness", {"docs": [[newbie.me, 0, 9]]}, clock())
    with pytest.raises(Rejected):  # one entry of someone else refuses the whole op
        admin.community(cid).append_op(
            admin.key, "witness", {"docs": [[newbie.me, 0, 9], [bytes(32), 0, 1]]}, clock()
        )
    assert (newbie.me, 0) not in safety_of(bob.community(cid).state).witnessed


def test_after_probation_or_for_a_moderator_the_admitters_entries_do_not_count(
    club: tuple,
) -> None:
    admin, mod, bob, newbie, cid, admin_clock = club
    community = admin.community(cid)
    joined = community.state.members[newbie.me].joined_ms
    # A moderator is on no probation: the entry for mod is taken but counts for nothing.
    community.append_op(admin.key, "witness", {"docs": [[mod.me, 0, 9]]}, admin_clock())
    assert (mod.me, 0) not in safety_of(community.state).witnessed
    raw_post(newbie, cid, LINK, admin_clock.ms + YEAR_MS)
    sync_docs(newbie, admin, cid, newbie.me, ms=0)
    admin_clock.ms = joined + 3_600_000  # probation (1 h) is over on the admin's clock
    assert admin.safety.witness(community) is False  # no one it admitted is on probation
    # Written anyway, dated after probation: every peer ignores its entries.
    community.append_op(admin.key, "witness", {"docs": [[newbie.me, 0, 9]]}, admin_clock())
    sync_log(admin, bob, cid)
    sync_docs(newbie, bob, cid, newbie.me, ms=0)
    for who in (admin, bob):
        assert (newbie.me, 0) not in safety_of(who.community(cid).state).witnessed
        assert texts(who, cid) == [LINK]


def test_an_admitters_witness_concurrent_with_a_policy_change_folds_alike_everywhere(
    club: tuple,
) -> None:
    admin, mod, bob, newbie, cid, admin_clock = club
    admin.role_set(cid, peer_of(mod), "admin")
    for who in (mod, bob):
        sync_log(admin, who, cid)
    post = raw_post(newbie, cid, LINK, admin_clock.ms + YEAR_MS)
    for who in (admin, mod, bob):
        sync_docs(newbie, who, cid, newbie.me, ms=0)
    assert admin.safety.witness(admin.community(cid)) is True
    mod.safety.policy_set(cid, "probation", "2h")  # concurrent with the witness op
    sync_log(admin, bob, cid)  # bob gets the witness first, newbie the policy change
    sync_log(mod, bob, cid)
    sync_log(mod, newbie, cid)
    sync_log(admin, newbie, cid)
    states = [safety_of(who.community(cid).state) for who in (bob, newbie)]
    assert states[0].witnessed == states[1].witnessed != {}
    judged = [who.safety.verdicts(who.community(cid)) for who in (bob, newbie)]
    assert judged[0] == judged[1] and judged[0][post].rule == "probation"
