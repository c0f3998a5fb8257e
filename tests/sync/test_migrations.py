"""Today's code opens the stores release 0.1.0 wrote (tests/fixtures/store-0.1.0/).

Each test works on a copy of the fixture's data dirs. One checks that the
migration reached today's schema exactly (the same tables, columns and
indexes as a fresh store); one that every read model (posts, edits,
deletions, reactions, profiles, roles, members, reports, hidden posts,
timeouts, unread counts, search, invites) prints what 0.1.0 printed and
what the generator made; one that a migrated store serves a fresh node
over real libp2p on 127.0.0.1.

Every later schema change adds its step to sync/storage/migrations.py and extends
this module: a check of what the step did to the fixture's data (a new
column's backfill, a new table's rows), so that each step is run on a store
that old code really wrote. Never regenerate the fixture with new code.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from p2pcommunity import cli
from p2pcommunity.sync.errors import NewerStore, StoreCorrupt
from p2pcommunity.sync.storage import migrations
from p2pcommunity.sync.storage.store import Store
from tests.e2e.conftest import Cli
from tests.e2e.nodes import start_node, wait_for

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store-0.1.0"
DEVICES = ("alice", "bob", "carol")
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    out = tmp_path / "store-0.1.0"
    shutil.copytree(FIXTURE, out)
    return out


def run(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str) -> Any:
    """One offline CLI command in this process: the same code path as the subprocess."""
    capsys.readouterr()
    code = cli.main(["--data-dir", str(data_dir), "--json", *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def contains(expected: Any, actual: Any, where: str = "") -> None:
    """`actual` holds everything in `expected`; later releases may add keys."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing"
            contains(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            contains(e, a, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


# 0.1.0 printed an invite's role as the number of its Role enum, against CLI.md.
_ROLE_NUMBERS = {1: "member", 2: "moderator"}


def fixed_since_0_1_0(invites: dict[str, Any]) -> dict[str, Any]:
    """What 0.1.0 printed, with the bugs fixed since (each named here) fixed."""
    return {
        "invites": [
            invite | {"role": _ROLE_NUMBERS.get(invite["role"], invite["role"])}
            for invite in invites["invites"]
        ]
    }


def accept_rules_left_unacknowledged(
    capsys: pytest.CaptureFixture[str], data_dir: Path, community: str
) -> None:
    """0.1.0 never asked a member added directly (`member add`) to acknowledge the rules;
    now nothing of the community shows until they do (issue 13, finding 1). Such a
    member sees the rules once after the upgrade; everyone else is not asked again."""
    if run(capsys, data_dir, "community", "show", community)["rules_acknowledged"]:
        return
    capsys.readouterr()
    code = cli.main(["--data-dir", str(data_dir), "--json", "read", community, "general"])
    assert code == 1 and '"rules_pending"' in capsys.readouterr().err
    run(capsys, data_dir, "rules", "accept", community)


def unread_fixed_since_0_1_0(channels: dict[str, Any], who: str, community: str) -> dict[str, Any]:
    """0.1.0 counted posts moderation hid as unread (issue 13, finding 4); now they
    are not. The fixture marks nothing read, so each such post by another counted."""
    made = EXPECTED["made"]
    hidden: dict[str, int] = {}
    for post in made["posts"].values():
        counted = post["hidden"] and not post["deleted"] and post["author"] != who
        if post["community"] == community and counted:
            hidden[post["channel"]] = hidden.get(post["channel"], 0) + 1
    return {
        "channels": [
            channel | {"unread": channel["unread"] - hidden.get(channel["name"], 0)}
            for channel in channels["channels"]
        ]
    }


def schema(path: Path) -> dict[str, Any]:
    """Tables, columns and indexes, independent of how the DDL was written."""
    db = sqlite3.connect(path)
    try:
        out: dict[str, Any] = {}
        for name, kind, ncol, wr in db.execute(
            "SELECT name, type, ncol, wr FROM pragma_table_list WHERE schema='main' "
            "AND name NOT LIKE 'sqlite_%'"
        ):
            columns = db.execute(f"PRAGMA table_xinfo('{name}')").fetchall()
            indexes = {}
            for _, index, unique, origin, partial in db.execute(f"PRAGMA index_list('{name}')"):
                cols = [r[2] for r in db.execute(f"PRAGMA index_xinfo('{index}')") if r[5]]
                indexes[index if origin == "c" else origin] = (unique, partial, cols)
            out[name] = (kind, ncol, wr, columns, indexes)
        for kind, name, sql in db.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
        ):
            # partial indexes: their WHERE lives only in the SQL; triggers are only SQL
            if sql is not None:
                out[f"{kind} {name}"] = " ".join(sql.split())
        return out
    finally:
        db.close()


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def set_user_version(path: Path, raw: int) -> None:
    """Write the raw schema version, as another release (or a stranger) would have."""
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={raw}")
    db.close()


def test_fixture_is_what_0_1_0_wrote() -> None:
    for who in DEVICES:
        assert user_version(FIXTURE / who / "store.sqlite3") == 1
        assert not (FIXTURE / who / "node.lock").exists()


def test_migrated_store_has_todays_schema(copy: Path, tmp_path: Path) -> None:
    path = copy / "alice" / "store.sqlite3"
    store = Store(path)
    assert store.schema_version() == migrations.CURRENT == (1, 8)
    # 1.6 (issue 16): posts by author, in document order.
    indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "posts_by_author" in indexes
    history = store.db.execute("SELECT version, how FROM schema_history").fetchall()
    # 1.2 (issue 14): the knowledge read models start empty.
    for table in ("topic_meta", "votes", "author_accepts"):
        assert store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    # 1.3 (issue 14): the page tables, empty: 0.1.0 had no pages.
    assert store.db.execute("SELECT count(*) FROM page_changes").fetchone() == (0,)
    assert store.db.execute("SELECT count(*) FROM pages").fetchone() == (0,)
    # 1.4 (issue 15): the blob tables exist and are empty; nothing was attached before.
    assert store.blobs.usage() == (0, 0)
    assert store.db.execute("SELECT count(*) FROM post_attachments").fetchone() == (0,)
    # 1.5 (issue 16): the personal-safety lists exist and are empty (local, never synced).
    assert store.personal.words() == []
    for table in ("muted_channels", "dismissed_reports"):
        assert store.db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
    # 1.7 (issue 14): every live root post 0.1.0 held has its counters, as computed now.
    stats = store.db.execute(
        "SELECT topic_id, replies, last_activity_ms, up, down, answer FROM topic_stats"
    ).fetchall()
    expected = store.db.execute(
        "SELECT p.id, (SELECT COUNT(*) FROM posts r WHERE r.reply_to = p.id AND r.deleted = 0), "
        "max(p.author_ms, coalesce((SELECT MAX(r.author_ms) FROM posts r "
        "WHERE r.reply_to = p.id AND r.deleted = 0), 0)), 0, 0, NULL "
        "FROM posts p WHERE p.reply_to IS NULL AND p.deleted = 0"
    ).fetchall()
    assert stats and sorted(stats) == sorted(expected)
    # 1.8 (issue 14): page change sizes, empty (0.1.0 had no pages).
    assert store.db.execute("SELECT count(*) FROM page_sizes").fetchone() == (0,)
    store.close()
    assert history == [
        (1001, "migrated"),
        (1002, "migrated"),
        (1003, "migrated"),
        (1004, "migrated"),
        (1005, "migrated"),
        (1006, "migrated"),
        (1007, "migrated"),
        (1008, "migrated"),
    ]
    assert user_version(path) == migrations.encode(migrations.CURRENT)
    fresh = tmp_path / "fresh.sqlite3"
    Store(fresh).close()
    assert schema(path) == schema(fresh)
    Store(path).close()  # opening again migrates nothing
    assert schema(path) == schema(fresh)


def test_every_read_model_survives_the_upgrade(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made, views = EXPECTED["made"], EXPECTED["views"]
    for who in DEVICES:
        data_dir = copy / who
        view = views[who]
        contains(view["communities"], run(capsys, data_dir, "community", "list")["communities"])
        for name, entry in view["by_community"].items():
            accept_rules_left_unacknowledged(capsys, data_dir, name)
            show = entry["show"] | unread_fixed_since_0_1_0(entry["show"], who, name)
            contains(show, run(capsys, data_dir, "community", "show", name), name)
            # unread counts are in the channel list
            contains(
                unread_fixed_since_0_1_0(entry["channels"], who, name),
                run(capsys, data_dir, "channel", "list", name),
                name,
            )
            # roles, profile names, the timeout
            contains(entry["members"], run(capsys, data_dir, "member", "list", name), name)
            for channel, posts in entry["read"].items():
                got = run(capsys, data_dir, "read", name, channel)
                contains(posts, got, f"{who} {name}#{channel}")
            for query, found in entry["search"].items():
                contains(found, run(capsys, data_dir, "search", name, query), f"{who} {query}")
            if "reports" in entry:
                contains(entry["reports"], run(capsys, data_dir, "reports", name), name)
            if "invites" in entry:
                contains(
                    fixed_since_0_1_0(entry["invites"]),
                    run(capsys, data_dir, "invite", "list", name),
                    name,
                )
        assert Store(data_dir / "store.sqlite3").schema_version() == migrations.CURRENT

    # And against what the generator did, not only against what 0.1.0 printed.
    alice = copy / "alice"
    peers = {peer: who for who, peer in made["peers"].items()}
    shown = {}
    for name, community in made["communities"].items():
        for channel in community["channels"]:
            for post in run(capsys, alice, "read", name, channel)["posts"]:
                shown[post["id"]] = post
    for post_id, post in made["posts"].items():
        if post["deleted"] or post["hidden"]:
            assert post_id not in shown
            continue
        got = shown[post_id]
        assert (got["text"], got["edited"], got["reply_to"]) == (
            post["text"],
            post["edited"],
            post["reply_to"],
        )
        assert peers[got["author"]] == post["author"]
        reactions = {e: sorted(peers[p] for p in ps) for e, ps in got["reactions"].items()}
        assert reactions == {e: sorted(ws) for e, ws in post["reactions"].items()}
    members = run(capsys, alice, "member", "list", "garden")["members"]
    roles = {peers[m["peer_id"]]: m["role"] for m in members}
    assert roles == made["roles"]["garden"]
    assert {peers[m["peer_id"]] for m in members if m["status"] == "timed_out"} == {"carol"}
    assert {peers[m["peer_id"]]: m["name"] for m in members} == made["names"]
    reports = run(capsys, alice, "reports", "garden")["reports"]
    assert [(r["post"], peers[r["reporter"]], r["reason"]) for r in reports] == [
        (r["post"], r["reporter"], r["reason"]) for r in made["reports"]
    ]
    invites = {i["invite_id"]: i for i in run(capsys, alice, "invite", "list", "garden")["invites"]}
    assert invites[made["unused_invite"]]["uses_left"] == 5
    assert run(capsys, alice, "page", "list", "garden") == {"pages": []}
    found = run(capsys, alice, "search", "garden", "potatoes")["posts"]
    assert [p["text"] for p in found] == ["Potatoes like sandy soil"]
    assert run(capsys, alice, "search", "garden", "deleted")["posts"] == []


def test_migrated_store_syncs_with_a_fresh_node(copy: Path, tmp_path: Path) -> None:
    alice, dave = Cli(copy / "alice"), Cli(tmp_path / "dave")
    dave_id = dave.json("init", "--name", "dave")["peer_id"]
    expected = EXPECTED["views"]["alice"]["by_community"]["garden"]["read"]
    garden = EXPECTED["made"]["communities"]["garden"]["id"]
    node = start_node(alice)
    try:
        alice("member", "add", "garden", dave_id)
        joined = dave.json("join", garden, "--bootstrap", node.addr, "--timeout", "40")
        assert joined["community_id"] == garden
    finally:
        node.stop()
    assert user_version(copy / "alice" / "store.sqlite3") == migrations.encode(migrations.CURRENT)
    for channel, posts in expected.items():
        # `join` syncs the log and general; other channels' posts are in the same
        # member documents, so they are there too once join returns.
        got = wait_for(lambda channel=channel: dave.json("read", "garden", channel)["posts"])
        fields = ("id", "author", "author_name", "time", "text", "reply_to", "reactions", "edited")
        assert [{k: p[k] for k in fields} for p in got] == [
            {k: p[k] for k in fields} for p in posts["posts"]
        ], channel
        assert all(p["attachments"] == [] for p in got)  # issue 15: derived, and empty


def test_all_steps_run_in_one_transaction(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copy / "bob" / "store.sqlite3"
    before = schema(path)

    def broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("step 1.3 failed")

    monkeypatch.setitem(migrations.STEPS, (1, 3), broken)
    monkeypatch.setattr(migrations, "CURRENT", (1, 3))
    with pytest.raises(RuntimeError, match=r"step 1\.3"):
        Store(path)
    # 1.1 and 1.2 ran before 1.3 failed, and are rolled back with it.
    assert user_version(path) == 1
    assert schema(path) == before


def test_newer_major_is_refused_and_left_alone(copy: Path) -> None:
    path = copy / "carol" / "store.sqlite3"
    set_user_version(path, 2003)
    before = path.read_bytes()
    with pytest.raises(NewerStore) as refused:
        Store(path)
    assert refused.value.code == "too_new"
    assert "2.3" in str(refused.value) and "1.x" in str(refused.value)
    assert path.read_bytes() == before


def test_newer_minor_opens_without_changing_its_version(copy: Path) -> None:
    path = copy / "carol" / "store.sqlite3"
    Store(path).close()  # to 1.1, then pretend a later 1.x release wrote it
    set_user_version(path, 1099)
    store = Store(path)
    assert store.schema_version() == (1, 99)
    assert store.community_ids()
    store.close()
    assert user_version(path) == 1099


def test_version_packing() -> None:
    assert migrations.decode(1) == (1, 0)  # release 0.1.0
    assert migrations.decode(migrations.encode((3, 42))) == (3, 42)
    assert migrations.encode((1, 1)) == 1001
    assert migrations.pending((1, 0)) == [
        (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8)
    ]  # fmt: skip
    assert migrations.pending((1, 1)) == [(1, 2), (1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8)]
    assert migrations.pending(migrations.CURRENT) == []
    assert max(migrations.STEPS) == migrations.CURRENT
    with pytest.raises(ValueError):
        migrations.decode(7)
    with pytest.raises(ValueError):
        migrations.encode((1, 1000))


@pytest.mark.parametrize("raw", [7, 999])
def test_unknown_old_version_is_corrupt_not_recreated(copy: Path, raw: int) -> None:
    path = copy / "alice" / "store.sqlite3"
    set_user_version(path, raw)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt):
        Store(path)
    assert path.read_bytes() == before


def test_tables_without_a_version_are_not_overwritten(copy: Path) -> None:
    path = copy / "alice" / "store.sqlite3"
    set_user_version(path, 0)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match="not a p2pcommunity store"):
        Store(path)
    assert path.read_bytes() == before
