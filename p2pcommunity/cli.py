"""`p2pcommunity-node`: the command-line contract of shared/CLI.md.

The parser is built from one table of commands so that `--data-dir` and
`--json` work before and after every subcommand and every command has
`--help`. With no node running for the data dir, a command opens the store
itself, does its work and exits (the offline, in-process node of
ARCHITECTURE §1).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from p2pcommunity import __version__, sigworker
from p2pcommunity.sync.errors import DomainError, Invalid

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("p2pcommunity"))


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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="p2pcommunity-node", description="p2pcommunity node and CLI")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        _common(p, suppress=True)
        return p

    def group(name: str, help_text: str) -> Any:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p, suppress=True)
        return p.add_subparsers(dest="action", required=True, parser_class=_Parser)

    p = command("init", "create the device identity if missing")
    p.add_argument("--name")
    command("whoami", "show this device's peer id and name")

    g = group("profile", "your profile in every community")
    p = command("set", "set your name and bio", g)
    p.add_argument("--name")
    p.add_argument("--bio")

    g = group("identity", "export or import the device key")
    p = command("export", "write the key, sealed with a passphrase", g)
    p.add_argument("file", type=Path)
    p.add_argument("--passphrase-file", type=Path)
    p = command("import", "restore a key into an empty data dir", g)
    p.add_argument("file", type=Path)
    p.add_argument("--passphrase-file", type=Path)

    g = group("community", "create and manage communities")
    p = command("create", "create a community you own", g)
    p.add_argument("name")
    p.add_argument("--description", default="")
    command("list", "list your communities", g)
    p = command("show", "show a community", g)
    p.add_argument("community")
    p = command("set", "rename or describe a community (admins)", g)
    p.add_argument("community")
    p.add_argument("--name")
    p.add_argument("--description")

    p = command("leave", "stop syncing a community and delete its local data")
    p.add_argument("community")

    g = group("channel", "channels of a community")
    p = command("create", "create a channel (admins)", g)
    p.add_argument("community")
    p.add_argument("name")
    p.add_argument("--topic", default="")
    p = command("rename", "rename a channel (admins)", g)
    p.add_argument("community")
    p.add_argument("channel")
    p.add_argument("name")
    p = command("archive", "make a channel read-only (admins)", g)
    p.add_argument("community")
    p.add_argument("channel")
    p = command("list", "list channels", g)
    p.add_argument("community")

    p = command("post", "post to a channel")
    p.add_argument("community")
    p.add_argument("channel")
    p.add_argument("text")
    p.add_argument("--reply-to")
    p = command("edit", "edit your post")
    p.add_argument("community")
    p.add_argument("post")
    p.add_argument("text")
    p = command("delete", "delete your post")
    p.add_argument("community")
    p.add_argument("post")
    p = command("react", "toggle a reaction")
    p.add_argument("community")
    p.add_argument("post")
    p.add_argument("emoji")
    p = command("read", "print the newest posts of a channel, oldest first")
    p.add_argument("community")
    p.add_argument("channel")
    p.add_argument("--limit", type=int, default=50)
    p = command("search", "full-text search in a community")
    p.add_argument("community")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=50)

    g = g_member = group("member", "members of a community")
    p = command("add", "admit a key directly (admins)", g)
    p.add_argument("community")
    p.add_argument("peer")
    p = command("list", "list members", g)
    p.add_argument("community")

    g = group("role", "roles")
    p = command("set", "set a member's role (admins)", g)
    p.add_argument("community")
    p.add_argument("peer")
    p.add_argument("role", choices=["admin", "moderator", "member"])

    p = command("remove", "remove a member (admins)", g_member)
    p.add_argument("community")
    p.add_argument("peer")

    g = group("rules", "community rules")
    p = command("set", "set the rules (admins); bumps the rules version", g)
    p.add_argument("community")
    p.add_argument("text", nargs="?")
    p.add_argument("--file", type=Path)

    g = group("invite", "invites (admins)")
    p = command("create", "create an invite code", g)
    p.add_argument("community")
    p.add_argument("--expires", default="7d", metavar="DURATION")
    p.add_argument("--uses", type=int, default=1)
    p.add_argument("--role", choices=["member", "moderator"], default="member")
    p = command("list", "list invites", g)
    p.add_argument("community")
    p = command("revoke", "revoke an invite", g)
    p.add_argument("community")
    p.add_argument("invite_id")

    p = command("hide", "hide a post for everyone (moderators)")
    p.add_argument("community")
    p.add_argument("post")
    p.add_argument("--reason")
    p = command("unhide", "undo hide (moderators)")
    p.add_argument("community")
    p.add_argument("post")
    p = command("timeout", "keep a member from posting for a while (moderators)")
    p.add_argument("community")
    p.add_argument("peer")
    p.add_argument("duration", metavar="DURATION")
    p = command("untimeout", "end a timeout (moderators)")
    p.add_argument("community")
    p.add_argument("peer")
    p = command("report", "report a post to the moderators (sealed)")
    p.add_argument("community")
    p.add_argument("post")
    p.add_argument("reason")
    p = command("reports", "read reports (moderators)")
    p.add_argument("community")

    g = group("node", "always-on nodes of a community (admins)")
    p = command("add", "list an always-on node", g)
    p.add_argument("community")
    p.add_argument("peer")
    p.add_argument("multiaddr")
    p = command("remove", "unlist a node", g)
    p.add_argument("community")
    p.add_argument("peer")

    p = command("block", "hide a peer's posts on this device only")
    p.add_argument("peer")
    p = command("unblock", "undo block")
    p.add_argument("peer")

    p = command("run", "run the node until SIGINT or SIGTERM")
    p.add_argument("--listen", action="append", metavar="MULTIADDR")
    p.add_argument("--no-listen", action="store_true", help="dial out only")
    p.add_argument("--bootstrap", action="append", default=[], metavar="MULTIADDR")
    p.add_argument("--relay", action="store_true", help="serve circuit relay v2")
    p.add_argument("--metrics", metavar="HOST:PORT", help="serve Prometheus /metrics, /healthz")
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML; flags override it")
    p.add_argument("--log-format", choices=("text", "json"), help="stderr log lines")
    p.add_argument("--passphrase-file", type=Path)
    command("status", "connected peers and sync state per community")
    p = command("join", "take up a community: an invite code, or an id with --bootstrap")
    p.add_argument("community", metavar="INVITE_CODE|COMMUNITY")
    p.add_argument("--bootstrap", action="append", default=[], metavar="MULTIADDR")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS")
    p.add_argument("--passphrase-file", type=Path)

    p = command("export", "write a community as .automerge files, its log and signatures")
    p.add_argument("community")
    p.add_argument("dir", type=Path)
    p = command("import", "load an export, verifying every signature")
    p.add_argument("dir", type=Path)
    return parser


Handler = Callable[[argparse.Namespace, Any], dict[str, Any]]


def _human(command: str, result: dict[str, Any]) -> str:
    """Short, readable output; --json gives the full document."""
    if command == "community show":
        channels = ", ".join("#" + c["name"] for c in result["channels"])
        lines = [
            f"{result['name']}  ({result['id']})",
            result["description"],
            f"owner: {result['owner']}",
            f"your role: {result['role'] or 'not a member'}",
            f"members: {result['members']}",
            f"channels: {channels}",
        ]
        if result.get("rules"):
            lines.append(f"rules (v{result['rules_version']}):\n{result['rules']}")
        return "\n".join(line for line in lines if line)
    if "posts" in result:
        lines = []
        for post in result["posts"]:
            name = post["author_name"] or post["author"][-8:]
            marks = " (edited)" if post["edited"] else ""
            reacts = (
                "  " + " ".join(f"{emoji}{len(who)}" for emoji, who in post["reactions"].items())
                if post["reactions"]
                else ""
            )
            lines.append(
                f"[{post['time']}] {name}: {post['text']}{marks}{reacts}  #{post['id'][:8]}"
            )
        return "\n".join(lines)
    if "community_id" in result and result.get("rules"):
        return (
            f"{result['community_id']}\n\nRules (version {result['rules_version']}, "
            f"acknowledged):\n{result['rules']}"
        )
    for key in ("community_id", "channel_id", "post_id", "invite"):
        if key in result:
            return str(result[key])
    if "rules_version" in result:
        return str(result["rules_version"])
    if "invites" in result:
        return "\n".join(
            f"{i['invite_id'][:12]}  {i['role']}  expires {i['expires']}  "
            f"{i['uses_left']} uses left{'  REVOKED' if i['revoked'] else ''}"
            for i in result["invites"]
        )
    if "reports" in result:
        return "\n".join(
            f"[{r['time']}] #{r['post'][:8]} by {r['reporter']}: {r['reason']}"
            for r in result["reports"]
        )
    if "communities" in result:
        return "\n".join(
            f"{c['id'][:12]}  {c['name']}  ({c['role'] or 'not a member'}, {c['members']} members)"
            for c in result["communities"]
        )
    if "channels" in result and "id" not in result:
        return "\n".join(
            f"{c['id'][:12]}  #{c['name']}{'  (archived)' if c['archived'] else ''}  {c['topic']}"
            for c in result["channels"]
        )
    if "members" in result and isinstance(result["members"], list):
        return "\n".join(
            f"{m['peer_id']}  {m['name'] or '-'}  {m['role']}  {m['status']}"
            for m in result["members"]
        )
    if "peer_id" in result:
        lines = [result["peer_id"]]
        if result.get("name"):
            lines.append(f"name: {result['name']}")
        lines += result.get("addrs", [])
        return "\n".join(lines)
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    if os.environ.get(sigworker.BUNDLE_SWITCH) == "1":  # a bundled node's signature worker
        sigworker.main()
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    data_dir: Path = (args.data_dir or default_data_dir()).absolute()
    command = args.command + (f" {args.action}" if getattr(args, "action", None) else "")
    try:
        if command == "run":
            return _run(data_dir, args)
        result = _dispatch(data_dir, command, args)
    except DomainError as exc:
        return _fail(args.json, str(exc), exc.code)
    except sqlite3.Error as exc:  # the store's file or disk, unless it is a bug
        from p2pcommunity.datadir import STORE_FILE
        from p2pcommunity.sync.store import environment_error

        failure = environment_error(exc, data_dir / STORE_FILE)
        if failure is None:
            raise
        return _fail(args.json, str(failure), failure.code)
    except OSError as exc:
        return _fail(
            args.json, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), "invalid"
        )
    except KeyboardInterrupt:
        return _fail(args.json, "interrupted", "invalid")
    if args.json:
        if command == "join":  # CLI.md's shape exactly; the rules are for people
            result = {"community_id": result["community_id"]}
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        text = _human(command, result)
        if text:
            print(text)
    return EXIT_OK


def _identity_loader(args: argparse.Namespace, create: bool) -> Callable[[Any], Any]:
    from p2pcommunity.identity import create_identity, passphrase_from_env_or_file
    from p2pcommunity.sync.errors import NotFound

    def load(opened: Any) -> Any:
        passphrase = passphrase_from_env_or_file(getattr(args, "passphrase_file", None))
        identity = opened.identity(passphrase)
        if identity is None:
            if not create:
                raise NotFound(f"no identity in {opened.path}: run `p2pcommunity-node init` first")
            identity = create_identity(opened.path, passphrase)
        return identity

    return load


def _dispatch(data_dir: Path, command: str, args: argparse.Namespace) -> dict[str, Any]:
    from p2pcommunity.control.client import ControlClient
    from p2pcommunity.offline import params_of, run_offline

    params = params_of(args)
    if command == "rules set":
        if (args.text is None) == (args.file is None):
            raise Invalid("rules set needs TEXT or --file F (one of them)")
        if args.file is not None:
            params["text"] = args.file.read_text(encoding="utf-8")
        params.pop("file", None)
    client = None
    if command not in ("identity export", "identity import"):
        client = ControlClient.connect(data_dir, timeout=10.0)
    if client is not None:
        with client:
            timeout = float(params.get("timeout") or 30.0) + 10.0 if command == "join" else 120.0
            result: dict[str, Any] = client.call(command, params, timeout=timeout)
            return result
    if command == "join":
        from p2pcommunity.runtime import join_in_process

        return join_in_process(
            data_dir,
            _identity_loader(args, create=False),
            args.community,
            args.bootstrap,
            args.timeout,
        )
    return run_offline(data_dir, command, args, params)


def _run(data_dir: Path, args: argparse.Namespace) -> int:
    from p2pcommunity.config import merge, read_config, setup_logging
    from p2pcommunity.runtime import run_node

    file = read_config(args.config) if args.config else {}
    config = merge(
        file,
        config_dir=args.config.parent.absolute() if args.config else None,
        listen=args.listen,
        no_listen=args.no_listen,
        bootstrap=args.bootstrap,
        relay=args.relay,
        metrics=args.metrics,
        log_format=args.log_format,
        passphrase_file=args.passphrase_file,
    )
    setup_logging(config.log_format)
    args.passphrase_file = config.passphrase_file
    return run_node(data_dir, _identity_loader(args, create=True), config)


def _fail(as_json: bool, message: str, code: str) -> int:
    if as_json:
        sys.stderr.write(json.dumps({"error": message, "code": code}) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")
    return EXIT_ERROR


__all__ = ["build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
