"""`p2pcommunity-node`: the command-line contract of shared/CLI.md.

The argparse tree is built from `commands.TABLE`, so every command has
`--help` and `--data-dir` and `--json` work before and after every
subcommand. A command goes to the node running for the data dir when there
is one; with none it runs in this process on the data dir itself (the
offline, in-process node of ARCHITECTURE §1).

Output: `--json` prints the result as one JSON document; otherwise the
command's human formatter prints it (human.py escapes what came from the
community). Errors go to stderr, exit 1; usage errors exit 2. A reader that
goes away (`| head -1`) ends the command quietly, with no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from p2pcommunity import __version__, human, sigworker
from p2pcommunity.command_spec import Args, Command, Param, Where, validate, wire_params
from p2pcommunity.commands import COMMANDS, GROUPS, TABLE
from p2pcommunity.control.protocol import default_data_dir
from p2pcommunity.sync.errors import DomainError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
_OWN = {"command", "subcommand", "data_dir", "json"}
"""Namespace entries that are not params of the command."""


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--data-dir", type=Path, default=default, help="data directory")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="machine-readable output",
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # usage errors exit 2, as CLI.md says
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _add_param(parser: argparse.ArgumentParser, param: Param) -> None:
    kw: dict[str, Any] = {}
    if param.help is not None:
        kw["help"] = param.help
    if param.metavar is not None:
        kw["metavar"] = param.metavar
    if param.choices is not None:
        kw["choices"] = list(param.choices)
    if param.positional:
        if param.optional_positional:
            kw["nargs"] = "?"
        if param.path:
            kw["type"] = Path
        parser.add_argument(param.name, **kw)
        return
    if param.kind is bool:
        parser.add_argument(param.flag, action="store_true", **kw)
        return
    if param.kind is list and param.nargs:
        kw["nargs"] = param.nargs
    elif param.kind is list:
        kw["action"] = "append"
    elif param.kind is not str or param.path:
        kw["type"] = Path if param.path else param.kind
    if param.default is not None:
        kw["default"] = param.default
    parser.add_argument(param.flag, **kw)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="p2pcommunity-node", description="p2pcommunity node and CLI")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    groups: dict[str, Any] = {}
    for command in TABLE:
        if not command.cli:
            continue
        head, _, action = command.name.partition(" ")
        parent = sub
        if action and head in COMMANDS:
            continue  # `block list`: read as the leaf `block` with "list" (_command_of)
        if action:
            if head not in groups:
                g = sub.add_parser(head, help=GROUPS[head], description=GROUPS[head])
                _common(g, suppress=True)
                groups[head] = g.add_subparsers(
                    dest="subcommand", required=True, parser_class=_Parser
                )
            parent = groups[head]
        p = parent.add_parser(action or head, help=command.help, description=command.help)
        _common(p, suppress=True)
        for param in command.params:
            if param.cli:
                _add_param(p, param)
    return parser


def _command_of(args: argparse.Namespace) -> Command:
    # "subcommand", not "action": `words add --action` is a param of its own.
    sub = getattr(args, "subcommand", None)
    name = args.command + (f" {sub}" if sub else "")
    return _verb(COMMANDS[name], args) or COMMANDS[name]


def _verb(leaf: Command, args: argparse.Namespace) -> Command | None:
    """`block list` beside `block PEER`: a first positional naming a command of the leaf's
    own name (no peer id is "list") runs that command, which takes no param."""
    first = next((p for p in leaf.params if p.cli and p.positional), None)
    if first is None:
        return None
    verb = COMMANDS.get(f"{leaf.name} {getattr(args, first.name, None)}")
    # Only a CLI verb without positionals: `appeal resolve` (API only) is the leaf
    # `appeal`'s own second form, which `_appeal` tells apart by its params.
    if verb is None or not verb.cli or any(p.cli and p.positional for p in verb.params):
        return None
    delattr(args, first.name)
    return verb


def _args_of(command: Command, ns: argparse.Namespace) -> Args:
    """The parsed args as JSON values: paths absolute (a node may run elsewhere)."""
    args = {}
    for key, value in vars(ns).items():
        if key in _OWN:
            continue
        args[key] = str(value.absolute()) if isinstance(value, Path) else value
    return command.prepare(args) if command.prepare else args


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get(sigworker.BUNDLE_SWITCH) == "1":  # a bundled node's signature worker
        sigworker.main()
        return 0
    try:
        code = _main(argv)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_ERROR
    except SystemExit:  # argparse's --help and usage errors: their output may be unsent
        if not _flushed():
            _silence_stdout()
        raise
    # A piped stdout is block-buffered: the write that meets the closed pipe is this
    # flush, not the print, so it must happen here and not at interpreter exit.
    if not _flushed():
        _silence_stdout()
        return EXIT_ERROR
    return code


def _flushed() -> bool:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return False
    return True


def _silence_stdout() -> None:
    """The reader went away (`| head -1`): point stdout at /dev/null so that the
    interpreter's final flush does not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _main(argv: Sequence[str] | None) -> int:
    ns = build_parser().parse_args(argv)
    data_dir: Path = (ns.data_dir or default_data_dir()).absolute()
    command = _command_of(ns)
    try:
        args = _args_of(command, ns)
        if command.where is Where.PROCESS:
            return _run(data_dir, args)
        result = _dispatch(data_dir, command, validate(command, args, local=True))
    except DomainError as exc:
        return _fail(ns.json, str(exc), exc.code)
    except sqlite3.Error as exc:  # the store's file or disk, unless it is a bug
        from p2pcommunity.datadir import STORE_FILE
        from p2pcommunity.sync.storage.store import environment_error

        failure = environment_error(exc, data_dir / STORE_FILE)
        if failure is None:
            raise
        return _fail(ns.json, str(failure), failure.code)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        return _fail(
            ns.json, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), "invalid"
        )
    except KeyboardInterrupt:
        return _fail(ns.json, "interrupted", "invalid")
    if ns.json:
        if command.name == "join":  # CLI.md's shape exactly; the rules are for people
            result = {"community_id": result["community_id"]}
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        text = human.render(command.human, result, args)
        if text:
            sys.stdout.write(text + "\n")
    sys.stdout.flush()  # here, so that a closed pipe is caught above, not at exit
    return EXIT_OK


