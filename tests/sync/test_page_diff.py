"""Issue 14: `page history` says how much each change added and removed, `page diff`
what it changed, against the text its author saw: the same on every peer, whatever
order the changes arrived in."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync import page_diff
from p2pcommunity.sync.errors import NotFound
from p2pcommunity.sync.page_diff import diff_ops
from tests.sync.builders import clock, member_club, sync_log
from tests.sync.test_pages import _page_changes, _sync_page


def _apply(ops: list[list[str]], side: str) -> str:
    return "".join(text for op, text in ops if op in ("=", side))


@given(st.text(alphabet="ab\n x", max_size=60), st.text(alphabet="ab\n x", max_size=60))
@settings(max_examples=300, deadline=None)
def test_a_diff_reads_back_as_both_texts(old: str, new: str) -> None:
    ops = diff_ops(old, new)
    assert _apply(ops, "-") == old and _apply(ops, "+") == new
    assert all(text for _, text in ops)
    assert all(a[0] != b[0] for a, b in itertools.pairwise(ops))


def test_a_diff_shows_the_words_that_changed() -> None:
    ops = diff_ops("one\ntwo three\nfour\n", "one\ntwo 3\nfour\nfive\n")
    assert ["-", "three"] in ops and ["+", "3"] in ops and ["+", "five\n"] in ops
    assert ops[0] == ["=", "one\ntwo "]


def test_a_huge_middle_is_one_deletion_and_one_insertion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(page_diff, "MAX_DIFF_LINES", 3)
    old, new = "a\n" + "x\n" * 5 + "z\n", "a\n" + "y\n" * 5 + "z\n"
    assert diff_ops(old, new) == [["=", "a\n"], ["-", "x\n" * 5], ["+", "y\n" * 5], ["=", "z\n"]]


def _sizes(history: dict[str, list[dict[str, object]]]) -> list[tuple[object, ...]]:
    return sorted((h["version"], h["added"], h["removed"]) for h in history["history"])


def test_sizes_and_diffs_are_alike_on_every_peer(tmp_path: Path) -> None:
    (admin, ann, bob, late), cid = member_club(tmp_path, "admin", "ann", "bob", "late")
    page = admin.pages.create(cid, "Guide", "one\ntwo\nthree\n")["page_id"]
    page_id = bytes.fromhex(page)
    for who in (ann, bob, late):
        sync_log(admin, who, cid)
        _sync_page(admin, who, cid, page)
    # Concurrent: both edit version 1; each peer then receives the other's.
    ann.pages.edit(cid, page, old="two", new="TWO, really")
    bob.pages.edit(cid, page, old="three\n", new="")
    _sync_page(ann, admin, cid, page)
    _sync_page(bob, admin, cid, page)
    _sync_page(bob, ann, cid, page)
    _sync_page(ann, bob, cid, page)
    # `late` gets all of it in one batch, in the admin's order.
    late.pages.receive(late.community(cid), page_id, _page_changes(admin, page_id), clock())
    histories = [who.pages.history(cid, page) for who in (admin, ann, bob, late)]
    assert all(_sizes(h) == _sizes(histories[0]) for h in histories)
    by_summary = {h["summary"]: (h["added"], h["removed"]) for h in histories[0]["history"]}
    assert by_summary["+14 -0 chars"] == (14, 0)  # the creation
    assert sorted(by_summary.values()) == [(0, 6), (11, 3), (14, 0)]
    ann_version = next(h["version"] for h in histories[0]["history"] if h["added"] == 11)
    diffs = [who.pages.diff(cid, page, ann_version) for who in (admin, ann, bob, late)]
    assert all(d == diffs[0] for d in diffs)
    # Against the text Ann saw (with "three"), not the merged one.
    assert _apply(diffs[0]["diff"], "-") == "one\ntwo\nthree\n"
    assert _apply(diffs[0]["diff"], "+") == "one\nTWO, really\nthree\n"


def test_history_measures_a_bounded_number_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (admin, bob), cid = member_club(tmp_path, "admin", "bob")
    page = admin.pages.create(cid, "Log", "start\n")["page_id"]
    page_id = bytes.fromhex(page)
    for i in range(5):
        admin.pages.edit(cid, page, append=f"line {i}\n")
    sync_log(admin, bob, cid)
    monkeypatch.setattr(page_diff, "RECEIPT_READS", 0)  # one batch of 6: left to history
    bob.pages.receive(bob.community(cid), page_id, _page_changes(admin, page_id), clock())
    monkeypatch.setattr(page_diff, "SIZE_BUDGET", 4)
    first = bob.pages.history(cid, page)["history"]
    assert [h["added"] for h in first] == [6, 7, 7, 7, None, None]
    second = bob.pages.history(cid, page)["history"]
    assert [(h["added"], h["removed"]) for h in second] == [(6, 0)] + [(7, 0)] * 5
    assert _sizes({"history": second}) == _sizes(admin.pages.history(cid, page))


def test_diff_of_an_unknown_version_is_not_found(tmp_path: Path) -> None:
    (admin,), cid = member_club(tmp_path, "admin")
    admin.pages.create(cid, "Guide", "x")
    with pytest.raises(NotFound):
        admin.pages.diff(cid, "Guide", "00000000")
