"""What a command is: its params and how they are checked, where it runs, what it may use.

commands.py lists the commands themselves (`TABLE`); this module is the shape
every row has, and the one check of a call's params (`validate`), shared by
the node, the offline CLI and argparse (`cli.build_parser`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from p2pcommunity.control.protocol import InvalidParams
from p2pcommunity.sync.service import Service

Result = dict[str, Any]
Args = dict[str, Any]
Outcome = Result | Awaitable[Result]


class Where(Enum):
    ANYWHERE = "through the running node, else on the data dir directly"
    CLIENT = "always in the calling process (the key file), never sent to a node"
    PROCESS = "is the node process itself"


class Context(Protocol):
    """What a command may use besides the service; see node_control and offline."""

    @property
    def service(self) -> Service: ...

    def addrs(self) -> list[str]: ...

    def online(self) -> frozenset[bytes]: ...

    def publishable(self) -> list[str]: ...

    def init(self, name: str | None) -> Outcome: ...

    def join(
        self, community: str, bootstrap: list[str], timeout: float, acknowledge: bool
    ) -> Outcome: ...

    def leave(self, community: str) -> Outcome: ...

    def export(self, community: str, directory: str) -> Outcome: ...

    def import_(self, directory: str) -> Outcome: ...

    def identity_export(self, file: str) -> Outcome: ...

    def identity_import(self, file: str) -> Outcome: ...


@dataclass(frozen=True)
class Param:
    """One param: its JSON name and type, and its argparse shape.

    `kind` is str, int, float, bool (a switch) or list (a repeatable option of
    strings). A positional is `required` unless `nargs="?"`. `path` params are
    files or directories: the CLI sends them as absolute paths. `wire=False`:
    the CLI reads it itself and never sends it; `cli=False`: API only.
    """

    name: str
    kind: type = str
    required: bool = False
    positional: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    help: str | None = None
    path: bool = False
    wire: bool = True
    cli: bool = True
    optional_positional: bool = False
    nargs: int | None = None  # a list option taking this many values at once (--replace)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def arg(name: str, **kw: Any) -> Param:
    """A positional: required (also with `optional_positional`, once `prepare` ran)."""
    return Param(name, positional=True, required=True, **kw)


def opt(name: str, kind: type = str, **kw: Any) -> Param:
    return Param(name, kind, **kw)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    params: tuple[Param, ...]
    call: Callable[[Context, Args], Outcome] | None
    human: Callable[[Result, Args], str]
    where: Where = Where.ANYWHERE
    cli: bool = True
    prepare: Callable[[Args], Args] | None = None
    """CLI only: turns the parsed args into the params sent (reads a file)."""


def _type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        kind, "a list of strings"
    )


def _checked(command: Command, param: Param, value: Any) -> Any:
    where = f"{command.name}: param {param.name!r}"
    if param.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if param.kind is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif param.kind in (int, float):
        ok = isinstance(value, param.kind) and not isinstance(value, bool)
    else:
        ok = isinstance(value, param.kind)
    if not ok:
        raise InvalidParams(f"{where} must be {_type_name(param.kind)}, not {value!r:.40}")
    if param.choices is not None and value not in param.choices:
        raise InvalidParams(f"{where} must be one of {', '.join(param.choices)}, not {value!r:.40}")
    return value


def validate(command: Command, params: dict[str, Any], *, local: bool = False) -> Args:
    """The args a call gets: every param present, typed and checked, defaults filled.

    `local`: the CLI's own args, which may include the params it never sends.
    An absent param and a JSON null are the same; unknown params are refused.
    """
    accepted = [p for p in command.params if p.wire or local]
    unknown = sorted(set(params) - {p.name for p in accepted})
    if unknown:
        raise InvalidParams(f"{command.name}: unknown param {', '.join(map(repr, unknown))}")
    args: Args = {}
    for param in accepted:
        value = params.get(param.name)
        if value is None:
            if param.required:
                raise InvalidParams(f"{command.name}: missing param {param.name!r}")
            default = param.default
            args[param.name] = list(default) if isinstance(default, list) else default
            continue
        args[param.name] = _checked(command, param, value)
    return args


def wire_params(command: Command, args: Args) -> dict[str, Any]:
    """What the CLI sends to a node: the wire params, nulls left out."""
    wired = {p.name for p in command.params if p.wire}
    return {k: v for k, v in args.items() if k in wired and v is not None}
