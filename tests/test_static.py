"""The linter and the type checker, run by the test suite so that CI's one command runs them.

`ruff check .` (rules in pyproject.toml) and `mypy` (files and strictness in pyproject.toml:
knowledge/ strict, bot/ with unannotated bodies checked) must both pass; a failure shows their
own output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    out = _run("ruff", "check", ".")
    assert out.returncode == 0, f"ruff check . failed:\n{out.stdout}{out.stderr}"


def test_mypy_finds_no_type_errors():
    out = _run("mypy")
    assert out.returncode == 0, f"mypy failed:\n{out.stdout}{out.stderr}"