def _dispatch(data_dir: Path, command: Command, args: Args) -> dict[str, Any]:
    from p2pcommunity.control.client import ControlClient
    from p2pcommunity.offline import run_offline

    client = None
    if command.where is Where.ANYWHERE:
        client = ControlClient.connect(data_dir, timeout=10.0)
    if client is not None:
        with client:
            timeout = args["timeout"] + 10.0 if command.name == "join" else 120.0
            result: dict[str, Any] = client.call(
                command.name, wire_params(command, args), timeout=timeout
            )
            return result
    return run_offline(data_dir, command, args)


def _run(data_dir: Path, args: Args) -> int:
    from p2pcommunity.config import merge, read_config, setup_logging
    from p2pcommunity.offline import identity_loader
    from p2pcommunity.process import run_node

    config_file = Path(args["config"]) if args["config"] else None
    file = read_config(config_file) if config_file else {}
    config = merge(
        file,
        config_dir=config_file.parent if config_file else None,
        listen=args["listen"],
        no_listen=args["no_listen"],
        bootstrap=args["bootstrap"],
        relay=args["relay"],
        mdns=bool(args.get("mdns")),
        metrics=args["metrics"],
        log_format=args["log_format"],
        passphrase_file=Path(args["passphrase_file"]) if args["passphrase_file"] else None,
    )
    setup_logging(config.log_format)
    secret = str(config.passphrase_file) if config.passphrase_file else None
    return run_node(data_dir, identity_loader(secret, create=True), config)


def _fail(as_json: bool, message: str, code: str) -> int:
    if as_json:
        sys.stderr.write(json.dumps({"error": message, "code": code}) + "\n")
    else:  # error messages quote names and peer replies: escape them too
        sys.stderr.write(f"error: {human.escape_line(message)}\n")
    return EXIT_ERROR


__all__ = ["build_parser", "default_data_dir", "main"]


if __name__ == "__main__":
    sys.exit(main())
