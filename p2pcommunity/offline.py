"""Run one CLI command against the data dir directly, then exit.

Used when no node runs for the data dir (ARCHITECTURE §1). `OfflineContext`
is the offline `Context` of commands.py: it holds the data dir lock for the
one command and opens the store only when the command asks for the
service, so that the identity commands (which act on the key file, not on
the store) and `join` (which starts its own in-process node) never open it
twice. An offline node listens nowhere and has no peers.
"""

from __future__ import annotations

import getpass
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2pcommunity import archive
from p2pcommunity.command_spec import Args, Command, Outcome, Result
from p2pcommunity.datadir import DataDir
from p2pcommunity.identity import (
    DeviceIdentity,
    create_identity,
    export_identity,
    import_identity,
    passphrase_from_env_or_file,
)
from p2pcommunity.sync.errors import Invalid, NotFound
from p2pcommunity.sync.service import Service


def identity_loader(
    passphrase_file: str | None, create: bool
) -> Callable[[DataDir], DeviceIdentity]:
    """Loads (or with `create`, makes) the device key of an opened data dir."""

    def load(opened: DataDir) -> DeviceIdentity:
        passphrase = passphrase_from_env_or_file(Path(passphrase_file) if passphrase_file else None)
        identity = opened.identity(passphrase)
        if identity is None:
            if not create:
                raise NotFound(f"no identity in {opened.path}: run `p2pcommunity-node init` first")
            identity = create_identity(opened.path, passphrase)
        return identity

    return load


def _passphrase(passphrase_file: str | None, prompt: str) -> str | None:
    found = passphrase_from_env_or_file(Path(passphrase_file) if passphrase_file else None)
    if found is None and sys.stdin.isatty():
        found = getpass.getpass(prompt)
    return found


class OfflineContext:
    def __init__(self, data_dir: Path, opened: DataDir, passphrase_file: str | None) -> None:
        self.data_dir = data_dir
        self.opened = opened
        self.passphrase_file = passphrase_file

    @property
    def service(self) -> Service:
        if self.opened.service is None:
            self.opened.open(identity_loader(self.passphrase_file, create=False)(self.opened))
        assert self.opened.service is not None
        return self.opened.service

    def addrs(self) -> list[str]:
        return []

    def online(self) -> frozenset[bytes]:
        return frozenset()

    def publishable(self) -> list[str]:
        return []

    def init(self, name: str | None) -> Outcome:
        service = self.opened.open(identity_loader(self.passphrase_file, create=True)(self.opened))
        if name:
            service.set_display_name(name)
        return service.whoami()

    def join(
        self, community: str, bootstrap: list[str], timeout: float, acknowledge: bool
    ) -> Outcome:
        raise AssertionError("run_offline hands join to joining.join_in_process")

    def leave(self, community: str) -> Outcome:
        return self.service.leave(community)

    def export(self, community: str, directory: str) -> Outcome:
        return archive.export_community(self.service, community, Path(directory))

    def import_(self, directory: str) -> Outcome:
        return archive.import_community(self.service, Path(directory))

    def identity_export(self, file: str) -> Outcome:
        identity = identity_loader(self.passphrase_file, create=False)(self.opened)
        secret = _passphrase(self.passphrase_file, "Passphrase to seal the exported key: ")
        if not secret:
            raise Invalid("give a passphrase with --passphrase-file or P2PCOMMUNITY_PASSPHRASE")
        export_identity(identity, Path(file), secret)
        return {"peer_id": identity.peer_id}

    def identity_import(self, file: str) -> Outcome:
        secret = _passphrase(self.passphrase_file, "Passphrase of the exported key: ")
        if secret is None:
            raise Invalid("give the passphrase with --passphrase-file or P2PCOMMUNITY_PASSPHRASE")
        identity = import_identity(self.data_dir, Path(file), secret)
        return {"peer_id": identity.peer_id}


def run_offline(data_dir: Path, command: Command, args: Args) -> Result:
    """`command` on the data dir itself, holding its lock for the command's length."""
    passphrase_file: Any = args.get("passphrase_file")
    if command.name == "join":
        from p2pcommunity.joining import join_in_process

        loader = identity_loader(passphrase_file, create=False)
        return join_in_process(
            data_dir,
            loader,
            args["community"],
            args["bootstrap"],
            args["timeout"],
            args.get("acknowledge", True),
        )
    assert command.call is not None
    with DataDir(data_dir) as opened:
        outcome = command.call(OfflineContext(data_dir, opened, passphrase_file), args)
        assert not inspect.isawaitable(outcome), f"{command.name} is async offline"
        return outcome
