"""A page exported as a standard .automerge file reads the same in JS @automerge/automerge.

npm installs the JS package into a temp dir; skipped, saying why, when node or
npm is absent or the registry cannot be reached.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from p2pcommunity.archive import export_community
from p2pcommunity.sync.service import Service
from p2pcommunity.sync.storage.store import Store

TEXT = "# Guide\n\nUnicode: caf\u00e9 \u00fc\u00df \U0001f600 and `code`\n"
READ_JS = """
const fs = require("fs");
const A = require("@automerge/automerge");
const doc = A.load(new Uint8Array(fs.readFileSync(process.argv[2])));
process.stdout.write(JSON.stringify({text: doc.text.toString()}));
"""


@pytest.fixture(scope="module")
def js_automerge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to check pages against JS @automerge/automerge")
    where = tmp_path_factory.mktemp("js")
    try:
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "@automerge/automerge@3"],
            cwd=where,
            check=True,
            capture_output=True,
            timeout=240,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(
            f"npm could not install @automerge/automerge ({exc}); is the registry reachable?"
        )
    (where / "read.js").write_text(READ_JS)
    return where


def test_exported_page_reads_the_same_text_in_js(js_automerge: Path, tmp_path: Path) -> None:
    clock = itertools.count(1_700_000_000_000, 1000)
    service = Service(Store(tmp_path / "s.sqlite3"), SigningKey.generate(), lambda: next(clock))
    try:
        cid = service.community_create("Club")["community_id"]
        service.pages.create(cid, "Guide", "draft")
        service.pages.edit(cid, "Guide", text=TEXT)
        service.pages.edit(cid, "Guide", append="more\n")
        expected = service.pages.show(cid, "Guide")["text"]
        result = export_community(service, cid, tmp_path / "export")
        del result
    finally:
        service.store.close()
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    (page,) = manifest["pages"]
    out = subprocess.run(
        ["node", str(js_automerge / "read.js"), str(tmp_path / "export" / page["file"])],
        cwd=js_automerge,
        check=True,
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert json.loads(out.stdout)["text"] == expected == TEXT + "more\n"
