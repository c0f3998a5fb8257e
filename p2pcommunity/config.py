"""`run --config FILE`: the node's TOML configuration, merged with its flags.

Every key is optional; a flag given on the command line wins over the file.
The keys are derived from the dataclasses (`NodeConfig`'s fields, and each
field of `net.limits.Limits` under `[limits]`), so a new limit is a key
without an edit here.
An unknown key, or a value of the wrong type, is an `Invalid` error (code
`invalid`) naming the key: a typo must not silently leave a limit unset.
docs/operators.md documents each key.

    listen = ["/ip4/0.0.0.0/tcp/4001"]
    no_listen = false
    bootstrap = ["/ip4/203.0.113.7/tcp/4001/p2p/12D3Koo..."]
    relay = true
    mdns = true
    metrics = "127.0.0.1:9100"
    log_format = "json"
    passphrase_file = "/etc/p2pcommunity/passphrase"

    [limits]
    max_peers = 256
    max_frame_bytes = 1048576
    max_changes_per_batch = 1000
    max_frames_per_second = 500
    throttle_drop_after_s = 30
"""

from __future__ import annotations

import json
import logging
import sys
import time
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from p2pcommunity.addrs import parse as parse_multiaddr
from p2pcommunity.net.limits import LimitError, Limits
from p2pcommunity.net.metrics import parse_hostport
from p2pcommunity.sync.errors import Invalid

DEFAULT_LISTEN = ["/ip4/0.0.0.0/tcp/0"]
LOG_FORMATS = ("text", "json")


@dataclass
class NodeConfig:
    """The effective configuration. A field's `toml` metadata is the type its key
    takes in the file when that differs from the field's own (`"HOST:PORT"`)."""

    listen: list[str] = field(default_factory=lambda: list(DEFAULT_LISTEN))
    bootstrap: list[str] = field(default_factory=list)
    relay: bool = False
    mdns: bool = False
    metrics: tuple[str, int] | None = field(default=None, metadata={"toml": str})
    log_format: str = "text"
    passphrase_file: Path | None = field(default=None, metadata={"toml": str})
    limits: Limits = field(default_factory=Limits, metadata={"toml": dict})


_FILE_ONLY: dict[str, type | tuple[type, ...]] = {"no_listen": bool}
"""Keys of the file that are folded into another field (`no_listen` empties `listen`)."""

KeyTypes = dict[str, type | tuple[type, ...]]


def _toml_type(hint: Any) -> type | tuple[type, ...]:
    """The TOML value type of a dataclass field's type: float also takes an integer."""
    args = [a for a in get_args(hint) if a is not type(None)]
    if get_origin(hint) in (Union, UnionType) and len(args) == 1:
        hint = args[0]  # X | None: TOML has no null, so a present key is an X
    origin = get_origin(hint) or hint
    if origin is float:
        return (int, float)
    # Anything else (a Literal, say) is left to the dataclass's own checks.
    return origin if isinstance(origin, type) else object


def key_types(cls: type) -> KeyTypes:
    """Key -> TOML type for each field of a config dataclass, so a new field is a key."""
    hints = get_type_hints(cls)
    return {f.name: f.metadata.get("toml") or _toml_type(hints[f.name]) for f in fields(cls)}


_TOP_KEYS: KeyTypes = {**key_types(NodeConfig), **_FILE_ONLY}
_LIMIT_TYPES: KeyTypes = key_types(Limits)


def read_config(path: Path) -> dict[str, Any]:
    """The file's table, checked for unknown keys and types (values are checked on merge)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise Invalid(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"config file {path} is not valid TOML: {exc}") from None
    _check_keys(data, _TOP_KEYS, path, "")
    limits = data.get("limits", {})
    _check_keys(limits, _LIMIT_TYPES, path, "limits.")
    for key in ("listen", "bootstrap"):
        if key in data and not all(isinstance(v, str) for v in data[key]):
            raise Invalid(f"{path}: `{key}` must be a list of multiaddr strings")
        for addr in data.get(key, []):
            try:
                parse_multiaddr(addr)
            except Invalid as exc:
                raise Invalid(f"{path}: `{key}`: {exc}") from None
    return data


def _check_keys(
    table: dict[str, Any], allowed: dict[str, type | tuple[type, ...]], path: Path, prefix: str
) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise Invalid(
            f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
            + ", ".join(f"`{prefix}{k}`" for k in unknown)
            + f" (known: {', '.join(prefix + k for k in allowed)})"
        )
    for key, value in table.items():
        wanted = allowed[key]
        bad_bool = isinstance(value, bool) and wanted is not bool
        if bad_bool or not isinstance(value, wanted):
            names = wanted.__name__ if isinstance(wanted, type) else "number"
            raise Invalid(f"{path}: `{prefix}{key}` must be a {names}, not {value!r}")


def merge(
    file: dict[str, Any],
    *,
    config_dir: Path | None,
    listen: list[str] | None,
    no_listen: bool,
    bootstrap: list[str],
    relay: bool,
    metrics: str | None,
    mdns: bool = False,
    log_format: str | None,
    passphrase_file: Path | None,
) -> NodeConfig:
    """The effective configuration: each flag given wins over the file's key."""
    if listen:
        listen_addrs = list(listen)
    elif no_listen or file.get("no_listen", False):
        listen_addrs = []
    else:
        listen_addrs = list(file.get("listen") or DEFAULT_LISTEN)
    metrics_text = metrics or file.get("metrics")
    try:
        metrics_addr = parse_hostport(metrics_text) if metrics_text else None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    fmt = log_format or file.get("log_format") or "text"
    if fmt not in LOG_FORMATS:
        raise Invalid(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    secret = passphrase_file
    if secret is None and file.get("passphrase_file"):
        secret = Path(file["passphrase_file"])
        if not secret.is_absolute() and config_dir is not None:
            secret = config_dir / secret
    try:
        limits = Limits(**file.get("limits", {}))
    except LimitError as exc:
        raise Invalid(f"[limits] {exc}") from None
    return NodeConfig(
        listen=listen_addrs,
        bootstrap=list(bootstrap) or list(file.get("bootstrap") or []),
        relay=relay or bool(file.get("relay", False)),
        mdns=mdns or bool(file.get("mdns", False)),
        metrics=metrics_addr,
        log_format=fmt,
        passphrase_file=secret,
        limits=limits,
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601 ms), level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
