"""Batches (CONTRACT §9): chunked inside one transaction, all-or-nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from repokit import Database, EntityAlreadyExists, Repository, Table
from repokit_mongodb import MongoBackend
from repokit_mongodb.backend import database_name_of

from .conftest import Thing


def _backend(db: Database) -> MongoBackend:
    assert isinstance(db.backend, MongoBackend)
    return db.backend


@pytest.mark.asyncio
async def test_a_batch_larger_than_a_write_batch_is_written_in_chunks(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    _backend(db).max_write_batch_size = 3
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    created = await repo.batch_create([new_thing() for _ in range(10)])
    assert await repo.count() == len(created) == 10


@pytest.mark.asyncio
async def test_a_batch_failing_in_its_last_chunk_writes_nothing(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    _backend(db).max_write_batch_size = 3
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    batch = [new_thing() for _ in range(9)]
    batch.append(new_thing(name=batch[0].name))
    with pytest.raises(EntityAlreadyExists):
        await repo.batch_create(batch)
    assert await repo.count() == 0


@pytest.mark.asyncio
async def test_a_batch_update_colliding_part_way_changes_nothing(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    await repo.batch_create([new_thing(code=f"c{i}") for i in range(5)])
    with pytest.raises(EntityAlreadyExists):
        await repo.batch_update({"code": "same"}, conditions=[things.c.tenant == "acme"])
    assert await repo.count(conditions=[things.c.code == "same"]) == 0


@pytest_asyncio.fixture
async def untransacted(mongodb_url: str, things: Table[Thing]) -> AsyncIterator[Database]:
    """The backend as it runs on a server without transactions (a standalone mongod)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    name = database_name_of(mongodb_url)
    assert name is not None
    db = Database(MongoBackend.from_client(client, name, transactions=False))
    await db.create_tables(things)
    try:
        yield db
    finally:
        await db.drop_tables(things)
        await client.close()


@pytest.mark.asyncio
async def test_without_transactions_a_failed_batch_create_removes_what_it_wrote(
    untransacted: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    _backend(untransacted).max_write_batch_size = 2
    repo: Repository[Thing, uuid.UUID] = Repository(untransacted, things)
    batch = [new_thing() for _ in range(5)]
    batch.append(new_thing(name=batch[1].name))
    with pytest.raises(EntityAlreadyExists):
        await repo.batch_create(batch)
    assert await repo.count() == 0
