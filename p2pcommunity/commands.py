"""One table from command name to service call, shared by the offline CLI and
the node's control API, so a command behaves the same whichever runs it.

Parameters are plain JSON values: the same dict arrives from argparse here
and from a JSON-RPC request in the node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from p2pcommunity.sync.errors import Invalid, NotFound
from p2pcommunity.sync.service import Service

Params = dict[str, Any]
Command = Callable[[Service, Params], dict[str, Any]]

COMMANDS: dict[str, Command] = {
    "whoami": lambda s, p: s.whoami(p.get("addrs")),
    "profile set": lambda s, p: s.profile_set(p.get("name"), p.get("bio")),
    "community create": lambda s, p: s.community_create(p["name"], p.get("description") or ""),
    "community list": lambda s, p: s.community_list(),
    "community show": lambda s, p: s.community_show(p["community"]),
    "community set": lambda s, p: s.community_set(
        p["community"], p.get("name"), p.get("description")
    ),
    "leave": lambda s, p: s.leave(p["community"]),
    "channel create": lambda s, p: s.channel_create(
        p["community"], p["name"], p.get("topic") or ""
    ),
    "channel rename": lambda s, p: s.channel_rename(p["community"], p["channel"], p["name"]),
    "channel archive": lambda s, p: s.channel_archive(p["community"], p["channel"]),
    "channel list": lambda s, p: s.channel_list(p["community"]),
    "post": lambda s, p: s.post(p["community"], p["channel"], p["text"], p.get("reply_to")),
    "edit": lambda s, p: s.edit(p["community"], p["post"], p["text"]),
    "delete": lambda s, p: s.delete(p["community"], p["post"]),
    "react": lambda s, p: s.react(p["community"], p["post"], p["emoji"]),
    "read": lambda s, p: s.read(
        p["community"], p["channel"], int(p.get("limit") or 50), p.get("before")
    ),
    "thread": lambda s, p: s.thread(p["community"], p["post"]),
    "mark read": lambda s, p: s.mark_read(p["community"], p["channel"]),
    "search": lambda s, p: s.search(p["community"], p["query"], int(p.get("limit") or 50)),
    "member add": lambda s, p: s.member_add(p["community"], p["peer"]),
    "member list": lambda s, p: s.member_list(p["community"]),
    "role set": lambda s, p: s.role_set(p["community"], p["peer"], p["role"]),
    "status": lambda s, p: s.status([], []),
    "invite create": lambda s, p: s.invite_create(
        p["community"],
        p.get("expires") or "7d",
        int(p.get("uses") or 1),
        p.get("role") or "member",
        p.get("addrs"),
    ),
    "invite list": lambda s, p: s.invite_list(p["community"]),
    "invite revoke": lambda s, p: s.invite_revoke(p["community"], p["invite_id"]),
    "rules set": lambda s, p: s.rules_set(p["community"], _rules_text(p)),
    "member remove": lambda s, p: s.member_remove(p["community"], p["peer"]),
    "timeout": lambda s, p: s.timeout(p["community"], p["peer"], p["duration"]),
    "untimeout": lambda s, p: s.untimeout(p["community"], p["peer"]),
    "hide": lambda s, p: s.hide(p["community"], p["post"], p.get("reason")),
    "unhide": lambda s, p: s.unhide(p["community"], p["post"]),
    "report": lambda s, p: s.report(p["community"], p["post"], p["reason"]),
    "reports": lambda s, p: s.reports(p["community"]),
    "node add": lambda s, p: s.node_add(p["community"], p["peer"], p["multiaddr"]),
    "node remove": lambda s, p: s.node_remove(p["community"], p["peer"]),
    "block": lambda s, p: s.block(p["peer"]),
    "unblock": lambda s, p: s.unblock(p["peer"]),
}


def _rules_text(params: Params) -> str:
    """`rules set` takes TEXT or --file F; the CLI reads the file before sending."""
    text = params.get("text")
    if text is None and params.get("file"):
        raise Invalid("the rules file must be read by the client; send its text")
    if not isinstance(text, str):
        raise Invalid("rules set needs TEXT or --file F")
    return text


def execute(service: Service, command: str, params: Params) -> dict[str, Any]:
    handler = COMMANDS.get(command)
    if handler is None:
        raise NotFound(f"unknown command {command!r}")
    return handler(service, params)
