"""The contract suite and core never branch on a backend's name (CONTRIBUTING.md, Style)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import repokit

CORE = Path(repokit.__file__).parent
BACKEND_NAMES = re.compile(r"\b(sqlite|postgres\w*|mongo\w*|asyncpg|aiosqlite|pymongo)\b", re.I)
# Modules that may name backends: docs of the registry's install hints; the test servers.
ALLOWED = {
    CORE / "registry.py",
    CORE / "testing" / "servers.py",
    CORE / "testing" / "replication.py",
}


def _sources() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p not in ALLOWED)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(CORE)))
def test_no_code_line_names_a_backend(path: Path) -> None:
    offending = []
    in_docstring = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        quotes = stripped.count('"""')
        if quotes == 1:
            in_docstring = not in_docstring
            continue
        if in_docstring or quotes >= 2 or stripped.startswith("#"):
            continue
        code = line.split("#", 1)[0]
        if BACKEND_NAMES.search(code):
            offending.append(f"{number}: {stripped}")
    assert not offending, f"{path.name} names a backend in code:\n" + "\n".join(offending)


def test_importing_repokit_imports_no_driver() -> None:
    import subprocess
    import sys

    code = (
        "import sys, repokit, repokit.testing.schema;"
        "bad = [m for m in ('sqlalchemy', 'asyncpg', 'aiosqlite', 'pymongo', 'motor')"
        " if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
