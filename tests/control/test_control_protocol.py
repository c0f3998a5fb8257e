from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pcommunity.control import protocol as p
from p2pcommunity.sync.errors import DomainError, NotFound


@pytest.mark.parametrize(
    "message",
    [
        p.Request(1, "post", {"text": "héllo\nworld", "n": [1, 2.5, None, True]}),
        p.Request("abc", "status", {}),
        p.Notification("post_added", {"id": "x"}),
        p.Response(7, {"ok": True}),
        p.ErrorResponse(7, p.APPLICATION_ERROR, "no such post", {"code": "not_found"}),
        p.ErrorResponse(None, p.PARSE_ERROR, "parse error"),
    ],
)
def test_round_trip(message: p.Message) -> None:
    line = p.encode(message)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line)["jsonrpc"] == "2.0"
    assert p.decode(line) == message


def test_absent_or_null_params_are_empty() -> None:
    assert p.decode(b'{"jsonrpc":"2.0","id":1,"method":"m"}') == p.Request(1, "m", {})
    assert p.decode(b'{"jsonrpc":"2.0","method":"m","params":null}') == p.Notification("m", {})


@pytest.mark.parametrize(
    ("line", "rpc_code", "request_id"),
    [
        (b"not json", p.PARSE_ERROR, None),
        (b"\xff\xfe", p.PARSE_ERROR, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":NaN}}', p.PARSE_ERROR, None),
        (b"[" * 100_000, p.PARSE_ERROR, None),
        (b"[1,2]", p.INVALID_REQUEST, None),
        (b'"just a string"', p.INVALID_REQUEST, None),
        (b"{}", p.INVALID_REQUEST, None),
        (b'{"id":3,"method":"m"}', p.INVALID_REQUEST, 3),
        (b'{"jsonrpc":"2.0","id":4,"method":5}', p.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":4.5,"method":"m"}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"m"}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":"q","method":"m","params":[1]}', p.INVALID_PARAMS, "q"),
        (b'{"jsonrpc":"2.0","id":1,"result":[1]}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}', p.INVALID_REQUEST, None),
    ],
)
def test_malformed_lines_give_the_error_to_answer(
    line: bytes, rpc_code: int, request_id: p.RequestId | None
) -> None:
    with pytest.raises(p.MalformedMessage) as info:
        p.decode(line)
    assert info.value.error.code == rpc_code
    assert info.value.error.id == request_id
    assert info.value.error.cli_code == "invalid"
    p.encode(info.value.error)  # the answer is itself encodable


@given(st.binary(max_size=200))
def test_decode_random_bytes_never_crashes(data: bytes) -> None:
    try:
        message = p.decode(data)
    except p.MalformedMessage:
        return
    assert isinstance(message, p.Request | p.Notification | p.Response | p.ErrorResponse)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_decode_any_json_value_never_crashes(value: object) -> None:
    try:
        message = p.decode(json.dumps(value).encode())
    except p.MalformedMessage as exc:
        assert exc.error.code in (p.INVALID_REQUEST, p.INVALID_PARAMS)
        return
    assert isinstance(message, p.Request | p.Notification | p.Response | p.ErrorResponse)


def test_encode_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError):
        p.encode(p.Response(1, {"x": float("nan")}))
    with pytest.raises(TypeError):
        p.encode(p.Response(1, {"x": object()}))
    with pytest.raises(p.MessageTooLong):
        p.encode(p.Response(1, {"x": "a" * 100}), max_line=50)


def test_application_errors_carry_the_cli_code() -> None:
    error = p.application_error(3, NotFound("no such post"))
    assert (error.id, error.code, error.message) == (3, p.APPLICATION_ERROR, "no such post")
    assert error.cli_code == "not_found"
    assert p.application_error(1, DomainError("x", "locked")).cli_code == "locked"
    assert p.application_error(1, p.MethodNotFound("m")).code == p.METHOD_NOT_FOUND
    assert p.application_error(1, p.InvalidParams("m")).code == p.INVALID_PARAMS
    # A server that sends no data.code still maps to a CLI code.
    assert p.ErrorResponse(1, p.INTERNAL_ERROR, "boom").cli_code == "internal"
    assert p.ErrorResponse(1, p.METHOD_NOT_FOUND, "m").cli_code == "invalid"


