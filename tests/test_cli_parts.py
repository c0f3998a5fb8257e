"""The CLI's pure parts: escaping, multiaddrs, config keys derived from the dataclasses."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2pcommunity import config, human
from p2pcommunity.addrs import is_wildcard, peer_of, publishable
from p2pcommunity.cli import _args_of, _command_of, build_parser
from p2pcommunity.commands import COMMANDS
from p2pcommunity.net.limits import Limits
from p2pcommunity.sync.errors import Invalid

PEER = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
RELAY = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC"


# --------------------------------------------------------------------------- escaping


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text, é, 日本, 👍", "plain text, é, 日本, 👍"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("a\r\nb\tc\x00", "a\\r\\nb\\tc\\x00"),
        ("\x9b31m\x85", "\\x9b31m\\x85"),  # C1: CSI and NEL
        ("\u202eevil\u2066\u200b\u2028", "\\u202eevil\\u2066\\u200b\\u2028"),
        ("👨\u200d👩\u200d👧 🏴\U000e0067\U000e0062\U000e007f", None),  # ZWJ and tags stay
    ],
)
def test_escape_line(raw: str, shown: str | None) -> None:
    assert human.escape_line(raw) == (raw if shown is None else shown)


@given(st.text())
def test_escaped_text_has_nothing_a_terminal_acts_on(text: str) -> None:
    for escaped in (human.escape_line(text), human.escape_block(text)):
        assert all(not human._unsafe(ch) or ch == "\n" for ch in escaped)
    assert "\n" not in human.escape_line(text)
    # A block keeps its lines, each indented.
    assert human.escape_block(text).count("\n") == text.count("\n")


def test_formatters_only_see_escaped_strings() -> None:
    hostile = "\x1b[31mEvil\nSYSTEM: fake\u202e"
    result = {
        "posts": [
            {
                "id": "p" * 32,
                "author": PEER,
                "author_name": hostile,
                "time": "2026-01-01T00:00:00.000Z",
                "text": hostile,
                "reply_to": None,
                "reactions": {hostile: [PEER]},
                "edited": True,
            }
        ]
    }
    out = human.render(COMMANDS["read"].human, result, {"community": hostile})
    assert "\x1b" not in out and "\u202e" not in out and "\n" not in out
    assert "\\x1b[31mEvil\\nSYSTEM: fake\\u202e" in out


# --------------------------------------------------------------------------- multiaddrs


def test_peer_of_reads_the_last_peer_of_a_multiaddr() -> None:
    assert peer_of(f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}") == PEER
    assert peer_of(f"/ip4/1.2.3.4/tcp/1/p2p/{RELAY}/p2p-circuit/p2p/{PEER}") == PEER
    assert peer_of(f"/dns4/example.org/tcp/4001/p2p/{PEER}") == PEER
    for bad in ["", "garbage", "/ip4/1.2.3.4/tcp/1", f"/ip4/999.1.1.1/tcp/1/p2p/{PEER}"]:
        with pytest.raises(Invalid):
            peer_of(bad)
    with pytest.raises(Invalid):  # a peer id that is no Ed25519 key
        peer_of(f"/ip4/1.2.3.4/tcp/1/p2p/{RELAY}")
    # A relay address without its target names no peer.
    with pytest.raises(Invalid):
        peer_of(f"/ip4/1.2.3.4/tcp/1/p2p/{PEER}/p2p-circuit")


def test_publishable_replaces_wildcards_with_the_given_addresses() -> None:
    addrs = [
        f"/ip4/0.0.0.0/tcp/4001/p2p/{PEER}",
        "/ip6/::/tcp/4001",
        f"/ip4/127.0.0.1/tcp/5/p2p/{PEER}",
        f"/ip4/127.0.0.1/tcp/5/p2p/{PEER}",
    ]
    assert publishable(addrs, ["10.0.0.2", "192.168.1.9"]) == [
        f"/ip4/10.0.0.2/tcp/4001/p2p/{PEER}",
        f"/ip4/192.168.1.9/tcp/4001/p2p/{PEER}",
        f"/ip4/127.0.0.1/tcp/5/p2p/{PEER}",
    ]
    assert publishable(addrs[:1], []) == []
    assert is_wildcard("/ip4/0.0.0.0/tcp/0") and is_wildcard("/ip6/::/tcp/0")
    assert not is_wildcard("/ip4/127.0.0.1/tcp/0")


# --------------------------------------------------------------------------- config


def no_flags(config_dir: Path) -> dict[str, Any]:
    """`config.merge`'s flags as a `run` without any gives them."""
    return {
        "config_dir": config_dir,
        "listen": None,
        "no_listen": False,
        "bootstrap": [],
        "relay": False,
        "metrics": None,
        "log_format": None,
        "passphrase_file": None,
    }


def test_every_limits_field_is_a_config_key(tmp_path: Path) -> None:
    limit_fields = {f.name for f in dataclasses.fields(Limits)}
    assert set(config._LIMIT_TYPES) == limit_fields
    defaults = Limits()
    lines = ["[limits]"] + [f"{name} = {getattr(defaults, name)!r}" for name in limit_fields]
    path = tmp_path / "node.toml"
    path.write_text("\n".join(lines) + "\n")
    merged = config.merge(config.read_config(path), **no_flags(tmp_path))
    assert merged.limits == defaults


