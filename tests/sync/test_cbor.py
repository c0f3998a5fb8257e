"""The strict CBOR reader (sync/cbor.py) and every place that reads peer bytes with it.

Each decode site gets tag-laden CBOR (tag 35 becomes `re.compile` under
plain `cbor2.loads`, tag 1 a datetime, tag 258 a set). A spy around
`cbor2.loads` records any non-plain value cbor2 ever builds: the site must
refuse the bytes and cbor2 must have built nothing of the kind.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cbor2
import pytest
from automerge.core import ROOT, ScalarType
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2pcommunity.sync import cbor, invite, reading, reports
from p2pcommunity.sync.cbor import FRAME, Limits, MalformedCBOR, decode
from p2pcommunity.sync.crypto import canonical_cbor
from p2pcommunity.sync.docs.memberdoc import ADDRS, EDITS, POSTS, DocRef, SegmentDoc
from p2pcommunity.sync.errors import Invalid, Rejected, RemoteProtocolError
from p2pcommunity.sync.log.community_log import decode_op
from p2pcommunity.sync.protocol.frames import decode_frame

_PLAIN = (int, str, bytes, bool, type(None))

TAGS = {
    "tag 35 (regex)": cbor2.CBORTag(35, "(a+)+$"),
    "tag 1 (datetime)": cbor2.CBORTag(1, 1_700_000_000),
    "tag 258 (set)": cbor2.CBORTag(258, [1, 2]),
}


def _is_plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if type(value) is list:
        return all(_is_plain(v) for v in value)
    if type(value) is dict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value `cbor2.loads` returned that is not plain data (should stay empty)."""
    built: list[Any] = []
    real = cbor2.loads

    def loads(*args: Any, **kwargs: Any) -> Any:
        value = real(*args, **kwargs)
        if not _is_plain(value):
            built.append(value)
        return value

    monkeypatch.setattr(cbor2, "loads", loads)
    return built


def _segment() -> SegmentDoc:
    segment = SegmentDoc.new(DocRef(bytes(32), bytes(range(32)), 0))
    segment.write_profile("someone", None, 1)  # creates the maps
    return segment


def _put(segment: SegmentDoc, obj: bytes, key: str, raw: bytes) -> None:
    with segment.doc.transaction() as tx:
        tx.put(obj, key, ScalarType.Bytes, raw)
    segment.refresh()


Site = Callable[[Any], Any]


def _post_site(tag: Any) -> Any:
    segment = _segment()
    raw = cbor2.dumps({"ch": bytes(32), "text": tag, "re": None, "mn": [], "ms": 1})
    _put(segment, segment._objs[POSTS], "0123456789abcdef", raw)
    return segment.read_post("0123456789abcdef"), segment.read_posts(["0123456789abcdef"])


def _edit_site(tag: Any) -> Any:
    segment = _segment()
    _put(segment, segment._objs[EDITS], "ab" * 16, cbor2.dumps({"text": tag, "ms": 1}))
    return segment.read_edit("ab" * 16)


def _addrs_site(tag: Any) -> Any:
    segment = _segment()
    _put(segment, ROOT, ADDRS, cbor2.dumps(["/ip4/127.0.0.1/tcp/1", tag]))
    return segment.read_addrs()


def _presented_site(tag: Any) -> Any:
    return invite.decode_presented(cbor2.dumps({"op": [tag, b"s" * 64], "proof": b"p" * 64}))


def _invite_code_site(tag: Any) -> Any:
    body = cbor2.dumps({"v": 1, "c": tag, "k": bytes(32), "op": [b"o", b"s"], "a": []})
    try:
        return invite.InviteCode.decode(invite.PREFIX + base64.urlsafe_b64encode(body).decode())
    except Invalid:
        return None


def _report_site(tag: Any) -> Any:
    key = SigningKey.generate()
    body = cbor2.dumps({"boxes": [[bytes(key.verify_key), tag]]})
    return reports.open_report(key, bytes(32), body)


def _mentions_site(tag: Any) -> Any:
    return reading._decode_mentions(cbor2.dumps([bytes(32), tag]))


def _frame_site(tag: Any) -> Any:
    try:
        return decode_frame(cbor2.dumps({"t": "heads", "heads": [tag]}))
    except RemoteProtocolError:
        return None


def _op_site(tag: Any) -> Any:
    data = cbor2.dumps({"v": 1, "c": bytes(32), "a": bytes(32), "p": [], "t": tag, "b": {}})
    try:
        return decode_op(data, b"s" * 64, None)
    except Rejected:
        return None


SITES: dict[str, Site] = {
    "memberdoc posts": _post_site,
    "memberdoc read_edit": _edit_site,
    "memberdoc read_addrs": _addrs_site,
    "invite.decode_presented": _presented_site,
    "InviteCode.decode": _invite_code_site,
    "reports.open_report": _report_site,
    "reading._decode_mentions": _mentions_site,
    "protocol frame": _frame_site,
    "log op": _op_site,
}


