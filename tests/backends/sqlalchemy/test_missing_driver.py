"""A URL whose driver is not installed raises BackendNotInstalled naming the extra.

The missing driver is simulated honestly, in a subprocess whose
``sys.modules`` maps the driver to ``None`` (so importing it fails exactly as
when it is not installed); nothing of the database is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROGRAM = """
import asyncio, json, sys
sys.modules[sys.argv[1]] = None  # the driver is not installed
from repokit import Database

async def main():
    try:
        await Database.connect(sys.argv[2])
    except BaseException as exc:
        cause = exc.__cause__
        print(json.dumps({
            "error": type(exc).__name__,
            "import_error": isinstance(exc, ImportError),
            "message": str(exc),
            "cause": type(cause).__name__ if cause is not None else None,
        }))
    else:
        print(json.dumps({"error": None}))

asyncio.run(main())
"""


def _connect_without(module: str, url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, module, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("module", "url", "extra"),
    [
        ("asyncpg", "postgresql+asyncpg://user@localhost/db", "repokit[postgres]"),
        ("asyncpg", "postgresql://user@localhost/db", "repokit[postgres]"),
        ("aiosqlite", "sqlite+aiosqlite:///unused.db", "repokit[sqlite]"),
        ("aiosqlite", "sqlite://", "repokit[sqlite]"),
    ],
)
def test_a_missing_driver_raises_backend_not_installed_naming_the_extra(
    module: str, url: str, extra: str
) -> None:
    result = _connect_without(module, url)
    assert result["error"] == "BackendNotInstalled"
    assert result["import_error"] is True
    assert f"install {extra!r}" in str(result["message"])
    assert module in str(result["message"])
    assert result["cause"] == "ModuleNotFoundError"