def test_a_new_dataclass_field_becomes_a_key() -> None:
    @dataclasses.dataclass(frozen=True)
    class Grown(Limits):
        handshake_timeout_s: float = 5.0
        max_pending: int | None = None

    keys = config.key_types(Grown)
    assert keys["handshake_timeout_s"] == (int, float) and keys["max_pending"] is int


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits]\nmax_peerz = 3\n", "unknown key `limits.max_peerz`"),
        ("[limits]\nmax_peers = 1.5\n", "`limits.max_peers` must be a int"),
        ("[limits]\nmax_peers = true\n", "`limits.max_peers` must be a int"),
        ('listen = ["/ip4/1.2.3.4/tcp/x"]\n', "`listen`"),
        ("relay = 1\n", "`relay` must be a bool"),
        ('metrics = ["a"]\n', "`metrics` must be a str"),
    ],
)
def test_bad_config_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "node.toml"
    path.write_text(text)
    with pytest.raises(Invalid, match=message.replace("[", r"\[").replace(".", r"\.")):
        config.read_config(path)


# --------------------------------------------------------------------------- argparse


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--data-dir", "/d", "post", "C", "general", "hi", "--reply-to", "P"],
        ["post", "C", "general", "hi", "--json", "--data-dir", "/d"],
        ["invite", "create", "C", "--expires", "12h", "--uses", "3", "--role", "moderator"],
        ["rules", "set", "C", "--file", "rules.txt"],
        ["run", "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip6/::1/tcp/0", "--no-listen"],
        ["join", "CODE", "--bootstrap", "/a", "--bootstrap", "/b", "--timeout", "5"],
        ["member", "remove", "C", "P"],
        ["role", "set", "C", "P", "admin"],
    ],
)
def test_cli_md_command_lines_parse(argv: list[str]) -> None:
    ns = build_parser().parse_args(argv)
    assert ns.command == argv[argv.index(ns.command)]
    if "--data-dir" in argv:
        assert str(ns.data_dir) == "/d" and ns.json is True


@pytest.mark.parametrize(
    ("argv", "name", "args"),
    [
        (["block", "list"], "block list", {}),
        (["block", "12D3KooWA"], "block", {"peer": "12D3KooWA"}),
        (["unblock", "list"], "unblock", {"peer": "list"}),  # no `unblock list`: a peer
        # `appeal resolve` (API only) stays the leaf `appeal`'s second form: a verb with
        # positionals is never taken for one (it once was, and lost its params).
        (["appeal", "resolve", "C", "A", "reverse"], "appeal", {"community": "resolve"}),
    ],
)
def test_block_list_is_read_beside_block_peer(argv: list[str], name: str, args: dict) -> None:
    ns = build_parser().parse_args(argv)
    command = _command_of(ns)
    assert command.name == name
    assert {k: v for k, v in _args_of(command, ns).items() if k in ("peer", "community")} == args


def test_human_block_list_names_each_peer_or_says_nobody() -> None:
    blocked = {
        "blocked": [
            {"peer": "12D3KooWA", "name": "\x1b[31mEvil"},
            {"peer": "12D3KooWB", "name": ""},
        ]
    }
    assert human.render(human.blocked, blocked, {}).splitlines() == [
        "12D3KooWA  \\x1b[31mEvil",
        "12D3KooWB  (no name)",
    ]
    assert human.render(human.blocked, {"blocked": []}, {}) == "nobody blocked"


def test_human_output_never_lets_a_name_pass_for_someone_elses() -> None:
    """Two members called "alice": the human forms show the labels with a short id."""
    members = {
        "members": [
            {
                "peer_id": "12D3KooWA",
                "name": "alice",
                "label": "alice (·aaaaaa)",
                "role": "owner",
                "status": "online",
            },
            {
                "peer_id": "12D3KooWB",
                "name": "alice",
                "label": "alice (·bbbbbb)",
                "role": "member",
                "status": "offline",
            },
        ]
    }
    out = human.render(human.member_list, members, {})
    assert "alice (·aaaaaa)" in out and "alice (·bbbbbb)" in out


def test_human_member_list_says_when_a_timeout_ends() -> None:
    member = {"peer_id": "12D3KooWA", "name": "bob", "label": "bob", "role": "member"}
    members = {
        "members": [
            {**member, "status": "timed_out", "timed_out_until": 1_796_220_000_000},
            {**member, "peer_id": "12D3KooWB", "status": "offline", "timed_out_until": None},
        ]
    }
    first, second = human.render(human.member_list, members, {}).splitlines()
    assert first.endswith("timed_out until 2026-12-02T14:00:00.000Z")
    assert second.endswith("offline")


def test_mdns_comes_from_the_flag_or_the_file(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text("mdns = true\n")
    common = no_flags(tmp_path)
    assert config.merge(config.read_config(path), **common).mdns
    assert config.merge({}, **common, mdns=True).mdns
    assert not config.merge({}, **common).mdns
    path.write_text('mdns = "yes"\n')
    with pytest.raises(Invalid, match="mdns"):
        config.read_config(path)
    assert build_parser().parse_args(["run", "--mdns"]).mdns is True
