"""``with_tables`` in users' projects, as docs/testing.md shows it (each project run by pytester).

The natural fixture — open a database, ``await with_tables(db, ...)``, yield
it, close it — leaks no data from one test to the next; a database shared by
the session works on the session's event loop; a database closed before the
test's teardown fails loudly. Every project runs in a subprocess: the
backends' drivers do not survive pytester's in-process ``sys.modules`` reset.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

FUNCTION_LOOP_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

# docs/testing.md, "A database for the whole session": one event loop for everything.
SESSION_LOOP_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
filterwarnings = error
"""

MODELS = """
import uuid
from dataclasses import dataclass

from repokit import Table


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    name: str


projects = Table(Project, "projects", primary_key="id")
"""

# Two tests, run in this order: the first stores a project, the second must find none.
TESTS = """
import uuid

import pytest

from models import Project, projects
from repokit import Database, Repository


@pytest.mark.asyncio{loop}
async def test_stores_a_project(db: Database, with_tables) -> None:
    {create}
    await Repository(db, projects).create(Project(uuid.uuid4(), "first"))
    assert await Repository(db, projects).count() == 1


@pytest.mark.asyncio{loop}
async def test_finds_no_project(db: Database, with_tables) -> None:
    {create}
    assert await Repository(db, projects).count() == 0
"""

# The natural composition: it asks for with_tables, so pytest tears it down first.
NATURAL_DB = """
import pytest_asyncio

from models import projects
from repokit import Database


@pytest_asyncio.fixture
async def db(with_tables):
    database = await Database.connect({url!r})
    await with_tables(database, projects)
    yield database
    await database.close()
"""

# docs/testing.md: one database for the session, on the session's event loop.
SESSION_DB = """
import pytest
import pytest_asyncio

from repokit import Database


@pytest.fixture(scope="session")
def memory_url() -> str:
    return "memory://"


@pytest_asyncio.fixture(scope="session"{loop_scope})
async def db({url_fixture}):
    database = await Database.connect({url_fixture})
    yield database
    await database.close()
"""


def _project(pytester: pytest.Pytester, ini: str) -> None:
    pytester.makeini(ini)
    pytester.makepyfile(models=MODELS)


def _suite(
    pytester: pytest.Pytester,
    name: str,
    conftest: str,
    *,
    create_in_test: bool,
    session_loop_marker: bool = False,
) -> None:
    folder = pytester.mkdir(name)
    (folder / "conftest.py").write_text(conftest)
    tests = TESTS.format(
        loop='(loop_scope="session")' if session_loop_marker else "",
        create="await with_tables(db, projects)" if create_in_test else "pass",
    )
    (folder / f"test_{name}.py").write_text(tests)


def _sqlite_tables(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [name for (name,) in rows]


def test_the_natural_fixture_leaks_nothing_between_tests_on_sqlite_and_memory(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    path = tmp_path / "shared.db"
    _project(pytester, FUNCTION_LOOP_INI)
    url = f"sqlite+aiosqlite:///{path}"
    _suite(pytester, "sqlite", NATURAL_DB.format(url=url), create_in_test=False)
    _suite(pytester, "memory", NATURAL_DB.format(url="memory://"), create_in_test=False)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert _sqlite_tables(path) == []


@pytest.fixture
def servers(postgres_url: str, mongodb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """This session's servers, for the projects' ``repokit_*_url`` fixtures (their variables)."""
    monkeypatch.setenv("REPOKIT_TEST_POSTGRES_URL", postgres_url)
    monkeypatch.setenv("REPOKIT_TEST_MONGODB_URL", mongodb_url)


@pytest.mark.usefixtures("servers")
def test_a_session_database_works_with_with_tables_on_the_session_loop(
    pytester: pytest.Pytester,
) -> None:
    # Plugin fixtures on the default (function) loop, tests marked for the session loop.
    _project(pytester, FUNCTION_LOOP_INI)
    for name, url_fixture in [
        ("memory", "memory_url"),
        ("postgres", "repokit_postgres_url"),
        ("mongodb", "repokit_mongodb_url"),
    ]:
        conftest = SESSION_DB.format(url_fixture=url_fixture, loop_scope=', loop_scope="session"')
        _suite(pytester, name, conftest, create_in_test=True, session_loop_marker=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)


@pytest.mark.usefixtures("servers")
def test_a_session_database_works_with_with_tables_when_every_loop_is_the_sessions(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester, SESSION_LOOP_INI)
    conftest = SESSION_DB.format(url_fixture="repokit_postgres_url", loop_scope="")
    _suite(pytester, "postgres", conftest, create_in_test=True)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


CLOSES_ITS_DATABASE = """
import pytest

from models import projects
from repokit import Database


@pytest.mark.asyncio
async def test_closes_its_database(with_tables) -> None:
    db = await Database.connect({url!r})
    await with_tables(db, projects)
    await db.close()
"""


def test_a_database_closed_before_the_teardown_fails_loudly(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    _project(pytester, FUNCTION_LOOP_INI)
    url = f"sqlite+aiosqlite:///{tmp_path / 'closed.db'}"
    pytester.makepyfile(test_closing=CLOSES_ITS_DATABASE.format(url=url))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*with_tables could not drop projects: the database was closed during the test*"]
    )
