from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from libp2p.peer.id import ID

from p2pcommunity.identity import (
    KEY_FILE,
    PASSPHRASE_ENV,
    DeviceIdentity,
    IdentityLocked,
    create_identity,
    ensure_data_dir,
    export_identity,
    import_identity,
    load_identity,
    load_or_create_identity,
    passphrase_from_env_or_file,
)
from p2pcommunity.sync.errors import Exists, Invalid
from p2pcommunity.sync.peerid import public_key_from_peer_id


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_data_dir_is_private_and_an_existing_one_is_left_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "b"
    assert ensure_data_dir(data_dir) == data_dir
    assert _mode(data_dir) == 0o700
    assert _mode(tmp_path / "a") == 0o700
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    ensure_data_dir(existing)
    assert _mode(existing) == 0o755
    (tmp_path / "file").write_text("")
    with pytest.raises(Invalid):
        ensure_data_dir(tmp_path / "file")


@pytest.mark.parametrize("passphrase", [None, "correct horse"])
def test_key_file_mode_and_no_temp_files_left(tmp_path: Path, passphrase: str | None) -> None:
    data_dir = tmp_path / "data"
    create_identity(data_dir, passphrase)
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / KEY_FILE) == 0o600
    assert [p.name for p in data_dir.iterdir()] == [KEY_FILE]


def test_plain_round_trip(tmp_path: Path) -> None:
    identity = create_identity(tmp_path)
    doc = json.loads((tmp_path / KEY_FILE).read_text())
    assert doc == {
        "format": "p2pcommunity-identity",
        "version": 1,
        "sealed": False,
        "seed": identity.seed.hex(),
    }
    loaded = load_identity(tmp_path)
    assert loaded == identity
    assert loaded is not None and loaded.peer_id == identity.peer_id
    assert len(identity.public_key) == 32
    assert public_key_from_peer_id(identity.peer_id) == identity.public_key


def test_sealed_round_trip_keeps_the_seed_out_of_the_file(tmp_path: Path) -> None:
    identity = create_identity(tmp_path, "correct horse")
    text = (tmp_path / KEY_FILE).read_text()
    assert identity.seed.hex() not in text
    doc = json.loads(text)
    assert doc["sealed"] is True and doc["kdf"] == "argon2id"
    assert set(doc) == {"format", "version", "sealed", "kdf", "salt", "opslimit", "memlimit", "box"}
    assert load_identity(tmp_path, "correct horse") == identity


def test_sealed_without_or_with_a_wrong_passphrase_is_locked(tmp_path: Path) -> None:
    create_identity(tmp_path, "correct horse")
    for wrong in (None, "", "Correct horse"):
        with pytest.raises(IdentityLocked) as info:
            load_identity(tmp_path, wrong)
        assert info.value.code == "locked"
        assert "passphrase" in str(info.value)


def test_passphrase_is_unicode_normalised(tmp_path: Path) -> None:
    identity = create_identity(tmp_path, "caf\u00e9")  # NFC
    assert load_identity(tmp_path, "cafe\u0301") == identity  # NFD, as macOS types it


def test_no_key_file_loads_none_and_load_or_create_is_stable(tmp_path: Path) -> None:
    assert load_identity(tmp_path / "missing") is None
    first = load_or_create_identity(tmp_path / "d")
    assert load_or_create_identity(tmp_path / "d") == first


def test_create_never_replaces_an_identity(tmp_path: Path) -> None:
    create_identity(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(Exists) as info:
        create_identity(tmp_path)
    assert info.value.code == "exists"
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe",
        b"not json",
        b"[]",
        b'{"format": "something-else", "version": 1}',
        b'{"format": "p2pcommunity-identity", "version": 2, "sealed": false}',
        b'{"format": "p2pcommunity-identity", "version": 1}',
        b'{"format": "p2pcommunity-identity", "version": 1, "sealed": 0, "seed": ""}',
        b'{"format": "p2pcommunity-identity", "version": 1, "sealed": false, "seed": "zz"}',
        b'{"format": "p2pcommunity-identity", "version": 1, "sealed": false, "seed": "00"}',
        b'{"format": "p2pcommunity-identity", "version": 1, "sealed": false, "seed": 5}',
    ],
)
def test_corrupt_file_is_invalid(tmp_path: Path, content: bytes) -> None:
    (tmp_path / KEY_FILE).write_bytes(content)
    with pytest.raises(Invalid):
        load_identity(tmp_path)
    with pytest.raises(Invalid):
        load_or_create_identity(tmp_path)
    assert (tmp_path / KEY_FILE).read_bytes() == content


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("kdf", "scrypt"),
        ("salt", "00"),
        ("opslimit", True),
        ("opslimit", 0),
        ("memlimit", 1 << 40),  # a tampered file must not make us allocate a terabyte
        ("box", "abcd"),
        ("box", None),
    ],
)
def test_corrupt_sealed_file_is_invalid_even_with_the_passphrase(
    tmp_path: Path, name: str, value: object
) -> None:
    create_identity(tmp_path, "pw")
    path = tmp_path / KEY_FILE
    doc = json.loads(path.read_text())
    doc[name] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(Invalid):
        load_identity(tmp_path, "pw")


