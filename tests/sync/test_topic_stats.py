"""topic_stats (issue 14): the triggers' counters and the page query equal a plain
recomputation from the posts, votes and accepts, after any sequence of writes, deletions
and a member's rows cleared (a removal's rebuild), for any reader's visibility."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.storage.read_model import PostRow, Visibility
from p2pcommunity.sync.storage.store import Store
from p2pcommunity.sync.storage.topic_stats import TopicQuery, sort_key

CID, CHANNEL, OTHER = b"c" * 32, b"h" * 32, b"o" * 32
AUTHORS = [bytes([i]) * 32 for i in range(1, 4)]
IDS = [f"{i:032x}" for i in range(10)]
TOPICS, REPLIES = IDS[:4], IDS[4:]

Op = tuple[Any, ...]

_ms = st.integers(0, 20)
_author = st.sampled_from(AUTHORS)
_topic = st.tuples(
    st.just("post"), st.sampled_from(TOPICS), _author, st.none(), _ms, st.just(CHANNEL)
)
_reply = st.tuples(
    st.just("post"),
    st.sampled_from(REPLIES),
    _author,
    st.sampled_from(IDS),  # mostly to a topic; also to a reply or to itself
    _ms,
    st.sampled_from([CHANNEL, CHANNEL, OTHER]),
)
ops = st.lists(
    st.one_of(
        _topic,
        _reply,
        _reply,
        st.tuples(st.just("delete"), st.sampled_from(IDS), _author),
        st.tuples(st.just("vote"), st.sampled_from(IDS), _author, st.sampled_from([1, -1, 0])),
        st.tuples(st.just("accept"), st.sampled_from(TOPICS), _author, st.sampled_from(IDS)),
        st.tuples(st.just("clear"), _author),
    ),
    max_size=40,
)
readers = st.fixed_dictionaries(
    {
        "hidden": st.frozensets(st.sampled_from(IDS), max_size=3),
        "blocked": st.lists(st.sampled_from(AUTHORS), max_size=1, unique=True),
        "timeout": st.none() | st.tuples(st.sampled_from(AUTHORS), st.integers(0, 20)),
        "pinned": st.frozensets(st.sampled_from(IDS), max_size=3),
        "sort": st.sampled_from(["activity", "votes", "new"]),
        "limit": st.integers(1, 8),
        "unanswered": st.booleans(),
        "solved": st.none() | st.tuples(st.frozensets(st.sampled_from(IDS), max_size=3)),
    }
)


def apply(store: Store, op: Op) -> None:
    kind = op[0]
    with store.transaction():
        if kind == "post":
            _, pid, author, reply_to, ms, channel = op
            row = PostRow(
                pid, CID, channel, author, pid, 0, "t", reply_to, b"\x80", ms, False, False, ms
            )
            store.read_model.upsert_post(row)
        elif kind == "delete":
            store.read_model.delete_post(op[1], op[2], 0)
        elif kind == "vote":
            store.knowledge.set_vote(op[1], op[2], CID, op[3], 0)
        elif kind == "accept":
            store.knowledge.set_author_accept(op[1], CID, op[2], op[3], 0)
        else:
            store.read_model.clear_member_rows(CID, op[1])
            store.knowledge.clear_member_rows(CID, op[1])


def reference(store: Store, q: TopicQuery) -> list[tuple[Any, ...]]:
    """The page as the code before topic_stats computed it: from the raw tables."""
    db = store.db
    posts = {
        r[0]: r
        for r in db.execute(
            "SELECT id, author, channel_id, reply_to, author_ms, deleted FROM posts"
        )
    }

    def visible(pid: str) -> bool:
        _, author, _, _, ms, deleted = posts[pid]
        if deleted or pid in q.visibility.hidden or bytes(author) in q.blocked:
            return False
        return not any(bytes(author) == a and ms < until for a, until, _ in q.visibility.timeouts)

    votes = db.execute("SELECT post_id, voter, value FROM votes").fetchall()
    accepts = {
        r[0]: (bytes(r[1]), r[2])
        for r in db.execute("SELECT topic_id, author, answer FROM author_accepts")
    }
    rows = []
    for pid, author, channel, reply_to, ms, _ in posts.values():
        if reply_to is not None or bytes(channel) != CHANNEL or not visible(pid):
            continue
        replies = [r for r in posts.values() if r[3] == pid and not r[5] and visible(r[0])]
        up = sum(1 for p, v, value in votes if p == pid and v != author and value == 1)
        down = sum(1 for p, v, value in votes if p == pid and v != author and value == -1)
        answer = None
        if pid in accepts and accepts[pid][0] == bytes(author):
            target = posts.get(accepts[pid][1])
            if target is not None and target[3] == pid and not target[5]:
                answer = target[0]
        last = max([ms, *(r[4] for r in replies)])
        rows.append((pid, len(replies), last, up, down, answer, ms))
    if q.unanswered:
        rows = [r for r in rows if r[1] == 0]
    if q.solved_among is not None:
        decided, live = q.solved_among
        rows = [r for r in rows if (r[0] in live if r[0] in decided else r[5] is not None)]

    def key(r: tuple[Any, ...]) -> tuple[Any, ...]:
        if q.sort == "votes":
            order: tuple[Any, ...] = (-(r[3] - r[4]), -r[2], r[0])
        elif q.sort == "new":
            order = (-r[6], r[0])
        else:
            order = (-r[2], r[0])
        return (r[0] not in q.pinned, *order)

    return [r[:6] for r in sorted(rows, key=key)[: q.limit]]


def query(reader: dict[str, Any]) -> TopicQuery:
    timeouts = () if reader["timeout"] is None else ((*reader["timeout"], ()),)
    solved = None
    if reader["solved"] is not None:
        decided = reader["solved"][0]
        solved = (decided, frozenset(sorted(decided)[::2]))
    return TopicQuery(
        CID,
        CHANNEL,
        reader["sort"],
        reader["limit"],
        reader["blocked"],
        Visibility(reader["hidden"], timeouts),
        reader["pinned"],
        unanswered=reader["unanswered"],
        solved_among=solved,
    )


def page(store: Store, q: TopicQuery) -> list[tuple[Any, ...]]:
    return [
        (r.id, r.replies, r.last_activity_ms, r.up, r.down, r.author_answer)
        for r in store.topics.page(q)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    made = Store(tmp_path / "s.sqlite3")
    yield made
    made.close()


def fresh_store(program: list[Op]) -> Any:
    """A new store holding `program`'s writes; a context manager closing it."""
    tmp = tempfile.TemporaryDirectory()
    store = Store(Path(tmp.name) / "s.sqlite3")
    for op in program:
        apply(store, op)
    return store, tmp


