"""Issue 11, finding 3, over real hosts on 127.0.0.1: a member floods summaries.

300 summary frames of 4,096 entries once took a node from 91 to 369 MB and
it stayed near 300 MB after the attacker left. Now a session holds at most
`SessionLimits.max_summary_entries` entries (and none for non-members): the
attacker's session is closed once over it, and another member's posts keep
flowing meanwhile.
"""

from __future__ import annotations

import os

import trio

from p2pcommunity.net.framing import FrameReader, write_frame
from p2pcommunity.net.node import SYNC_PROTOCOL
from p2pcommunity.sync.protocol.frames import (
    MAX_SUMMARY_DOCS,
    DocSummary,
    HelloFrame,
    SummaryFrame,
    encode_frame,
)
from p2pcommunity.sync.protocol.session import SessionLimits
from tests.net.harness import community_cluster, wait_until


def test_a_member_flooding_summaries_is_cut_off_while_others_post() -> None:
    frames_needed = SessionLimits().max_summary_entries // MAX_SUMMARY_DOCS + 2

    async def scenario() -> None:
        with trio.fail_after(90):
            async with community_cluster(3) as ((owner, alice, mallory), cid):
                await alice.connect(owner, cid)
                stream = await mallory.host.open_stream(owner.peer_id, owner.addrs, SYNC_PROTOCOL)
                heads = tuple(owner.community(cid).log.heads())
                await write_frame(stream, encode_frame(HelloFrame(cid, heads)))
                reader = FrameReader(stream)
                sent = 0
                # Her own document in ever new segments: a member's key, so the entries
                # would be remembered, one per segment.
                for frame_no in range(frames_needed):
                    docs = tuple(
                        DocSummary(mallory.pk, frame_no * MAX_SUMMARY_DOCS + i, 5, os.urandom(32))
                        for i in range(MAX_SUMMARY_DOCS)
                    )
                    try:
                        await write_frame(stream, encode_frame(SummaryFrame(docs, last=False)))
                    except trio.BrokenResourceError:
                        break  # the node closed the session under us
                    sent += 1
                    if frame_no % 4 == 0:  # a member posts meanwhile, and it arrives
                        text = f"still here {frame_no}"
                        alice.post(cid, text)
                        await wait_until(lambda t=text: t in owner.texts(cid), timeout=20)
                # The node ends the session: its frames stop with EOF or a reset.
                with trio.fail_after(20):
                    while True:
                        try:
                            if await reader.read_frame() is None:
                                break
                        except Exception:  # noqa: BLE001 -- reset, or EOF in a frame
                            break
                await wait_until(lambda: not owner.session_with(mallory, cid), timeout=20)
                assert sent >= SessionLimits().max_summary_entries // MAX_SUMMARY_DOCS
                alice.post(cid, "after the flood")
                await wait_until(lambda: "after the flood" in owner.texts(cid), timeout=20)
                await stream.close()

    trio.run(scenario)
