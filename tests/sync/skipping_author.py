"""The test double of an app that skips its own policy checks (issue 16).

It writes a post straight into its member document, as a modified app would:
the change is signed and chained like any other, so only the verdict every
peer runs (safety/policy.py) stands between it and the readers.
"""

from __future__ import annotations

from nacl.signing import SigningKey

from p2pcommunity.sync.docs.memberdoc import PostRecord, new_local_id, post_id_for
from p2pcommunity.sync.service import Service


def raw_post(service: Service, cid: str, text: str, ms: int, mentions: int = 0) -> str:
    community = service.community(cid)
    channel = service.channel_id(community.state, "general")
    keys = tuple(SigningKey.generate().verify_key.encode() for _ in range(mentions))
    local_id = new_local_id()
    record = PostRecord(local_id, channel, text, None, keys, ms)
    community.write(service.key, ms, lambda seg: seg.write_post(record))
    service.on_local_change(community, "doc")
    return post_id_for(service.me, local_id)


def raw_edit(service: Service, cid: str, post_id: str, text: str, ms: int) -> None:
    """An edit written without the author's own check (`Safety.check_edit`)."""
    community = service.community(cid)
    community.write(service.key, ms, lambda seg: seg.write_edit(post_id, text, ms))
    service.on_local_change(community, "doc")