def test_tampered_box_is_locked_not_a_new_key(tmp_path: Path) -> None:
    create_identity(tmp_path, "pw")
    path = tmp_path / KEY_FILE
    doc = json.loads(path.read_text())
    box = bytearray.fromhex(doc["box"])
    box[-1] ^= 1
    doc["box"] = box.hex()
    path.write_text(json.dumps(doc))
    with pytest.raises(IdentityLocked):
        load_identity(tmp_path, "pw")


def test_export_import_round_trip(tmp_path: Path) -> None:
    identity = create_identity(tmp_path / "old")
    export = tmp_path / "backup.key"
    export_identity(identity, export, "backup pw")
    assert _mode(export) == 0o600
    assert json.loads(export.read_text())["sealed"] is True

    plain = import_identity(tmp_path / "new", export, "backup pw")
    assert plain.peer_id == identity.peer_id
    assert load_identity(tmp_path / "new") == identity
    assert _mode(tmp_path / "new") == 0o700
    assert _mode(tmp_path / "new" / KEY_FILE) == 0o600

    sealed = import_identity(tmp_path / "sealed", export, "backup pw", store_passphrase="local")
    assert sealed.peer_id == identity.peer_id
    with pytest.raises(IdentityLocked):
        load_identity(tmp_path / "sealed")
    assert load_identity(tmp_path / "sealed", "local") == identity


def test_an_empty_passphrase_is_refused_not_used(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        create_identity(tmp_path / "d", "")
    assert load_identity(tmp_path / "d") is None


def test_export_refuses_an_empty_passphrase(tmp_path: Path) -> None:
    with pytest.raises(Invalid):
        export_identity(DeviceIdentity.generate(), tmp_path / "x.key", "")
    assert not (tmp_path / "x.key").exists()


def test_import_refuses_an_existing_identity_and_changes_nothing(tmp_path: Path) -> None:
    export = tmp_path / "backup.key"
    export_identity(DeviceIdentity.generate(), export, "pw")
    data_dir = tmp_path / "data"
    create_identity(data_dir)
    before = _snapshot(data_dir)
    with pytest.raises(Exists) as info:
        import_identity(data_dir, export, "pw")
    assert info.value.code == "exists"
    assert _snapshot(data_dir) == before


def test_import_with_a_wrong_passphrase_writes_nothing(tmp_path: Path) -> None:
    export = tmp_path / "backup.key"
    export_identity(DeviceIdentity.generate(), export, "pw")
    with pytest.raises(IdentityLocked):
        import_identity(tmp_path / "data", export, "nope")
    assert load_identity(tmp_path / "data") is None
    with pytest.raises(Invalid):
        import_identity(tmp_path / "data", tmp_path / "missing.key", "pw")


def test_libp2p_key_pair_has_the_same_peer_id() -> None:
    identity = DeviceIdentity.generate()
    key_pair = identity.to_libp2p_key_pair()
    assert key_pair.public_key.to_bytes() == identity.public_key
    assert ID.from_pubkey(key_pair.public_key).to_base58() == identity.peer_id
    signature = key_pair.private_key.sign(b"hello")
    assert identity.signing_key.verify_key.verify(b"hello", signature) == b"hello"


def test_repr_does_not_leak_the_seed() -> None:
    identity = DeviceIdentity.generate()
    assert identity.seed.hex() not in repr(identity)
    assert identity.peer_id in repr(identity)


def test_passphrase_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    assert passphrase_from_env_or_file(None) is None
    monkeypatch.setenv(PASSPHRASE_ENV, "")
    assert passphrase_from_env_or_file(None) is None
    monkeypatch.setenv(PASSPHRASE_ENV, "from env")
    assert passphrase_from_env_or_file(None) == "from env"
    file = tmp_path / "pw"
    file.write_text("  from file \nsecond line\n")
    assert passphrase_from_env_or_file(file) == "from file"
    file.write_text("\n")
    with pytest.raises(Invalid):
        passphrase_from_env_or_file(file)
    with pytest.raises(Invalid):
        passphrase_from_env_or_file(tmp_path / "missing")
