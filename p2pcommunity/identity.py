"""The device identity: one Ed25519 key per installation (ARCHITECTURE §3).

The same 32-byte seed is the signing key of everything this device writes,
its Automerge actor id (the public key) and its libp2p host key, so it lives
in exactly one file and every other form is derived from it on demand. Losing
or silently replacing that file would orphan the device from its own
history, so the file is only ever written whole (temp file, fsync, rename),
never over an existing identity, and a damaged file is an error rather than a
reason to make a new key. This is a "device key": linking several devices to
one member is a later, separate notion.

libp2p is imported only inside `to_libp2p_key_pair` so that the CLI and the
desktop app can read an identity without loading the network stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.utils
from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from p2pcommunity.sync.errors import DomainError, Exists, Invalid
from p2pcommunity.sync.peerid import peer_id_from_public_key

if TYPE_CHECKING:
    from libp2p.crypto.keys import KeyPair

KEY_FILE = "identity.key"
FORMAT = "p2pcommunity-identity"
VERSION = 1
PASSPHRASE_ENV = "P2PCOMMUNITY_PASSPHRASE"
SEED_SIZE = 32
# A key file is a few hundred bytes; anything far larger is not one.
_MAX_FILE_SIZE = 64 * 1024


class IdentityLocked(DomainError, code="locked"):
    """The key is sealed and no passphrase, or a wrong one, was given."""


@dataclass(frozen=True)
class DeviceIdentity:
    # repr=False: an identity printed in a log or traceback must not leak the key.
    signing_key: SigningKey = field(repr=False)

    @classmethod
    def generate(cls) -> DeviceIdentity:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceIdentity:
        if len(seed) != SEED_SIZE:
            raise Invalid(f"an identity seed is {SEED_SIZE} bytes, not {len(seed)}")
        return cls(SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    @property
    def public_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @property
    def peer_id(self) -> str:
        return peer_id_from_public_key(self.public_key)

    def to_libp2p_key_pair(self) -> KeyPair:
        from libp2p.crypto.ed25519 import Ed25519PrivateKey
        from libp2p.crypto.keys import KeyPair

        private_key = Ed25519PrivateKey.from_bytes(self.seed)
        return KeyPair(private_key, private_key.get_public_key())

    def __repr__(self) -> str:
        return f"DeviceIdentity(peer_id={self.peer_id!r})"


def ensure_data_dir(path: Path) -> Path:
    """Create the data dir private to this user (0700); leave an existing one alone."""
    # umask rather than chmod afterwards: no moment where the dir or a
    # parent we create is readable by others.
    old_umask = os.umask(0o077)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise Invalid(f"data dir {path} exists and is not a directory") from None
    finally:
        os.umask(old_umask)
    return path


def load_identity(data_dir: Path, passphrase: str | None = None) -> DeviceIdentity | None:
    """The identity in `data_dir`, or None if it has none yet."""
    path = data_dir / KEY_FILE
    if not path.exists():
        return None
    return _decode(_read_key_file(path), passphrase, path)


def create_identity(data_dir: Path, passphrase: str | None = None) -> DeviceIdentity:
    """Make a new identity; refuse (Exists) if the data dir already has one."""
    _check_new_passphrase(passphrase)
    identity = DeviceIdentity.generate()
    ensure_data_dir(data_dir)
    _write_key_file(data_dir / KEY_FILE, _encode(identity.seed, passphrase), replace=False)
    return identity


def load_or_create_identity(data_dir: Path, passphrase: str | None = None) -> DeviceIdentity:
    identity = load_identity(data_dir, passphrase)
    if identity is not None:
        return identity
    try:
        return create_identity(data_dir, passphrase)
    except Exists:
        # Another process (node and app starting together) created it first.
        identity = load_identity(data_dir, passphrase)
        assert identity is not None
        return identity


def export_identity(identity: DeviceIdentity, file: Path, passphrase: str) -> None:
    """Write a sealed copy of the identity; an export is never stored in clear."""
    if not passphrase:
        raise Invalid("an exported identity must be sealed: give a non-empty passphrase")
    _write_key_file(file, _encode(identity.seed, passphrase), replace=True)


def import_identity(
    data_dir: Path, file: Path, passphrase: str, store_passphrase: str | None = None
) -> DeviceIdentity:
    """Install the identity from `file` into an empty data dir.

    `passphrase` unseals `file` (an unsealed file, such as a copied
    identity.key, needs none and ignores it). The new key file is sealed
    with `store_passphrase` if given, in clear otherwise. After an
    import the node must sync its own documents back before writing
    (ARCHITECTURE §3); that is the caller's duty.
    """
    target = data_dir / KEY_FILE
    if target.exists():
        raise Exists(f"{data_dir} already has an identity; refusing to replace it")
    _check_new_passphrase(store_passphrase)
    if not file.is_file():
        raise Invalid(f"no identity file at {file}")
    identity = _decode(_read_key_file(file), passphrase, file)
    ensure_data_dir(data_dir)
    _write_key_file(target, _encode(identity.seed, store_passphrase), replace=False)
    return identity


def passphrase_from_env_or_file(passphrase_file: Path | None) -> str | None:
    """`--passphrase-file` (first line) wins over $P2PCOMMUNITY_PASSPHRASE; else None."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise Invalid(f"cannot read passphrase file {passphrase_file}: {e}") from None
        lines = text.splitlines()
        passphrase = lines[0].strip() if lines else ""
        if not passphrase:
            raise Invalid(f"passphrase file {passphrase_file} is empty")
        return passphrase
    return os.environ.get(PASSPHRASE_ENV) or None


