"""The layers of ARCHITECTURE §2, checked on the source (an AST walk, no imports run).

`sync/` is domain and protocol logic: it imports no event loop (trio,
asyncio), no Qt, no libp2p or multiaddr, no sockets, and nothing of
p2pcommunity outside `sync/` (net, control, ui, cli, runtime ... are upper
layers). `ui/` is the GUI process: Qt, the standard library minus what would
let it touch the store or the network itself, and of p2pcommunity only
`ui/`, the control client and the few pure modules the client shares with
the node (`ALLOWED_IN_UI`, each with its reason).

Why an AST walk and not import-linter: the contracts here are "direct
imports only" on purpose (the transitive question, "does the GUI process
load trio?", is answered for real by importing the UI in a subprocess, see
`test_the_gui_process_loads_no_node_code`), every import counts wherever it
sits (inside a function, under TYPE_CHECKING), and the checker takes any
package root, so `test_the_checker_catches_each_kind_of_leak` can show it
failing on a throwaway package.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import p2pcommunity

PACKAGE = Path(p2pcommunity.__file__).parent

# Third-party and standard-library top-level modules that `sync/` must not import.
FORBIDDEN_IN_SYNC = {
    "trio": "the node's event loop lives in net/; sync/ is sans-I/O",
    "anyio": "an event loop",
    "asyncio": "an event loop",
    "socket": "sync/ does no network I/O",
    "PySide6": "Qt is the GUI's",
    "shiboken6": "Qt is the GUI's",
    "libp2p": "libp2p is net/'s",
    "multiaddr": "multiaddrs are net/'s",
}

# What `ui/` may import of p2pcommunity, besides `p2pcommunity.ui.*`.
ALLOWED_IN_UI = {
    "p2pcommunity": "the package root: `__version__` for --version and the about box",
    "p2pcommunity.control.client": "the control client",
    "p2pcommunity.control.protocol": (
        "the control API's wire format (line codec, error codes, socket path): the Qt "
        "client in ui/client.py speaks it, and one codec means GUI and node cannot disagree"
    ),
    "p2pcommunity.control.transport": (
        "where the node's control API listens (socket path or loopback TCP endpoint file "
        "and token): the Qt client must find the node the way the CLI does"
    ),
}

# Third-party modules `ui/` may import; the standard library is allowed minus UI_FORBIDDEN_STDLIB.
ALLOWED_THIRD_PARTY_IN_UI = {
    "PySide6": "Qt",
    "shiboken6": "Qt's binding runtime",
    "segno": "draws the invite QR code; pure Python, no I/O",
    "jeepney": "marshals D-Bus Notify calls (sans-I/O; ui/dbus_notify.py moves the bytes on Qt)",
}
UI_FORBIDDEN_STDLIB = {
    "sqlite3": "the GUI never opens the store: the node is its only writer",
    "socket": "the GUI talks to the node over QLocalSocket only",
    "asyncio": "no second event loop next to Qt's",
    "threading": "no threads in the GUI process",
}

# Leaks that exist and are being removed. Each one is skipped by the layer tests
# and asserted by `test_known_leaks_are_gone`, an xfail strict: when the leak
# is fixed that test passes, fails as XPASS, and the entry and the mark go.
# (ui/app.py importing p2pcommunity.cli was the last, fixed in issue 12.)
KNOWN_LEAKS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    file: str  # relative to the package root, e.g. "sync/storage/store.py"
    line: int
    module: str  # absolute dotted name

    def __str__(self) -> str:
        return f"{self.file}:{self.line} imports {self.module}"


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(root: Path, dotted: str) -> bool:
    """Whether `dotted` (under the package `root`) is a module or package on disk."""
    rel = Path(*dotted.split(".")[1:])
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def imports(root: Path, path: Path) -> Iterator[Import]:
    """Every import statement of `path`, with relative imports made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = _module_name(root, path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    rel = path.relative_to(root).as_posix()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                # `from p2pcommunity.control import client` imports the module
                # p2pcommunity.control.client; `from x import name` imports x.
                sub = f"{module}.{alias.name}"
                inside = module.split(".")[0] == root.name
                yield Import(rel, node.lineno, sub if inside and _is_module(root, sub) else module)


def _files(root: Path, layer: str) -> list[Path]:
    return sorted((root / layer).rglob("*.py"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def sync_violations(root: Path) -> list[Import]:
    own = f"{root.name}.sync"
    out = []
    for path in _files(root, "sync"):
        for imp in imports(root, path):
            top = imp.module.split(".")[0]
            if top in FORBIDDEN_IN_SYNC:
                out.append(imp)
            elif top == root.name and not _within(imp.module, own) and imp.module != root.name:
                out.append(imp)  # an upper layer: net, control, ui, cli, runtime ...
    return sorted(out, key=lambda i: (i.file, i.line))


def ui_violations(root: Path) -> list[Import]:
    allowed = {m.replace("p2pcommunity", root.name, 1) for m in ALLOWED_IN_UI}
    out = []
    for path in _files(root, "ui"):
        for imp in imports(root, path):
            top = imp.module.split(".")[0]
            if top == root.name:
                if not _within(imp.module, f"{root.name}.ui") and imp.module not in allowed:
                    out.append(imp)
            elif top in sys.stdlib_module_names:
                if top in UI_FORBIDDEN_STDLIB:
                    out.append(imp)
            elif top not in ALLOWED_THIRD_PARTY_IN_UI:
                out.append(imp)
    return sorted(out, key=lambda i: (i.file, i.line))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def _unknown(found: list[Import]) -> list[str]:
    return [str(i) for i in found if (i.file, i.module) not in KNOWN_LEAKS]


# ------------------------------------------------------------------ the contracts


def test_sync_imports_no_loop_qt_libp2p_or_upper_layer() -> None:
    assert _files(PACKAGE, "sync"), "no sync/ sources found: is PACKAGE right?"
    assert _unknown(sync_violations(PACKAGE)) == []


def test_ui_imports_only_qt_and_the_control_client() -> None:
    assert _files(PACKAGE, "ui"), "no ui/ sources found: is PACKAGE right?"
    assert _unknown(ui_violations(PACKAGE)) == []


def test_known_leaks_are_gone() -> None:
    found = {(i.file, i.module) for i in sync_violations(PACKAGE) + ui_violations(PACKAGE)}
    assert found & KNOWN_LEAKS == set()


def test_the_gui_process_loads_no_node_code() -> None:
    """Importing every ui module pulls in, transitively, no trio, libp2p, Automerge or store."""
    modules = sorted(
        _module_name(PACKAGE, p) for p in _files(PACKAGE, "ui") if p.name != "__main__.py"
    )
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PACKAGE.parent,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    if "ImportError" in proc.stderr and "PySide6" in proc.stderr and not _in_ci():
        pytest.skip(f"PySide6 does not import here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    node_only = {"trio", "libp2p", "multiaddr", "automerge", "sqlite3", "_sqlite3", "nacl"}
    assert loaded & node_only == set()
    ours = {m for m in loaded if _within(m, "p2pcommunity")}
    # control.protocol carries DomainError's codes: sync/errors.py (pure, no imports)
    # and the empty sync/__init__.py come with it.
    shared = {
        *ALLOWED_IN_UI,
        "p2pcommunity.control",
        "p2pcommunity.sync",
        "p2pcommunity.sync.errors",
    }
    assert {m for m in ours if not _within(m, "p2pcommunity.ui")} - shared == set()


# ------------------------------------------------------------------ the checker itself


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_catches_each_kind_of_leak(tmp_path: Path) -> None:
    root = tmp_path / "p2pcommunity"
    for pkg in ("", "sync/", "sync/docs/", "ui/", "net/", "control/"):
        _write(root, f"{pkg}__init__.py", "")
    for mod in ("sync/errors.py", "net/node.py", "control/client.py", "control/server.py"):
        _write(root, mod, "")
    _write(root, "cli.py", "")
    # Clean modules: nothing to report.
    _write(root, "sync/docs/ok.py", "import cbor2\nfrom ..errors import X\nfrom . import ok\n")
    _write(
        root,
        "ui/ok.py",
        "import json\nfrom PySide6.QtCore import QObject\nfrom p2pcommunity import __version__\n"
        "from p2pcommunity.control import client\nfrom p2pcommunity.ui.ok import Y\n",
    )
    # One leak per line.
    _write(
        root,
        "sync/docs/bad.py",
        "import trio\n"
        "from libp2p.peer.id import ID\n"
        "from multiaddr import Multiaddr\n"
        "from ...net import node\n"
        "def later():\n"
        "    from p2pcommunity.control.server import serve\n"
        "    from PySide6 import QtCore\n",
    )
    _write(
        root,
        "ui/bad.py",
        "import sqlite3\n"
        "import trio\n"
        "from p2pcommunity.sync.errors import DomainError\n"
        "from ..net.node import Node\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from p2pcommunity import cli\n"
        "import automerge\n",
    )
    assert [str(i) for i in sync_violations(root)] == [
        "sync/docs/bad.py:1 imports trio",
        "sync/docs/bad.py:2 imports libp2p.peer.id",
        "sync/docs/bad.py:3 imports multiaddr",
        "sync/docs/bad.py:4 imports p2pcommunity.net.node",
        "sync/docs/bad.py:6 imports p2pcommunity.control.server",
        "sync/docs/bad.py:7 imports PySide6",
    ]
    assert [str(i) for i in ui_violations(root)] == [
        "ui/bad.py:1 imports sqlite3",
        "ui/bad.py:2 imports trio",
        "ui/bad.py:3 imports p2pcommunity.sync.errors",
        "ui/bad.py:4 imports p2pcommunity.net.node",
        "ui/bad.py:7 imports p2pcommunity.cli",
        "ui/bad.py:8 imports automerge",
    ]
