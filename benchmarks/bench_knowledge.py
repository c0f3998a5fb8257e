"""One page of a forum's topic list: 10,000 topics, 100,000 replies (issue 14).

Run once from a checkout root: `python benchmarks/bench_knowledge.py
[--topics N --replies N --votes N]`. The community, its forum (a qa channel) and
its tags are real log ops; the posts, topic titles and votes are inserted
straight into the read-model tables (writing 110,000 signed changes would
measure posting, not reading). Each sort order is timed over a few runs
(median); the floor is a plain `read` page of the same channel, so the
figure says what the topic list costs beyond reading posts at all. The
posts go in through `insert_posts`, so the triggers of topic_stats.py fill
the counters the list reads, as they do after a join.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from nacl.signing import SigningKey

from benchmarks.benchlib import bench
from p2pcommunity.sync.docs.memberdoc import post_id_for
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.read_model import PostRow
from p2pcommunity.sync.storage.store import Store

RUNS = 7


def _timed(call: object) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--topics", type=int, default=10_000)
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=20_000)
    args = parser.parse_args()
    clock = itertools.count(1_700_000_000_000, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(
            Store(Path(tmp) / "s.sqlite3"), SigningKey.generate(), lambda: next(clock)
        )
        cid = service.community_create("Bench")["community_id"]
        channel = bytes.fromhex(service.channel_create(cid, "forum", kind="qa")["channel_id"])
        service.knowledge.tag_create(cid, "python")
        community_id = bytes.fromhex(cid)
        authors = [os.urandom(32) for _ in range(50)]
        rows, topics = [], []
        for i in range(args.topics + args.replies):
            author = authors[i % len(authors)]
            local = f"{i:016x}"
            post_id = post_id_for(author, local)
            reply_to = None if i < args.topics else topics[(i * 7919) % args.topics]
            if reply_to is None:
                topics.append(post_id)
            ms = 1_600_000_000_000 + i * 1000
            rows.append(
                PostRow(
                    post_id,
                    community_id,
                    channel,
                    author,
                    local,
                    0,
                    f"post {i}",
                    reply_to,
                    b"\x80",
                    ms,
                    False,
                    False,
                    ms,
                )
            )
        store = service.store
        with store.transaction():
            store.read_model.insert_posts(rows)
            for i, topic in enumerate(topics):
                store.knowledge.set_topic_meta(
                    topic, community_id, rows[i].author, f"Topic {i}", ["python"], 0
                )
            first_reply: dict[str, str] = {}
            for row in rows[args.topics :]:
                first_reply.setdefault(row.reply_to or "", row.id)
            for i in range(0, len(topics), 10):  # every 10th topic solved by its author
                if topics[i] in first_reply:
                    store.knowledge.set_author_accept(
                        topics[i], community_id, rows[i].author, first_reply[topics[i]], 0
                    )
            for i in range(args.votes):
                store.knowledge.set_vote(
                    topics[(i * 31) % len(topics)],
                    authors[i % 49 + 1],
                    community_id,
                    1 if i % 3 else -1,
                    0,
                )
        floor = _timed(lambda: service.read(cid, "forum", 50))
        for sort in ("activity", "votes", "new"):
            ms = _timed(lambda sort=sort: service.knowledge.topics(cid, "forum", sort=sort))
            name = f"topic_list_{sort}_{args.topics}t_{args.replies}r"
            bench(name, ms, "ms", f"{floor:.1f}")
        for filter in ("unanswered", "solved"):
            ms = _timed(lambda f=filter: service.knowledge.topics(cid, "forum", filter=f))
            bench(f"topic_list_{filter}_{args.topics}t_{args.replies}r", ms, "ms", f"{floor:.1f}")
        ms = _timed(lambda: service.knowledge.topics(cid, "forum", tag="python"))
        bench(f"topic_list_tag_{args.topics}t_{args.replies}r", ms, "ms", f"{floor:.1f}")
        store.close()


if __name__ == "__main__":
    main()
