"""Every command's human output, on a running node, with hostile community strings.

One `p2pcommunity-node run` on 127.0.0.1 serves Alice's data dir; each command
of the table that the CLI offers runs once in its human form (Bob's `join`
and the identity commands run in-process, as they do for a user). Each must
exit 0 and print something sensible, and none may print a control character
or bidi override: the texts, reasons and descriptions below carry ANSI
escapes, carriage returns and U+202E, as a member whose app skips its checks
could send them. Also: a closed stdout (`| head -1`) ends a command quietly.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from p2pcommunity.command_spec import Where
from p2pcommunity.commands import TABLE
from tests.e2e.conftest import NODE, Cli
from tests.e2e.nodes import start_node

ANSI = "\x1b[31m"
HOSTILE = f"{ANSI}red\x1b[0m\r\nSYSTEM: your node key leaked \u202eevil\x07"
# What a terminal would act on: C0 but the newline, DEL, C1, bidi controls.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


class Human:
    """Runs commands in their human form and remembers which ones ran."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, cli: Cli, name: str, *args: str, expect: str = "") -> str:
        result = cli(*name.split(), *args, check=False)
        assert result.code == 0, (name, args, result.err)
        assert "Traceback" not in result.err, result.err
        assert result.out.strip(), f"{name} printed nothing"
        assert not UNSAFE.search(result.out), (name, result.out)
        assert expect in result.out, (name, expect, result.out)
        self.seen.add(name)
        return result.out


