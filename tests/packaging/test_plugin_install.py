"""The ``pytest11`` plugin never breaks a test run, with or without ``repokit[testing]`` installed.

Builds repokit's wheel, installs it in fresh virtual environments (uv, the
same Python) with pytest alone and with the ``testing`` extra, and runs
pytest on a project that has nothing to do with repokit. Needs the package
registry (pytest and the extra's packages come from it; uv's cache makes
repeated runs quick).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fresh_env import check, uv_binary, venv

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]

UNRELATED_TEST = "def test_arithmetic():\n    assert 1 + 1 == 2\n"

USES_WITH_TABLES = """
import uuid
from dataclasses import dataclass

import pytest
import pytest_asyncio

from repokit import Database, Repository, Table


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    text: str


notes = Table(Note, "notes", primary_key="id")


@pytest_asyncio.fixture
async def db(with_tables):
    database = await Database.connect("memory://")
    await with_tables(database, notes)
    yield database
    await database.close()


@pytest.mark.asyncio
async def test_stores_a_note(db, repokit_tenant):
    await Repository(db, notes).create(Note(uuid.uuid4(), repokit_tenant))
    assert await Repository(db, notes).count() == 1
"""


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """repokit's wheel, built from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    check(uv_binary(), "build", "--wheel", "--out-dir", out, ROOT)
    (built,) = out.glob("repokit-*.whl")
    return built


def _project(where: Path, **tests: str) -> Path:
    where.mkdir()
    for name, source in tests.items():
        (where / f"{name}.py").write_text(source)
    return where


def test_pytest_runs_an_unrelated_project_with_repokit_installed_without_the_extra(
    wheel: Path, tmp_path: Path
) -> None:
    python = venv(tmp_path / "venv", str(wheel), "pytest")
    project = _project(tmp_path / "project", test_unrelated=UNRELATED_TEST)
    out = check(python, "-m", "pytest", "-p", "no:cacheprovider", cwd=project)
    assert "1 passed" in out
    # The package and its harness import without the extra too.
    check(python, "-c", "from repokit.testing import Harness; Harness(url='memory://')")


def test_the_plugin_loads_and_serves_users_tests_with_the_extra_installed(
    wheel: Path, tmp_path: Path
) -> None:
    python = venv(tmp_path / "venv", f"repokit[testing] @ {wheel.as_uri()}")
    project = _project(
        tmp_path / "project", test_unrelated=UNRELATED_TEST, test_notes=USES_WITH_TABLES
    )
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    fixtures = check(python, "-m", "pytest", "-p", "no:cacheprovider", "--fixtures", cwd=project)
    for name in ("with_tables", "repokit_tenant", "repokit_postgres_url"):
        assert name in fixtures
    out = check(python, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", cwd=project)
    assert "2 passed" in out
