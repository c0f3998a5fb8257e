"""Issue 14: search covers titles, bodies, replies and pages, grouped by topic."""

from __future__ import annotations

from p2pcommunity.sync.service import Service
from tests.sync.test_knowledge import _everyone, qa  # noqa: F401 -- the fixture

QA = tuple[Service, Service, Service, str]


def test_titles_replies_and_pages_are_found_grouped_by_topic(qa: QA) -> None:  # noqa: F811
    admin, alice, bob, cid = qa
    topic = alice.knowledge.topic_create(cid, "help", "How do I order lists", "quickly?")
    _everyone((admin, alice, bob), cid)
    answer = bob.post(cid, "help", "use sorted with a key", reply_to=topic["post_id"])
    other = bob.post(cid, "general", "sorted my desk today")
    _everyone((admin, alice, bob), cid)
    alice.knowledge.accept(cid, answer["post_id"])
    page = admin.pages.create(cid, "Ordering guide", "Lists: use sorted(), or list.sort().")
    _everyone((admin, alice, bob), cid)

    # A word only in the title finds the topic; a body word, the reply.
    by_title = admin.search(cid, "order")
    assert [p["id"] for p in by_title["posts"]] == [topic["post_id"]]
    (group,) = by_title["topics"]
    assert group == {
        "topic": topic["post_id"],
        "title": "How do I order lists",
        "channel": group["channel"],
        "channel_name": "help",
        "solved": True,
        "accepted": answer["post_id"],
        "posts": [topic["post_id"]],
    }
    assert [p["page_id"] for p in by_title["pages"]] == [page["page_id"]]
    assert by_title["pages"][0]["title_match"]

    found = admin.search(cid, "sorted")
    ids = {p["id"]: p for p in found["posts"]}
    assert set(ids) == {answer["post_id"], other["post_id"]}
    assert ids[answer["post_id"]]["topic"] == topic["post_id"]
    assert ids[answer["post_id"]]["accepted"]
    assert ids[other["post_id"]]["topic"] is None  # a chat post belongs to no topic
    (group,) = found["topics"]
    assert group["posts"] == [answer["post_id"]] and group["solved"]
    (hit,) = found["pages"]
    assert not hit["title_match"] and "sorted()" in hit["snippet"]
    assert admin.search(cid, "nowhere")["pages"] == []


def test_a_title_stays_searchable_through_edits_and_late_changes(qa: QA) -> None:  # noqa: F811
    _, alice, _, cid = qa
    topic = alice.knowledge.topic_create(cid, "ideas", "Bicycle racks", "we need some")
    assert [p["id"] for p in alice.search(cid, "bicycle")["posts"]] == [topic["post_id"]]
    alice.edit(cid, topic["post_id"], "we need many")  # re-indexes the text: title kept
    assert [p["id"] for p in alice.search(cid, "bicycle")["posts"]] == [topic["post_id"]]
    assert alice.search(cid, "some")["posts"] == []
    # A later title (a later segment's value) replaces the indexed one.
    store, me = alice.store, alice.me
    with store.transaction():
        store.knowledge.set_topic_meta(topic["post_id"], bytes.fromhex(cid), me, "Tandems", [], 9)
    assert alice.search(cid, "bicycle")["posts"] == []
    assert [p["id"] for p in alice.search(cid, "tandem")["posts"]] == [topic["post_id"]]
