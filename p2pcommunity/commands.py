"""Every command, defined once: its params, where it runs, what it calls, how it prints.

One `Command` per row of `TABLE`. From it come the CLI's argparse tree
(`cli.build_parser`), the control API's param validation (`validate`, in
the node and offline alike) and the human output (`human.py`), so a command
cannot take a param in one place and miss it in another.

A command's `call` is written against a `Context`: the service, plus the few
things only the process running the command knows (the addresses it listens
on, its connected peers, how to join or leave). The node's context is
`node_control.NodeControl`, the offline CLI's `offline.OfflineContext`; both
run the same `call`, so a command behaves the same whichever runs it. A call
returns its result, or in the node an awaitable of it (`join`, `leave`).

Params are plain JSON values on the wire: the same dict arrives from argparse
and from a JSON-RPC request. A missing or ill-typed one is `InvalidParams`
(JSON-RPC -32602) naming the field, before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from p2pcommunity import human
from p2pcommunity.command_spec import (
    Args,
    Command,
    Context,
    Outcome,
    Param,
    Result,
    Where,
    arg,
    opt,
)
from p2pcommunity.control.protocol import MethodNotFound
from p2pcommunity.sync.errors import Invalid

GROUPS: dict[str, str] = {
    "profile": "your profile in every community",
    "identity": "export or import the device key",
    "community": "create and manage communities",
    "channel": "channels of a community",
    "mute": "words you do not want to see (this device only)",
    "member": "members of a community",
    "role": "roles",
    "rules": "community rules",
    "invite": "invites (admins)",
    "node": "always-on nodes of a community (admins)",
    "mark": "read markers",
    "topic": "topics of forum and qa channels",
    "tag": "the community's topic tags",
    "page": "wiki pages of a community",
    "attachment": "files attached to posts",
    "policy": "the community policy: slow mode, rate, limits, probation (issue 16)",
    "words": "watched words (moderators; the list is sealed to them)",
}

COMMUNITY = arg("community")
CHANNEL = arg("channel")
ATTACH = opt("attach", list, path=True, metavar="FILE", help="attach a file (repeatable)")
POST = arg("post")
PEER = arg("peer")
RULE = opt("rule", help="the community rule this act cites, shown in the modlog (issue 16)")
PASSPHRASE_FILE = opt("passphrase_file", path=True, wire=False)
INCLUDE_HIDDEN = opt(
    "include_hidden",
    bool,
    default=False,
    help="also posts moderation hid that you may see (yours; all, for moderators), flagged",
)


def _read_rules_file(args: Args) -> Args:
    """`rules set` takes TEXT or --file F; the client reads the file and sends its text."""
    from pathlib import Path

    text, file = args.get("text"), args.pop("file", None)
    if (text is None) == (file is None):
        raise Invalid("rules set needs TEXT or --file F (one of them)")
    if file is not None:
        args["text"] = Path(file).read_text(encoding="utf-8")
    return args


def _read_page_file(args: Args) -> Args:
    """`page create/edit` take --file F: the client reads it and sends its text (and
    their --attach files go as absolute paths)."""
    from pathlib import Path

    file = args.pop("file", None)
    if file is not None:
        if args.get("text") is not None:
            raise Invalid("give TEXT or --file F, not both")
        args["text"] = Path(file).read_text(encoding="utf-8")
    if "text" not in args:
        args["text"] = None
    return _absolute_attach(args)


def _required_text(a: Args) -> str:
    if a.get("text") is None:
        raise Invalid("page create needs TEXT or --file F")
    return str(a["text"])


def _page_edit(c: Context, a: Args) -> Outcome:
    replace = a["replace"] or []
    if replace and len(replace) != 2:
        raise Invalid("--replace takes OLD NEW")
    old, new = (replace[0], replace[1]) if replace else (None, None)
    return c.service.pages.edit(
        a["community"], a["page"], a["text"], a["append"], old, new,
        a["attach"] or (), a["detach"] or (),
    )  # fmt: skip


def _appeal(c: Context, a: Args) -> Result:
    """`appeal C E T`, or `appeal resolve C A OUTCOME` read as community "resolve"."""
    part = c.service.accountability
    if a["community"] == "resolve" and a.get("outcome"):
        return part.appeal_resolve(a["entry"], a["text"], a["outcome"], a.get("note")) | {
            "resolved": True
        }
    if a.get("outcome") or a.get("note"):
        raise Invalid("an outcome and --note belong to 'appeal resolve COMMUNITY APPEAL ...'")
    return part.appeal(a["community"], a["entry"], a["text"])


def _note(c: Context, a: Args) -> Result:
    """`note C P T`, or `note remove C P` read as community "remove" without a text."""
    part = c.service.accountability
    if a["community"] == "remove" and a.get("text") is not None:
        return part.note_remove(a["post"], a["text"]) | {"removed": True}
    if not a.get("text"):
        raise Invalid("a note needs a text: note COMMUNITY POST TEXT")
    return part.note(a["community"], a["post"], a["text"])


def _absolute_attach(args: Args) -> Args:
    """Issue 15: `--attach` files go to the node as absolute paths (it may run elsewhere)."""
    from pathlib import Path

    if args.get("attach"):
        args["attach"] = [str(Path(p).absolute()) for p in args["attach"]]
    return args


def _c(
    name: str,
    help_text: str,
    params: tuple[Param, ...],
    call: Callable[[Context, Args], Outcome] | None,
    shown: Callable[[Result, Args], str],
    **kw: Any,
) -> Command:
    return Command(name, help_text, params, call, shown, **kw)


# The order is the order of `--help`.
TABLE: tuple[Command, ...] = (
    _c("init", "create the device identity if missing", (opt("name"),),
       lambda c, a: c.init(a["name"]), human.identity),
    _c("whoami", "show this device's peer id and name", (),
       lambda c, a: c.service.whoami(c.addrs()), human.identity),
    _c("profile set", "set your name and bio", (opt("name"), opt("bio")),
       lambda c, a: c.service.profile_set(a["name"], a["bio"]), human.done("profile saved")),
    _c("identity export", "write the key, sealed with a passphrase",
       (arg("file", path=True), PASSPHRASE_FILE),
       lambda c, a: c.identity_export(a["file"]), human.identity, where=Where.CLIENT),
    _c("identity import", "restore a key into an empty data dir",
       (arg("file", path=True), PASSPHRASE_FILE),
       lambda c, a: c.identity_import(a["file"]), human.identity, where=Where.CLIENT),
    _c("community create", "create a community you own",
       (arg("name"), opt("description", default="")),
       lambda c, a: c.service.community_create(a["name"], a["description"]),
       human.field("community_id")),
    _c("community list", "list your communities", (),
       lambda c, a: c.service.community_list(), human.community_list),
    _c("community show", "show a community", (COMMUNITY,),
       lambda c, a: c.service.community_show(a["community"]), human.community_show),
    _c("community set", "rename or describe a community (admins)",
       (COMMUNITY, opt("name"), opt("description"),
        opt("max_file_size", metavar="SIZE", help="largest file a post may attach: 25MB, 2GB")),
       lambda c, a: c.service.community_set(
           a["community"], a["name"], a["description"], a["max_file_size"]
       ),
       human.done("community updated")),
    _c("leave", "stop syncing a community and delete its local data", (COMMUNITY,),
       lambda c, a: c.leave(a["community"]), human.done("left {community}")),
    _c("channel create", "create a channel (admins)",
       (COMMUNITY, arg("name"), opt("topic", default=""),
        opt("kind", choices=("chat", "forum", "qa"), default="chat")),
       lambda c, a: c.service.channel_create(a["community"], a["name"], a["topic"], a["kind"]),
       human.field("channel_id")),
    _c("channel rename", "rename a channel (admins)", (COMMUNITY, CHANNEL, arg("name")),
       lambda c, a: c.service.channel_rename(a["community"], a["channel"], a["name"]),
       human.done("channel renamed to #{name}")),
    _c("channel archive", "make a channel read-only (admins)", (COMMUNITY, CHANNEL),
       lambda c, a: c.service.channel_archive(a["community"], a["channel"]),
       human.done("channel {channel} archived")),
    _c("channel list", "list channels", (COMMUNITY,),
       lambda c, a: c.service.channel_list(a["community"]), human.channel_list),
    _c("post", "post to a channel",
       (COMMUNITY, CHANNEL, arg("text"), opt("reply_to"), ATTACH),
       lambda c, a: c.service.post(
           a["community"], a["channel"], a["text"], a["reply_to"], a["attach"]
       ),
       human.posted, prepare=_absolute_attach),
    _c("edit", "edit your post", (COMMUNITY, POST, arg("text")),
       lambda c, a: c.service.edit(a["community"], a["post"], a["text"]),
       human.done("post edited")),
    _c("delete", "delete your post", (COMMUNITY, POST),
       lambda c, a: c.service.delete(a["community"], a["post"]), human.done("post deleted")),
    _c("react", "toggle a reaction", (COMMUNITY, POST, arg("emoji")),
       lambda c, a: c.service.react(a["community"], a["post"], a["emoji"]), human.react),
    _c("read", "print the newest posts of a channel, oldest first",
       (COMMUNITY, CHANNEL, opt("limit", int, default=50), opt("before", cli=False),
        INCLUDE_HIDDEN),
       lambda c, a: c.service.read(
           a["community"], a["channel"], a["limit"], a["before"], a["include_hidden"]),
       human.posts),
    _c("thread", "print a post and its replies, oldest first", (COMMUNITY, POST, INCLUDE_HIDDEN),
       lambda c, a: c.service.thread(a["community"], a["post"], a["include_hidden"]),
       human.posts),
    _c("mark read", "mark a channel read", (COMMUNITY, CHANNEL),
       lambda c, a: c.service.mark_read(a["community"], a["channel"]),
       human.done("marked read"), cli=False),
    _c("search", "full-text search in a community",
       (COMMUNITY, arg("query"), opt("limit", int, default=50), INCLUDE_HIDDEN),
       lambda c, a: c.service.search(a["community"], a["query"], a["limit"], a["include_hidden"]),
       human.search),
    _c("member add", "admit a key directly (admins)", (COMMUNITY, PEER),
       lambda c, a: c.service.member_add(a["community"], a["peer"]),
       human.done("{peer} is a member")),
    _c("member list", "list members", (COMMUNITY,),
       lambda c, a: c.service.member_list(a["community"], c.online()), human.member_list),
    _c("role set", "set a member's role (admins)",
       (COMMUNITY, PEER, arg("role", choices=("admin", "moderator", "member")), RULE),
       lambda c, a: c.service.role_set(a["community"], a["peer"], a["role"], a.get("rule")),
       human.done("{peer} is now {role}")),
    _c("member remove", "remove a member (admins)", (COMMUNITY, PEER, RULE),
       lambda c, a: c.service.governance.member_remove(a["community"], a["peer"], a.get("rule")),
       human.done("{peer} removed")),
    _c("rules set", "set the rules (admins); bumps the rules version",
       (COMMUNITY, arg("text", optional_positional=True), opt("file", path=True, wire=False)),
       lambda c, a: c.service.governance.rules_set(a["community"], a["text"]),
       human.field("rules_version"), prepare=_read_rules_file),
    _c("rules accept", "acknowledge the community's current rules",
       (COMMUNITY,),
       lambda c, a: c.service.governance.rules_accept(a["community"]),
       human.rules_accepted),
    _c("invite create", "create an invite code",
       (COMMUNITY, opt("expires", default="7d", metavar="DURATION"),
        opt("uses", int, default=1),
        opt("role", choices=("member", "moderator"), default="member")),
       lambda c, a: c.service.governance.invite_create(
           a["community"], a["expires"], a["uses"], a["role"], c.publishable()),
       human.field("invite")),
    _c("invite list", "list invites", (COMMUNITY,),
       lambda c, a: c.service.governance.invite_list(a["community"]), human.invite_list),
    _c("invite revoke", "revoke an invite", (COMMUNITY, arg("invite_id")),
       lambda c, a: c.service.governance.invite_revoke(a["community"], a["invite_id"]),
       human.done("invite revoked")),
    _c("hide", "hide a post for everyone (moderators)", (COMMUNITY, POST, opt("reason"), RULE),
       lambda c, a: c.service.governance.hide(
           a["community"], a["post"], a["reason"], a.get("rule")),
       human.done("post hidden")),
    _c("unhide", "undo hide (moderators)", (COMMUNITY, POST, RULE),
       lambda c, a: c.service.governance.unhide(a["community"], a["post"], a.get("rule")), human.done("post shown again")),
    _c("timeout", "keep a member from posting for a while (moderators)",
       (COMMUNITY, PEER, arg("duration", metavar="DURATION"), RULE),
       lambda c, a: c.service.governance.timeout(
           a["community"], a["peer"], a["duration"], a.get("rule")),
       human.done("{peer} timed out for {duration}")),
    _c("untimeout", "end a timeout (moderators)", (COMMUNITY, PEER, RULE),
       lambda c, a: c.service.governance.untimeout(a["community"], a["peer"], a.get("rule")),
       human.done("{peer} can post again")),
    _c("report", "report a post to the moderators (sealed)",
       (COMMUNITY, POST, arg("reason"),
        opt("category", choices=("harassment", "spam", "misinformation", "other"),
            default="other")),  # issue 16
       lambda c, a: c.service.governance.report(
           a["community"], a["post"], a["reason"], a.get("category") or "other"),
       human.done("post reported")),
    _c("reports", "read reports (moderators)", (COMMUNITY,),
       lambda c, a: c.service.governance.reports(a["community"]), human.reports),
    # Issue 16 (s2): the moderation log, appeals and context notes. `appeal` and `note`
    # are both a command and a group in CLI.md ("appeal C E T", "appeal resolve C A
    # uphold"), which argparse cannot express; the CLI row dispatches on its first
    # positional and the API gets the two clean rows below it.
    _c("modlog", "the moderation log, newest first (every member)",
       (COMMUNITY, opt("limit", int, default=100)),
       lambda c, a: c.service.accountability.modlog(a["community"], a["limit"]), human.modlog),
    _c("appeal", "appeal a moderation entry that acted on you, once (sealed to the admins); "
       "'appeal resolve COMMUNITY APPEAL uphold|reverse [--note T]': admins",
       (COMMUNITY, arg("entry"), arg("text"),
        Param("outcome", positional=True, optional_positional=True,
              choices=("uphold", "reverse")), opt("note")),
       lambda c, a: _appeal(c, a), human.appealed),
    _c("appeal resolve", "uphold or reverse an appeal (admins)",
       (COMMUNITY, arg("appeal"), arg("outcome", choices=("uphold", "reverse")), opt("note")),
       lambda c, a: c.service.accountability.appeal_resolve(
           a["community"], a["appeal"], a["outcome"], a["note"]),
       human.done("appeal resolved"), cli=False),
    _c("appeals", "appeals and their outcomes (admins)", (COMMUNITY,),
       lambda c, a: c.service.accountability.appeals(a["community"]), human.appeals),
    _c("note", "attach a context note under a post (moderators); "
       "'note remove COMMUNITY POST' removes it",
       (COMMUNITY, POST, Param("text", positional=True, optional_positional=True)),
       lambda c, a: _note(c, a), human.noted),
    _c("note remove", "remove a post's context note (moderators)", (COMMUNITY, POST),
       lambda c, a: c.service.accountability.note_remove(a["community"], a["post"]),
       human.done("note removed"), cli=False),
    # Issue 16: the community policy, watched words, held posts (CLI.md "Safety").
    _c("policy show", "show the community policy", (COMMUNITY,),
       lambda c, a: c.service.safety.policy_show(a["community"]), human.policy),
    _c("policy set", "set one policy key (admins)",
       (COMMUNITY, arg("key", metavar="KEY"), arg("value", metavar="VALUE")),
       lambda c, a: c.service.safety.policy_set(a["community"], a["key"], a["value"]),
       human.policy),
    _c("words add", "watch a word or phrase (moderators)",
       (COMMUNITY, arg("word"), opt("action", choices=("block", "flag", "hold"), default="block")),
       lambda c, a: c.service.safety.words_add(a["community"], a["word"], a["action"]),
       human.done("watching {word!r} ({action})")),
    _c("words remove", "stop watching a word (moderators)", (COMMUNITY, arg("word")),
       lambda c, a: c.service.safety.words_remove(a["community"], a["word"]),
       human.done("no longer watching {word!r}")),
    _c("words list", "the watched words (moderators)", (COMMUNITY,),
       lambda c, a: c.service.safety.words_list(a["community"]), human.words),
    _c("pending", "posts held or flagged for approval (moderators)", (COMMUNITY,),
       lambda c, a: c.service.safety.pending(a["community"]), human.posts),
    _c("approve", "approve a held post (moderators)", (COMMUNITY, POST),
       lambda c, a: c.service.safety.approve(a["community"], a["post"]),
       human.done("post approved")),
    _c("reject", "reject a held post (moderators)", (COMMUNITY, POST, opt("reason")),
       lambda c, a: c.service.safety.reject(a["community"], a["post"], a["reason"]),
       human.done("post rejected")),
    _c("node add", "list an always-on node", (COMMUNITY, PEER, arg("multiaddr")),
       lambda c, a: c.service.governance.node_add(a["community"], a["peer"], a["multiaddr"]),
       human.done("node {peer} listed")),
    _c("node remove", "unlist a node", (COMMUNITY, PEER),
       lambda c, a: c.service.governance.node_remove(a["community"], a["peer"]),
       human.done("node {peer} unlisted")),
    _c("block", "hide a peer's posts on this device only", (PEER,),
       lambda c, a: c.service.block(a["peer"]), human.done("{peer} blocked")),
    _c("unblock", "undo block", (PEER,),
       lambda c, a: c.service.unblock(a["peer"]), human.done("{peer} unblocked")),
    _c("block list", "the peers you blocked (this device only)", (),
       lambda c, a: c.service.personal.block_list(), human.blocked),
    # Issue 16: personal safety, on this device only (sync/personal.py).
    _c("mute add", "hide posts holding a word or phrase from you (this device only)",
       (arg("word"),), lambda c, a: c.service.personal.mute_add(a["word"]),
       human.done("muted {word!r}")),
    _c("mute remove", "undo mute add", (arg("word"),),
       lambda c, a: c.service.personal.mute_remove(a["word"]), human.done("unmuted {word!r}")),
    _c("mute list", "your muted words (and a community's muted channels)",
       (opt("community", help="also list this community's muted channels"),),
       lambda c, a: c.service.personal.mute_list(a["community"]), human.mutes),
    _c("channel mute", "no unread count or notification from a channel (this device only)",
       (COMMUNITY, CHANNEL),
       lambda c, a: c.service.personal.channel_mute(a["community"], a["channel"], True),
       human.done("channel muted")),
    _c("channel unmute", "undo channel mute", (COMMUNITY, CHANNEL),
       lambda c, a: c.service.personal.channel_mute(a["community"], a["channel"], False),
       human.done("channel unmuted")),
    _c("dismiss", "dismiss the reports of a post from every moderator's queue (a sealed log op)",
       (COMMUNITY, POST), lambda c, a: c.service.personal.dismiss(a["community"], a["post"]),
       human.done("reports dismissed")),
    _c("dismissed", "posts whose reports you dismissed (moderators)", (COMMUNITY,),
       lambda c, a: c.service.personal.dismissed(a["community"]), human.dismissed),
    # -- issue 14: knowledge (forum and qa channels) --
    _c("topic create", "start a topic in a forum or qa channel",
       (COMMUNITY, CHANNEL, arg("title"), arg("text"), opt("tag", list, default=[]), ATTACH),
       lambda c, a: c.service.knowledge.topic_create(
           a["community"], a["channel"], a["title"], a["text"], a["tag"], a["attach"]),
       human.field("post_id"), prepare=_absolute_attach),
    _c("topics", "list the topics of a forum or qa channel, pinned first",
       (COMMUNITY, CHANNEL, opt("sort", choices=("activity", "votes", "new"), default="activity"),
        opt("filter", choices=("all", "unanswered", "solved"), default="all"),
        opt("tag"), opt("limit", int, default=50)),
       lambda c, a: c.service.knowledge.topics(
           a["community"], a["channel"], a["sort"], a["filter"], a["tag"], a["limit"]),
       human.topics),
    _c("vote", "vote on a post (not your own)",
       (COMMUNITY, POST, arg("direction", choices=("up", "down", "clear"))),
       lambda c, a: c.service.knowledge.vote(a["community"], a["post"], a["direction"]),
       human.vote),
    _c("accept", "accept a reply as the answer (qa: the question's author or a moderator)",
       (COMMUNITY, POST),
       lambda c, a: c.service.knowledge.accept(a["community"], a["post"]),
       human.done("answer accepted")),
    _c("unaccept", "withdraw a question's accepted answer", (COMMUNITY, arg("topic")),
       lambda c, a: c.service.knowledge.unaccept(a["community"], a["topic"]),
       human.done("no accepted answer")),
    _c("pin", "pin a topic or post (moderators)", (COMMUNITY, POST),
       lambda c, a: c.service.knowledge.pin(a["community"], a["post"], True),
       human.done("pinned")),
    _c("unpin", "unpin a topic or post (moderators)", (COMMUNITY, POST),
       lambda c, a: c.service.knowledge.pin(a["community"], a["post"], False),
       human.done("unpinned")),
    _c("tag create", "create a topic tag (moderators)", (COMMUNITY, arg("name")),
       lambda c, a: c.service.knowledge.tag_create(a["community"], a["name"]),
       human.done("tag {name} created")),
    _c("tag list", "list the community's topic tags", (COMMUNITY,),
       lambda c, a: c.service.knowledge.tag_list(a["community"]), human.tag_list),
    _c("run", "run the node until SIGINT or SIGTERM",
       (opt("listen", list, metavar="MULTIADDR"),
        opt("no_listen", bool, help="dial out only"),
        opt("bootstrap", list, default=[], metavar="MULTIADDR"),
        opt("relay", bool, help="serve circuit relay v2"),
        opt("mdns", bool, help="find members on the local network (mDNS)"),
        opt("metrics", metavar="HOST:PORT", help="serve Prometheus /metrics, /healthz"),
        opt("config", path=True, metavar="FILE", help="TOML; flags override it"),
        opt("log_format", choices=("text", "json"), help="stderr log lines"),
        PASSPHRASE_FILE),
       None, human.nothing, where=Where.PROCESS),
    _c("status", "connected peers and sync state per community", (),
       lambda c, a: c.service.node_support.status(c.addrs(), sorted(c.online())), human.status),
    _c("join", "take up a community: an invite code, or an id with --bootstrap",
       (arg("community", metavar="INVITE_CODE|COMMUNITY"),
        opt("bootstrap", list, default=[], metavar="MULTIADDR"),
        opt("timeout", float, default=30.0, metavar="SECONDS"),
        # API only: the app shows the rules first and accepts them with `rules accept`.
        opt("acknowledge", bool, default=True, cli=False),
        PASSPHRASE_FILE),
       lambda c, a: c.join(a["community"], a["bootstrap"], a["timeout"], a["acknowledge"]),
       human.joined),
    _c("export", "write a community as .automerge files, its log and signatures",
       (COMMUNITY, arg("dir", path=True)),
       lambda c, a: c.export(a["community"], a["dir"]), human.exported),
    _c("import", "load an export, verifying every signature", (arg("dir", path=True),),
       lambda c, a: c.import_(a["dir"]), human.field("community_id")),
    # -- issue 14: wiki pages --
    _c("page create", "create a wiki page (editors other than members: moderators)",
       (COMMUNITY, arg("title"), arg("text", optional_positional=True),
        opt("file", path=True, wire=False),
        opt("editors", choices=("members", "moderators", "admins"), default="members"),
        ATTACH),
       lambda c, a: c.service.pages.create(
           a["community"], a["title"], _required_text(a), a["editors"], a["attach"] or ()),
       human.field("page_id"), prepare=_read_page_file),
    _c("page edit", "edit a page (its editors); --file replaces the text as a minimal splice",
       (COMMUNITY, arg("page"), opt("file", path=True, wire=False), opt("text", cli=False),
        opt("append"), opt("replace", list, nargs=2), ATTACH,
        opt("detach", list, metavar="CID", help="detach a file by its CID (repeatable)")),
       _page_edit, human.done("page edited"), prepare=_read_page_file),
    _c("page show", "print a page", (COMMUNITY, arg("page")),
       lambda c, a: c.service.pages.show(a["community"], a["page"]), human.page_show),
    _c("page list", "list the pages of a community", (COMMUNITY,),
       lambda c, a: c.service.pages.list_pages(a["community"]), human.page_list),
    _c("page history", "who changed a page, when, oldest first", (COMMUNITY, arg("page")),
       lambda c, a: c.service.pages.history(a["community"], a["page"]), human.page_history),
    _c("page revert", "restore an earlier version's text as a new change (moderators)",
       (COMMUNITY, arg("page"), arg("version")),
       lambda c, a: c.service.pages.revert(a["community"], a["page"], a["version"]),
       human.done("page reverted to {version}")),
    _c("page editors", "set who edits a page (moderators)",
       (COMMUNITY, arg("page"), arg("editors", choices=("members", "moderators", "admins"))),
       lambda c, a: c.service.pages.set_editors(a["community"], a["page"], a["editors"]),
       human.done("page editors: {editors}")),
    # -- issue 15: files ---------------------------------------------------------
    _c("attachment save", "write an attached file, fetching it from peers if needed",
       (COMMUNITY, arg("cid"), arg("path", path=True),
        opt("timeout", float, default=60.0, metavar="SECONDS")),
       lambda c, a: c.service.files.save(a["community"], a["cid"], a["path"], a["timeout"]),
       human.saved),
    _c("attachment status", "how much of an attached file is here, and whether it is moving",
       (COMMUNITY, arg("cid")),
       lambda c, a: c.service.files.status(a["community"], a["cid"]), human.attachment_status),
    _c("storage", "bytes used by files, the quota, blobs held", (),
       lambda c, a: c.service.files.storage(), human.storage),
    # -- issue 14: what a page version changed --
    _c("page diff", "what a version changed against the one before (VERSION from page history)",
       (COMMUNITY, arg("page"), arg("version")),
       lambda c, a: c.service.pages.diff(a["community"], a["page"], a["version"]),
       human.page_diff),
    _c("attachment keep", "keep an attached file here: the quota never evicts it",
       (COMMUNITY, arg("cid")),
       lambda c, a: c.service.files.keep(a["community"], a["cid"]), human.done("kept")),
)  # fmt: skip

COMMANDS: dict[str, Command] = {command.name: command for command in TABLE}


def lookup(name: str) -> Command:
    command = COMMANDS.get(name)
    if command is None:
        raise MethodNotFound(f"unknown command {name!r}")
    return command
