"""Human output of the CLI: one formatter per command, and the escaping they rely on.

Names, posts, rules, reasons and addresses come from other members, and a
member's app need not have checked them: a name may carry ANSI escapes, a
carriage return or a bidi override that would paint a fake line into the
reader's terminal ("SYSTEM: your node key leaked"). So `render` escapes
every string of the result (and the args echoed back) before any formatter
sees it: control characters (C0, DEL, C1, line and paragraph separators)
and invisible format characters (bidi overrides and isolates, zero-width
spaces) become visible escapes such as `\\x1b` or `\\u202e`. A formatter
cannot forget to escape, because it never gets a raw string.

Multi-line texts that are meant to be read as blocks (rules, a community's
description) keep their line breaks, each line indented, so that no line
of theirs can pass for a line of ours. Everywhere else a newline is `\\n`.
--json output needs none of this: JSON escapes control characters itself.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from p2pcommunity.sync.timefmt import iso_ms

Result = dict[str, Any]
Args = dict[str, Any]
Formatter = Callable[[Result, Args], str]

BLOCK_KEYS = frozenset({"rules", "description"})
"""Keys whose text prints as an indented block, line breaks kept."""
INDENT = "  "

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Format characters that draw nothing unsafe and that emoji and scripts need:
# ZWNJ, ZWJ (family emoji), and the tag characters of subdivision flags.
_KEEP_FORMAT = {"\u200c", "\u200d", *map(chr, range(0xE0020, 0xE0080))}


def _listing(key: str, empty: str, line: Callable[[Result], str]) -> Formatter:
    """The formatter of a list result: one line an item of `result[key]`, or `empty`."""

    def formatter(result: Result, args: Args) -> str:
        items = result[key]
        return "\n".join(map(line, items)) if items else empty

    return formatter


def _unsafe(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category in ("Cc", "Zl", "Zp"):
        return True
    return category == "Cf" and ch not in _KEEP_FORMAT


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def escape_line(text: str) -> str:
    """`text` with every control or invisible format character shown as an escape."""
    if text.isprintable():  # the common case; isprintable is False for all we escape
        return text
    return "".join(_escape_char(ch) if _unsafe(ch) else ch for ch in text)


def escape_block(text: str) -> str:
    """A multi-line text as indented lines, each escaped."""
    return "\n".join(INDENT + escape_line(line) for line in text.split("\n"))


def escape_tree(value: Any, key: str | None = None) -> Any:
    """Every string in a JSON value escaped (keys too); BLOCK_KEYS values as blocks."""
    if isinstance(value, str):
        return escape_block(value) if key in BLOCK_KEYS else escape_line(value)
    if isinstance(value, dict):
        return {escape_line(str(k)): escape_tree(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escape_tree(v) for v in value]
    return value


def render(formatter: Formatter, result: Result, args: Args) -> str:
    return formatter(escape_tree(result), escape_tree(args))


# --------------------------------------------------------------------------- formatters


def nothing(result: Result, args: Args) -> str:
    return ""


def done(template: str) -> Formatter:
    """A fixed confirmation, filled from the (escaped) args: "{peer} blocked"."""

    def shown(result: Result, args: Args) -> str:
        return template.format(**args)

    return shown


def rules_accepted(result: Result, args: Args) -> str:
    version = result["rules_version"]
    return f"rules version {version} acknowledged" if version else "this community has no rules"


def field(key: str) -> Formatter:
    """The one value a creating command returns: an id, a code, a version."""

    def shown(result: Result, args: Args) -> str:
        return str(result[key])

    return shown


def short(peer_or_id: str) -> str:
    return peer_or_id[-8:] if peer_or_id.startswith("12D3") else peer_or_id[:12]


def identity(result: Result, args: Args) -> str:
    lines = [result["peer_id"]]
    if result.get("name"):
        lines.append(f"name: {result['name']}")
    lines += result.get("addrs") or []
    return "\n".join(lines)


def _community_list_line(c: Result) -> str:
    return f"{c['id'][:12]}  {c['name']}  ({c['role'] or 'not a member'}, {c['members']} members)"


community_list = _listing(
    "communities",
    "no communities yet: `community create NAME` or `join INVITE_CODE`",
    _community_list_line,
)


def community_show(result: Result, args: Args) -> str:
    channels = ", ".join("#" + c["name"] for c in result["channels"])
    lines = [
        f"{result['name']}  ({result['id']})",
        result["description"],
        f"owner: {result['owner']}",
        f"your role: {result['role'] or 'not a member'}",
        f"members: {result['members']}",
        f"channels: {channels}",
    ]
    lines += [f"node: {n['peer_id']}  {n['addr']}" for n in result.get("nodes") or []]
    if result.get("timed_out_until"):
        lines.append(f"you are timed out until {result['timed_out_until']}")
    if result.get("rules", "").strip():
        lines.append(f"rules (v{result['rules_version']}):\n{result['rules']}")
    if result.get("rules_acknowledged") is False:
        lines.append("you have not acknowledged these rules yet: rules accept COMMUNITY")
    return "\n".join(line for line in lines if line.strip())


def channel_list(result: Result, args: Args) -> str:
    return "\n".join(
        f"{c['id'][:12]}  #{c['name']}{'  (archived)' if c['archived'] else ''}  {c['topic']}"
        for c in result["channels"]
    )


def posts(result: Result, args: Args) -> str:
    if not result["posts"]:
        return "no posts"
    lines = []
    for post in result["posts"]:
        # The label carries a short id when the name is shared or looks like a role.
        name = post.get("author_label") or post["author_name"] or short(post["author"])
        marks = " (edited)" if post["edited"] else ""
        waiting = post.get("waiting")  # `pending`: why the post waits
        if waiting:
            word = "held" if waiting["action"] == "hold" else "flagged"
            marks += f" [{word}: {waiting['rule'].replace('_', ' ')}]"
        reacts = (
            "  " + " ".join(f"{emoji}{len(who)}" for emoji, who in post["reactions"].items())
            if post["reactions"]
            else ""
        )
        lines.append(f"[{post['time']}] {name}: {post['text']}{marks}{reacts}  #{post['id'][:8]}")
        lines.extend(attachment_lines(post))
    return "\n".join(lines)


def search(result: Result, args: Args) -> str:
    """Posts as `read` shows them, under their topic's title; then the pages found."""
    titles = {t["topic"]: t for t in result.get("topics", [])}
    lines = []
    for topic in titles.values():
        mark = "  [solved]" if topic["solved"] else ""
        lines.append(f"topic: {topic['title']} (#{topic['channel_name']}){mark}")
    shown = posts(result, args)
    if result["posts"] or not result.get("pages"):
        lines.append(shown)
    lines.extend(
        f"page: {p['title']}  {p['page_id'][:12]}  {p['snippet']}" for p in result.get("pages", [])
    )
    return "\n".join(lines)


