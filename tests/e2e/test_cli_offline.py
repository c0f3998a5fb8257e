"""The offline CLI of CLI.md: commands, JSON shapes, errors that change nothing."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli

PEER_ID = re.compile(r"^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$")


def _setup(cli: Cli) -> str:
    cli("init", "--name", "alice")
    community_id: str = cli.json("community", "create", "Gardeners", "--description", "dig")[
        "community_id"
    ]
    return community_id


def _alice_adds_bob(make_cli: Any, *bob_init: str) -> tuple[Cli, Cli, str, str]:
    """Alice's Gardeners (see `_setup`) with Bob, inited with `bob_init`, as a member:
    (alice, bob, the community id, Bob's peer id)."""
    alice, bob = make_cli("alice"), make_cli("bob")
    community_id = _setup(alice)
    bob("init", *bob_init)
    bob_id = bob.json("whoami")["peer_id"]
    alice("member", "add", community_id, bob_id)
    return alice, bob, community_id, bob_id


def _store_snapshot(data_dir: Path) -> list[Any]:
    db = sqlite3.connect(data_dir / "store.sqlite3")
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [(t, db.execute(f"SELECT * FROM {t}").fetchall()) for t in sorted(tables)]
    finally:
        db.close()


def test_init_is_idempotent_and_prints_the_peer_id(cli: Cli) -> None:
    first = cli.json("init", "--name", "alice")
    again = cli.json("init")
    assert PEER_ID.match(first["peer_id"])
    assert again["peer_id"] == first["peer_id"]
    assert cli.json("whoami") == {"peer_id": first["peer_id"], "name": "alice", "addrs": []}
    assert cli("whoami").out.splitlines()[0] == first["peer_id"]


def test_options_work_before_and_after_the_subcommand(cli: Cli) -> None:
    cli("init")
    a = cli.json("whoami")
    b = cli("whoami", "--json").json()
    assert a == b


def test_community_lifecycle_and_json_shapes(cli: Cli) -> None:
    community_id = _setup(cli)
    me = cli.json("whoami")["peer_id"]
    listed = cli.json("community", "list")["communities"]
    assert listed == [
        {
            "id": community_id,
            "name": "Gardeners",
            "role": "owner",
            "members": 1,
            "channels": 1,
            # Added to CLI.md's shape (docs/cli-additions.md):
            "rules_acknowledged": True,
            "timed_out_until": None,
        }
    ]
    shown = cli.json("community", "show", "Gardeners")
    assert shown["id"] == community_id and shown["owner"] == me
    assert shown["description"] == "dig" and shown["role"] == "owner"
    assert [c["name"] for c in shown["channels"]] == ["general"]
    assert set(shown) >= {"rules", "rules_version", "members", "nodes"}

    cli("community", "set", community_id, "--name", "Growers", "--description", "plants")
    assert cli.json("community", "show", "Growers")["description"] == "plants"

    channel_id = cli.json("channel", "create", "Growers", "seeds", "--topic", "swaps")["channel_id"]
    channels = cli.json("channel", "list", "Growers")["channels"]
    assert {
        "id": channel_id,
        "name": "seeds",
        "topic": "swaps",
        "archived": False,
        "unread": 0,
        "mentions": 0,
        "kind": "chat",
        "muted": False,
    } in channels
    cli("channel", "rename", "Growers", "seeds", "seed-swap")
    cli("channel", "archive", "Growers", channel_id)
    archived = [
        c for c in cli.json("channel", "list", "Growers")["channels"] if c["id"] == channel_id
    ]
    assert archived[0]["name"] == "seed-swap" and archived[0]["archived"] is True

    cli("leave", "Growers")
    assert cli.json("community", "list")["communities"] == []


def test_posts_edit_delete_react_read(cli: Cli) -> None:
    _setup(cli)
    me = cli.json("whoami")["peer_id"]
    first = cli.json("post", "Gardeners", "general", "hello there")["post_id"]
    reply = cli.json("post", "Gardeners", "general", "a reply", "--reply-to", first)["post_id"]
    cli("edit", "Gardeners", first, "hello, edited")
    cli("react", "Gardeners", first, "👍")
    posts = cli.json("read", "Gardeners", "general")["posts"]
    assert [p["id"] for p in posts] == [first, reply]
    head = posts[0]
    assert head["text"] == "hello, edited" and head["edited"] is True
    assert head["author"] == me and head["author_name"] == "alice"
    assert head["reactions"] == {"👍": [me]}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", head["time"])
    assert posts[1]["reply_to"] == first
    cli("react", "Gardeners", first, "👍")  # toggles off
    assert cli.json("read", "Gardeners", "general")["posts"][0]["reactions"] == {}
    cli("delete", "Gardeners", reply)
    assert [p["id"] for p in cli.json("read", "Gardeners", "general")["posts"]] == [first]
    assert "hello, edited" in cli("read", "Gardeners", "general").out


def test_read_limit_gives_the_newest_oldest_first(cli: Cli) -> None:
    _setup(cli)
    for i in range(5):
        cli("post", "Gardeners", "general", f"post {i}")
    texts = [p["text"] for p in cli.json("read", "Gardeners", "general", "--limit", "3")["posts"]]
    assert texts == ["post 2", "post 3", "post 4"]


def test_errors_have_codes_and_change_nothing(make_cli: Any) -> None:
    alice, bob, community_id, _ = _alice_adds_bob(make_cli)
    post_id = alice.json("post", community_id, "general", "mine")["post_id"]
    archived = alice.json("channel", "create", community_id, "old")["channel_id"]
    alice("channel", "archive", community_id, archived)

    # Bob gets Alice's community through an export/import, as a member.
    export_dir = alice.data_dir.parent / "export"
    alice("export", community_id, str(export_dir))
    assert bob.json("import", str(export_dir)) == {"community_id": community_id, "pages": 0}
    assert bob.json("community", "show", community_id)["role"] == "member"

    before = _store_snapshot(bob.data_dir)
    cases = [
        (("post", community_id, "old", "hi"), "forbidden"),
        (("edit", community_id, post_id, "not yours"), "forbidden"),
        (("delete", community_id, post_id), "forbidden"),
        (("channel", "create", community_id, "mine"), "forbidden"),
        (("member", "add", community_id, alice.json("whoami")["peer_id"]), "forbidden"),
        (("community", "set", community_id, "--name", "Taken"), "forbidden"),
        (("read", community_id, "nope"), "not_found"),
        (("read", "no-such-community", "general"), "not_found"),
        (("react", community_id, "0" * 32, "x"), "not_found"),
        (("member", "add", community_id, "not-a-peer"), "invalid"),
        (("post", community_id, "general", "   "), "invalid"),
    ]
    for args, code in cases:
        result = bob("--json", *args, check=False)
        assert result.code == 1, args
        assert result.error()["code"] == code, (args, result.err)
        assert "Traceback" not in result.err
    assert _store_snapshot(bob.data_dir) == before


def test_roles_and_member_list(make_cli: Any) -> None:
    alice, _, community_id, bob_id = _alice_adds_bob(make_cli, "--name", "bob")
    alice("role", "set", community_id, bob_id, "moderator")
    members = alice.json("member", "list", community_id)["members"]
    assert [(m["role"], m["status"]) for m in members] == [
        ("owner", "offline"),
        ("moderator", "offline"),
    ]
    assert members[1]["peer_id"] == bob_id
    usage = alice("role", "set", community_id, bob_id, "king", check=False)
    assert usage.code == 2


def test_block_hides_a_peers_posts_locally(make_cli: Any) -> None:
    alice, bob, community_id, bob_id = _alice_adds_bob(make_cli)
    export_dir = alice.data_dir.parent / "export"
    alice("export", community_id, str(export_dir))
    bob("import", str(export_dir))
    bob("post", community_id, "general", "from bob")
    bob("export", community_id, str(export_dir))
    alice("import", str(export_dir))
    assert [p["text"] for p in alice.json("read", community_id, "general")["posts"]] == ["from bob"]
    alice("block", bob_id)
    assert alice.json("read", community_id, "general")["posts"] == []
    alice("unblock", bob_id)
    assert len(alice.json("read", community_id, "general")["posts"]) == 1


def test_identity_export_import(make_cli: Any, tmp_path: Path) -> None:
    alice, restored = make_cli("alice"), make_cli("restored")
    alice("init")
    secret = tmp_path / "pass"
    secret.write_text("correct horse\n")
    key_file = tmp_path / "alice.key"
    alice("identity", "export", str(key_file), "--passphrase-file", str(secret))
    restored("identity", "import", str(key_file), "--passphrase-file", str(secret))
    assert restored.json("whoami")["peer_id"] == alice.json("whoami")["peer_id"]
    again = restored(
        "--json", "identity", "import", str(key_file), "--passphrase-file", str(secret), check=False
    )
    assert again.code == 1 and again.error()["code"] == "exists"


def test_help_and_version(cli: Cli) -> None:
    assert cli("--version").out.startswith("p2pcommunity-node ")
    assert "usage" in cli("post", "--help").out
    assert cli("frobnicate", check=False).code == 2


def test_page_history_sizes_and_diff_shapes(cli: Cli) -> None:
    """Issue 14: history entries gain "added"/"removed"; `page diff` prints the runs."""
    community_id = _setup(cli)
    cli("page", "create", community_id, "Guide", "one\ntwo\n")
    cli("page", "edit", community_id, "Guide", "--replace", "two", "2")
    history = cli.json("page", "history", community_id, "Guide")["history"]
    assert [set(h) for h in history] == [
        {"version", "author", "time", "summary", "added", "removed"}
    ] * 2
    assert [(h["added"], h["removed"]) for h in history] == [(8, 0), (1, 3)]
    version = history[1]["version"]
    assert cli.json("page", "diff", community_id, "Guide", version) == {
        "version": version,
        "diff": [["=", "one\n"], ["-", "two"], ["+", "2"], ["=", "\n"]],
    }
    before = _store_snapshot(cli.data_dir)
    missing = cli("--json", "page", "diff", community_id, "Guide", "abcdef00", check=False)
    assert missing.code == 1 and missing.error()["code"] == "not_found"
    assert _store_snapshot(cli.data_dir) == before


def test_attachment_keep_shape_and_unknown_cid(cli: Cli, tmp_path: Path) -> None:
    community_id = _setup(cli)
    notes = tmp_path / "notes.txt"
    notes.write_text("bring gloves\n", encoding="utf-8")
    cli("post", community_id, "general", "see file", "--attach", str(notes))
    root = cli.json("read", community_id, "general")["posts"][-1]["attachments"][0]["cid"]
    assert cli.json("attachment", "keep", community_id, root) == {"cid": root, "kept": True}
    unknown = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # CID of b""
    result = cli("--json", "attachment", "keep", community_id, unknown, check=False)
    assert result.code == 1 and result.error()["code"] == "not_found"
