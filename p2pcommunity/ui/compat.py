"""Work around a reference-count bug of PySide6 6.12 on Python 3.11.

When C++ calls a Python `QAbstractItemModel.data()` override that returns
None (the "no data for this role" answer every model gives for most roles),
shiboken drops one reference to None too many: measured, -1 per call
(`sys.getrefcount(None)` falls by 1000 over 1000 `index.data(role)` calls).
A view painting a few thousand rows reaches zero within minutes and the
interpreter aborts with "none_dealloc: deallocating None".

Python 3.12 made None, True and False immortal (PEP 683), which hides the bug.
On 3.11 we do the same by hand: add 2**40 references, more than any session
can lose. Nothing else in the app relies on these refcounts.
"""

from __future__ import annotations

import ctypes
import sys

_DONE = False


def make_singletons_immortal() -> None:
    global _DONE
    if _DONE or sys.version_info >= (3, 12):
        return
    _DONE = True
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