def react(result: Result, args: Args) -> str:
    return f"reacted {args['emoji']}" if result.get("reacted") else f"removed {args['emoji']}"


def member_list(result: Result, args: Args) -> str:
    def until(m: dict[str, Any]) -> str:
        ms = m.get("timed_out_until")
        return f" until {iso_ms(ms)}" if isinstance(ms, int) else ""

    return "\n".join(
        f"{m['peer_id']}  {m.get('label') or m['name'] or '-'}  {m['role']}  {m['status']}"
        f"{until(m)}"
        for m in result["members"]
    )


def _invite_list_line(i: Result) -> str:
    return (
        f"{i['invite_id'][:12]}  {i['role']}  expires {i['expires']}  "
        f"{i['uses_left']} uses left{'  REVOKED' if i['revoked'] else ''}"
    )


invite_list = _listing("invites", "no invites", _invite_list_line)


def reports(result: Result, args: Args) -> str:
    if not result["reports"]:
        return "no reports"
    counts = ", ".join(f"{k} {v}" for k, v in result.get("counts", {}).items())
    return "\n".join(
        ([counts] if counts else [])
        + [
            f"[{r['time']}] #{r['post'][:8]} {r.get('category', 'other')} by {r['reporter']}: "
            f"{r['reason']}"
            for r in result["reports"]
        ]
    )


def status(result: Result, args: Args) -> str:
    lines = [result["peer_id"], *result["addrs"], f"peers: {len(result['peers'])}"]
    for c in result["communities"]:
        lines.append(
            f"{c['id'][:12]}  {c['name']}  {c['members_online']} online, "
            f"{c['documents']} documents, last sync {c['last_sync'] or 'never'}"
        )
    return "\n".join(lines)


def joined(result: Result, args: Args) -> str:
    if not result.get("rules", "").strip():
        return str(result["community_id"])
    state = "acknowledged" if result.get("rules_acknowledged", True) else "not acknowledged yet"
    return (
        f"{result['community_id']}\n\nRules (version {result['rules_version']}, "
        f"{state}):\n{result['rules']}"
    )


def exported(result: Result, args: Args) -> str:
    return f"{result['documents']} documents and {result['ops']} ops written to {args['dir']}"


# -- issue 14: knowledge ---------------------------------------------------------


def topics(result: Result, args: Args) -> str:
    lines = []
    for t in result["topics"]:
        marks = ("pinned " if t["pinned"] else "") + ("solved " if t["solved"] else "")
        tags = " ".join(f"#{tag}" for tag in t["tags"])
        lines.append(
            f"{t['id'][:12]}  {t['votes']:+d}  {t['replies']} replies  {marks}"
            f"{escape_line(t['title'])}  {tags}".rstrip()
        )
    return "\n".join(lines) or "no topics"


def vote(result: Result, args: Args) -> str:
    return f"{result['votes']:+d} ({result['up']} up, {result['down']} down)"


def tag_list(result: Result, args: Args) -> str:
    return "\n".join(escape_line(t) for t in result["tags"]) or "no tags"


# -- issue 14: wiki pages --


def page_show(result: Result, args: Args) -> str:
    head = f"{result['title']}  (editors: {result['editors']}, version {result['version']})"
    files = "".join(f"\n{line}" for line in attachment_lines(result))
    return f"{head}{files}\n\n{result['text']}"


