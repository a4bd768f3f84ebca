"""References on MongoDB (CONTRACT §23): held parents, and no references without transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from repokit import Database, Repository, UnsupportedOperation
from repokit.testing.schema import REFERENCE_TABLES, File, Folder, files, folders
from repokit_mongodb import MongoBackend
from repokit_mongodb.backend import database_name_of


@pytest_asyncio.fixture
async def mongo_db(mongodb_url: str) -> AsyncIterator[tuple[Database, AsyncMongoClient[Any]]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, uuidRepresentation="standard")
    name = database_name_of(mongodb_url) or "repokit_test"
    db = Database(MongoBackend.from_client(client, name))
    await db.create_tables(*REFERENCE_TABLES)
    try:
        yield db, client
    finally:
        await db.close()
        await client.close()


@pytest.mark.asyncio
async def test_a_child_write_holds_its_parent_by_writing_a_hidden_field(
    mongo_db: tuple[Database, AsyncMongoClient[Any]], mongodb_url: str
) -> None:
    db, client = mongo_db
    if not db.capabilities.references:
        pytest.skip("the server has no transactions")
    folder = await Repository(db, folders).create(Folder(f"m-{uuid.uuid4().hex}", "t"))
    await Repository(db, files).create(File(uuid.uuid4(), "t", folder.id))
    name = database_name_of(mongodb_url) or "repokit_test"
    stored = await client[name][folders.name].find_one({"_id": folder.id})
    assert stored is not None
    assert stored["_rk_held"] == 1
    # The hidden field is never read back.
    assert await Repository(db, folders).get(folder.id) == folder


@pytest.mark.asyncio
async def test_without_transactions_a_write_needing_a_check_is_unsupported(
    mongodb_url: str,
) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, uuidRepresentation="standard")
    name = database_name_of(mongodb_url) or "repokit_test"
    db = Database(MongoBackend.from_client(client, name, transactions=False))
    try:
        assert not db.capabilities.references
        await db.create_tables(*REFERENCE_TABLES)
        folder = await Repository(db, folders).create(Folder(f"m-{uuid.uuid4().hex}", "t"))
        with pytest.raises(UnsupportedOperation, match="references"):
            await Repository(db, files).create(File(uuid.uuid4(), "t", folder.id))
        with pytest.raises(UnsupportedOperation, match="references"):
            await Repository(db, folders).purge(folder.id)
    finally:
        await db.close()
        await client.close()
