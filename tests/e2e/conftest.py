"""End-to-end tests drive `p2pcommunity-node` as a subprocess (qutebrowser tests/end2end)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NODE = [sys.executable, "-m", "p2pcommunity.cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error(self) -> dict[str, str]:
        value: dict[str, str] = json.loads(self.err.strip().splitlines()[-1])
        return value


@dataclass
class Cli:
    data_dir: Path

    def __call__(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> Result:
        proc = subprocess.run(
            [*NODE, "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **(env or {})},
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} failed ({proc.returncode}): {proc.stderr}")
        return result

    def json(self, *args: str) -> Any:
        return self("--json", *args).json()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "alice")


@pytest.fixture
def make_cli(tmp_path: Path) -> Any:
    def make(name: str) -> Cli:
        return Cli(tmp_path / name)

    return make
