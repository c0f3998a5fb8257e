"""A member whose app skips its own checks (issue 11, findings 6 and 6b).

The attacker writes straight into its Automerge segment (SegmentDoc's write
methods check nothing), signs the changes with its real member key and
hands them to another node's `Community.receive_changes`, the way a sync
session would. Every such change is refused and the victim's SQLite file is
byte for byte what it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, ScalarType
from nacl.signing import SigningKey

from p2pcommunity.sync.crypto import CHANGE_TAG, canonical_cbor, sign
from p2pcommunity.sync.docs import content
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import (
    POSTS,
    SEGMENT_MAX_CHANGES,
    CommittedChange,
    DocRef,
    PostRecord,
    SegmentDoc,
    new_local_id,
)
from p2pcommunity.sync.errors import Invalid, Rejected
from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, new_service, snapshot

# 882 characters of bidi overrides, zero-width characters, newlines and ANSI escapes.
HOSTILE_NAME = ("\u202e\u200b\u200d\n\x1b[31mSYSTEM: your node key leaked\x1b[0m\u2066" * 21)[:882]


class Attacker:
    """A member writing its own segment with no checks, signing what it writes."""

    def __init__(self, key: SigningKey, community_id: bytes, segment: int = 0) -> None:
        self.key = key
        self.ref = DocRef(community_id, bytes(key.verify_key), segment)
        self.segment = SegmentDoc.new(self.ref)

    def signed(self, change: CommittedChange) -> SignedChange:
        return SignedChange(
            change.raw_bytes, sign(self.key, CHANGE_TAG, self.ref.doc_id, change.hash)
        )

    def post(self, channel: bytes, text: str, mentions: tuple[bytes, ...] = ()) -> SignedChange:
        record = PostRecord(new_local_id(), channel, text, None, mentions, clock())
        return self.signed(self.segment.write_post(record))


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    owner = new_service(tmp_path, "owner")
    member_key = SigningKey.generate()
    community_id = bytes.fromhex(owner.community_create("Club")["community_id"])
    owner.member_add(community_id.hex(), peer_id_from_public_key(bytes(member_key.verify_key)))
    community = owner.community(community_id.hex())
    channel = Service.channel_id(community.state, "general")
    return {
        "owner": owner,
        "community": community,
        "attacker": Attacker(member_key, community_id),
        "channel": channel,
    }


def _refused(world: dict[str, Any], items: list[SignedChange], reason: str) -> Rejected:
    owner: Service = world["owner"]
    attacker: Attacker = world["attacker"]
    before = snapshot(owner.store.path)
    with pytest.raises(Rejected) as err:
        world["community"].receive_changes(attacker.ref, items, clock())
    assert err.value.reason == reason
    assert snapshot(owner.store.path) == before
    return err.value


def test_a_valid_post_of_the_same_attacker_is_stored(world: dict[str, Any]) -> None:
    """The control: the same path stores what is within the limits."""
    attacker: Attacker = world["attacker"]
    world["community"].receive_changes(
        attacker.ref, [attacker.post(world["channel"], "hello")], clock()
    )
    posts = world["owner"].read(world["community"].id.hex(), "general")["posts"]
    assert [p["text"] for p in posts] == ["hello"]


def test_a_200000_character_post_is_refused(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    item = attacker.post(world["channel"], "x" * 200_000)
    error = _refused(world, [item], "invalid_content")
    assert "longer than 8000" in str(error)


def test_a_post_valid_then_one_too_long_refuses_the_whole_batch(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    items = [attacker.post(world["channel"], "fine"), attacker.post(world["channel"], "y" * 9000)]
    _refused(world, items, "invalid_content")


def test_an_882_character_name_of_bidi_zero_width_newlines_and_ansi_is_refused(
    world: dict[str, Any],
) -> None:
    attacker: Attacker = world["attacker"]
    assert len(HOSTILE_NAME) == 882
    item = attacker.signed(attacker.segment.write_profile(HOSTILE_NAME, None, clock()))
    _refused(world, [item], "invalid_content")


@pytest.mark.parametrize(
    "name",
    [
        "admin\u202e",  # a bidi override
        "ad\u200bmin",  # a zero-width space
        "alice\n",  # a newline, not stripped
        "\x1b[2Jalice",  # an ANSI escape
        "ａｌｉｃｅ",  # fullwidth: not its NFKC form
        "a" * 65,
    ],
)
def test_a_short_name_with_one_bad_character_is_refused(world: dict[str, Any], name: str) -> None:
    attacker: Attacker = world["attacker"]
    item = attacker.signed(attacker.segment.write_profile(name, None, clock()))
    _refused(world, [item], "invalid_content")


def test_a_post_with_7000_mentions_is_refused(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    mentions = tuple(i.to_bytes(32, "big") for i in range(7000))
    item = attacker.post(world["channel"], "hi all", mentions)
    _refused(world, [item], "invalid_content")


def test_too_many_reactions_on_one_post_are_refused(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    post_id = "ab" * 16
    items = [
        attacker.signed(attacker.segment.write_reaction(post_id, f"e{i}", True))
        for i in range(content.MAX_REACTIONS_PER_POST + 1)
    ]
    world["community"].receive_changes(attacker.ref, items[:-1], clock())
    _refused(world, items[-1:], "invalid_content")


def test_a_reaction_with_a_bidi_override_is_refused(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    item = attacker.signed(attacker.segment.write_reaction("ab" * 16, "\u202e👍", True))
    _refused(world, [item], "invalid_content")


def test_a_tagged_post_record_is_refused(world: dict[str, Any]) -> None:
    """A post body holding tag 35 (cbor2 would compile it to a regular expression)."""
    attacker: Attacker = world["attacker"]
    body = canonical_cbor(
        {"ch": world["channel"], "text": "hi", "re": None, "mn": [], "ms": 5}
    ).replace(b"bhi", b"\xd8\x23bhi")  # the text, tagged 35
    local_id = new_local_id()

    def write(tx: Any) -> None:
        tx.put(attacker.segment._objs[POSTS], local_id, ScalarType.Bytes, body)

    item = attacker.signed(attacker.segment._commit([f"p:{local_id}"], write))
    _refused(world, [item], "invalid_content")


def test_a_segment_past_segment_max_changes_is_refused(world: dict[str, Any]) -> None:
    attacker: Attacker = world["attacker"]
    items = [
        attacker.signed(attacker.segment.write_delete("cd" * 16, i))
        for i in range(SEGMENT_MAX_CHANGES + 1)
    ]
    community = world["community"]
    for start in range(0, SEGMENT_MAX_CHANGES, 1000):
        community.receive_changes(attacker.ref, items[start : start + 1000], clock())
    row = world["owner"].store.doc(attacker.ref.doc_id)
    assert row is not None and row.max_seq == SEGMENT_MAX_CHANGES
    _refused(world, items[SEGMENT_MAX_CHANGES:], "segment_full")


def test_a_newer_document_schema_is_stored_and_forwarded_but_not_interpreted(
    world: dict[str, Any],
) -> None:
    attacker: Attacker = world["attacker"]
    first = attacker.post(world["channel"], "schema 1")
    with attacker.segment.doc.transaction() as tx:
        tx.put(ROOT, "schema", ScalarType.Uint, 2)
    bump = attacker.segment.doc.get_last_local_change()
    assert bump is not None
    attacker.segment.refresh()
    newer = attacker.post(world["channel"], "z" * 9000)  # not ours to judge under schema 2
    items = [
        first,
        SignedChange(
            bump.raw_bytes, sign(attacker.key, CHANGE_TAG, attacker.ref.doc_id, bump.hash)
        ),
        newer,
    ]
    owner: Service = world["owner"]
    # The first batch is schema 1; after the second, the segment is schema 2.
    world["community"].receive_changes(attacker.ref, items[:1], clock())
    world["community"].receive_changes(attacker.ref, items[1:], clock())
    stored = owner.store.changes_after(attacker.ref.doc_id, 0)
    assert [row[2] for row in stored] == [i.data for i in items]  # stored, so forwarded
    posts = owner.read(world["community"].id.hex(), "general")["posts"]
    assert [p["text"] for p in posts] == ["schema 1"]  # the schema-2 post is not projected
    row = owner.store.doc(attacker.ref.doc_id)
    assert row is not None and row.journal_pos == 1  # kept for a release that understands it


# --- the same rules on the writing side ---------------------------------------------------


def test_own_writes_follow_the_same_rules(world: dict[str, Any]) -> None:
    owner: Service = world["owner"]
    cid = world["community"].id.hex()
    for name in (HOSTILE_NAME, "admin\u202e", "ad\u200bmin", "\x1b[31mx", ""):
        with pytest.raises(Invalid):
            owner.profile_set(name, None)
    with pytest.raises(Invalid):
        owner.profile_set(None, "b" * (content.MAX_BIO_CHARS + 1))
    with pytest.raises(Invalid):
        owner.post(cid, "general", "x" * (content.MAX_POST_CHARS + 1))
    owner.profile_set("  ａｌｉｃｅ ", None)  # NFKC-normalised and stripped
    assert owner.display_name() == "alice"


def test_own_post_with_too_many_mentions_is_refused(world: dict[str, Any], tmp_path: Path) -> None:
    owner: Service = world["owner"]
    cid = world["community"].id.hex()
    peers = []
    for _ in range(content.MAX_MENTIONS + 1):
        peer = peer_id_from_public_key(bytes(SigningKey.generate().verify_key))
        owner.member_add(cid, peer)
        peers.append(peer)
    with pytest.raises(Invalid, match="mentions"):
        owner.post(cid, "general", " ".join(f"@{p}" for p in peers))
    owner.post(cid, "general", " ".join(f"@{p}" for p in peers[: content.MAX_MENTIONS]))


def test_own_reactions_per_post_are_bounded(world: dict[str, Any]) -> None:
    owner: Service = world["owner"]
    cid = world["community"].id.hex()
    post = owner.post(cid, "general", "react to me")["post_id"]
    for i in range(content.MAX_REACTIONS_PER_POST):
        owner.react(cid, post, f"e{i}")
    with pytest.raises(Invalid, match="reactions"):
        owner.react(cid, post, "one more")
    assert owner.react(cid, post, "e0") == {"reacted": False}  # taking one back still works