# -- file format ------------------------------------------------------------


def _check_new_passphrase(passphrase: str | None) -> None:
    if passphrase is not None and not passphrase:
        raise Invalid("an empty passphrase would seal nothing: give one, or none")


def _passphrase_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFC: the same passphrase typed on macOS (NFD input) and Linux must unseal.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    key: bytes = argon2id.kdf(
        SecretBox.KEY_SIZE, secret, salt, opslimit=opslimit, memlimit=memlimit
    )
    return key


def _encode(seed: bytes, passphrase: str | None) -> bytes:
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if passphrase is None:
        doc |= {"sealed": False, "seed": seed.hex()}
    else:
        salt = nacl.utils.random(argon2id.SALTBYTES)
        opslimit, memlimit = argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE
        box = SecretBox(_passphrase_key(passphrase, salt, opslimit, memlimit)).encrypt(seed)
        doc |= {
            "sealed": True,
            "kdf": "argon2id",
            "salt": salt.hex(),
            "opslimit": opslimit,
            "memlimit": memlimit,
            "box": bytes(box).hex(),
        }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _read_key_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise Invalid(f"cannot read identity file {path}: {e}") from None
    if len(raw) > _MAX_FILE_SIZE:
        raise Invalid(f"{path} is not an identity file (too large)")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Invalid(f"{path} is not an identity file (corrupt JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Invalid(f"{path} is not an identity file")
    if doc.get("version") != VERSION:
        raise Invalid(f"{path} has identity format version {doc.get('version')!r}; expected 1")
    return doc


def _field(doc: dict[str, Any], name: str, kind: type, path: Path) -> Any:
    value = doc.get(name)
    # bool is an int subclass: `"opslimit": true` is still corrupt.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise Invalid(f"{path} is corrupt: field {name!r} is missing or not a {kind.__name__}")
    return value


def _hex_field(doc: dict[str, Any], name: str, size: int | None, path: Path) -> bytes:
    try:
        value = bytes.fromhex(_field(doc, name, str, path))
    except ValueError:
        raise Invalid(f"{path} is corrupt: field {name!r} is not hex") from None
    if size is not None and len(value) != size:
        raise Invalid(f"{path} is corrupt: field {name!r} is not {size} bytes")
    return value


def _decode(doc: dict[str, Any], passphrase: str | None, path: Path) -> DeviceIdentity:
    if not _field(doc, "sealed", bool, path):
        return DeviceIdentity.from_seed(_hex_field(doc, "seed", SEED_SIZE, path))
    if doc.get("kdf") != "argon2id":
        raise Invalid(f"{path} is corrupt: unknown kdf {doc.get('kdf')!r}")
    salt = _hex_field(doc, "salt", argon2id.SALTBYTES, path)
    opslimit = _field(doc, "opslimit", int, path)
    memlimit = _field(doc, "memlimit", int, path)
    # Bounded so that a tampered file cannot make unsealing take minutes or
    # gigabytes; SENSITIVE is the most any version of this code writes.
    if not argon2id.OPSLIMIT_MIN <= opslimit <= argon2id.OPSLIMIT_SENSITIVE:
        raise Invalid(f"{path} is corrupt: opslimit {opslimit} out of range")
    if not argon2id.MEMLIMIT_MIN <= memlimit <= argon2id.MEMLIMIT_SENSITIVE:
        raise Invalid(f"{path} is corrupt: memlimit {memlimit} out of range")
    box = _hex_field(doc, "box", SecretBox.NONCE_SIZE + SecretBox.MACBYTES + SEED_SIZE, path)
    if not passphrase:
        raise IdentityLocked(
            f"the identity in {path} is sealed: give its passphrase "
            f"(--passphrase-file or ${PASSPHRASE_ENV})"
        )
    try:
        seed = SecretBox(_passphrase_key(passphrase, salt, opslimit, memlimit)).decrypt(box)
    except CryptoError:
        raise IdentityLocked(f"wrong passphrase for the identity in {path}") from None
    return DeviceIdentity.from_seed(seed)


def _write_key_file(path: Path, data: bytes, *, replace: bool) -> None:
    """Write `data` to `path` whole or not at all, mode 0600.

    With replace=False an existing file is never overwritten, even by a
    concurrent writer: the final step is a hard link, which fails if the
    name exists, instead of a rename, which would clobber it.
    """
    # mkstemp creates the file 0600 from the start: the key is never readable by others.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise Exists(f"{path} already exists; refusing to replace it") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
