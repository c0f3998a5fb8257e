"""Page frames of sync protocol v3: strict parsing, limits checked on receipt."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.docs.apply import SignedChange
from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.protocol.frames import (
    MAX_PAGE_ACTORS,
    MAX_SUMMARY_PAGES,
    PageChangesFrame,
    PageSummaryFrame,
    decode_frame,
    encode_frame,
)

PAGE, ACTOR = b"\x01" * 32, b"\x02" * 32


def test_page_frames_round_trip() -> None:
    summary = PageSummaryFrame(((PAGE, ((ACTOR, 3),)),), last=True)
    changes = PageChangesFrame(PAGE, (SignedChange(b"x" * 10, b"s" * 64),))
    assert decode_frame(encode_frame(summary)) == summary
    assert decode_frame(encode_frame(changes)) == changes


@pytest.mark.parametrize(
    "record",
    [
        {"t": "page_summary", "pages": [[PAGE, [[ACTOR, 0]]]], "last": True},  # seq 0
        {"t": "page_summary", "pages": [[b"short", []]], "last": True},
        {"t": "page_summary", "pages": [[PAGE, [[ACTOR, 1]] * (MAX_PAGE_ACTORS + 1)]], "last": 1},
        {"t": "page_summary", "pages": [[PAGE, []]] * (MAX_SUMMARY_PAGES + 1), "last": True},
        {"t": "page_changes", "page": PAGE, "changes": [[b"x", b"short sig"]]},
        {"t": "page_changes", "page": PAGE, "changes": [], "extra": 1},
    ],
)
def test_bad_page_frames_are_refused(record: dict[str, object]) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_frame(canonical_cbor(record))


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_random_bytes_parse_or_raise_the_remote_error(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        decode_frame(canonical_cbor({"t": "page_changes", "page": PAGE, "changes": [[data, data]]}))
