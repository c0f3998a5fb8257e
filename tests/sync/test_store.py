"""Store behaviour that its in-memory shortcuts must not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pcommunity.sync.storage.store import Store


def test_community_ids_follow_adds_deletes_and_rollbacks(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    assert store.community_ids() == []
    with store.transaction():
        store.add_community(a, 1)
    assert store.community_ids() == [a]

    with pytest.raises(RuntimeError), store.transaction():
        store.add_community(b, 2)
        assert store.community_ids() == [a, b]  # seen inside its transaction
        raise RuntimeError("roll back")
    assert store.community_ids() == [a]

    store.add_community(c, 3)  # outside a transaction: autocommit
    assert store.community_ids() == [a, c]
    store.delete_community(a)
    assert store.community_ids() == [c]
    store.close()
    assert Store(tmp_path / "s.sqlite3").community_ids() == [c]
