"""Fresh virtual environments for the packaging tests: uv, the same Python, a clean environment.

The outer run (``uv run pytest``) exports variables that would leak into the
fresh environment and make it see this checkout; :func:`run` leaves them out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

__all__ = ["check", "run", "uv_binary", "venv"]

_LEAKY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "UV_PROJECT_ENVIRONMENT")
_LEAKY_PREFIXES = ("PYTEST_", "REPOKIT_")


def _env() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name not in _LEAKY and not name.startswith(_LEAKY_PREFIXES)
    }


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command in the clean environment."""
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


def check(*args: str | Path, cwd: Path | None = None) -> str:
    """Run a command in the clean environment; fail the test (with its output) on failure."""
    done = run(*args, cwd=cwd)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def uv_binary() -> str:
    """The uv executable (the packaging tests build and install with it)."""
    found = os.environ.get("UV") or shutil.which("uv")
    if found is None:
        pytest.fail("the packaging tests need uv (pip install uv)")
    return found


def venv(where: Path, *requirements: str) -> Path:
    """A fresh virtual environment at *where* with *requirements*; returns its Python."""
    uv = uv_binary()
    check(uv, "venv", "--quiet", "--python", sys.executable, where)
    python = where / "bin" / "python"
    check(uv, "pip", "install", "--quiet", "--python", python, *requirements)
    return python
