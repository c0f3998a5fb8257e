"""What a member's reads show (issue 13): mentions by name, prefix search with the
channel named, unread counts of visible posts only, hidden posts flagged for their
author and for moderators."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pcommunity.sync.service import Service
from tests.sync.builders import named_service, peer_of, sync_docs, sync_log


def _sync(source: Service, target: Service, cid: str) -> None:
    """Everything `source` holds of `cid`, into `target`: the log, then each document."""
    sync_log(source, target, cid)
    sync_docs(source, target, cid)


@pytest.fixture
def club(tmp_path: Path) -> tuple[Service, Service, Service, str]:
    """An admin, Ada Lovelace and Bob, each holding everything the others wrote."""
    admin, ada, bob = (named_service(tmp_path, n) for n in ("admin", "Ada Lovelace", "Bob"))
    cid = admin.community_create("Club")["community_id"]
    for who in (ada, bob):
        admin.member_add(cid, peer_of(who))
    for who in (ada, bob):
        _sync(admin, who, cid)
        who.node_support.after_join(who.community(cid))
    for _ in range(2):
        for source in (admin, ada, bob):
            for target in (admin, ada, bob):
                if source is not target:
                    _sync(source, target, cid)
    return admin, ada, bob, cid


def _mentioned(service: Service, cid: str, text: str) -> list[bytes]:
    post_id = service.post(cid, "general", text)["post_id"]
    row = service.store.read_model.post(post_id)
    assert row is not None
    from p2pcommunity.sync.cbor import decode

    return list(decode(row.mentions)) if row.mentions else []


def test_typed_names_are_mentions(club: tuple[Service, Service, Service, str]) -> None:
    admin, ada, bob, cid = club
    assert _mentioned(admin, cid, "thanks @Bob!") == [bob.me]
    assert _mentioned(admin, cid, "@ada lovelace and @bob, see this") == [ada.me, bob.me]
    assert _mentioned(admin, cid, "@Bo and @Bobby are nobody; mail bob@example.org") == []
    assert _mentioned(admin, cid, f"@{peer_of(bob)} by id") == [bob.me]


def test_a_name_two_members_share_mentions_nobody(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, ada, _bob, cid = club
    ada.profile_set("Bob", None)
    _sync(ada, admin, cid)
    assert _mentioned(admin, cid, "hey @Bob") == []


def test_search_matches_word_starts_and_names_the_channel(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, _ada, _bob, cid = club
    admin.channel_create(cid, "reading")
    admin.post(cid, "reading", "Finished Middlemarch last night")
    found = admin.search(cid, "middle")["posts"]
    assert [p["text"] for p in found] == ["Finished Middlemarch last night"]
    assert found[0]["channel_name"] == "reading"
    # What the user types is words, never FTS5 syntax: OR is a word here, and must match.
    assert admin.search(cid, "middle OR zzz")["posts"] == []
    assert len(admin.search(cid, 'mid "night')["posts"]) == 1  # and a stray quote is no error


def test_unread_counts_only_visible_posts_and_counts_mentions(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, ada, bob, cid = club
    first = bob.post(cid, "general", "one")["post_id"]
    bob.post(cid, "general", "two, @Ada Lovelace")
    bob.post(cid, "general", "three")
    _sync(bob, admin, cid)
    admin.governance.hide(cid, first, "spam")
    _sync(bob, ada, cid)
    _sync(admin, ada, cid)
    general = next(c for c in ada.channel_list(cid)["channels"] if c["name"] == "general")
    assert (general["unread"], general["mentions"]) == (2, 1)
    ada.block(peer_of(bob))
    general = next(c for c in ada.channel_list(cid)["channels"] if c["name"] == "general")
    assert general["unread"] == 0


def test_hidden_posts_are_flagged_for_their_author_and_moderators_only(
    club: tuple[Service, Service, Service, str],
) -> None:
    admin, ada, bob, cid = club
    post = bob.post(cid, "general", "a rude post")["post_id"]
    _sync(bob, admin, cid)
    admin.governance.hide(cid, post, "rude")
    for who in (ada, bob):
        _sync(admin, who, cid)
        _sync(bob, who, cid)

    def shown(service: Service) -> list[tuple[str, bool, str | None]]:
        posts = service.read(cid, "general", include_hidden=True)["posts"]
        return [(p["text"], p["hidden"], p["hidden_reason"]) for p in posts if p["id"] == post]

    assert shown(bob) == [("a rude post", True, "rude")]
    assert shown(admin) == [("a rude post", True, "rude")]
    assert shown(ada) == []
    # Unasked, reads leave hidden posts out for everyone, as CLI.md's `read` always did.
    assert post not in [p["id"] for p in bob.read(cid, "general")["posts"]]
    assert post not in [p["id"] for p in admin.read(cid, "general")["posts"]]
