"""The SPI's default implementations (``select_window``, ``update_one``), on the memory backend.

Backends that do not override them (memory, third-party ones) rely on these
defaults; the SQL and MongoDB backends override them and are held to the same
answers by the contract suite.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from repokit import FALSE, TRUE, BackendSession, Creator, Database, Table, TransactionConflict
from repokit.backend import Select, Upsert, UpsertResult


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


# -- upsert (CONTRACT §18): the default a third-party backend inherits ----------------------


def _upsert(counter: Counter, guard: Any) -> Upsert:
    row = counters.to_row(counter)
    values = {"name": row["name"], "hits": row["hits"]}
    return Upsert(counters, row, None, values, guard, counters.increments)


@pytest.mark.asyncio
async def test_the_default_upsert_inserts_a_row_whose_key_nobody_holds(db: Database) -> None:
    fresh = Counter(uuid.UUID(int=99), "new", 1)
    async with db.begin_session() as session:
        result = await BackendSession.upsert(session.backend, _upsert(fresh, TRUE))
    assert result == UpsertResult(counters.to_row(fresh), True)
    async with db.begin_readonly_session() as session:
        assert await session.count(counters, counters.key_condition(fresh.id)) == 1


@pytest.mark.asyncio
async def test_the_default_upsert_updates_the_holder_the_guard_accepts(db: Database) -> None:
    changed = Counter(KEYS[0], "renamed", 7, version=40)
    async with db.begin_session() as session:
        result = await BackendSession.upsert(session.backend, _upsert(changed, TRUE))
    assert result.inserted is False
    assert result.row is not None
    assert (result.row["name"], result.row["hits"], result.row["version"]) == ("renamed", 7, 1)


@pytest.mark.asyncio
async def test_the_default_upsert_leaves_a_holder_the_guard_rejects(db: Database) -> None:
    changed = Counter(KEYS[0], "renamed", 7)
    for guard in (FALSE, counters.c.hits == 99):
        async with db.begin_session() as session:
            result = await BackendSession.upsert(session.backend, _upsert(changed, guard))
        assert result == UpsertResult(None, False)
    async with db.begin_readonly_session() as session:
        (row,) = await session.select(Select(counters, counters.key_condition(KEYS[0])))
    assert (row["name"], row["version"]) == ("c0", 0)


@pytest.mark.asyncio
async def test_the_default_upsert_reports_a_key_taken_after_its_read_as_a_conflict(
    db: Database,
) -> None:
    async def missed(query: Select) -> list[Any]:
        return []  # a concurrent insert the read did not see

    async with db.begin_session() as session:
        backend = session.backend
        backend.select = missed  # type: ignore[method-assign]
        with pytest.raises(TransactionConflict):
            await BackendSession.upsert(backend, _upsert(Counter(KEYS[0], "x", 1), TRUE))
