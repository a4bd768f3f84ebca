"""Error mapping (CONTRACT §8): SQLSTATE and SQLite extended result codes → repokit errors.

Every error is provoked on a real database and must come out as the repokit
exception, chained to the driver's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from repokit import (
    BackendUnavailable,
    Database,
    EntityAlreadyExists,
    IntegrityViolation,
    Repository,
    Table,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit_sqlalchemy import SQLAlchemyBackend
from repokit_sqlalchemy.errors import translate
from repokit_sqlalchemy.sqlite import SQLiteDialect


def _repo(db: Database, things: Table[Any]) -> Repository[Any, uuid.UUID]:
    return Repository(db, things)


def _chained_to_the_driver(error: BaseException) -> bool:
    # The driver's own error (statements run on the driver), or SQLAlchemy's wrapper of it
    # (schema management).
    driver_errors = (sqlite3.Error, asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
    return isinstance(error.__cause__, (sa.exc.DBAPIError, *driver_errors))


@pytest.mark.asyncio
async def test_a_duplicate_primary_key_names_the_primary_key(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
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
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(code="c1"))
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.create(new_thing(code="c1"))
    assert caught.value.fields == ("tenant", "code")
    assert _chained_to_the_driver(caught.value)


@pytest.mark.asyncio
async def test_a_duplicate_key_among_live_entities_names_its_fields(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="taken"))
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.create(new_thing(name="taken"))
    assert caught.value.fields == ("tenant", "name")


@pytest.mark.asyncio
async def test_an_update_onto_a_taken_key_names_the_key(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(code="a"))
    other = await repo.create(new_thing(code="b"))
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.update(other.id, {"code": "a"})
    assert caught.value.fields == ("tenant", "code")


@pytest.mark.asyncio
async def test_a_duplicate_inside_one_batch_is_refused_whole(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    batch = [new_thing(code=f"c{i}") for i in range(50)] + [new_thing(code="c7")]
    with pytest.raises(EntityAlreadyExists):
        await repo.batch_create(batch)
    assert await repo.count() == 0


@pytest.mark.asyncio
async def test_another_constraint_is_an_integrity_violation(
    db: Database, things: Table[Any]
) -> None:
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    with pytest.raises(sa.exc.IntegrityError) as caught:
        async with backend.engine.begin() as connection:
            await connection.execute(
                sa.text(f"INSERT INTO {things.name} (id) VALUES (:id)"),
                {"id": uuid.uuid4().hex if backend.dialect.name == "sqlite" else uuid.uuid4()},
            )
    assert isinstance(translate(caught.value, backend.dialect, things), IntegrityViolation)


@pytest.mark.asyncio
async def test_an_unreachable_postgres_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable) as caught:
        await Database.connect("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    assert caught.value.__cause__ is not None


@pytest.mark.asyncio
async def test_an_sqlite_file_in_a_missing_folder_is_backend_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable):
        await Database.connect(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")


def test_an_sqlite_file_that_cannot_be_opened_is_classified_unavailable(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(tmp_path)  # a folder, not a database file
    dialect = SQLiteDialect(sa.make_url(f"sqlite+aiosqlite:///{tmp_path}"))
    assert isinstance(translate(caught.value, dialect, None), BackendUnavailable)


@pytest.mark.asyncio
async def test_a_write_on_a_read_only_postgres_transaction_is_unsupported(
    postgres_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    owner = await Database.connect(postgres_url)
    await owner.create_tables(things)
    engine = create_async_engine(postgres_url).execution_options(postgresql_readonly=True)
    db = Database(SQLAlchemyBackend.from_engine(engine))
    try:
        with pytest.raises(UnsupportedOperation) as caught:
            await _repo(db, things).create(new_thing())
        assert _chained_to_the_driver(caught.value)
    finally:
        await db.close()
        await engine.dispose()
        await owner.drop_tables(things)
        await owner.close()


@pytest.mark.asyncio
async def test_a_write_on_a_read_only_sqlite_file_is_unsupported(
    sqlite_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    owner = await Database.connect(sqlite_url)
    await owner.create_tables(things)
    await owner.close()
    path = sqlite_url.split(":///", 1)[1]
    db = await Database.connect(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(UnsupportedOperation) as caught:
            await _repo(db, things).create(new_thing())
        assert _chained_to_the_driver(caught.value)
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_busy_sqlite_database_is_a_transaction_conflict(
    sqlite_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    db = await Database.connect(sqlite_url, busy_timeout=0.05)
    await db.create_tables(things)
    holder = sqlite3.connect(sqlite_url.split(":///", 1)[1])
    holder.execute("BEGIN IMMEDIATE")  # another process's writer
    try:
        with pytest.raises(TransactionConflict) as caught:
            await _repo(db, things).create(new_thing())
        assert _chained_to_the_driver(caught.value)
    finally:
        holder.rollback()
        holder.close()
        await db.close()


@pytest.mark.asyncio
async def test_the_transaction_runner_retries_a_busy_sqlite_database(
    sqlite_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    db = await Database.connect(sqlite_url, busy_timeout=0.05)
    await db.create_tables(things)
    holder = sqlite3.connect(sqlite_url.split(":///", 1)[1])
    holder.execute("BEGIN IMMEDIATE")
    # The other writer finishes while the runner is retrying (each try waits 50 ms).
    asyncio.get_running_loop().call_later(0.1, holder.rollback)
    attempts = 0

    async def work(session: Any) -> None:
        nonlocal attempts
        attempts += 1
        await _repo(db, things).create(new_thing(), session=session)

    try:
        await db.run_in_transaction(work, attempts=50)
        # BEGIN IMMEDIATE runs with the work's first statement: it met the lock and
        # the runner tried again until the other writer was gone.
        assert attempts > 1
        assert await _repo(db, things).count() == 1
    finally:
        holder.close()
        await db.close()


@pytest.mark.asyncio
async def test_a_postgres_deadlock_is_a_transaction_conflict(
    postgres_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    db = await Database.connect(postgres_url)
    await db.create_tables(things)
    repo = _repo(db, things)
    first, second = await repo.batch_create([new_thing(), new_thing()])
    both_locked = asyncio.Barrier(2)

    async def cross(mine: Any, theirs: Any) -> None:
        async with db.begin_session() as session:
            await repo.update(mine.id, {"count": 1}, session=session)
            await both_locked.wait()
            await repo.update(theirs.id, {"count": 2}, session=session)

    try:
        results = await asyncio.gather(
            cross(first, second), cross(second, first), return_exceptions=True
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1
        assert isinstance(failures[0], TransactionConflict)
        assert _chained_to_the_driver(failures[0])
    finally:
        await db.drop_tables(things)
        await db.close()


@pytest.mark.asyncio
async def test_a_dropped_postgres_connection_is_backend_unavailable(
    postgres_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    engine = create_async_engine(postgres_url, pool_size=1, max_overflow=0)
    killer = create_async_engine(postgres_url, poolclass=sa.pool.NullPool)
    db = Database(SQLAlchemyBackend.from_engine(engine))
    try:
        await db.create_tables(things)
        async with engine.connect() as connection:  # the pool's only connection
            pid = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        async with killer.connect() as connection:
            await connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(BackendUnavailable) as caught:
            await _repo(db, things).create(new_thing())
        assert caught.value.__cause__ is not None
        await _repo(db, things).create(new_thing())  # the pool replaced the connection
    finally:
        await db.drop_tables(things)
        await db.close()
        await engine.dispose()
        await killer.dispose()


@pytest.mark.asyncio
async def test_a_statement_prepared_before_a_schema_change_is_retried(
    postgres_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    # asyncpg caches prepared statements per connection; after ALTER TABLE the
    # cached plan is refused inside a transaction. That is a transient conflict:
    # the transaction runner runs the work again on a freshly prepared statement.
    db = await Database.connect(postgres_url, pool_size=1, max_overflow=0)
    await db.create_tables(things)
    repo = _repo(db, things)
    thing = await repo.create(new_thing())
    alter = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    attempts = 0

    async def work(session: Any) -> Any:
        nonlocal attempts
        attempts += 1
        return await repo.get(thing.id, session=session)

    try:
        await db.run_in_transaction(work)  # prepares the statement on the one connection
        await alter.execute(f"ALTER TABLE {things.name} ALTER COLUMN code TYPE varchar(200)")
        attempts = 0
        assert (await db.run_in_transaction(work)).id == thing.id
        assert attempts == 2
    finally:
        await alter.close()
        await db.drop_tables(things)
        await db.close()