@pytest.mark.parametrize("tag", list(TAGS), ids=list(TAGS))
@pytest.mark.parametrize("site", list(SITES), ids=list(SITES))
def test_tagged_cbor_is_refused_at_every_decode_site(spy: list[Any], site: str, tag: str) -> None:
    result = SITES[site](TAGS[tag])
    assert result in (None, [], (None, {})), result
    assert spy == []  # cbor2 never built a regex, a datetime or a set


def test_an_archive_log_with_a_tag_is_refused(spy: list[Any], tmp_path: Path) -> None:
    from p2pcommunity.archive import import_community
    from p2pcommunity.sync.service import Service
    from p2pcommunity.sync.storage.store import Store

    directory = tmp_path / "export"
    directory.mkdir()
    manifest = {"format": "p2pcommunity-export", "community_id": "00" * 32, "documents": []}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    (directory / "log.cbor").write_bytes(cbor2.dumps([[TAGS["tag 35 (regex)"], b"s"]]))
    svc = Service(Store(tmp_path / "s.sqlite3"), SigningKey.generate(), lambda: 1)
    with pytest.raises(Invalid):
        import_community(svc, directory)
    assert spy == []


# --- the pre-scan: refusals before cbor2 builds anything ------------------------------


def _head(major: int, n: int) -> bytes:
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


SLOW = {
    "a million empty arrays": b"\xa1" + cbor2.dumps("x") + _head(4, 1 << 20) + b"\x80" * (1 << 20),
    "a million small ints": cbor2.dumps([0] * (1 << 20)),
    "a deep nest": b"\x81" * (1 << 20) + b"\x00",
    "a string longer than the data": b"\x5b" + (1 << 62).to_bytes(8, "big"),
    "an array longer than the data": b"\x9b" + (1 << 62).to_bytes(8, "big"),
    "32 KiB of one-byte items under the limit": cbor2.dumps([[0, 0]] * 10_900),
}


@pytest.mark.parametrize("name", list(SLOW), ids=list(SLOW))
def test_frames_built_to_be_slow_are_refused_before_cbor2_decodes(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    calls: list[int] = []
    real = cbor2.loads

    def loads(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cbor2, "loads", loads)
    with pytest.raises(MalformedCBOR):
        cbor.decode_canonical(SLOW[name])
    assert calls == []  # the header pre-scan refused it


@pytest.mark.parametrize(
    "data",
    [
        b"\x9f\x00\xff",  # indefinite array
        b"\xf9\x3c\x00",  # a half float
        b"\xf7",  # undefined
        b"\xf0",  # a simple value
        b"\xa1\x80\x00",  # an array as a map key
        b"\xa1\xf5\x00",  # a bool as a map key
        b"\x00\x00",  # trailing bytes
        b"\x18\x05",  # not the shortest form
        b"\xa2\x01\x00\x01\x00",  # a duplicate key
        b"\xa2\x02\x00\x01\x00",  # keys not in canonical order
        b"\x62\xff\xfe",  # not UTF-8
        b"",
    ],
)
def test_what_the_subset_refuses(data: bytes) -> None:
    with pytest.raises(MalformedCBOR):
        decode(data)


def test_limits_are_each_enforced() -> None:
    tight = Limits(max_size=100, max_items=4, max_depth=2, max_string=3)
    assert decode(canonical_cbor([1, [2]]), tight) == [1, [2]]
    for value in ([1, 2, 3, 4], [[[1]]], "abcd", b"x" * 101):
        with pytest.raises(MalformedCBOR):
            decode(canonical_cbor(value), tight)


_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.text(max_size=8) | st.integers(-100, 100), inner, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(value=_plain)
def test_plain_values_round_trip(value: Any) -> None:
    # Round trip only: these values may be denser than any record (runs of nulls), which
    # the density bound (`min_item_bytes`) refuses by design; it is tested on its own.
    assert (
        decode(canonical_cbor(value), Limits(max_size=1 << 20, max_items=4096, min_item_bytes=1))
        == value
    )


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_parse_or_raise_the_one_remote_error(data: bytes) -> None:
    try:
        value = decode(data, FRAME)
    except MalformedCBOR as e:
        assert isinstance(e, RemoteProtocolError)
    else:
        assert _is_plain(value) and canonical_cbor(value) == data


@settings(max_examples=300, deadline=None)
@given(value=_plain, where=st.integers(min_value=0), byte=st.integers(0, 255))
def test_damaged_encodings_parse_or_raise_the_one_remote_error(
    value: Any, where: int, byte: int
) -> None:
    data = bytearray(canonical_cbor(value))
    data[where % len(data)] = byte
    try:
        got = decode(bytes(data))
    except MalformedCBOR:
        return
    assert _is_plain(got) and canonical_cbor(got) == bytes(data)