def _page_list_line(p: Result) -> str:
    return f"{p['id'][:12]}  {p['title']}  editors: {p['editors']}  updated {p['updated']}"


page_list = _listing("pages", "no pages", _page_list_line)


def _page_history_line(h: Result) -> str:
    return f"{h['version']}  [{h['time']}] {h['author']}: {h['summary']}"


page_history = _listing("history", "no history", _page_history_line)


def page_diff(result: Result, args: Args) -> str:
    """One line a run: "= kept", "+ inserted", "- deleted" (newlines shown escaped)."""
    runs = [f"{op} {text}" for op, text in result["diff"]]
    return "\n".join([f"version {result['version']}", *runs]) if runs else "no change"


# --- issue 16 (s2): moderation log, appeals, context notes ---------------------


def modlog(result: Result, args: Args) -> str:
    if not result["entries"]:
        return "no moderation entries"
    lines = []
    mine = {a["entry"]: a["outcome"] for a in result.get("my_appeals", [])}
    for e in result["entries"]:
        line = f"[{e['time']}] {e['id'][:12]}  {e['action']}  by {e['actor']}"
        if e["target"]:
            line += f"  on {e['target']}"
        if e.get("detail"):
            line += f"  ({e['detail']})"
        if e["rule"]:
            line += f"  rule: {e['rule']}"
        if e["reason"]:
            line += f"  reason: {e['reason']}"
        if e["id"] in mine:
            line += f"  your appeal: {mine[e['id']] or 'open'}"
        lines.append(line)
    return "\n".join(lines)


def appealed(result: Result, args: Args) -> str:
    return "appeal resolved" if result.get("resolved") else str(result["appeal_id"])


def _appeals_line(a: Result) -> str:
    return (
        f"[{a['time']}] {a['id'][:12]}  on entry {a['entry'][:12]} by {a['member']}: "
        f"{a['text'] if a['text'] is not None else '(not sealed to you)'}"
        f"  -> {a['outcome'] or 'open'}"
    )


appeals = _listing("appeals", "no appeals", _appeals_line)


def noted(result: Result, args: Args) -> str:
    return "note removed" if result.get("removed") else "note attached"


# -- issue 15: files ---------------------------------------------------------------


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return str(n)


def attachment_lines(post: Result) -> list[str]:
    return [
        f"    [file] {a['name']} ({_size(a['size'])}, {a['mime']}"
        + (f", {a['width']}x{a['height']}" if a.get("width") else "")
        + (")" if a.get("local") else ", not here yet)")
        + f"  {a['cid']}"
        for a in post.get("attachments", [])
    ]


def saved(result: Result, args: Args) -> str:
    return f"{result['path']}  {_size(result['size'])}"


def attachment_status(result: Result, args: Args) -> str:
    moving = "  (sending)" if result.get("sending") else ""
    return (
        f"{result['state']}: {result['have_chunks']}/{result['total_chunks']} chunks, "
        f"{_size(result['bytes'])} of {_size(result['size'])}{moving}"
    )


def storage(result: Result, args: Args) -> str:
    return f"{_size(result['used'])} used of {_size(result['quota'])}, {result['blobs']} blobs"


# --- issue 16: policy, watched words, held posts ------------------------------


def posted(result: Result, args: Args) -> str:
    held = "  (held for approval by a moderator)" if result.get("held") else ""
    return f"{result['post_id']}{held}"


def policy(result: Result, args: Args) -> str:
    def shown(value: Any, unit: str = "") -> str:
        return "off" if value is None else f"{value}{unit}"

    lines = [f"policy version {result['version']}"]
    for channel, seconds in sorted(result["slow_mode"].items()):
        lines.append(f"slow mode #{escape_line(channel)}: one post per {seconds}s")
    lines += [
        f"posts per minute: {shown(result['posts_per_minute'])}",
        f"max mentions: {shown(result['max_mentions'])}",
        f"max links: {shown(result['max_links'])}",
        f"probation: {shown(result['probation_s'], 's')}"
        + ("  (posts held)" if result["probation_hold"] else ""),
    ]
    return "\n".join(lines)


def _words_line(w: Result) -> str:
    return f"{w['action']:5}  {escape_line(w['word']) if w['word'] is not None else '(sealed before you could read it)'}"


words = _listing("words", "no watched words", _words_line)


def mutes(result: Result, args: Args) -> str:
    lines = [f"word     {escape_line(w)}" for w in result["words"]]
    lines += [f"channel  #{escape_line(c['name'])}" for c in result.get("channels", [])]
    return "\n".join(lines) or "nothing muted"


blocked = _listing(
    "blocked",
    "nobody blocked",
    lambda b: f"{b['peer']}  {escape_line(b['name']) if b['name'] else '(no name)'}",
)


def dismissed(result: Result, args: Args) -> str:
    rows = sorted(result["dismissed"].items(), key=lambda kv: kv[1])
    return "\n".join(f"{time}  {post}" for post, time in rows) or "no dismissed reports"
