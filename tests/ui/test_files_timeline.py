"""Attachments in the timeline between two real apps: a card's Save and an image's click.

Alice's node holds the files; Bob's app fetches them through his node over
libp2p (127.0.0.1). The save dialog is the only thing replaced
(files_helpers.choose_save_path); the rest are clicks on the painted timeline.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from p2pcommunity.ui.app import App

from .conftest import start_with_name
from .files_helpers import choose_save_path, click, photo, places
from .test_app_flow import create_community
from .test_two_apps import SYNC_MS, call, join_as_member


def rows_with_files(app: App) -> list[int]:
    return [i for i, r in enumerate(app.chat.timeline.rows()) if r.get("attachments")]


def test_a_card_saves_identical_bytes_with_progress_and_an_image_opens(
    qtbot, make_app, tmp_path, monkeypatch
) -> None:
    alice, bob = (make_app(name) for name in ("alice", "bob"))
    for app, name in ((alice, "Alice"), (bob, "Bob")):
        start_with_name(qtbot, app, name)
    community = create_community(qtbot, alice, "Climbing club")
    join_as_member(qtbot, alice, bob, community)
    data = os.urandom(3 * 1024 * 1024 + 123)  # 13 chunks of 256 KiB
    archive = tmp_path / "guidebook.zip"
    archive.write_bytes(b"PK\x03\x04" + data)
    pic = photo(tmp_path / "crag.png")
    for text, path in (("the guidebook", archive), ("the crag", pic)):
        params = {"channel": "general", "text": text, "attach": [str(path)]}
        call(qtbot, alice, "post", {"community": community, **params})
    qtbot.waitUntil(lambda: len(rows_with_files(bob)) == 2, timeout=SYNC_MS)
    bob.window.show()
    qtbot.waitExposed(bob.window)

    transfers = bob.chat.files.transfers
    states: list[str] = []
    running: list[int] = []
    transfers.changed.connect(lambda cid: states.append(transfers.status.get(cid, {}).get("state")))
    transfers.running_changed.connect(running.append)
    saved: list[tuple[str, str]] = []
    transfers.saved.connect(lambda cid, path: saved.append((cid, path)))

    card_row, image_row = rows_with_files(bob)
    (card,) = places(qtbot, bob, card_row)
    assert card.save is not None and card.att["name"] == "guidebook.zip"
    assert card.att["mime"] == "application/zip" and not card.att["local"]
    target = tmp_path / "saved" / "guidebook.zip"
    target.parent.mkdir()
    choose_save_path(monkeypatch, target)
    click(qtbot, bob, card.save.center())
    qtbot.waitUntil(lambda: bool(saved), timeout=SYNC_MS)
    assert saved == [(card.att["cid"], str(target))]
    assert target.read_bytes() == archive.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["guidebook.zip"]  # no .part left
    assert "fetching" in states and transfers.status[card.att["cid"]]["state"] == "complete"
    assert running and running[0] >= 1 and running[-1] == 0  # the status bar's indicator
    assert not bob.chat.files.indicator.isVisible()
    status = call(qtbot, bob, "attachment status", {"community": community, "cid": card.att["cid"]})
    assert (status["have_chunks"], status["total_chunks"]) == (13, 13)
    assert status["bytes"] == status["size"] == archive.stat().st_size
    # Alice's node served the chunks, and said so
    qtbot.waitUntil(
        lambda: (
            alice.chat.files.transfers.status.get(card.att["cid"], {}).get("sent_chunks", 0) >= 13
        ),
        timeout=SYNC_MS,
    )

    (image,) = places(qtbot, bob, image_row)
    assert image.save is None and transfers.thumb(image.att) is not None
    click(qtbot, bob, image.box.center())
    cid = image.att["cid"]
    qtbot.waitUntil(lambda: cid in bob.chat.files.viewers, timeout=SYNC_MS)
    viewer = bob.chat.files.viewers[cid]
    qtbot.waitExposed(viewer)
    full = transfers.image(cid)
    assert full is not None and (full.width(), full.height()) == (800, 500)
    assert viewer.windowTitle() == "crag.png"
    assert not list((bob.data_dir / "viewing").iterdir())  # decoded, then removed
    qtbot.mouseClick(viewer.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cid not in bob.chat.files.viewers, timeout=5_000)