@settings(max_examples=150, deadline=None)
@given(ops, st.lists(readers, min_size=1, max_size=3))
def test_page_equals_a_plain_recomputation(program: list[Op], views: list[dict[str, Any]]) -> None:
    store, tmp = fresh_store(program)
    try:
        for reader in views:
            q = query(reader)
            assert page(store, q) == reference(store, q)
    finally:
        store.close()
        tmp.cleanup()


def stats(store: Store) -> list[tuple[Any, ...]]:
    return store.db.execute("SELECT * FROM topic_stats ORDER BY topic_id").fetchall()


@settings(max_examples=60, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_counters_converge_in_any_order(program: list[Op], rnd: random.Random) -> None:
    """Posts and deletions in any order and twice, interleaved anyhow with the votes and
    accepts, give the same rows. (Votes and accepts keep their relative order: within
    one segment the later value wins by design. A clear is a removal's rebuild, run
    at one moment, so it is left out.)"""
    first: dict[str, Op] = {}
    for op in program:
        if op[0] == "post":  # one id, one record: as two peers hold the same changes
            first.setdefault(op[1], op)
    program = [first[op[1]] if op[0] == "post" else op for op in program if op[0] != "clear"]
    loose = [op for op in program if op[0] in ("post", "delete")] * 2
    rnd.shuffle(loose)
    ordered = [op for op in program if op[0] in ("vote", "accept")]
    other: list[Op] = []
    while loose or ordered:
        source = loose if loose and (not ordered or rnd.random() < 0.5) else ordered
        other.append(source.pop(0))
    results = []
    for order in (program, other):
        store, tmp = fresh_store(order)
        results.append(stats(store))
        store.close()
        tmp.cleanup()
    assert results[0] == results[1]


def test_sort_key_matches_the_sql_order(store: Store) -> None:
    for i, ms in enumerate([5, 5, 9, 1]):
        apply(store, ("post", IDS[i], AUTHORS[0], None, ms, CHANNEL))
    apply(store, ("vote", IDS[3], AUTHORS[1], 1))
    for sort in ("activity", "votes", "new"):
        q = TopicQuery(CID, CHANNEL, sort, 10, [], Visibility(), frozenset())
        got = store.topics.page(q)
        assert [r.id for r in got] == [r.id for r in sorted(got, key=lambda r: sort_key(r, sort))]
        assert page(store, q) == reference(store, q)
