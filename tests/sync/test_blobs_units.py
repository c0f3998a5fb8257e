"""Issue 15 without a network: CIDs against known vectors, refs and manifests from peers,
limits checked before anything is stored, wrong types refused."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from p2pcommunity.sync.blobs import cid as cids
from p2pcommunity.sync.blobs import manifest as mf
from p2pcommunity.sync.blobs.sniff import sniff
from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store


def test_cids_match_known_vectors() -> None:
    # `ipfs add --raw-leaves --cid-version 1` / multiformats' published examples.
    assert (
        cids.to_text(cids.of(b"")) == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    )
    assert (
        cids.to_text(cids.of(b"hello world"))
        == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )


@given(st.binary(max_size=300))
def test_cid_text_round_trips_and_agrees_with_py_cid(data: bytes) -> None:
    import multihash
    from cid import make_cid

    ours = cids.of(data)
    assert cids.from_text(cids.to_text(ours)) == ours
    theirs = make_cid(1, "raw", multihash.digest(data, "sha2-256").encode())
    assert theirs.buffer == ours


@pytest.mark.parametrize("text", ["", "Qm" + "a" * 44, "b" + "a" * 58, "bafkrei" + "!" * 52])
def test_bad_cid_text_is_refused(text: str) -> None:
    with pytest.raises(cids.BadCid):
        cids.from_text(text)


@pytest.mark.parametrize(
    "name", ["../../x", "a/b", "..", ".", "a\\b", "x\x00y", "\u202eexe.txt", ""]
)
def test_path_like_names_are_refused(name: str) -> None:
    assert mf.name_problem(name) is not None
    ref = mf.Ref(cids.of(b"m", cids.DAG_CBOR), "ok.txt", 1, "text/plain").to_value()
    ref["name"] = name
    assert isinstance(mf.parse_ref(ref), str)


def test_sniffing_ignores_the_name() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff(b"%PDF-1.7") == "application/pdf"
    assert sniff(b"MZ\x90\x00\x03") == "application/octet-stream"
    assert sniff("héllo".encode()) == "text/plain"


@pytest.fixture
def service(tmp_path: Path) -> Service:
    store = Store(tmp_path / "store.sqlite3")
    return Service(store, SigningKey.generate(), lambda: int(time.time() * 1000))


def test_an_over_limit_file_is_refused_before_anything_is_stored(
    service: Service, tmp_path: Path
) -> None:
    cid = service.community_create("c")["community_id"]
    small, big = tmp_path / "small.txt", tmp_path / "big.bin"
    small.write_text("fine\n")
    with big.open("wb") as f:
        f.truncate(mf.DEFAULT_MAX_FILE_SIZE + 1)
    with pytest.raises(Invalid) as refused:
        service.post(cid, "general", "two files", attach=[str(small), str(big)])
    assert refused.value.code == "too_large"
    assert service.files.storage() == {"used": 0, "quota": service.files.quota, "blobs": 0}
    assert service.read(cid, "general")["posts"] == []
    assert not (tmp_path / "blobs").exists()


def test_the_same_bytes_are_stored_once(service: Service, tmp_path: Path) -> None:
    cid = service.community_create("c")["community_id"]
    one, two = tmp_path / "one.bin", tmp_path / "two.bin"
    data = os.urandom(3 * mf.CHUNK_SIZE)
    one.write_bytes(data)
    two.write_bytes(data)
    service.post(cid, "general", "a", attach=[str(one)])
    service.post(cid, "general", "b", attach=[str(two)])
    assert service.files.storage()["used"] == len(data)


def _manifest_for(service: Service, tmp_path: Path, claimed: str) -> mf.Manifest:
    path = tmp_path / "f.txt"
    path.write_text("not an image at all\n")
    return mf.chunk_file(path, "f.png", claimed, None, lambda c, d: None)


def test_a_wrong_mime_is_refused(service: Service, tmp_path: Path) -> None:
    manifest = _manifest_for(service, tmp_path, "image/png")
    data = (tmp_path / "f.txt").read_bytes()
    service.store.blobs.add_blob(manifest, own=False, now_ms=0)
    with pytest.raises(mf.BadManifest):
        service.files.accept_chunk(manifest, 0, data)
    assert service.store.blobs.missing(manifest.ref.root)
    assert not (tmp_path / "blobs").exists()


def test_a_manifest_must_match_its_cid(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    manifest = mf.chunk_file(path, "f.txt", "text/plain", None, lambda c, d: None)
    assert mf.parse_manifest(manifest.raw, manifest.ref.root).ref == manifest.ref
    with pytest.raises(mf.BadManifest):
        mf.parse_manifest(manifest.raw + b"\x00", manifest.ref.root)
    with pytest.raises(mf.BadManifest):
        mf.parse_manifest(manifest.raw, cids.of(b"other", cids.DAG_CBOR))


def test_a_decompression_bomb_gets_no_thumbnail(tmp_path: Path) -> None:
    import struct
    import zlib

    from p2pcommunity.sync.blobs.images import inspect

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    assert inspect(path) is None


def test_admins_set_the_file_limit_and_it_holds(service: Service, tmp_path: Path) -> None:
    cid = service.community_create("c")["community_id"]
    service.community_set(cid, None, None, "1kB")
    f = tmp_path / "f.txt"
    f.write_text("x" * 1001)
    with pytest.raises(Invalid) as refused:
        service.post(cid, "general", "too big now", attach=[str(f)])
    assert refused.value.code == "too_large"
    for bad in ("3GB", "0", "lots", "-5MB"):
        with pytest.raises(Invalid):
            service.community_set(cid, None, None, bad)
    service.community_set(cid, None, None, "2GB")
    service.post(cid, "general", "fits again", attach=[str(f)])


def test_export_carries_blobs_and_import_verifies_them(service: Service, tmp_path: Path) -> None:
    from p2pcommunity.archive import export_community, import_community

    cid = service.community_create("c")["community_id"]
    f = tmp_path / "f.bin"
    f.write_bytes(os.urandom(2 * mf.CHUNK_SIZE + 5))
    service.post(cid, "general", "file", attach=[str(f)])
    out = tmp_path / "export"
    assert export_community(service, cid, out)["blobs"] == 1
    tampered = tmp_path / "tampered"
    import shutil

    shutil.copytree(out, tampered)
    # The last chunk (5 bytes): the two before it verify, and must not stay either.
    victim = min((tampered / "blobs" / "chunks").iterdir(), key=lambda p: p.stat().st_size)
    victim.write_bytes(b"\x00" + victim.read_bytes()[1:])
    for source, expected in ((tampered, False), (out, True)):
        other_dir = tmp_path / f"other-{source.name}"
        other_dir.mkdir()
        other = Service(Store(other_dir / "s.sqlite3"), SigningKey.generate(), lambda: 1)
        assert import_community(other, source) == {"community_id": cid, "pages": 0}
        posts = other.read(cid, "general")["posts"]
        assert posts[0]["attachments"][0]["local"] is expected
        chunk_files = list((other_dir / "blobs").rglob("*"))
        assert any(p.is_file() for p in chunk_files) is expected  # refused: none kept


def test_a_topic_attaches_files_and_its_limits_hold(service: Service, tmp_path: Path) -> None:
    cid = service.community_create("c")["community_id"]
    service.channel_create(cid, "help", kind="forum")
    f, big = tmp_path / "map.pdf", tmp_path / "big.bin"
    f.write_bytes(b"%PDF-1.7\n" + os.urandom(mf.CHUNK_SIZE))
    with big.open("wb") as out:
        out.truncate(mf.DEFAULT_MAX_FILE_SIZE + 1)
    with pytest.raises(Invalid) as refused:
        service.knowledge.topic_create(cid, "help", "Where?", "see", attach=[str(f), str(big)])
    assert refused.value.code == "too_large"
    assert service.files.storage()["blobs"] == 0
    topic = service.knowledge.topic_create(cid, "help", "Where?", "the map", attach=[str(f)])
    posts = service.thread(cid, topic["post_id"])["posts"]
    (attachment,) = posts[0]["attachments"]
    assert (attachment["name"], attachment["mime"], attachment["local"]) == (
        "map.pdf",
        "application/pdf",
        True,
    )
    assert attachment["size"] == f.stat().st_size
