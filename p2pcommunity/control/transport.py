"""Which transport the control API uses, and how a client finds it.

Two transports carry the same newline-delimited JSON-RPC (`protocol`):

- `unix`: a Unix domain socket, owner-only by its file mode (`protocol`'s
  address section says where it lives). The default where Unix sockets and
  their permissions exist (Linux, macOS, the BSDs).
- `tcp`: a listener on 127.0.0.1, port 0, for Windows, where neither exists
  in the form this code relies on. Loopback TCP is open to every local user,
  so the node writes an endpoint file in the (owner-only) data dir with the
  port and a fresh random token, mode 0600, and a client must send that
  token as its first line. A wrong or missing token gets a closed
  connection and nothing else.

`P2PCOMMUNITY_CONTROL_TRANSPORT=unix|tcp` picks the node's transport; that is
how the Linux test suite exercises `tcp`. Clients do not need it: an
*address* names either the socket (a path to a socket file) or the endpoint
file (a path to a regular file), and `resolve_address` finds whichever a
running node published. An address is a plain string so that it can travel
through Qt signals and dialogs unchanged.
"""

from __future__ import annotations

import os
import secrets
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from p2pcommunity.control.protocol import resolve_socket_path

TRANSPORT_ENV: Final = "P2PCOMMUNITY_CONTROL_TRANSPORT"
UNIX: Final = "unix"
TCP: Final = "tcp"
ENDPOINT_FILE: Final = "control.tcp"
"""In the data dir, while a `tcp` node runs: `127.0.0.1 PORT TOKEN`."""
LOOPBACK: Final = "127.0.0.1"
MAX_TOKEN_LINE: Final = 256
"""Longest first line a `tcp` server reads before it gives up on a client."""


def default_transport() -> str:
    return UNIX if hasattr(socket, "AF_UNIX") and os.name != "nt" else TCP


def transport() -> str:
    """The transport a node should serve: `$P2PCOMMUNITY_CONTROL_TRANSPORT` or the default."""
    value = os.environ.get(TRANSPORT_ENV, "").strip().lower()
    if not value:
        return default_transport()
    if value not in (UNIX, TCP):
        raise ValueError(f"{TRANSPORT_ENV} must be {UNIX!r} or {TCP!r}, not {value!r}")
    if value == UNIX and not hasattr(socket, "AF_UNIX"):
        raise ValueError(f"{TRANSPORT_ENV}=unix: this system has no Unix sockets")
    return value


@dataclass(frozen=True, slots=True)
class TcpEndpoint:
    host: str
    port: int
    token: str

    def auth_line(self) -> bytes:
        """What a client sends before its first request."""
        return self.token.encode("ascii") + b"\n"


def new_token() -> str:
    return secrets.token_hex(32)


def write_endpoint(path: Path, endpoint: TcpEndpoint) -> None:
    """Publish `endpoint` at `path`, mode 0600, atomically (a reader never sees half)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, f"{endpoint.host} {endpoint.port} {endpoint.token}\n".encode("ascii"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _owner_only(st: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # Windows: the data dir's ACL is what protects it
        return True
    return st.st_uid == getuid() and not st.st_mode & 0o077


def read_endpoint(path: Path) -> TcpEndpoint | None:
    """The endpoint published at `path`, or None if there is none (or it is not ours)."""
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            return None
        if not _owner_only(st):
            raise PermissionError(f"{path} is readable by others or not ours; not using it")
        fields = path.read_text("ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        if isinstance(exc, PermissionError):
            raise
        return None
    if len(fields) != 3 or fields[0] != LOOPBACK or not fields[1].isdigit():
        return None
    port = int(fields[1])
    if not 0 < port < 65536:
        return None
    return TcpEndpoint(fields[0], port, fields[2])


def published_addresses(data_dir: Path) -> list[str]:
    """Every address a node of `data_dir` published, this process's own transport first.

    Normally one. A killed node can leave its socket or endpoint file behind,
    so a client tries each in turn (refused: nobody there).
    """
    found: list[str] = []
    path = resolve_socket_path(data_dir)
    if path is not None:
        found.append(str(path))
    endpoint_file = data_dir.absolute() / ENDPOINT_FILE
    try:
        if stat.S_ISREG(endpoint_file.lstat().st_mode):
            found.append(str(endpoint_file))
    except OSError:
        pass
    try:
        mine = transport()
    except ValueError:
        mine = default_transport()
    found.sort(key=lambda address: is_endpoint_address(address) != (mine == TCP))
    return found


def resolve_address(data_dir: Path) -> str | None:
    """What a client should dial for `data_dir` (a socket or an endpoint file), or None."""
    found = published_addresses(data_dir)
    return found[0] if found else None


def is_endpoint_address(address: str | os.PathLike[str]) -> bool:
    """True when `address` names a `tcp` endpoint file rather than a Unix socket."""
    return Path(address).name == ENDPOINT_FILE
