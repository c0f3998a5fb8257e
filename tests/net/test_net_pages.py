"""Wiki pages through real nodes on 127.0.0.1 (issue 14): concurrent edits converge."""

from __future__ import annotations

from tests.net.harness import HarnessNode, community_cluster, run, wait_all


def _text(node: HarnessNode, cid: bytes, page: str) -> str | None:
    try:
        return str(node.service.pages.show(cid.hex(), page)["text"])
    except Exception:  # noqa: BLE001 -- not arrived yet
        return None


def test_three_members_edit_one_page_concurrently_and_end_identical() -> None:
    async def body() -> None:
        async with community_cluster(3) as ((a, b, c), cid):
            page = a.service.pages.create(cid.hex(), "Guide", "alpha\nbeta\ngamma\n")["page_id"]
            await b.connect(a, cid)
            await c.connect(b, cid)  # a line: A - B - C
            await wait_all((b, c), lambda n: _text(n, cid, page) == "alpha\nbeta\ngamma\n")
            # Concurrent: each edits before seeing the others' edits.
            a.service.pages.edit(cid.hex(), page, old="alpha", new="ALPHA")
            b.service.pages.edit(cid.hex(), page, old="beta", new="BETA")
            c.service.pages.edit(cid.hex(), page, append="delta\n")
            expected = "ALPHA\nBETA\ngamma\ndelta\n"
            await wait_all((a, b, c), lambda n: _text(n, cid, page) == expected)
            texts = {_text(n, cid, page) for n in (a, b, c)}
            assert texts == {expected}
            for n in (a, b, c):
                assert n.store.pages.count(bytes.fromhex(page)) == 4
                assert len(n.service.pages.show(cid.hex(), page)["contributors"]) == 3

    run(body)
