"""Engines: connecting by URL, wrapping an application's engine, and schema for Alembic."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from repokit import Database, Repository, RepositoryError, Table
from repokit_sqlalchemy import SQLAlchemyBackend, define_tables


def _repo(db: Database, things: Table[Any]) -> Repository[Any, uuid.UUID]:
    return Repository(db, things)


@pytest.mark.asyncio
async def test_an_application_engine_stays_open_after_the_database_closes(
    sql_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    engine = create_async_engine(sql_url)
    try:
        db = Database(SQLAlchemyBackend.from_engine(engine))
        await db.create_tables(things)
        created = await _repo(db, things).create(new_thing())
        await db.close()
        async with engine.connect() as connection:
            result = await connection.execute(sa.text(f"SELECT count(*) FROM {things.name}"))
            assert result.scalar_one() == 1
        again = Database(SQLAlchemyBackend.from_engine(engine))
        assert await _repo(again, things).get(created.id) == created
        await again.drop_tables(things)
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_an_application_engine_keeps_its_own_transactions(
    sql_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    engine = create_async_engine(sql_url, pool_size=1, max_overflow=0)
    try:
        db = Database(SQLAlchemyBackend.from_engine(engine))
        await db.create_tables(things)
        await _repo(db, things).create(new_thing())
        # The application's own transaction on the same pooled connection still rolls back.
        async with engine.connect() as connection:
            await connection.execute(sa.text(f"DELETE FROM {things.name}"))
            await connection.rollback()
        assert await _repo(db, things).count() == 1
        await db.drop_tables(things)
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_bare_schemes_pick_the_async_drivers(postgres_url: str, tmp_path: Path) -> None:
    for url in (
        f"sqlite:///{tmp_path / 'bare.db'}",
        postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1),
    ):
        db = await Database.connect(url)
        try:
            backend = db.backend
            assert isinstance(backend, SQLAlchemyBackend)
            assert backend.engine.url.get_driver_name() in ("aiosqlite", "asyncpg")
        finally:
            await db.close()


@pytest.mark.asyncio
async def test_engine_options_reach_the_engine(sql_url: str) -> None:
    db = await Database.connect(sql_url, pool_size=3, max_overflow=0)
    try:
        backend = db.backend
        assert isinstance(backend, SQLAlchemyBackend)
        assert backend.engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        await db.close()


def test_define_tables_gives_alembic_the_tables_indexes_and_constraints(
    things: Table[Any],
) -> None:
    metadata = sa.MetaData()
    (table,) = define_tables(metadata, things)
    assert metadata.tables[things.name] is table
    assert set(table.c.keys()) == {*things.fields}
    assert table.primary_key.name == f"pk_{things.name}"
    constraints = {c.name for c in table.constraints if isinstance(c, sa.UniqueConstraint)}
    assert constraints == {u.name for u in things.unique if u.where is None}
    indexes = {index.name: index for index in table.indexes}
    live_key = next(u for u in things.unique if u.where is not None)
    assert indexes[live_key.name].unique
    assert indexes[live_key.name].dialect_options["postgresql"]["where"] is not None
    assert any("name__casefold" in index.columns for index in table.indexes)


@pytest.mark.asyncio
async def test_tables_created_from_the_metadata_work_with_repokit(
    tmp_path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    path = tmp_path / "migrated.db"
    metadata = sa.MetaData()
    define_tables(metadata, things)
    sync_engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(sync_engine)  # what a migration tool would do
    sync_engine.dispose()
    db = await Database.connect(f"sqlite+aiosqlite:///{path}")
    try:
        await db.create_tables(things)  # already there: kept
        created = await _repo(db, things).create(new_thing(name="Ärger"))
        folded = things.c.name.eq("ärger", ignore_case=True)
        found = await _repo(db, things).search(conditions=[folded])
        assert found.items == [created]
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_an_in_memory_sqlite_database_is_one_private_database(
    things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    first = await Database.connect("sqlite+aiosqlite://")
    second = await Database.connect("sqlite+aiosqlite:///:memory:")
    try:
        assert not first.capabilities.persistent
        assert not first.capabilities.concurrent_sessions
        await first.create_tables(things)
        await second.create_tables(things)
        created = await _repo(first, things).create(new_thing())
        async with first.begin_readonly_session() as session:
            assert await _repo(first, things).get(created.id, session=session) == created
        assert await _repo(second, things).count() == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.asyncio
async def test_a_read_only_sqlite_file_in_rollback_journal_mode_can_be_read(
    tmp_path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    path = tmp_path / "journal.db"
    metadata = sa.MetaData()
    define_tables(metadata, things)
    sync_engine = sa.create_engine(f"sqlite:///{path}")  # journal_mode stays DELETE
    metadata.create_all(sync_engine)
    sync_engine.dispose()
    db = await Database.connect(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert await _repo(db, things).count() == 0
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_a_connection_back_from_a_read_only_session_writes_again(
    sql_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    db = await Database.connect(sql_url, pool_size=1, max_overflow=0)
    try:
        await db.create_tables(things)
        assert await _repo(db, things).count() == 0  # read-only, on the only connection
        created = await _repo(db, things).create(new_thing())
        assert await _repo(db, things).get(created.id) == created
        await db.drop_tables(things)
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_async_with_connect_opens_and_closes_a_sqlite_database(
    sqlite_url: str, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    async with Database.connect(sqlite_url) as db:
        await db.create_tables(things)
        created = await _repo(db, things).create(new_thing())
    with pytest.raises(RepositoryError, match="closed"):
        async with db.begin_readonly_session():
            pass
    async with Database.connect(sqlite_url) as again:
        assert await _repo(again, things).get(created.id) == created