# Well over a hundred CLI processes and three nodes: on a machine loaded by other
# jobs this took over five minutes, past the suite's 120 s hang guard.
@pytest.mark.timeout(480)
def test_every_command_prints_escaped_human_output(make_cli: Any, tmp_path: Path) -> None:
    alice, bob, carol, restored = (make_cli(n) for n in ("alice", "bob", "carol", "restored"))
    human = Human()
    bob("init", "--name", "bob")
    carol("init", "--name", "carol")
    bob_id, carol_id = bob.json("whoami")["peer_id"], carol.json("whoami")["peer_id"]
    alice("init")
    node = start_node(alice)
    try:
        human.seen.add("run")  # it is the node, printing its address
        assert node.addr.startswith("/ip4/127.0.0.1/tcp/") and "/p2p/" in node.addr
        me = node.addr.rsplit("/", 1)[1]
        human(alice, "init", "--name", "alice", expect="name: alice")
        human(alice, "whoami", expect=node.addr)
        human(alice, "profile set", "--bio", HOSTILE, expect="saved")
        cid = human(alice, "community create", "Gardeners", "--description", HOSTILE).strip()
        assert re.fullmatch("[0-9a-f]{64}", cid)
        human(alice, "community list", expect="Gardeners")
        shown = human(alice, "community set", cid, "--description", "dig\n" + HOSTILE)
        assert "updated" in shown
        shown = human(alice, "community show", cid, expect="SYSTEM")
        # The description keeps its lines, each indented: none can pass for ours.
        assert "\n  dig\n  \\x1b[31mred\\x1b[0m\\r\n  SYSTEM" in shown
        human(alice, "channel create", cid, "seeds", "--topic", HOSTILE)
        human(alice, "channel rename", cid, "seeds", "seed-swap", expect="seed-swap")
        human(alice, "channel archive", cid, "seed-swap", expect="archived")
        human(alice, "channel list", cid, expect="#seed-swap  (archived)")
        post = human(alice, "post", cid, "general", HOSTILE).strip()
        human(alice, "edit", cid, post, "edited " + HOSTILE, expect="edited")
        human(alice, "react", cid, post, "👍", expect="reacted 👍")
        out = human(alice, "read", cid, "general", "--limit", "10")
        # One line per post: the post's own newline cannot start a fake line.
        assert out.count("\n") == 1 and "\\x1b[31m" in out and "\\u202e" in out, out
        assert out.startswith("[") and "alice: edited" in out
        human(alice, "thread", cid, post, expect="alice: edited")
        # Issue 15: a file attached, listed, saved elsewhere; storage counts it.
        notes = tmp_path / "notes.txt"
        notes.write_text("bring gloves\n", encoding="utf-8")
        human(alice, "post", cid, "general", "see file", "--attach", str(notes))
        human(alice, "read", cid, "general", expect="[file] notes.txt (13 B, text/plain)")
        root = alice.json("read", cid, "general")["posts"][-1]["attachments"][0]["cid"]
        saved = tmp_path / "saved.txt"
        human(alice, "attachment save", cid, root, str(saved), expect="saved.txt  13 B")
        assert saved.read_text(encoding="utf-8") == "bring gloves\n"
        human(alice, "attachment status", cid, root, expect="complete: 1/1 chunks, 13 B of 13 B")
        human(alice, "storage", expect="1 blobs")
        human(alice, "attachment keep", cid, root, expect="kept")
        gone = alice.json("post", cid, "general", "oops")["post_id"]
        human(alice, "delete", cid, gone, expect="deleted")
        human(alice, "search", cid, "edited")  # the index may lag: "no posts" is fine
        human(alice, "rules set", cid, "Be kind. " + HOSTILE, expect="1")
        rules = tmp_path / "rules.txt"
        rules.write_text("Be kind.\nNo spam.\n", encoding="utf-8")
        human(alice, "rules set", cid, "--file", str(rules), expect="2")
        human(alice, "rules accept", cid, expect="rules version 2 acknowledged")
        code = human(alice, "invite create", cid, "--uses", "2").strip()
        human(alice, "invite list", cid, expect="member")
        spare = alice.json("invite", "create", cid)["invite_id"]
        human(alice, "invite revoke", cid, spare, expect="revoked")
        assert "REVOKED" in human(alice, "invite list", cid)

        joined = human(bob, "join", code, "--timeout", "30", expect=cid)
        assert "Rules (version 2, acknowledged):\n  Be kind.\n  No spam." in joined
        human(alice, "member add", cid, carol_id, expect=carol_id)
        human(alice, "member list", cid, expect="owner")
        human(alice, "role set", cid, bob_id, "moderator", expect="moderator")
        # Issue 14: knowledge. Bob's topic reaches alice's node through a sync.
        human(alice, "channel create", cid, "help", "--kind", "qa")
        human(alice, "tag create", cid, "soil", expect="soil")
        human(alice, "tag list", cid, expect="soil")
        mine = human(alice, "topic create", cid, "help", "Why \u202eevil", "x", "--tag", "soil")
        mine = mine.strip()
        bob("join", cid, "--bootstrap", node.addr, "--timeout", "30")
        theirs = bob.json("topic", "create", cid, "help", "Compost?", "how")["post_id"]
        answer = bob.json("post", cid, "help", "water it", "--reply-to", mine)["post_id"]
        bob("join", cid, "--bootstrap", node.addr, "--timeout", "30")
        human(alice, "vote", cid, theirs, "up", expect="+1 (1 up, 0 down)")
        human(alice, "accept", cid, answer, expect="accepted")
        human(alice, "pin", cid, mine, expect="pinned")
        listed = human(alice, "topics", cid, "help", "--sort", "votes", expect="pinned solved")
        assert listed.count("\n") == 2 and "#soil" in listed and "\\u202e" in listed, listed
        human(alice, "unaccept", cid, mine, expect="no accepted answer")
        human(alice, "unpin", cid, mine, expect="unpinned")
        human(alice, "timeout", cid, bob_id, "1h", expect="timed out")
        human(alice, "untimeout", cid, bob_id, expect="again")
        human(alice, "report", cid, post, HOSTILE, expect="reported")
        human(alice, "reports", cid, expect="SYSTEM")
        human(alice, "hide", cid, post, "--reason", HOSTILE, expect="hidden")
        human(alice, "unhide", cid, post, expect="shown")
        # Issue 16 (s2): the modlog, an appeal of one's own hidden post, a context note.
        human(alice, "hide", cid, post, "--reason", HOSTILE, "--rule", HOSTILE, expect="hidden")
        entry = alice.json("modlog", cid)["entries"][0]["id"]
        appeal = human(alice, "appeal", cid, entry, "please " + HOSTILE).strip()
        human(alice, "appeals", cid, expect="-> open")
        human(
            alice, "appeal", "resolve", cid, appeal, "reverse", "--note", HOSTILE, expect="resolved"
        )
        human(alice, "modlog", cid, "--limit", "5", expect="your appeal: reverse")
        human(alice, "note", cid, post, "Context: " + HOSTILE, expect="attached")
        human(alice, "note", "remove", cid, post, expect="removed")
        human(alice, "policy set", cid, "slow_mode.general", "1s", expect="one post per 1s")
        human(alice, "policy show", cid, expect="policy version 1")
        human(alice, "words add", cid, "w33ds", "--action", "flag", expect="watching")
        human(alice, "words add", cid, "gone", expect="watching")
        human(alice, "words remove", cid, "gone", expect="no longer")
        human(alice, "words list", cid, expect="flag   w33ds")
        flagged = alice.json("post", cid, "general", "WEEDS " + HOSTILE)["post_id"]
        human(alice, "pending", cid, expect="[flagged: watched word]")
        human(alice, "approve", cid, flagged, expect="approved")
        flagged = alice.json("post", cid, "general", "weeds again, later")["post_id"]
        human(alice, "reject", cid, flagged, "--reason", HOSTILE, expect="rejected")
        human(alice, "node add", cid, carol_id, f"/ip4/127.0.0.1/tcp/9/p2p/{carol_id}")
        human(alice, "node remove", cid, carol_id, expect="unlisted")
        page_file = tmp_path / "page.md"
        page_file.write_text("# Guide\n\nStep one.\n", encoding="utf-8")
        page = human(alice, "page create", cid, "Guide", "--file", str(page_file)).strip()
        human(alice, "page edit", cid, "Guide", "--append", HOSTILE, expect="edited")
        human(alice, "page edit", cid, page, "--replace", "one", "1", expect="edited")
        human(alice, "page show", cid, "Guide", expect="Step 1.")
        human(alice, "page edit", cid, "Guide", "--attach", str(notes), expect="edited")
        human(alice, "page show", cid, "Guide", expect="[file] notes.txt")
        human(alice, "page list", cid, expect="Guide")
        first = alice.json("page", "history", cid, "Guide")["history"][0]["version"]
        human(alice, "page history", cid, "Guide", expect=first)
        human(alice, "page diff", cid, "Guide", first, expect="+ # Guide")
        human(alice, "page revert", cid, "Guide", first, expect="reverted")
        human(alice, "page editors", cid, "Guide", "moderators", expect="moderators")
        human(alice, "member remove", cid, carol_id, expect="removed")
        human(alice, "block", bob_id, expect="blocked")
        human(alice, "block list", expect=bob_id)
        human(alice, "unblock", bob_id, expect="unblocked")
        human(alice, "block list", expect="nobody blocked")
        human(alice, "mute add", "w33ds", expect="muted")
        human(alice, "channel mute", cid, "general", expect="channel muted")
        muted = human(alice, "mute list", "--community", cid, expect="w33ds")
        assert "#general" in muted
        human(alice, "channel unmute", cid, "general", expect="unmuted")
        human(alice, "mute remove", "w33ds", expect="unmuted")
        human(alice, "dismiss", cid, post, expect="dismissed")
        human(alice, "dismissed", cid, expect=post)
        status = human(alice, "status", expect=me)
        assert "Gardeners" in status and "documents" in status
        export = tmp_path / "export"
        human(alice, "export", cid, str(export), expect="documents")
        human(alice, "import", str(export), expect=cid)
        secret = tmp_path / "pass"
        secret.write_text("correct horse\n")
        key = tmp_path / "bob.key"
        human(bob, "identity export", str(key), "--passphrase-file", str(secret), expect=bob_id)
        human(restored, "identity import", str(key), "--passphrase-file", str(secret))
        human(alice, "leave", cid, expect="left")
    finally:
        assert node.stop() == 0
    offered = {c.name for c in TABLE if c.cli}
    assert human.seen == offered, offered ^ human.seen
    assert {c.name for c in TABLE if c.where is Where.PROCESS} <= human.seen


def _to_closed_pipe(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is already gone: every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*NODE, "--data-dir", str(cli.data_dir), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_quietly(cli: Cli) -> None:
    cli("init", "--name", "alice")
    cid = cli.json("community", "create", "Gardeners")["community_id"]
    for _ in range(3):
        cli("post", cid, "general", "x" * 2000)
    cases = [("whoami",), ("--json", "status"), ("read", cid, "general")]
    for args in [*cases, ("--help",), ("post", "--help")]:
        done = _to_closed_pipe(cli, *args)
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert done.stderr == "", (args, done.stderr)
        # argparse itself ignores a failed write of --help; our output exits 1.
        assert done.returncode == (0 if "--help" in args else 1), args
    node = start_node(cli)
    try:
        for args in cases:
            done = _to_closed_pipe(cli, *args)
            assert done.stderr == "" and done.returncode == 1, (args, done.stderr)
        assert cli.json("whoami")["name"] == "alice"  # the node was not disturbed
    finally:
        assert node.stop() == 0
