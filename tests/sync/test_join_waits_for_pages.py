"""Issue 14: a joiner is caught up only once it holds the community's pages too.

`join` returns on the session's CaughtUp; before pages counted there, a
joiner could exit holding the log and the posts but not the wiki.
"""

from __future__ import annotations

from pathlib import Path

from p2pcommunity.sync.protocol.session import CaughtUp
from tests.sync.test_protocol import Peer, connect, deliver


def test_caught_up_comes_after_every_page_change(tmp_path: Path) -> None:
    owner, joiner = Peer(tmp_path, "owner"), Peer(tmp_path, "joiner")
    cid = owner.create()
    owner.add(cid, joiner)
    owner.post(cid, "welcome")
    pages = []
    for title in ("Guide", "FAQ"):
        page = owner.service.pages.create(cid.hex(), title, "start\n")["page_id"]
        for i in range(30):
            owner.service.pages.edit(cid.hex(), page, append=f"line {i}\n")
        pages.append(bytes.fromhex(page))
    joiner.take_up(cid)
    link = connect(joiner, owner, cid)
    for _ in range(10_000):
        if any(isinstance(e, CaughtUp) for e in link.a.events):
            break
        ready = link.pending()
        assert ready, "the sessions went quiet before the joiner caught up"
        deliver(*ready[-1])  # the owner's frames first: pages race the rest
    else:
        raise AssertionError("never caught up")
    for page in pages:
        assert joiner.store.pages.count(page) == owner.store.pages.count(page) == 31
    assert [p["text"] for p in joiner.read(cid)] == ["welcome"]
