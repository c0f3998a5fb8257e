"""The wire format of the local control API, and where its socket lives.

Newline-delimited JSON-RPC 2.0: every message is one UTF-8 JSON object on one
line (JSON escapes control characters, so a newline can only end a message).
As in h11, this module does no I/O on the wire: `LineReader` turns received
bytes into lines, `decode` turns a line into a message object, `encode` turns
a message object back into a line. The trio server (node), the blocking
client (CLI) and the Qt client (GUI) all share it, so they cannot disagree.

`decode` is total: any bytes either give a message or raise `MalformedMessage`,
which carries the JSON-RPC error to answer with. Nothing else escapes it.

Every error a server sends carries `data.code`, one of the CLI error codes of
CLI.md (`not_found`, `forbidden`, ... plus `internal`), so a client can report
any failure the same way the offline CLI does.

The last section resolves the socket address. It is the only part that
touches the file system, and the one place to add a Windows loopback address.
It also names the default data dir, which the app needs too (the UI imports
only this layer, never the CLI).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final, TypeAlias

import platformdirs

from p2pcommunity.sync.errors import DomainError, RemoteProtocolError

MAX_LINE: Final = 16 * 1024 * 1024
"""Longest message line, in bytes, without its newline."""

# JSON-RPC 2.0 error codes.
PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
APPLICATION_ERROR: Final = -32000
"""A `DomainError` of the handler; `data.code` is its CLI code."""

INTERNAL_CODE: Final = "internal"
"""CLI code of a failure that is not the caller's fault (a bug in the node)."""

RequestId: TypeAlias = int | str
Params: TypeAlias = dict[str, Any]


class MethodNotFound(DomainError, code="invalid"):
    """Raise from a control handler for an unknown method: answered with -32601."""


class InvalidParams(DomainError, code="invalid"):
    """Raise from a control handler for missing or ill-typed params: answered with -32602."""


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Request:
    id: RequestId
    method: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Notification:
    """A request without id: nobody answers it. The node pushes events this way."""

    method: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Response:
    id: RequestId
    result: Params


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    id: RequestId | None
    code: int
    message: str
    data: Params | None = None

    @property
    def cli_code(self) -> str:
        """The CLI error code of `data.code`, or one derived from the JSON-RPC code."""
        if self.data is not None and isinstance(self.data.get("code"), str):
            return str(self.data["code"])
        return INTERNAL_CODE if self.code == INTERNAL_ERROR else "invalid"


Message: TypeAlias = Request | Notification | Response | ErrorResponse


