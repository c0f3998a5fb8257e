"""Issue 15: attaching a file through a running node (the control API's handler).

The chunking runs in a worker thread with `blob_progress` events ("direction":
"up"); a command that fails after the files were prepared leaves no chunk file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from p2pcommunity.node_control import NodeControl
from p2pcommunity.sync.blobs.manifest import CHUNK_SIZE
from p2pcommunity.sync.errors import NotFound
from p2pcommunity.sync.safety.policy import PolicyError
from tests.net.harness import HarnessNode, cluster

SIZE = 4 * 1024 * 1024 + 123  # a few MB, not a whole number of chunks


def _chunk_files(node: HarnessNode) -> list[Path]:
    tree = node.path.parent / "blobs"
    return [p for p in tree.rglob("*") if p.is_file()] if tree.exists() else []


Events = list[tuple[int, dict[str, Any]]]


async def _post_through_node(
    tmp_path: Path,
    params: dict[str, Any],
    check: Callable[[HarnessNode, Events, Any], None],
    setup: Callable[[HarnessNode, bytes], None] = lambda node, cid: None,
) -> None:
    """Runs `post` with a file of SIZE bytes (after `setup(node, community id)`), then
    `check(node, events, answer)`: the events seen, each with how many times a task
    looping on `trio.sleep(0)` had run when it came, and the answer (or error)."""
    path = tmp_path / "report.bin"
    path.write_bytes(os.urandom(SIZE))
    async with cluster(1) as (node,):
        cid = node.create_community()
        setup(node, cid)
        events: list[tuple[int, dict[str, Any]]] = []
        ticks = [0]

        def seen(method: str, event: dict[str, Any]) -> None:
            if method == "blob_progress":
                events.append((ticks[0], event))

        node.node.notify = seen
        control = NodeControl(node.node, addrs=lambda: [])

        async def ticker() -> None:
            while True:
                ticks[0] += 1
                await trio.sleep(0)

        answer: Any
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            try:
                answer = await control.handle(
                    "post",
                    {"community": cid.hex(), "channel": "general", "text": "the report",
                     "attach": [str(path)], **params},
                )  # fmt: skip
            except (NotFound, PolicyError, OSError) as exc:
                answer = exc
            nursery.cancel_scope.cancel()
        check(node, events, answer)


def test_a_posted_file_is_chunked_off_the_loop_with_upload_progress(tmp_path: Path) -> None:
    def check(node: HarnessNode, events: Events, answer: Any) -> None:
        assert "post_id" in answer
        shapes = [e for _, e in events]
        assert {tuple(sorted(e)) for e in shapes} == {
            ("community_id", "direction", "done", "path", "size", "state")
        }
        assert all(e["direction"] == "up" and e["size"] == SIZE for e in shapes)
        assert all(e["path"] == str(tmp_path / "report.bin") for e in shapes)
        assert shapes[0]["state"] == "preparing" and shapes[0]["done"] == 0
        # Chunked (all of it prepared), then stored once the post kept it.
        assert shapes[-2]["state"] == "preparing" and shapes[-2]["done"] == SIZE
        assert shapes[-1]["state"] == "stored" and shapes[-1]["done"] == SIZE
        assert all(e["state"] == "preparing" for e in shapes[:-1])
        done = [e["done"] for e in shapes]
        assert done == sorted(done)
        # The loop ran while the file was chunked: the ticker's count moved between the
        # first and the last event (on the trio thread, it could not have).
        assert events[-1][0] > events[0][0]
        # The post attaches it, every chunk is here, stored once.
        posts = node.service.read(node.service.communities()[0].id.hex(), "general")["posts"]
        attachment = posts[-1]["attachments"][0]
        assert attachment["size"] == SIZE and attachment["local"] is True
        assert len(_chunk_files(node)) == -(-SIZE // CHUNK_SIZE)
        assert node.service.files._prepared == {}  # nothing held after the command

    trio.run(_post_through_node, tmp_path, {}, check)


def test_a_post_that_fails_after_preparing_leaves_no_chunk(tmp_path: Path) -> None:
    def check(node: HarnessNode, events: Events, answer: Any) -> None:
        assert isinstance(answer, NotFound)
        states = [e["state"] for _, e in events]
        # Prepared, then the post failed: never "stored", and the end said.
        assert states[0] == "preparing" and states[-1] == "failed"
        assert "stored" not in states
        assert events[-1][1]["done"] == SIZE
        assert _chunk_files(node) == []
        assert node.service.files.storage()["blobs"] == 0
        assert node.service.files._prepared == {}

    trio.run(_post_through_node, tmp_path, {"reply_to": "f" * 32}, check)


def test_a_post_refused_after_its_files_were_attached_says_failed(tmp_path: Path) -> None:
    """The blocked word is judged after `attach` stored the blob: the refusal comes
    after everything a file goes through, and still nothing says "stored"."""

    def block_a_word(node: HarnessNode, cid: bytes) -> None:
        node.service.safety.words_add(cid.hex(), "scam", "block")

    def check(node: HarnessNode, events: Events, answer: Any) -> None:
        assert isinstance(answer, PolicyError)
        states = [e["state"] for _, e in events]
        assert states[-1] == "failed" and "stored" not in states
        assert node.service.read(node.service.communities()[0].id.hex(), "general")["posts"] == []
        node.service.files.sweep()  # what no visible post attaches is not kept
        assert _chunk_files(node) == []

    trio.run(_post_through_node, tmp_path, {"text": "a scam"}, check, block_a_word)


def test_a_file_that_cannot_be_read_fails_the_files_prepared_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        first, second = tmp_path / "a.bin", tmp_path / "b.bin"
        first.write_bytes(os.urandom(CHUNK_SIZE + 1))
        second.write_bytes(os.urandom(10))
        async with cluster(1) as (node,):
            cid = node.create_community()
            files = node.service.files
            chunk = files.chunk

            def chunk_or_fail(path: Path, *args: Any) -> Any:
                if path == second:
                    raise OSError(5, "Input/output error")  # a disk that fails mid-read
                return chunk(path, *args)

            monkeypatch.setattr(files, "chunk", chunk_or_fail)
            events: list[dict[str, Any]] = []
            node.node.notify = lambda method, event: (
                events.append(event) if method == "blob_progress" else None
            )
            control = NodeControl(node.node, addrs=lambda: [])
            params = {"community": cid.hex(), "channel": "general", "text": "two files"}
            with pytest.raises(OSError):
                await control.handle("post", {**params, "attach": [str(first), str(second)]})
            last = {e["path"]: e for e in events}
            assert last[str(first)]["state"] == "failed"
            assert last[str(first)]["done"] == CHUNK_SIZE + 1  # it was all prepared
            assert last[str(second)]["state"] == "failed" and last[str(second)]["done"] == 0
            assert "stored" not in {e["state"] for e in events}
            assert _chunk_files(node) == [] and files._prepared == {}

    trio.run(main)


@pytest.mark.parametrize("size", [0, CHUNK_SIZE])
def test_offline_attach_still_chunks_in_place(tmp_path: Path, size: int) -> None:
    """Without a node (the offline CLI) nothing is prepared: `attach` chunks itself."""

    async def main() -> None:
        path = tmp_path / "small.bin"
        path.write_bytes(os.urandom(size))
        async with cluster(1) as (node,):
            cid = node.create_community()
            node.service.post(cid.hex(), "general", "x", attach=[str(path)])
            assert len(_chunk_files(node)) == 1
            assert node.service.files.storage()["blobs"] == 1

    trio.run(main)


def test_a_page_file_is_prepared_the_same_way(tmp_path: Path) -> None:
    async def main() -> None:
        path = tmp_path / "map.bin"
        path.write_bytes(os.urandom(CHUNK_SIZE + 1))
        async with cluster(1) as (node,):
            cid = node.create_community()
            events: list[dict[str, Any]] = []
            node.node.notify = lambda method, event: (
                events.append(event) if method == "blob_progress" else None
            )
            control = NodeControl(node.node, addrs=lambda: [])
            params = {"community": cid.hex(), "title": "Meeting point", "text": "here"}
            await control.handle("page create", {**params, "attach": [str(path)]})
            assert [e["state"] for e in events] == ["preparing", "preparing", "stored"]
            assert events[-1]["done"] == CHUNK_SIZE + 1 and events[-1]["path"] == str(path)
            assert node.service.files.storage()["blobs"] == 1
            assert len(_chunk_files(node)) == 2
            assert node.service.files._prepared == {}

    trio.run(main)
