"""Issue 16: the policy, watched words and held posts, judged the same on every peer."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.errors import DomainError, Forbidden, Rejected
from p2pcommunity.sync.safety.confusables import fold, tokens
from p2pcommunity.sync.safety.policy import PolicyError, verdicts
from p2pcommunity.sync.safety.words import skeleton
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, member_club, new_service, peer_of, sync_docs, sync_log, texts
from tests.sync.skipping_author import raw_edit, raw_post


@pytest.fixture
def club(tmp_path: Path) -> tuple[Service, Service, Service, Service, str]:
    """admin, a moderator, mallory (who skips her checks) and bob, all synced."""
    (admin, mod, mallory, bob), cid = member_club(
        tmp_path, "admin", "mod", "mal", "bob", moderator="mod"
    )
    return admin, mod, mallory, bob, cid


# --- folding -----------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["FREE", "fr33", "ｆｒｅｅ", "ＦＲ３３", "frée", "frее", "FrEe"]
)
def test_confusable_and_full_width_variants_fold_to_one_skeleton(variant: str) -> None:
    assert skeleton(variant) == "free"


def test_tokens_split_on_punctuation_after_folding() -> None:
    assert tokens("Get fr33 $tuff, now!") == ["get", "free", "stuff", "now"]
    assert fold("ＡＢＣ") == "abc"


# --- policy and words through the service ------------------------------------


def test_author_node_refuses_each_rule_with_its_code(club: tuple) -> None:
    admin, mod, mallory, _bob, cid = club
    admin.safety.policy_set(cid, "slow_mode.general", "60s")
    admin.safety.policy_set(cid, "max_mentions", "1")
    mod.safety.words_add(cid, "spam", "block")
    sync_log(admin, mallory, cid)
    sync_log(mod, mallory, cid)
    assert mallory.post(cid, "general", "hello")["held"] is False
    with pytest.raises(DomainError) as slow:
        mallory.post(cid, "general", "again")
    assert slow.value.code == "slow_mode"
    sync_log(mod, admin, cid)
    with pytest.raises(DomainError) as word:
        admin.post(cid, "general", "buy ＳＰ4Ｍ now")
    assert word.value.code == "blocked_word"


def test_peers_hide_what_a_check_skipping_author_sent(club: tuple) -> None:
    admin, mod, mallory, bob, cid = club
    admin.safety.policy_set(cid, "slow_mode.general", "60s")
    admin.safety.policy_set(cid, "max_mentions", "2")
    admin.safety.policy_set(cid, "probation", "7d")
    mod.safety.words_add(cid, "scam", "block")
    sync_log(mod, admin, cid)
    for who in (mallory, bob):
        sync_log(admin, who, cid)
        sync_log(mod, who, cid)
    base = admin.community(cid).state.members[mallory.me].joined_ms + 10_000_000
    raw_post(mallory, cid, "first, fine", base)
    raw_post(mallory, cid, "too soon", base + 1000)  # slow mode
    raw_post(mallory, cid, "a s c a m? no: a sc4m", base + 120_000)  # blocked word
    raw_post(mallory, cid, "see https://x.example", base + 240_000)  # probation: a link
    raw_post(mallory, cid, "hi all", base + 360_000, mentions=3)  # mention limit
    for who in (bob, admin):
        sync_docs(mallory, who, cid, mallory.me, ms=0)
        assert texts(who, cid) == ["first, fine"]
    assert texts(mallory, cid) == ["first, fine"]


def test_a_held_post_is_invisible_to_a_plain_member_until_approved(club: tuple) -> None:
    admin, mod, mallory, bob, cid = club
    admin.safety.policy_set(cid, "probation", "7d")
    admin.safety.policy_set(cid, "probation.hold", "on")
    for who in (mallory, bob, mod):
        sync_log(admin, who, cid)
    result = mallory.post(cid, "general", "hello, new here")
    assert result["held"] is True
    for who in (bob, mod):
        sync_docs(mallory, who, cid, mallory.me, ms=0)
    assert texts(bob, cid) == []
    pending = mod.safety.pending(cid)["posts"]
    assert [p["text"] for p in pending] == ["hello, new here"] and pending[0]["held"]
    assert pending[0]["waiting"] == {"action": "hold", "rule": "probation"}  # why it waits
    with pytest.raises(Forbidden):
        bob.safety.approve(cid, result["post_id"])
    mod.safety.approve(cid, result["post_id"])
    sync_log(mod, bob, cid)
    assert texts(bob, cid) == ["hello, new here"]
    assert mod.safety.pending(cid)["posts"] == []


def test_rejected_held_post_stays_hidden(club: tuple) -> None:
    _admin, mod, mallory, bob, cid = club
    mod.safety.words_add(cid, "crypto deal", "hold")
    sync_log(mod, mallory, cid)
    post = mallory.post(cid, "general", "CRYPT0   DEAL inside")
    assert post["held"] is True
    sync_docs(mallory, mod, cid, mallory.me, ms=0)
    mod.safety.reject(cid, post["post_id"], "spam")
    sync_log(mod, bob, cid)
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert texts(bob, cid) == [] and mod.safety.pending(cid)["posts"] == []


def test_plain_members_cannot_read_the_word_list_and_ops_hold_no_plaintext(club: tuple) -> None:
    admin, mod, _mallory, bob, cid = club
    mod.safety.words_add(cid, "Forbidden Phrase", "flag")
    sync_log(mod, bob, cid)
    with pytest.raises(Forbidden):
        bob.safety.words_list(cid)
    assert admin.safety.words_list(cid)["words"] == []  # not synced yet
    sync_log(mod, admin, cid)
    assert admin.safety.words_list(cid)["words"] == [{"word": "Forbidden Phrase", "action": "flag"}]
    raw = b"".join(op.data for op in bob.community(cid).log.ops_in_order())
    assert b"orbidden" not in raw and b"hrase" not in raw


def test_only_admins_set_the_policy_and_bad_values_change_nothing(club: tuple) -> None:
    admin, mod, _mallory, _bob, cid = club
    with pytest.raises(Forbidden):
        mod.safety.policy_set(cid, "max_links", "0")
    for key, value in (("max_links", "-1"), ("slow_mode.nowhere", "5s"), ("what", "1")):
        with pytest.raises(DomainError):
            admin.safety.policy_set(cid, key, value)
    assert admin.safety.policy_show(cid)["version"] == 0
    shown = admin.safety.policy_set(cid, "slow_mode.general", "2m")
    assert shown["slow_mode"] == {"general": 120} and shown["version"] == 1


# --- concurrency: 3 peers, any order ------------------------------------------

_POLICY = st.sampled_from(
    [("slow_mode.general", "30s"), ("slow_mode.general", "off"), ("max_mentions", "0"),
     ("rate.posts_per_minute", "2"), ("max_links", "0"), ("max_links", "off"),
     ("probation", "7d"), ("probation.hold", "on"), ("probation", "off")]
)  # fmt: skip


@settings(max_examples=8, deadline=None)
@given(
    changes=st.lists(_POLICY, min_size=1, max_size=3),
    posts=st.lists(
        st.tuples(st.integers(0, 90), st.integers(0, 2), st.booleans()), min_size=1, max_size=5
    ),
    orders=st.lists(st.permutations([0, 1, 2]), min_size=3, max_size=3),
)
def test_concurrent_policy_changes_and_posts_resolve_identically(
    tmp_path_factory: pytest.TempPathFactory,
    changes: list[tuple[str, str]],
    posts: list[tuple[int, int, bool]],
    orders: list[list[int]],
) -> None:
    tmp = tmp_path_factory.mktemp("conc")
    ticks = itertools.count(1_800_000_000_000, 7000)
    a, b, c = (new_service(tmp, n, now=lambda: next(ticks)) for n in ("a", "b", "c"))
    cid = a.community_create("C")["community_id"]
    for who in (b, c):
        a.member_add(cid, peer_of(who))
        a.role_set(cid, peer_of(b), "admin") if who is b else None
    for who in (b, c):
        sync_log(a, who, cid)
    # a and b change the policy concurrently while c posts without checking.
    for i, (key, value) in enumerate(changes):
        (a if i % 2 else b).safety.policy_set(cid, key, value)
    base = 1_800_000_000_000
    for offset, mentions, link in posts:
        raw_post(c, cid, "x https://l.example" if link else "x", base + offset * 1000, mentions)
    peers = (a, b, c)
    for target, order in zip(peers, orders, strict=True):
        for source in (peers[i] for i in order):
            if source is not target:
                sync_log(source, target, cid)
                sync_docs(source, target, cid, c.me, ms=0)
    seen = [sorted(p["id"] for p in who.read(cid, "general", limit=100)["posts"]) for who in peers]
    assert seen[0] == seen[1] == seen[2]
    assert all(who.safety.policy_show(cid) == a.safety.policy_show(cid) for who in peers)
    judged = [who.safety.verdicts(who.community(cid)) for who in peers]
    assert judged[0] == judged[1] == judged[2]  # held and flagged alike, not only hidden


# --- ops from the network: refused whole, nothing changes ---------------------


@pytest.mark.parametrize(
    ("op_type", "body"),
    [
        ("policy_set", {"key": "max_links", "value": -1}),
        ("policy_set", {"key": "max_links", "value": 1, "extra": 1}),
        ("policy_set", {"key": "slow_mode", "value": 5}),  # no channel
        ("word_set", {"hash": b"short", "action": "block", "tokens": 1, "sealed": b"x"}),
        ("word_set", {"hash": bytes(16), "action": "block", "tokens": 1}),  # not sealed
        ("word_set", {"hash": bytes(16), "action": "nuke", "tokens": 1, "sealed": b"x"}),
        ("post_approve", {"post": "not-an-id"}),
        ("witness", {"docs": []}),
        ("witness", {"docs": [[bytes(32), 0, -1]]}),
        ("witness", {"docs": [[bytes(31), 0, 1]]}),
        ("witness", {"docs": [[bytes(32), 0, 1]] * 257}),
        ("witness", {"docs": [[bytes(32), 0, 1]]}),  # no node wrote it, nor its admitter
    ],
)
def test_malformed_safety_ops_are_refused(club: tuple, op_type: str, body: dict) -> None:
    admin, _mod, _mallory, _bob, cid = club
    community = admin.community(cid)
    before = admin.safety.policy_show(cid)
    with pytest.raises((Rejected, DomainError)):  # the body check, or the envelope's
        community.append_op(admin.key, op_type, body, clock())
    assert admin.safety.policy_show(cid) == before


def test_a_plain_members_policy_op_is_refused_by_every_peer(club: tuple) -> None:
    admin, _mod, mallory, _bob, cid = club
    with pytest.raises(Rejected):
        mallory.community(cid).append_op(
            mallory.key, "policy_set", {"key": "max_links", "value": 0}, clock()
        )
    assert admin.safety.policy_show(cid)["max_links"] is None


# --- the verdicts kept incrementally ------------------------------------------


def test_incremental_verdicts_follow_posts_edits_and_policy_changes(club: tuple) -> None:
    """Each step changes one author's posts or the policy; the verdicts the store keeps
    must equal a fresh judgement of every post after each of them."""
    admin, mod, mallory, bob, cid = club
    mod.safety.words_add(cid, "scam", "block")
    for who in (mallory, bob):
        sync_log(mod, who, cid)

    def check() -> set[str]:
        state = bob.community(cid).state
        kept = bob.store.safety.verdicts(state)
        assert kept == verdicts(state, bob.store.safety.posts(bytes.fromhex(cid)))
        return {p for p, v in kept.items() if v.action == "hide"}

    first = mallory.post(cid, "general", "hello")["post_id"]
    bobs = bob.post(cid, "general", "hi")["post_id"]
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert check() == set()
    with pytest.raises(PolicyError):  # the honest app refuses to send it
        mallory.edit(cid, first, "hello, a SC4M")
    raw_edit(mallory, cid, first, "hello, a SC4M", clock())  # judged again on receipt
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert check() == {first}
    raw_edit(bob, cid, bobs, "scam? no", clock())
    assert check() == {first, bobs}
    admin.safety.policy_set(cid, "max_links", "0")
    sync_log(admin, bob, cid)
    link = raw_post(mallory, cid, "https://x.example", clock())
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert check() == {first, bobs, link}
    mod.safety.words_remove(cid, "scam")
    sync_log(mod, bob, cid)
    assert check() == {link}
    assert "hello, a SC4M" in texts(bob, cid)


# --- an always-on node and an honest author -----------------------------------


def test_a_member_offline_during_a_rule_change_is_not_stuck_at_the_node(club: tuple) -> None:
    """Mallory's app is honest here, but offline while links are forbidden: its post
    with a link is refused by the always-on node (bob). Once her app holds the new
    rule it writes her next post, which keeps it, to a new segment: the node takes it."""
    admin, _mod, mallory, bob, cid = club
    admin.governance.node_add(cid, peer_of(bob), "/ip4/127.0.0.1/tcp/1")
    sync_log(admin, mallory, cid)
    admin.safety.policy_set(cid, "max_links", "0")
    sync_log(admin, bob, cid)
    early = mallory.post(cid, "general", "see https://x.example")["post_id"]
    sync_docs(mallory, bob, cid, mallory.me)
    assert bob.store.safety.posts(bytes.fromhex(cid), mallory.me) == []
    sync_log(admin, mallory, cid)  # back: her own node now hides that post too
    assert mallory.safety.verdicts(mallory.community(cid))[early].rule == "max_links"
    mallory.post(cid, "general", "no links, sorry")
    sync_docs(mallory, bob, cid, mallory.me)
    assert texts(bob, cid) == ["no links, sorry"]
    assert len(mallory.store.docs_of(bytes.fromhex(cid), mallory.me)) == 2


def test_an_authors_next_post_leaves_a_segment_that_holds_a_rejected_post(club: tuple) -> None:
    _admin, mod, mallory, _bob, cid = club
    mod.safety.words_add(cid, "crypto", "hold")
    sync_log(mod, mallory, cid)
    held = mallory.post(cid, "general", "crypto deal")["post_id"]
    sync_docs(mallory, mod, cid, mallory.me)
    mallory.post(cid, "general", "still in the first segment")
    assert len(mallory.store.docs_of(bytes.fromhex(cid), mallory.me)) == 1
    mod.safety.reject(cid, held, "spam")
    sync_log(mod, mallory, cid)
    mallory.post(cid, "general", "in a new one")
    segments = [r.segment for r in mallory.store.docs_of(bytes.fromhex(cid), mallory.me)]
    assert segments == [0, 1]


def test_a_post_dated_back_is_judged_by_the_policy_of_its_authors_latest_post(
    club: tuple,
) -> None:
    """Links are forbidden from now on; mallory posts, then dates a link back to
    before the change. Her chain says the link came after her post, so the rule
    of that time judges it, on every peer."""
    admin, _mod, mallory, bob, cid = club
    now = clock()
    admin.safety.policy_set(cid, "max_links", "0")
    for who in (mallory, bob):
        sync_log(admin, who, cid)
    raw_post(mallory, cid, "hello", now + 60_000)
    link = raw_post(mallory, cid, "see https://x.example", now - 60_000)
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert texts(bob, cid) == ["hello"]
    assert bob.safety.verdicts(bob.community(cid))[link].rule == "max_links"


# --- witnessed time ------------------------------------------------------------


def test_a_witness_bounds_a_future_date_and_only_listed_nodes_witness(club: tuple) -> None:
    admin, _mod, mallory, bob, cid = club
    admin.safety.policy_set(cid, "slow_mode.general", "10m")  # longer than the skew
    admin.governance.node_add(cid, peer_of(bob), "/ip4/127.0.0.1/tcp/1")
    for who in (mallory, bob):
        sync_log(admin, who, cid)
    now = clock()
    # Two posts a real second apart, the second dated an hour ahead to dodge slow mode.
    raw_post(mallory, cid, "first", now)
    second = raw_post(mallory, cid, "second", now + 3_600_000)
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert "second" in texts(bob, cid)  # judged at its own date until witnessed
    with pytest.raises(Rejected):  # mallory is no always-on node
        mallory.community(cid).append_op(
            mallory.key, "witness", {"docs": [[mallory.me, 0, 9]]}, clock()
        )
    assert bob.safety.witness(bob.community(cid)) is True  # bob is one: at his clock
    assert bob.safety.witness(bob.community(cid)) is False  # nothing new since
    sync_log(bob, admin, cid)
    sync_docs(mallory, admin, cid, mallory.me, ms=0)
    for who in (bob, admin):
        assert texts(who, cid) == ["first"]
        assert who.safety.verdicts(who.community(cid))[second].rule == "slow_mode"


@pytest.mark.parametrize("bad_at", [0, 1, 4, 6])
def test_an_always_on_node_takes_a_batch_up_to_its_first_refused_change(
    club: tuple, bad_at: int
) -> None:
    admin, mod, mallory, bob, cid = club
    mod.safety.words_add(cid, "scam", "block")
    admin.governance.node_add(cid, peer_of(bob), "/ip4/127.0.0.1/tcp/1")
    for who in (mallory, bob, admin):
        sync_log(mod, who, cid)
        sync_log(admin, who, cid)
    written = [f"post {i}" if i != bad_at else "a scam" for i in range(7)]
    ids = [raw_post(mallory, cid, text, clock()) for text in written]
    ref = DocRef(bytes.fromhex(cid), mallory.me, 0)
    rows = mallory.store.changes_after(ref.doc_id, 0, 100)
    result = bob.community(cid).receive_changes(ref, [SignedChange(d, s) for _, _, d, s in rows], 0)
    assert result.refused == "blocked_word"
    held = {p.id for p in bob.store.safety.posts(bytes.fromhex(cid), mallory.me)}
    assert held == set(ids[:bad_at])
    assert texts(bob, cid) == written[:bad_at]
    sync_docs(mallory, admin, cid, mallory.me, ms=0)  # not a node: stores all, hides one
    assert sorted(texts(admin, cid)) == sorted(t for t in written if t != "a scam")
