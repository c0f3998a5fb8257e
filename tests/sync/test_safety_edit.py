"""Issue 16: an edit is judged by every rule that reads a post's text, at sending and
at an always-on node's gate, as every reader's verdict judges the current text."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.safety.policy import PolicyError
from p2pcommunity.sync.service import Service
from tests.sync.builders import clock, member_club, peer_of, sync_docs, sync_log, texts
from tests.sync.skipping_author import raw_edit, raw_post


@pytest.fixture
def club(tmp_path: Path) -> tuple[Service, Service, Service, Service, str]:
    """admin, a moderator, mallory (who skips her checks) and bob, all synced."""
    (admin, mod, mallory, bob), cid = member_club(
        tmp_path, "admin", "mod", "mal", "bob", moderator="mod"
    )
    return admin, mod, mallory, bob, cid


def _set(admin: Service, cid: str, others: tuple[Service, ...], **policy: str) -> None:
    for key, value in policy.items():
        admin.safety.policy_set(cid, key, value)
    for who in others:
        sync_log(admin, who, cid)


@pytest.mark.parametrize(
    ("policy", "text", "rule"),
    [
        ({"max_links": "1"}, "see https://a.example and https://b.example", "max_links"),
        ({"probation": "7d"}, "see https://a.example", "probation"),
    ],
)
def test_the_author_node_refuses_an_edit_the_readers_would_hide(
    club: tuple, policy: dict[str, str], text: str, rule: str
) -> None:
    admin, mod, mallory, _bob, cid = club
    _set(admin, cid, (mallory, mod), **policy)
    post = mallory.post(cid, "general", "hello")["post_id"]
    with pytest.raises(PolicyError) as refused:
        mallory.edit(cid, post, text)
    assert refused.value.code == rule
    assert texts(mallory, cid) == ["hello"]  # nothing written
    mallory.edit(cid, post, "hello, no link")  # a harmless edit still goes
    assert texts(mallory, cid) == ["hello, no link"]
    # Moderators are held to blocked words only, as their new posts are.
    own = mod.post(cid, "general", "mods' note")["post_id"]
    mod.edit(cid, own, text)


def test_an_edit_that_takes_the_offending_link_out_is_allowed(club: tuple) -> None:
    admin, _mod, mallory, bob, cid = club
    _set(admin, cid, (mallory, bob), max_links="0")
    post = raw_post(mallory, cid, "see https://a.example", clock())
    with pytest.raises(PolicyError):  # still hidden: the edit keeps the link
        mallory.edit(cid, post, "see https://a.example, really")
    mallory.edit(cid, post, "see the club's page")
    sync_docs(mallory, bob, cid, mallory.me, ms=0)
    assert texts(bob, cid) == ["see the club's page"]


@pytest.mark.parametrize(
    ("policy", "edited", "rule"),
    [
        ({"max_links": "0"}, "now with https://a.example", "max_links"),
        ({"probation": "7d"}, "now with www.a.example", "probation"),
    ],
)
def test_an_always_on_node_refuses_an_edit_that_breaks_a_text_rule(
    club: tuple, policy: dict[str, str], edited: str, rule: str
) -> None:
    admin, _mod, mallory, bob, cid = club
    admin.governance.node_add(cid, peer_of(bob), "/ip4/127.0.0.1/tcp/1")
    _set(admin, cid, (mallory, bob), **policy)
    post = raw_post(mallory, cid, "hello", clock())
    sync_docs(mallory, bob, cid, mallory.me, ms=0)  # the post alone: taken
    raw_edit(mallory, cid, post, edited, clock())  # the check-skipping app
    ref = DocRef(bytes.fromhex(cid), mallory.me, 0)
    held = bob.store.doc(ref.doc_id)
    assert held is not None
    rows = mallory.store.changes_after(ref.doc_id, held.max_seq, 100)
    assert len(rows) == 1  # the edit alone, in a batch of its own
    result = bob.community(cid).receive_changes(ref, [SignedChange(d, s) for _, _, d, s in rows], 0)
    assert result.refused == rule
    assert texts(bob, cid) == ["hello"]  # the post before the edit, never the edit
    assert bob.safety.verdicts(bob.community(cid)) == {}
    sync_docs(mallory, admin, cid, mallory.me, ms=0)  # not a node: stores it, hides it
    assert texts(admin, cid) == []
    assert admin.safety.verdicts(admin.community(cid))[post].rule == rule


def test_the_honest_app_holds_an_edit_to_the_rules_in_force_now(club: tuple) -> None:
    """A post written before links were forbidden: the readers judge its text by the
    policy of its own time (docs/safety.md, "Not done"), but the author's own app
    refuses to put a link into it now."""
    admin, _mod, mallory, bob, cid = club
    post = mallory.post(cid, "general", "hello")["post_id"]
    _set(admin, cid, (mallory, bob), max_links="0")
    with pytest.raises(PolicyError) as refused:
        mallory.edit(cid, post, "hello https://a.example")
    assert refused.value.code == "max_links"
    mallory.edit(cid, post, "hello again")
    assert texts(mallory, cid) == ["hello again"]
