"""Packaging metadata: the desktop file, AppStream metainfo, icons, versions.

The validators (`desktop-file-validate`, `appstreamcli`) run when they are
installed (Debian: desktop-file-utils, appstream); the files are parsed and
cross-checked either way.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from p2pcommunity import __version__

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.p2pcommunity.P2PCommunity"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
FLATPAK = LINUX / f"{APP_ID}.json"
HICOLOR = LINUX / "icons" / "hicolor"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(DESKTOP.read_text(encoding="utf-8"))
    return dict(parser["Desktop Entry"])


# ---------------------------------------------------------------- desktop file


def test_desktop_file_keys() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "p2pcommunity"
    assert entry["Exec"].split()[0] == "p2pcommunity"
    assert entry["Icon"] == APP_ID
    assert entry["Terminal"] == "false"
    assert entry["Comment"]
    for key in ("Categories", "Keywords"):
        assert entry[key].endswith(";"), f"{key} must end with ';'"
    assert "Network" in entry["Categories"].split(";")


def test_desktop_file_validates() -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    done = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in (done.stdout + done.stderr).lower()


# ---------------------------------------------------------------- metainfo


def test_metainfo_matches_the_desktop_file_and_version() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component"
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    launchable = root.find("launchable")
    assert launchable is not None and launchable.text == DESKTOP.name
    binaries = {b.text for b in root.iterfind("provides/binary")}
    assert binaries == {"p2pcommunity", "p2pcommunity-node"}
    releases = [r.get("version") for r in root.iterfind("releases/release")]
    assert releases, "no <release>"
    assert releases[0] == __version__, "the newest <release> must be the package version"
    assert root.findtext("project_license") == "MIT"


def test_metainfo_validates() -> None:
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli not installed (Debian: appstream)")
    done = subprocess.run(
        [tool, "validate", "--no-net", str(METAINFO)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- icons


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_svg_icon_is_square() -> None:
    svg = HICOLOR / "scalable" / "apps" / f"{APP_ID}.svg"
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    _x, _y, w, h = (float(v) for v in root.get("viewBox", "").split())
    assert w == h


@pytest.mark.parametrize("size", ICON_SIZES)
def test_png_icon_at_every_size(size: int) -> None:
    png = HICOLOR / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    assert png.is_file(), f"missing {png.relative_to(ROOT)} (packaging/linux/render_icons.py)"
    assert _png_size(png) == (size, size)


# ---------------------------------------------------------------- flatpak


def test_flatpak_manifest() -> None:
    manifest = json.loads(FLATPAK.read_text(encoding="utf-8"))
    assert manifest["id"] == APP_ID
    assert manifest["runtime"] == "org.kde.Platform"
    assert manifest["sdk"] == "org.kde.Sdk"
    assert manifest["runtime-version"].startswith("6.")
    assert manifest["command"] == "p2pcommunity"
    names = [m["name"] if isinstance(m, dict) else m for m in manifest["modules"]]
    assert names[-1] == "p2pcommunity"
    # Every file the last module installs exists in the repository.
    for line in manifest["modules"][-1]["build-commands"]:
        for word in line.split():
            if word.startswith("packaging/") and "$" not in word:
                assert (ROOT / word).exists(), word


# ---------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("module", "prog"),
    [("p2pcommunity.cli", "p2pcommunity-node"), ("p2pcommunity.ui.app", "p2pcommunity")],
)
def test_version_from_one_source(module: str, prog: str) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{prog} {__version__}"


# ---------------------------------------------------------------- frozen node


def test_frozen_app_runs_the_sibling_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from p2pcommunity.ui import node_process

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "p2pcommunity"))
    assert node_process.node_command() == [str(tmp_path / "p2pcommunity-node")]
    monkeypatch.delattr(sys, "frozen")
    monkeypatch.undo()
    assert node_process.node_command()[1:] == ["-m", "p2pcommunity.cli"]


def test_sh_wrapper_keeps_the_pid_and_logs_stderr(tmp_path: Path) -> None:
    """The bundle's start wrapper: exec (same pid), stdout dropped, stderr to a 0600 log."""
    from p2pcommunity.ui.node_process import _SH_EXEC_WITH_LOG

    log = tmp_path / "node.log"

    def run() -> int:
        proc = subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                _SH_EXEC_WITH_LOG,
                str(log),
                "/bin/sh",
                "-c",
                'echo out; echo "$$" >&2',
            ],
            stdout=subprocess.PIPE,
        )
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert out == b""
        return proc.pid

    pid = run()
    assert log.read_text() == f"{pid}\n"  # the pid we started is the program's
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    pid = run()
    assert log.read_text() == f"{pid}\n"  # truncated, not appended


def test_desktop_file_opens_join_links() -> None:
    """`p2pcommunity://join/…` links start the app with the URL (issue 13, item 6)."""
    entry = _desktop_entry()
    assert "x-scheme-handler/p2pcommunity" in entry["MimeType"].split(";")
    assert entry["Exec"].split()[1:] == ["%u"]
    assert entry["TryExec"] == "p2pcommunity"
