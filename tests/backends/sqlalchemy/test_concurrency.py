"""Concurrent sessions: serialised SQLite writers, WAL readers, snapshots, rollback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from repokit import Database, EntityAlreadyExists, Repository, Session, Table, TransactionAborted

WRITERS = 20


def _repo(db: Database, things: Table[Any]) -> Repository[Any, uuid.UUID]:
    return Repository(db, things)


async def _increment(db: Database, things: Table[Any], key: uuid.UUID) -> None:
    repo = _repo(db, things)

    async def work(session: Session) -> None:
        current = await repo.get(key, session=session)
        await asyncio.sleep(0)  # let every other writer run between the read and the write
        await repo.update(key, {"count": current.count + 1}, session=session)

    await db.run_in_transaction(work, attempts=1)


@pytest.mark.asyncio
@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
async def test_concurrent_sqlite_writers_lose_no_update(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    counter = await _repo(db, things).create(new_thing())
    await asyncio.gather(*(_increment(db, things, counter.id) for _ in range(WRITERS)))
    assert (await _repo(db, things).get(counter.id)).count == WRITERS


@pytest.mark.asyncio
async def test_concurrent_sqlite_writers_through_separate_databases_lose_no_update(
    sqlite_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    databases = [await Database.connect(sqlite_url) for _ in range(4)]
    try:
        await databases[0].create_tables(things)
        counter = await _repo(databases[0], things).create(new_thing())
        await asyncio.gather(
            *(_increment(databases[i % 4], things, counter.id) for i in range(WRITERS))
        )
        assert (await _repo(databases[1], things).get(counter.id)).count == WRITERS
    finally:
        for db in databases:
            await db.close()


@pytest.mark.asyncio
async def test_readers_see_the_last_commit_while_a_writer_is_open(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing(count=1))
    async with db.begin_session() as writer:
        await repo.update(thing.id, {"count": 2}, session=writer)
        async with db.begin_readonly_session() as reader:
            assert (await repo.get(thing.id, session=reader)).count == 1
    assert (await repo.get(thing.id)).count == 2


@pytest.mark.asyncio
async def test_a_read_only_session_reads_each_statement_at_the_last_commit(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    # Read-only sessions open no transaction (no repeatable read, CONTRACT §9/§11):
    # each statement sees what was committed when it ran, and a page and its
    # total count, being one statement, always agree.
    repo = _repo(db, things)
    await repo.create(new_thing())
    async with db.begin_readonly_session() as reader:
        assert await repo.count(session=reader) == 1
        await repo.create(new_thing())  # committed by its own session meanwhile
        assert await repo.count(session=reader) == 2
        page = await repo.search(session=reader, total_count=True)
        assert page.total_count == len(page.items) == 2
    assert await repo.count() == 2


@pytest.mark.asyncio
async def test_a_failed_statement_rolls_back_the_whole_transaction(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    taken = await repo.create(new_thing(code="taken"))
    kept_out = new_thing()

    async def create_then_collide() -> None:
        async with db.begin_session() as session:
            await repo.create(kept_out, session=session)
            with pytest.raises(EntityAlreadyExists):
                await repo.create(new_thing(code=taken.code), session=session)

    with pytest.raises(TransactionAborted):
        await create_then_collide()
    assert await repo.count() == 1


@pytest.mark.asyncio
async def test_a_free_writer_turn_never_jumps_a_woken_waiter(tmp_path: Any) -> None:
    """A turn released to a waiter that has not run yet is not free: a newcomer queues.

    (The turn is taken without a timer only when ``locked()`` says it is free;
    the newcomer here must wait behind the woken writer, within its timeout.)
    """
    from repokit.errors import TransactionConflict
    from repokit_sqlalchemy.sqlite import SQLiteDialect

    url = sa.make_url(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    dialect = SQLiteDialect(url, busy_timeout=0.05)
    first = await dialect.acquire_turn(read_only=False)
    assert first is not None
    order: list[str] = []

    async def second() -> None:
        turn = await dialect.acquire_turn(read_only=False)
        assert turn is not None
        order.append("second")
        await asyncio.sleep(0.2)  # holds its turn past the newcomer's timeout
        turn.release()

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.01)  # second waits now
    first.release()  # wakes second, which has not run yet
    with pytest.raises(TransactionConflict, match=r"waited 0\.05s"):
        await dialect.acquire_turn(read_only=False)
    await waiting
    assert order == ["second"]
    free = await dialect.acquire_turn(read_only=False)  # free again: taken at once
    assert free is not None
    free.release()
