"""The ``pytest11`` entry point imports none of the ``testing`` extra (offline check).

tests/packaging runs the real thing: a fresh environment without the extra.
"""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str, *modules: str) -> list[str]:
    code = f"import sys; {statement}; print(','.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in out.stdout.strip().split(",") if name]


def test_the_entry_point_module_imports_neither_pytest_asyncio_nor_hypothesis() -> None:
    statement = "import repokit.testing.pytest_plugin as p; assert p.pytest_plugins"
    assert _imported_after(statement, "pytest_asyncio", "hypothesis") == []


def test_the_harness_imports_without_the_extra() -> None:
    statement = "from repokit.testing import Harness; Harness(url='memory://')"
    assert _imported_after(statement, "pytest", "pytest_asyncio", "hypothesis") == []
