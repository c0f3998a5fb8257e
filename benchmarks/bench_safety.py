"""Cost of judging one post against a policy with 1,000 watched words and every rule on.

Issue 16's floor: <= 100 us a post. The post is judged as every peer judges
it (safety.policy.judge: folding, token n-gram hashes, slow mode, rate,
limits, probation) against an author history of `--history` posts.

    python benchmarks/bench_safety.py [--posts N] [--words N]
"""

from __future__ import annotations

import argparse
import random
import time
import unicodedata

from p2pcommunity.sync.log.ops import Role
from p2pcommunity.sync.safety.policy import (
    AuthorHistory,
    PolicyEntry,
    PostFacts,
    SafetyState,
    WordEntry,
    add_entry,
    judge,
)
from p2pcommunity.sync.safety.words import skeleton, word_hash

FLOOR_US = 100.0
CID = bytes(32)
CHANNEL = bytes(range(32))


def _policy(n_words: int) -> SafetyState:
    safety = SafetyState()
    for i, (key, channel, value) in enumerate(
        [("slow_mode", CHANNEL, 5), ("posts_per_minute", None, 30), ("max_mentions", None, 5),
         ("max_links", None, 3), ("probation", None, 86_400), ("probation_hold", None, 1)]
    ):  # fmt: skip
        safety = add_entry(safety, PolicyEntry(key, channel, value, 0, bytes([i]) * 32))
    rng = random.Random(1)
    words = {}
    for i in range(n_words):
        word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7))
        phrase = f"{word} {word[::-1]}" if i % 10 == 0 else word
        skel = skeleton(phrase)
        first = word_hash(CID, skel.split(" ")[0]) if " " in skel else None
        words[word_hash(CID, skel)] = WordEntry(
            ("block", "flag", "hold")[i % 3], skel.count(" ") + 1, b"", first
        )
    from dataclasses import replace

    return replace(safety, words=words)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--words", type=int, default=1000)
    args = parser.parse_args()
    safety = _policy(args.words)
    matcher = safety.matcher(CID)
    # Posts of 30 words drawn (Zipf-like) from a 3,000-word vocabulary, one in
    # three with full-width letters (the NFKC path), one in five with a link.
    rng = random.Random(2)
    vocab = ["".join(rng.choice("abcdefghijklmnoprstuvwy") for _ in range(rng.randint(2, 9)))
             for _ in range(3000)]  # fmt: skip
    weights = [1 / (r + 1) for r in range(len(vocab))]
    texts = []
    for i in range(args.posts):
        words = rng.choices(vocab, weights, k=30)
        if i % 3 == 0:
            words[0] = "Ｈｅｌｌｏ"
        if i % 5 == 0:
            words.append("www.example.org")
        texts.append(" ".join(words) + ", thanks!")
    history = AuthorHistory()
    start = time.perf_counter()
    for i, text in enumerate(texts):
        post = PostFacts(f"{i:032x}", b"a" * 32, CHANNEL, 10_000_000 + i * 6000, text, 1)
        if judge(safety, matcher, Role.MEMBER, 0, post, history) is None:
            history.add(post)
    per_post_us = (time.perf_counter() - start) / args.posts * 1e6
    # The same run's reference: NFKC and a split of each text, the least any
    # check must do; on a loaded machine both rise together.
    start = time.perf_counter()
    for text in texts:
        unicodedata.normalize("NFKC", text).casefold().split()
    reference_us = (time.perf_counter() - start) / args.posts * 1e6
    print(f"BENCH safety_check_post {per_post_us:.1f} us floor={FLOOR_US:.0f}")
    print(f"BENCH safety_reference_nfkc_split {reference_us:.1f} us floor=none")


if __name__ == "__main__":
    main()
