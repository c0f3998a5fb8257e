"""What one page change did to the text: its size (`page history`) and its diff (`page diff`).

A change's effect is measured against the text at its own deps (the version
its author saw), never against what this node held when it arrived: that
depends on arrival order, and every peer must show the same history. Reading
the text at old heads costs Automerge a walk of the whole document (~20 ms at
2,000 edits here), so sizes are kept in `page_sizes` once known: a local write
knows its splice; a received change whose deps were our heads and which leaves
the page with one head is measured from the texts we read anyway; the rest are
measured when the history asks, a bounded number per call (`SIZE_BUDGET`),
and show as null until then.

Sizes are those of the minimal single splice between the two texts: exact for
the one-splice changes this app writes; for a change that splices several
places it may count the text between them.

The diff is difflib's, bounded: the common prefix and suffix are cut first
(cheap), the middle is compared by lines, and a replaced run of lines word by
word when both sides are short; a middle too long for that is shown as
one deletion and one insertion.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher

from p2pcommunity.sync.docs.chunks import ParsedChange, parse_change
from p2pcommunity.sync.docs.pages import PageDoc, splice_for
from p2pcommunity.sync.storage.page_tables import ChangeRow
from p2pcommunity.sync.storage.store import Store

SIZE_BUDGET = 64  # changes measured from old heads per `page history` call
RECEIPT_READS = 4  # changes of one batch measured from old heads on receipt
RECEIPT_HISTORY = 1000  # stored changes beyond which a page's old heads are left to history
MAX_DIFF_LINES = 5000  # per side, for the line comparison
MAX_CHAR_DIFF = 2000  # per side, for the character comparison of a replaced run

_WORDS = re.compile(r"\w+|\W", re.UNICODE)  # words, and every other character alone
DiffOp = list[str]  # [op, text], op in "=", "+", "-"
Sizes = tuple[int, int]  # (added, removed) characters


def sizes_between(before: str, after: str) -> Sizes:
    _, deleted, inserted = splice_for(before, after)
    return len(inserted), deleted


def texts_of(page: PageDoc, data: bytes, change_hash: bytes) -> tuple[str, str]:
    """The text at the change's deps and right after it (two reads at old heads)."""
    deps = list(parse_change(data).deps)
    return page.text(deps), page.text([change_hash])


def measured_on_receipt(
    page: PageDoc,
    fresh: Sequence[ParsedChange],
    before: tuple[list[bytes], str] | None,
    after: str,
    stored: Callable[[], int],
) -> list[tuple[bytes, int, int]]:
    """Sizes of changes just applied, where that is cheap: one change made on the heads
    we held (`before`: those heads and their text) costs nothing more; a few changes of
    a short history cost two reads at old heads each; anything else waits for the history."""
    if len(fresh) == 1 and before is not None and sorted(fresh[0].deps) == sorted(before[0]):
        return [(fresh[0].hash, *sizes_between(before[1], after))]
    if len(fresh) > RECEIPT_READS or stored() > RECEIPT_HISTORY:
        return []
    return [(c.hash, *sizes_between(page.text(list(c.deps)), page.text([c.hash]))) for c in fresh]


def fill_sizes(
    store: Store, page: PageDoc, community_id: bytes, changes: Sequence[ChangeRow]
) -> dict[bytes, Sizes]:
    """The sizes known for the page's changes, measuring up to SIZE_BUDGET missing ones
    (oldest first) and keeping them."""
    tables = store.pages
    known = tables.sizes(page.page_id)
    missing = [row for row in changes if row[2] not in known][:SIZE_BUDGET]
    measured = []
    for _, _, change_hash, data, _ in missing:
        sizes = sizes_between(*texts_of(page, data, change_hash))
        known[change_hash] = sizes
        measured.append((change_hash, *sizes))
    if measured:
        with store.transaction():
            tables.set_sizes(page.page_id, community_id, measured)
    return known


def diff_ops(before: str, after: str) -> list[DiffOp]:
    """`before` -> `after` as runs of kept ("="), inserted ("+") and deleted ("-") text."""
    start, deleted, inserted = splice_for(before, after)
    end_old, end_new = start + deleted, start + len(inserted)
    # Whole lines into the middle: the line comparison then sees lines, not their tails.
    start = before.rfind("\n", 0, start) + 1
    if not (_line_start(before, end_old) and _line_start(after, end_new)):
        newline = before.find("\n", end_old)  # in the common suffix
        shift = (newline + 1 if newline >= 0 else len(before)) - end_old
        end_old, end_new = end_old + shift, end_new + shift
    ops: list[DiffOp] = [["=", before[:start]]]
    ops += _middle(before[start:end_old], after[start:end_new])
    ops.append(["=", before[end_old:]])
    return _merged(ops)


def _line_start(text: str, at: int) -> bool:
    return at == 0 or text[at - 1] == "\n"


def _middle(old: str, new: str) -> list[DiffOp]:
    if not old or not new:
        return [["-", old], ["+", new]]
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    if len(old_lines) > MAX_DIFF_LINES or len(new_lines) > MAX_DIFF_LINES:
        return [["-", old], ["+", new]]
    ops: list[DiffOp] = []
    matcher = SequenceMatcher(None, old_lines, new_lines)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        was, now = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        if tag == "equal":
            ops.append(["=", was])
        elif tag == "replace" and len(was) <= MAX_CHAR_DIFF and len(now) <= MAX_CHAR_DIFF:
            ops += _characters(was, now)
        else:
            ops += [["-", was], ["+", now]]
    return ops


def _characters(old: str, new: str) -> list[DiffOp]:
    """A replaced run of lines, word by word: "Rules" -> "House rules" reads as that,
    not as a kept "R" and "ules"."""
    was, now = _WORDS.findall(old), _WORDS.findall(new)
    ops: list[DiffOp] = []
    matcher = SequenceMatcher(None, was, now, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(["=", "".join(was[i1:i2])])
        else:
            ops += [["-", "".join(was[i1:i2])], ["+", "".join(now[j1:j2])]]
    return ops


def _merged(ops: list[DiffOp]) -> list[DiffOp]:
    """Empty runs dropped, neighbours of one kind joined."""
    out: list[DiffOp] = []
    for op, text in ops:
        if not text:
            continue
        if out and out[-1][0] == op:
            out[-1][1] += text
        else:
            out.append([op, text])
    return out
