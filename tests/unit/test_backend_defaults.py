"""The SPI's default implementations (``select_window``, ``update_one``), on the memory backend.

Backends that do not override them (memory, third-party ones) rely on these
defaults; the SQL and MongoDB backends override them and are held to the same
answers by the contract suite.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from repokit import Creator, Database, Table
from repokit.backend import Select


@dataclass(frozen=True)
class Counter:
    id: uuid.UUID
    name: str
    hits: int
    version: int = 0


counters = Table(Counter, "unit_counters", primary_key="id", version="version")
KEYS = [uuid.UUID(int=i) for i in range(1, 6)]


@pytest_asyncio.fixture
async def db() -> AsyncIterator[Database]:
    database = await Database.connect("memory://")
    await database.create_tables(counters)
    async with database.begin_session() as session:
        await Creator(counters).batch_create(
            session, [Counter(key, f"c{i}", i) for i, key in enumerate(KEYS)]
        )
    yield database
    await database.close()


@pytest.mark.asyncio
async def test_a_window_reads_the_page_the_count_and_the_first_probe_that_finds_a_row(
    db: Database,
) -> None:
    c = counters.c
    query = Select(counters, c.hits >= 3, (c.hits.asc(),), limit=1)
    async with db.begin_readonly_session() as session:
        window = await session.select_window(
            query, count=c.hits >= 1, probes=(c.hits == 99, c.hits < 3)
        )
        assert [row["hits"] for row in window.rows] == [3]
        assert window.total == 4
        assert window.probed is True
        none = await session.select_window(query, count=None, probes=(c.hits == 99,))
        assert none.total is None
        assert none.probed is False
        bare = await session.select_window(query, count=None)
        assert bare.probed is False


@pytest.mark.asyncio
async def test_update_one_writes_the_row_and_returns_it_as_stored(db: Database) -> None:
    c = counters.c
    async with db.begin_session() as session:
        row = await session.update_one(
            counters, c.id == KEYS[2], {"hits": 42}, increment=("version",)
        )
        assert row is not None
        assert (row["id"], row["hits"], row["version"]) == (KEYS[2], 42, 1)
        missing = await session.update_one(counters, c.id == uuid.UUID(int=99), {"hits": 1})
        assert missing is None
    async with db.begin_readonly_session() as session:
        (stored,) = await session.select(Select(counters, c.id == KEYS[2]))
    assert stored == row