class MalformedMessage(RemoteProtocolError):
    """A line that is not a valid JSON-RPC 2.0 message; `error` is the answer to send."""

    def __init__(self, rpc_code: int, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.error = ErrorResponse(request_id, rpc_code, message, {"code": "invalid"})


class MessageTooLong(ValueError):
    """An outgoing message would exceed `MAX_LINE`."""


def error_response(
    request_id: RequestId | None, rpc_code: int, message: str, cli_code: str
) -> ErrorResponse:
    return ErrorResponse(request_id, rpc_code, message, {"code": cli_code})


def application_error(request_id: RequestId | None, exc: DomainError) -> ErrorResponse:
    """The answer to a request whose handler raised `exc`."""
    rpc_code = APPLICATION_ERROR
    if isinstance(exc, MethodNotFound):
        rpc_code = METHOD_NOT_FOUND
    elif isinstance(exc, InvalidParams):
        rpc_code = INVALID_PARAMS
    return error_response(request_id, rpc_code, str(exc), exc.code)


# --------------------------------------------------------------------------- encoding


def encode(message: Message, *, max_line: int = MAX_LINE) -> bytes:
    """One line, newline included. Raises `ValueError`/`TypeError` for what JSON cannot hold."""
    obj: dict[str, Any] = {"jsonrpc": "2.0"}
    if isinstance(message, Request):
        obj.update(id=message.id, method=message.method, params=message.params)
    elif isinstance(message, Notification):
        obj.update(method=message.method, params=message.params)
    elif isinstance(message, Response):
        obj.update(id=message.id, result=message.result)
    else:
        error: dict[str, Any] = {"code": message.code, "message": message.message}
        if message.data is not None:
            error["data"] = message.data
        obj.update(id=message.id, error=error)
    line = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    if len(line) > max_line:
        raise MessageTooLong(f"message of {len(line)} bytes exceeds the {max_line}-byte limit")
    return line + b"\n"


# --------------------------------------------------------------------------- decoding


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def decode(line: bytes, *, max_line: int = MAX_LINE) -> Message:
    """Parse one line (with or without its newline). Raises only `MalformedMessage`."""
    if len(line) > max_line + 2:  # + "\r\n"
        raise MalformedMessage(INVALID_REQUEST, f"message longer than {max_line} bytes")
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessage(PARSE_ERROR, f"parse error: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise MalformedMessage(INVALID_REQUEST, "a message must be a JSON object (no batches)")
    raw_id = obj.get("id")
    request_id = raw_id if _is_id(raw_id) else None
    if obj.get("jsonrpc") != "2.0":
        raise MalformedMessage(INVALID_REQUEST, 'missing "jsonrpc": "2.0"', request_id)

    if "method" in obj:
        return _decode_call(obj, request_id)

    if "result" in obj:
        result = obj["result"]
        if request_id is None or not isinstance(result, dict):
            raise MalformedMessage(INVALID_REQUEST, "malformed response")
        return Response(request_id, result)

    if "error" in obj:
        return _decode_error(obj, raw_id, request_id)

    raise MalformedMessage(INVALID_REQUEST, "neither a request nor a response", request_id)


def _decode_call(obj: dict[str, Any], request_id: RequestId | None) -> Request | Notification:
    """The request (or, without an id, notification) part of `decode`."""
    method = obj["method"]
    if not isinstance(method, str):
        raise MalformedMessage(INVALID_REQUEST, "method must be a string", request_id)
    if "id" in obj and request_id is None:
        raise MalformedMessage(INVALID_REQUEST, "id must be a string or an integer")
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise MalformedMessage(INVALID_PARAMS, "params must be an object", request_id)
    if request_id is None:
        return Notification(method, params)
    return Request(request_id, method, params)


def _decode_error(
    obj: dict[str, Any], raw_id: object, request_id: RequestId | None
) -> ErrorResponse:
    """The error-response part of `decode`."""
    err = obj["error"]
    if (
        not isinstance(err, dict)
        or not isinstance(err.get("code"), int)
        or isinstance(err.get("code"), bool)
        or not isinstance(err.get("message"), str)
        or (raw_id is not None and request_id is None)
    ):
        raise MalformedMessage(INVALID_REQUEST, "malformed error response")
    data = err.get("data")
    return ErrorResponse(
        request_id, err["code"], err["message"], data if isinstance(data, dict) else None
    )


class Overflow(Enum):
    LINE_TOO_LONG = "line too long"


class LineReader:
    """Splits a byte stream into lines of at most `max_line` bytes.

    A longer line is dropped up to its newline and reported once as
    `Overflow.LINE_TOO_LONG`, so one oversized message costs an error answer,
    not the connection. Blank lines are skipped.
    """

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._max_line = max_line
        self._buf = bytearray()
        self._scanned = 0
        self._skipping = False

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | Overflow]:
        out: list[bytes | Overflow] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n", self._scanned)
            if nl < 0:
                self._scanned = len(self._buf)
                if not self._skipping and len(self._buf) > self._max_line + 1:  # + "\r"
                    self._skipping = True
                    out.append(Overflow.LINE_TOO_LONG)
                if self._skipping:
                    self._buf.clear()
                    self._scanned = 0
                return out
            line = bytes(self._buf[:nl])
            del self._buf[: nl + 1]
            self._scanned = 0
            if self._skipping:
                self._skipping = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self._max_line:
                out.append(Overflow.LINE_TOO_LONG)
            elif line.strip():
                out.append(line)


# --------------------------------------------------------------------------- address

APP_NAME: Final = "p2pcommunity"
SOCKET_FILE: Final = "control.sock"
POINTER_FILE: Final = "control.path"
"""In the data dir: the socket's path, when the socket lives elsewhere."""

# sockaddr_un.sun_path holds 108 bytes on Linux, 104 on the BSDs and macOS, NUL included.
MAX_SOCKET_PATH: Final = 107 if sys.platform.startswith("linux") else 103


def default_data_dir() -> Path:
    """The data dir when no `--data-dir` is given: the same for the node, CLI and app."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def _fits(path: Path) -> bool:
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return None if getuid is None else int(getuid())


def temp_fallback_dir() -> Path:
    """Per-user directory under the temp dir, for when the runtime dir is not usable."""
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-{_uid()}"


def _runtime_dir() -> Path | None:
    """platformdirs' runtime dir, if it exists as ours or can be created; else None."""
    try:
        with warnings.catch_warnings():
            # Newer platformdirs warns when it falls back from $XDG_RUNTIME_DIR.
            warnings.simplefilter("ignore")
            path = Path(platformdirs.user_runtime_dir(APP_NAME))
    except OSError:
        return None
    try:
        st = path.lstat()
    except FileNotFoundError:
        parent = path.parent
        return path if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK) else None
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode) and st.st_uid == _uid():
        return path
    return None


def socket_path_for(data_dir: Path) -> Path:
    """Where the node for `data_dir` binds its control socket.

    `data_dir/control.sock` when that fits a socket address; otherwise a name
    derived from a hash of the data dir's absolute path, in the platformdirs
    runtime dir (or `temp_fallback_dir()`), announced by `control.path`.
    """
    data_dir = data_dir.absolute()
    in_dir = data_dir / SOCKET_FILE
    if _fits(in_dir):
        return in_dir
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:24]
    name = f"control-{digest}.sock"
    runtime = _runtime_dir()
    for base in (runtime, temp_fallback_dir()):
        if base is not None and _fits(base / name):
            return base / name
    raise ValueError(f"no directory gives a short enough control socket path for {data_dir}")


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def resolve_socket_path(data_dir: Path) -> Path | None:
    """The socket a client should dial for `data_dir`, or None when no node listens there."""
    data_dir = data_dir.absolute()
    try:
        pointed = (data_dir / POINTER_FILE).read_bytes().strip(b"\r\n")
    except OSError:
        pointed = b""
    if pointed:
        target = Path(os.fsdecode(pointed))
        if _is_socket(target):
            return target
    in_dir = data_dir / SOCKET_FILE
    return in_dir if _is_socket(in_dir) else None
