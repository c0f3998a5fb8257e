"""tests/ui/conftest.py: without Qt the UI tests are skipped, except in CI.

The conftest is run, copied next to a trivial test, in a pytest subprocess
where importing Qt's widgets fails (as it does when libEGL is missing).
pytest-qt is turned off there: its own start-up imports Qt and would stop
the run before any conftest is read (on such a machine the whole run fails,
CI or not; the conftest's rule matters where pytest-qt is not loaded).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).parent / "ui" / "conftest.py"

RUNNER = """
import importlib.abc, sys
class NoQtWidgets(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("PySide6.QtGui", "PySide6.QtWidgets"):
            raise ImportError(f"libEGL.so.1: cannot open shared object file ({name})")
sys.meta_path.insert(0, NoQtWidgets())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def run_without_qt(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    root = tmp_path / "suite"
    (root / "ui").mkdir(parents=True)
    shutil.copy(CONFTEST, root / "ui" / "conftest.py")
    (root / "ui" / "test_anything.py").write_text("def test_it():\n    pass\n")
    (root / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:pytest-qt",
            ".",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_without_qt_the_ui_tests_are_skipped_on_a_dev_machine(
    tmp_path: Path, ci: str | None
) -> None:
    proc = run_without_qt(tmp_path, ci)
    assert proc.returncode in (0, 5), proc.stdout + proc.stderr  # 5: nothing left to run
    assert "Qt does not import here" in proc.stdout


@pytest.mark.parametrize("ci", ["true", "1"])
def test_without_qt_the_ui_tests_fail_in_ci(tmp_path: Path, ci: str) -> None:
    proc = run_without_qt(tmp_path, ci)
    assert proc.returncode not in (0, 5), proc.stdout + proc.stderr
    assert "CI: the UI tests need Qt" in proc.stdout + proc.stderr
