"""Error mapping (CONTRACT §8–9): MongoDB codes and labels → repokit errors, chained.

Every error is provoked on the real test server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import socket
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.errors import BulkWriteError, DocumentTooLarge, OperationFailure, PyMongoError

from repokit import (
    BackendUnavailable,
    Database,
    EntityAlreadyExists,
    IntegrityViolation,
    InvalidQuery,
    InvalidValue,
    Repository,
    RepositoryError,
    Table,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit_mongodb.errors import translate

from .conftest import Thing, thing_table


def _repo(db: Database, things: Table[Thing]) -> Repository[Thing, uuid.UUID]:
    return Repository(db, things)


def _chained_to_the_driver(error: BaseException) -> bool:
    return isinstance(error.__cause__, PyMongoError)


@pytest.mark.asyncio
async def test_a_duplicate_primary_key_names_the_primary_key(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing())
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.create(dataclasses.replace(new_thing(), id=thing.id))
    assert caught.value.fields == ("id",)
    assert caught.value.entity == "Thing"
    assert _chained_to_the_driver(caught.value)


@pytest.mark.asyncio
async def test_a_duplicate_unique_key_names_its_fields(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(code="c"))
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.create(new_thing(code="c"))
    assert caught.value.fields == ("tenant", "code")
    assert _chained_to_the_driver(caught.value)


@pytest.mark.asyncio
async def test_an_update_into_a_taken_key_raises_entity_already_exists(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="taken"))
    other = await repo.create(new_thing())
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.update(other.id, {"name": "taken"})
    assert caught.value.fields == ("tenant", "name")


@pytest.mark.asyncio
async def test_null_key_components_never_collide(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing())
    await repo.create(new_thing())
    assert await repo.count(conditions=[things.c.code == None]) == 2  # noqa: E711


@pytest.mark.asyncio
async def test_deleted_entities_never_collide_on_a_key_among_live(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    first = await repo.create(new_thing(name="again"))
    await repo.delete(first.id)
    second = await repo.create(new_thing(name="again"))
    with pytest.raises(EntityAlreadyExists):
        await repo.restore(first.id)
    await repo.delete(second.id)
    await repo.restore(first.id)


@pytest.mark.asyncio
async def test_a_validation_failure_maps_to_integrity_violation(
    db: Database, raw: Any, things: Table[Thing]
) -> None:
    wrong = {"_id": uuid.uuid4(), "tenant": 1}
    with pytest.raises(OperationFailure) as caught:
        await raw.get_collection(things.name).insert_one(wrong)
    assert isinstance(translate(caught.value, things), IntegrityViolation)


def test_an_unreachable_server_raises_backend_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"mongodb://127.0.0.1:{port}/db?serverSelectionTimeoutMS=200"
    with pytest.raises(BackendUnavailable) as caught:
        asyncio.run(Database.connect(url))
    chained = _chained_to_the_driver(caught.value)
    # PyMongo 4.20 leaves the socket of a connection attempt open when closing
    # the client cancels its monitor mid-connect (pool_shared._async_create_connection
    # closes it on OSError only); the error's traceback keeps it alive. The
    # test's own loop is gone now: drop the error and collect the socket here.
    del caught
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert chained


@pytest.mark.asyncio
async def test_a_url_without_a_database_is_refused(mongodb_url: str) -> None:
    with pytest.raises(InvalidQuery):
        await Database.connect(mongodb_url.rsplit("/", 1)[0] + "/")


@pytest.mark.asyncio
async def test_a_read_only_session_refuses_writes(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    backend = await db.backend.open_session(read_only=True)
    try:
        with pytest.raises(UnsupportedOperation):
            await backend.insert(things, [things.to_row(new_thing())])
    finally:
        await backend.rollback()
    assert await _repo(db, things).count() == 0


@pytest.mark.asyncio
async def test_a_write_conflict_is_a_transaction_conflict(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing())
    async with db.begin_session() as first:
        await repo.update(thing.id, {"count": 1}, session=first)
        with pytest.raises(TransactionConflict) as caught:
            async with db.begin_session() as second:
                await repo.update(thing.id, {"count": 2}, session=second)
        assert _chained_to_the_driver(caught.value)
    assert (await repo.get(thing.id)).count == 1


@pytest.mark.asyncio
async def test_the_transaction_runner_retries_a_write_conflict(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing())
    attempts = 0

    async def work(session: Any) -> None:
        nonlocal attempts
        attempts += 1
        current = await repo.get(thing.id, session=session)
        if attempts == 1:  # a concurrent writer gets in first
            async with db.begin_session() as other:
                await repo.update(thing.id, {"count": 10}, session=other)
        await repo.update(thing.id, {"count": current.count + 1}, session=session)

    await db.run_in_transaction(work)
    assert attempts == 2
    assert (await repo.get(thing.id)).count == 11


@pytest.mark.parametrize(
    "error",
    [
        DocumentTooLarge("BSON document too large (17000000 bytes)"),
        DocumentTooLarge("update command document too large"),
        OperationFailure("Resulting document after update is larger than 16777216", code=10334),
        OperationFailure("Resulting document after update is larger than 16777216", code=17419),
        OperationFailure("Document to upsert is larger than 16777216", code=17420),
        OperationFailure("object to insert too large. size in bytes: 17825847", code=2),
        BulkWriteError(
            {"writeErrors": [{"index": 0, "code": 2, "errmsg": "object to insert too large"}]}
        ),
    ],
    ids=repr,
)
def test_a_document_too_large_for_mongodb_is_an_invalid_value(error: Exception) -> None:
    mapped = translate(error, thing_table("mg_sizes"))  # type: ignore[arg-type]
    assert isinstance(mapped, InvalidValue)
    assert "too large for MongoDB" in str(mapped)
    assert mapped.entity == "Thing"


def test_another_bad_value_stays_a_repository_error() -> None:
    mapped = translate(OperationFailure("unknown operator: $foo", code=2))
    assert type(mapped) is RepositoryError


def test_an_unknown_commit_outcome_is_backend_unavailable_never_a_retried_conflict() -> None:
    error = OperationFailure(
        "operation was interrupted",
        code=11602,
        details={"errorLabels": ["UnknownTransactionCommitResult"]},
    )
    mapped = translate(error)
    assert isinstance(mapped, BackendUnavailable)
    assert not isinstance(mapped, TransactionConflict)


def test_a_transient_transaction_error_is_a_conflict() -> None:
    error = OperationFailure(
        "lock timeout", code=24, details={"errorLabels": ["TransientTransactionError"]}
    )
    assert isinstance(translate(error), TransactionConflict)
