"""Run one CLI command against the data dir directly, then exit.

Used when no node runs for the data dir (ARCHITECTURE §1). Identity
commands live here because they act on the key file, not on the store.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from p2pcommunity import archive
from p2pcommunity.commands import execute
from p2pcommunity.datadir import DataDir
from p2pcommunity.identity import (
    create_identity,
    export_identity,
    import_identity,
    passphrase_from_env_or_file,
)
from p2pcommunity.sync.errors import Invalid, NotFound

_NOT_PARAMS = {"command", "action", "data_dir", "json", "passphrase_file"}


def params_of(args: argparse.Namespace) -> dict[str, Any]:
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in _NOT_PARAMS
    }


def _passphrase(args: argparse.Namespace, prompt: str) -> str | None:
    found = passphrase_from_env_or_file(getattr(args, "passphrase_file", None))
    if found is None and sys.stdin.isatty():
        found = getpass.getpass(prompt)
    return found


def run_offline(
    data_dir: Path, command: str, args: argparse.Namespace, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    with DataDir(data_dir) as opened:
        if command == "identity import":
            secret = _passphrase(args, "Passphrase of the exported key: ")
            if secret is None:
                raise Invalid(
                    "give the passphrase with --passphrase-file or P2PCOMMUNITY_PASSPHRASE"
                )
            identity = import_identity(data_dir, args.file, secret)
            return {"peer_id": identity.peer_id}
        passphrase = passphrase_from_env_or_file(getattr(args, "passphrase_file", None))
        if command == "init":
            identity = opened.identity(passphrase) or create_identity(data_dir, passphrase)
            service = opened.open(identity)
            if args.name:
                service.set_display_name(args.name)
            return service.whoami()
        found = opened.identity(passphrase)
        if found is None:
            raise NotFound(f"no identity in {data_dir}: run `p2pcommunity-node init` first")
        identity = found
        if command == "identity export":
            secret = _passphrase(args, "Passphrase to seal the exported key: ")
            if not secret:
                raise Invalid("give a passphrase with --passphrase-file or P2PCOMMUNITY_PASSPHRASE")
            export_identity(identity, args.file, secret)
            return {"peer_id": identity.peer_id}
        service = opened.open(identity)
        if command == "export":
            return archive.export_community(service, args.community, args.dir)
        if command == "import":
            return archive.import_community(service, args.dir)
        return execute(service, command, params if params is not None else params_of(args))
