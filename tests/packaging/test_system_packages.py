"""`make check-system` / `make system-packages` on a pretend machine.

The real machine is never touched: `ldconfig`, `apt-get`, `id`, `sudo` and
`gcc` are stub scripts on a private PATH (each stub appends its argv to a
log), the header and font checks look in empty temporary directories, and
make itself runs the real Makefile targets. What is asserted is what a user
sees: which packages are named, which commands would run, and the exit code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = (
    "dbus libgmp-dev libegl1 libgl1 libxkbcommon0 libfontconfig1 libxcb-cursor0 libdbus-1-3 libglib2.0-0 "
    "fonts-noto-color-emoji"
)

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or sys.platform == "win32", reason="needs make and sh"
)


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    log = bin_dir.parent / "calls.log"
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{body}\n')
    path.chmod(0o755)


def machine(tmp_path: Path, *, uid: int, apt: bool = True, sudo: str | None = None) -> Path:
    """A PATH with stubs: nothing in ldconfig's cache, gcc present, `id -u` = uid."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "make", "grep", "find", "head", "env"):
        real = shutil.which(tool)
        assert real is not None
        (bin_dir / tool).symlink_to(real)
    stub(bin_dir, "ldconfig", "exit 0")  # an empty library cache
    stub(bin_dir, "gcc", "exit 0")
    stub(bin_dir, "id", f"echo {uid}")
    if apt:
        stub(bin_dir, "apt-get", "exit 0")
    if sudo is not None:
        stub(bin_dir, "sudo", sudo)
    return bin_dir


def make(
    tmp_path: Path, bin_dir: Path, target: str, **env: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "include").mkdir(exist_ok=True)
    (tmp_path / "fonts").mkdir(exist_ok=True)
    full = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "INCLUDE_DIRS": str(tmp_path / "include"),
        "FONT_DIRS": str(tmp_path / "fonts"),
        **env,
    }
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), target, f"PYTHON={sys.executable}"],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return [
        line for line in log.read_text().splitlines() if not line.startswith(("ldconfig", "id"))
    ]


def test_check_system_names_what_is_missing_and_installs_nothing(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=0)
    done = make(tmp_path, bin_dir, "check-system")
    assert done.returncode != 0
    assert f"Missing system packages: {BASE}" in done.stdout
    assert f"sudo apt-get install {BASE}" in done.stdout
    assert calls(tmp_path) == []


def test_as_root_it_updates_then_installs_what_is_missing(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=0)
    done = make(tmp_path, bin_dir, "system-packages")
    assert f"Installing missing system packages: {BASE}" in done.stdout
    assert calls(tmp_path) == [
        "apt-get update",
        f"apt-get install -y {BASE}",
    ]
    # The stubs installed nothing, so the re-check after apt still fails, naming it all.
    assert done.returncode != 0
    assert done.stdout.rstrip().endswith(f"sudo apt-get install {BASE}")


def test_dry_run_says_what_it_would_run(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=0)
    done = make(tmp_path, bin_dir, "system-packages", APT_DRY_RUN="1")
    assert done.returncode == 0
    assert "+ apt-get update" in done.stdout
    assert f"+ env DEBIAN_FRONTEND=noninteractive apt-get install -y {BASE}" in done.stdout
    assert calls(tmp_path) == []


def test_with_passwordless_sudo_it_installs_through_sudo(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=1000, sudo='[ "$1" = -n ] && shift; [ "$1" = true ] || "$@"')
    make(tmp_path, bin_dir, "system-packages")
    assert calls(tmp_path)[:4] == [
        "sudo -n true",
        "sudo -n apt-get update",
        "apt-get update",
        f"sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y {BASE}",
    ]


@pytest.mark.parametrize("sudo", [None, "exit 1"], ids=["no sudo", "sudo wants a password"])
def test_without_root_it_prints_the_line_and_stops(tmp_path: Path, sudo: str | None) -> None:
    bin_dir = machine(tmp_path, uid=1000, sudo=sudo)
    done = make(tmp_path, bin_dir, "test")
    assert done.returncode != 0
    assert f"  sudo apt-get install {BASE}" in done.stdout
    assert not any(c.startswith("apt-get") for c in calls(tmp_path))
    assert "-m venv" not in done.stdout


def test_without_apt_it_says_so(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=0, apt=False)
    done = make(tmp_path, bin_dir, "system-packages")
    assert done.returncode != 0
    assert "no apt-get" in done.stdout


def test_nothing_missing_means_nothing_said(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=0)
    libs = "libEGL.so.1 libGL.so.1 libxkbcommon.so.0 libfontconfig.so.1 libxcb-cursor.so.0 libdbus-1.so.3 libglib-2.0.so.0"
    stub(bin_dir, "ldconfig", f'for l in {libs}; do echo "  $l (libc6) => /x/$l"; done')
    stub(bin_dir, "dbus-daemon", "exit 0")
    (tmp_path / "include").mkdir()
    (tmp_path / "include" / "gmp.h").write_text("")
    (tmp_path / "fonts" / "noto").mkdir(parents=True)
    (tmp_path / "fonts" / "noto" / "NotoColorEmoji.ttf").write_text("")
    done = make(tmp_path, bin_dir, "system-packages")
    assert (done.returncode, done.stdout) == (0, "")
    assert calls(tmp_path) == []
    assert os.path.exists(ROOT / "packaging" / "system-packages.sh")


def test_the_display_set_adds_the_xcb_libraries(tmp_path: Path) -> None:
    bin_dir = machine(tmp_path, uid=1000)
    done = make(tmp_path, bin_dir, "check-display")
    assert done.returncode != 0
    assert "libxcb-icccm4" in done.stdout and "libxkbcommon-x11-0" in done.stdout
