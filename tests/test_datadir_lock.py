"""The data dir lock: one holder at a time, across processes, released when a holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from p2pcommunity.datadir import LOCK_FILE, DataDir, DataDirLocked, try_lock_file

HOLD = """
import sys, time
from pathlib import Path
from p2pcommunity.datadir import DataDir
d = DataDir(Path(sys.argv[1]))
d.lock()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_holder_in_this_process_is_refused_until_the_first_lets_go(
    tmp_path: Path,
) -> None:
    first = DataDir(tmp_path)
    first.lock()
    try:
        with pytest.raises(DataDirLocked) as info:
            DataDir(tmp_path).lock()
        assert info.value.code == "locked"
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
    finally:
        first.unlock()
    second = DataDir(tmp_path)
    second.lock()
    second.unlock()


def test_try_lock_file_is_exclusive_per_open_file(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    a = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    b = os.open(path, os.O_RDWR)
    try:
        assert try_lock_file(a)
        assert not try_lock_file(b)
        os.close(a)
        a = -1
        assert try_lock_file(b)
    finally:
        for fd in (a, b):
            if fd >= 0:
                os.close(fd)


def test_another_process_holds_it_and_its_death_releases_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirLocked):
            DataDir(tmp_path).lock()
    finally:
        holder.send_signal(signal.SIGKILL)  # a crash: no chance to unlock
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    after = DataDir(tmp_path)
    after.lock()
    after.unlock()
