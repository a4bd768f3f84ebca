"""Fixtures for the SQLAlchemy backend's own tests: each test runs on SQLite and on PostgreSQL.

Tests here work on their own tables (``sa_*``), created for the test and
dropped after it, so they never meet the contract suite's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import pytest
import pytest_asyncio

from repokit import Database, MaxLength, Numeric, StatusMarker, Table, Unique


@dataclass(frozen=True)
class Thing:
    """A field of every kind, a soft-delete flag and two unique keys."""

    id: uuid.UUID
    tenant: str
    name: Annotated[str, MaxLength(20)]
    code: str | None = None
    count: int = 0
    ratio: float | None = None
    price: Annotated[Decimal, Numeric(18, 4)] | None = None
    flag: bool | None = None
    at: datetime | None = None
    day: date | None = None
    ref: uuid.UUID | None = None
    data: dict[str, Any] | None = None
    status: str = "live"


def thing_table(name: str) -> Table[Thing]:
    """A fresh table definition named *name*."""
    return Table(
        Thing,
        name,
        primary_key="id",
        unique=[Unique(("tenant", "name"), among_live=True), ("tenant", "code")],
        indexes=[("tenant", "count")],
        soft_delete=StatusMarker("status", deleted="gone", restored="live"),
        ignore_case=["name"],
    )


@pytest.fixture(params=["sqlite", "postgres"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL: a fresh SQLite file, or the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def things() -> Table[Thing]:
    """A table of things with a name no other test uses."""
    return thing_table(f"sa_things_{uuid.uuid4().hex[:8]}")


@pytest_asyncio.fixture
async def db(sql_url: str, things: Table[Thing]) -> AsyncIterator[Database]:
    """A database with the ``things`` table, dropped after the test."""
    database = await Database.connect(sql_url)
    await database.create_tables(things)
    try:
        yield database
    finally:
        await database.drop_tables(things)
        await database.close()


def _new_thing(tenant: str = "acme", **values: Any) -> Thing:
    values.setdefault("name", f"n-{uuid.uuid4().hex[:16]}")
    return Thing(uuid.uuid4(), tenant, **values)


@pytest.fixture
def new_thing() -> Callable[..., Thing]:
    """``new_thing(tenant="acme", **values)``: a thing with a fresh id and name."""
    return _new_thing
