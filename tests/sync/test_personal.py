"""Issue 16, personal safety: muted words and channels, blocked members' reactions, dismissals.

All of it is local (a second device of the community sees none of it), bar the
dismissals of reports, which every moderator shares.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.sync.errors import DomainError, Forbidden, Invalid, NotFound, Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store
from tests.sync.builders import member_club, sync_docs, sync_log

_clock = itertools.count(1_700_000_000_000, 1000)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Service, Service, str]:
    """alice (owner) and bob (member), each with a post the other has."""
    alice, bob = (
        Service(Store(tmp_path / f"{n}.sqlite3"), SigningKey.generate(), lambda: next(_clock))
        for n in ("alice", "bob")
    )
    cid = alice.community_create("Club")["community_id"]
    alice.member_add(cid, peer_id_from_public_key(bob.me))
    sync_log(alice, bob, cid)
    return alice, bob, cid


def _read(service: Service, cid: str, channel: str = "general") -> dict[str, dict]:
    return {p["text"]: p for p in service.read(cid, channel)["posts"]}


def test_a_muted_word_marks_its_posts_even_disguised(pair: tuple) -> None:
    alice, bob, cid = pair
    for text in ("free stuff here", "get ＦＲ３３ tickets", "freedom rocks", "hello"):
        alice.post(cid, "general", text)
    bob.personal.mute_add("  free  ")
    bob.personal.mute_add("big sale")
    alice.post(cid, "general", "a BIG   sale today")
    sync_docs(alice, bob, cid, alice.me, ms=0)
    muted = {t: p["muted"] for t, p in _read(bob, cid).items()}
    assert muted == {
        "free stuff here": True,
        "get ＦＲ３３ tickets": True,
        "freedom rocks": False,  # a word, not a prefix
        "hello": False,
        "a BIG   sale today": True,
    }
    assert not any(p["muted"] for p in _read(alice, cid).values())  # local to bob
    assert bob.personal.mute_list()["words"] == ["big sale", "free"]
    bob.personal.mute_remove("free")
    assert not _read(bob, cid)["free stuff here"]["muted"]
    with pytest.raises(NotFound):
        bob.personal.mute_remove("free")


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "x" * 101, "one two three four five"])
def test_a_muted_word_that_cannot_match_is_refused(pair: tuple, bad: str) -> None:
    _alice, bob, _cid = pair
    with pytest.raises(Invalid):
        bob.personal.mute_add(bad)
    assert bob.personal.mute_list()["words"] == []


def test_a_muted_channel_mutes_every_post_in_it(pair: tuple) -> None:
    alice, bob, cid = pair
    alice.channel_create(cid, "random")
    sync_log(alice, bob, cid)
    alice.post(cid, "general", "in general")
    alice.post(cid, "random", "in random")
    sync_docs(alice, bob, cid, alice.me, ms=0)
    assert bob.personal.channel_mute(cid, "random", True)["muted"] is True
    assert _read(bob, cid, "random")["in random"]["muted"]
    assert not _read(bob, cid)["in general"]["muted"]
    assert [c["name"] for c in bob.personal.mute_list(cid)["channels"]] == ["random"]
    bob.personal.channel_mute(cid, "random", False)
    assert not _read(bob, cid, "random")["in random"]["muted"]
    with pytest.raises(NotFound):
        bob.personal.channel_mute(cid, "nope", True)


def test_blocking_hides_a_members_reactions(pair: tuple) -> None:
    alice, bob, cid = pair
    post = alice.post(cid, "general", "hello")["post_id"]
    sync_docs(alice, bob, cid, alice.me, ms=0)
    bob.react(cid, post, "👍")
    alice.react(cid, post, "👍")
    bob.react(cid, post, "🎉")
    sync_docs(bob, alice, cid, bob.me, ms=0)
    me = peer_id_from_public_key(alice.me)
    assert set(_read(alice, cid)["hello"]["reactions"]) == {"👍", "🎉"}
    alice.block(peer_id_from_public_key(bob.me))
    assert _read(alice, cid)["hello"]["reactions"] == {"👍": [me]}


def test_dismissing_reports_is_for_moderators(pair: tuple) -> None:
    alice, bob, cid = pair
    post = alice.post(cid, "general", "hello")["post_id"]
    with pytest.raises(Forbidden):
        bob.personal.dismiss(cid, post)
    with pytest.raises(Forbidden):
        bob.personal.dismissed(cid)
    assert alice.personal.dismiss(cid, post[:8]) == {"post": post}
    assert list(alice.personal.dismissed(cid)["dismissed"]) == [post]
    with pytest.raises(DomainError) as missing:
        alice.personal.dismiss(cid, "f" * 40)
    assert missing.value.code == "not_found"


def test_channel_list_says_which_channels_this_device_muted(pair: tuple) -> None:
    alice, bob, cid = pair
    alice.channel_create(cid, "random")
    sync_log(alice, bob, cid)
    bob.personal.channel_mute(cid, "random", True)
    listed = {c["name"]: c for c in bob.channel_list(cid)["channels"]}
    assert {n: c["muted"] for n, c in listed.items()} == {"general": False, "random": True}
    assert not any(c["muted"] for c in alice.channel_list(cid)["channels"])  # local to bob
    bob.personal.channel_mute(cid, "random", False)
    assert not any(c["muted"] for c in bob.channel_list(cid)["channels"])


def test_block_list_names_blocked_peers_from_any_community(pair: tuple) -> None:
    alice, bob, cid = pair
    bob.profile_set("Bob", None)
    sync_docs(bob, alice, cid, bob.me, ms=0)
    stranger = peer_id_from_public_key(SigningKey.generate().verify_key.encode())
    assert alice.personal.block_list() == {"blocked": []}
    alice.community_create("Other")  # a community where bob has no profile
    alice.block(peer_id_from_public_key(bob.me))
    alice.block(stranger)
    listed = {b["peer"]: b["name"] for b in alice.personal.block_list()["blocked"]}
    assert listed == {peer_id_from_public_key(bob.me): "Bob", stranger: ""}
    assert bob.personal.block_list() == {"blocked": []}  # local to alice
    alice.unblock(stranger)
    assert [b["peer"] for b in alice.personal.block_list()["blocked"]] == [
        peer_id_from_public_key(bob.me)
    ]


def test_a_dismissal_is_shared_by_every_moderator_and_tells_no_one_else(tmp_path: Path) -> None:
    (admin, mod, bob), cid = member_club(tmp_path, "admin", "mod", "bob", moderator="mod")
    post = bob.post(cid, "general", "a reported post")["post_id"]
    sync_docs(bob, admin, cid)
    assert admin.personal.dismiss(cid, post) == {"post": post}
    sync_log(admin, mod, cid)
    sync_log(admin, bob, cid)
    shared = mod.personal.dismissed(cid)
    assert list(shared["dismissed"]) == [post]
    assert shared["by"] == {post: peer_id_from_public_key(admin.me)}
    assert shared == admin.personal.dismissed(cid)
    # A plain member's node holds the op, not which post it names, and the public
    # moderation log does not list it (it would tell that a report existed).
    raw = b"".join(op.data for op in bob.community(cid).log.ops_in_order())
    assert post.encode() not in raw and bytes.fromhex(post) not in raw
    assert all(e["action"] != "report_dismiss" for e in bob.accountability.modlog(cid)["entries"])
    with pytest.raises(Forbidden):
        bob.personal.dismiss(cid, post)
    forged = {"sealed": bytes(64)}
    with pytest.raises(Rejected):  # the fold refuses it from a plain member
        bob.community(cid).append_op(bob.key, "report_dismiss", forged, next(_clock))


def test_a_dismissal_made_before_they_were_shared_still_counts(pair: tuple) -> None:
    alice, _bob, cid = pair
    post = alice.post(cid, "general", "hello")["post_id"]
    with alice.store.transaction():  # a row of store 1.5 to 1.8, when dismissals were local
        alice.store.personal.dismiss(bytes.fromhex(cid), post, 1_700_000_000_000)
    assert alice.personal.dismissed(cid) == {
        "dismissed": {post: "2023-11-14T22:13:20.000Z"},
        "by": {post: peer_id_from_public_key(alice.me)},
    }