# ------------------------------------------------------------------ LineReader


def test_line_reader_splits_and_joins_chunks() -> None:
    reader = p.LineReader()
    assert reader.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert reader.feed(b":2}\r\n\n  \n{") == [b'{"b":2}']
    assert reader.feed(b"}\n") == [b"{}"]
    assert reader.buffered == 0


@given(st.lists(st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b)), st.data())
def test_line_reader_any_chunking_gives_the_same_lines(
    lines: list[bytes], data: st.DataObject
) -> None:
    lines = [line for line in lines if line.strip() and not line.endswith(b"\r")]
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)))))
    reader = p.LineReader()
    got: list[bytes | p.Overflow] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[start:cut])
        start = cut
    assert got == lines


def test_line_reader_drops_an_oversized_line_and_recovers() -> None:
    reader = p.LineReader(max_line=10)
    assert reader.feed(b"0123456789\n") == [b"0123456789"]
    assert reader.feed(b"x" * 8) == []
    assert reader.feed(b"x" * 8) == [p.Overflow.LINE_TOO_LONG]
    assert reader.feed(b"x" * 1000) == []  # not buffered while skipping
    assert reader.buffered == 0
    assert reader.feed(b"x\nok\n") == [b"ok"]
    # A long line that arrives whole is reported too.
    assert reader.feed(b"y" * 11 + b"\nfine\n") == [p.Overflow.LINE_TOO_LONG, b"fine"]


# ------------------------------------------------------------------ socket address


def test_short_data_dir_holds_its_socket(tmp_path: Path) -> None:
    assert p.socket_path_for(tmp_path) == tmp_path / "control.sock"
    assert p.resolve_socket_path(tmp_path) is None  # nothing listens yet


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (pytest's tmp_path may be too long for a socket)."""
    path = Path(tempfile.mkdtemp(prefix="p2pc"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def runtime_dir(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(platformdirs, "user_runtime_dir", lambda app: str(short_dir / app))
    return short_dir / "p2pcommunity"


def test_long_data_dir_uses_the_runtime_dir(tmp_path: Path, runtime_dir: Path) -> None:
    long_dir = tmp_path / ("d" * 120)
    other = tmp_path / ("e" * 120)
    path = p.socket_path_for(long_dir)
    assert path.parent == runtime_dir
    assert path.name.startswith("control-") and path.name.endswith(".sock")
    assert len(str(path)) <= p.MAX_SOCKET_PATH
    assert p.socket_path_for(long_dir) == path  # stable
    assert p.socket_path_for(other) != path


def test_unusable_runtime_dir_falls_back_to_temp(
    tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(app: str) -> str:
        raise PermissionError("runtime dir owned by someone else")

    monkeypatch.setattr(platformdirs, "user_runtime_dir", refuse)
    monkeypatch.setattr(tempfile, "tempdir", str(short_dir))
    path = p.socket_path_for(tmp_path / ("d" * 120))
    assert path.parent == p.temp_fallback_dir()
    assert path.parent == short_dir / f"p2pcommunity-{os.getuid()}"


def test_runtime_dir_of_another_user_is_not_used(
    tmp_path: Path, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(platformdirs, "user_runtime_dir", lambda app: str(short_dir / app))
    monkeypatch.setattr(tempfile, "tempdir", str(short_dir))
    (short_dir / "p2pcommunity").mkdir()
    monkeypatch.setattr(p, "_uid", lambda: os.getuid() + 1)
    assert p.socket_path_for(tmp_path / ("d" * 120)).parent == p.temp_fallback_dir()
