"""References are FOREIGN KEYs on SQL (CONTRACT §23): created, enforced, mapped, compared.

Core checks references before writing, so the database's own check is what
keeps out what core cannot see: a write that goes around repokit. These tests
write around it on purpose (raw SQL), then check what repokit makes of it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
import sqlalchemy as sa

from repokit import (
    Database,
    IntegrityViolation,
    OnPurge,
    Reference,
    Remedy,
    Repository,
    SchemaAction,
    Table,
)
from repokit_sqlalchemy import SQLAlchemyBackend


@dataclass(frozen=True)
class Parent:
    id: str


@dataclass(frozen=True)
class Child:
    id: uuid.UUID
    parent: str | None = None


def _tables(on_purge: OnPurge = OnPurge.RESTRICT) -> tuple[Table[Parent], Table[Child]]:
    suffix = uuid.uuid4().hex[:8]
    parents = Table(Parent, f"sa_parents_{suffix}", primary_key="id")
    children = Table(
        Child,
        f"sa_children_{suffix}",
        primary_key="id",
        references=[Reference(("parent",), parents, on_purge=on_purge)],
    )
    return parents, children


@pytest_asyncio.fixture
async def sql_db(sql_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(sql_url)
    try:
        yield database
    finally:
        await database.close()


def _engine(db: Database) -> sa.ext.asyncio.AsyncEngine:
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    return backend.engine


@pytest.mark.asyncio
async def test_a_freshly_created_child_table_shows_no_drift(sql_db: Database) -> None:
    parents, children = _tables(OnPurge.SET_NULL)
    await sql_db.create_tables(children, parents)  # any order: parents are created first
    try:
        assert await sql_db.schema_changes(parents, children) == []
    finally:
        await sql_db.drop_tables(parents, children)  # any order: children are dropped first


@pytest.mark.asyncio
async def test_a_missing_foreign_key_is_drift_a_migration_applies(sql_db: Database) -> None:
    parents, children = _tables()
    bare = Table(Child, children.name, primary_key="id")  # the same table, no reference
    await sql_db.create_tables(parents, bare)
    try:
        changes = await sql_db.schema_changes(parents, children)
        assert [(c.action, c.name, c.remedy) for c in changes] == [
            (SchemaAction.ADD_REFERENCE, "fk_" + children.name + "_parent", Remedy.MIGRATION)
        ]
    finally:
        await sql_db.drop_tables(parents, bare)


@pytest.mark.asyncio
async def test_the_databases_foreign_key_error_names_the_reference(sql_db: Database) -> None:
    parents, children = _tables()
    await sql_db.create_tables(parents, children)
    try:
        # The SPI directly, past core's check: the database itself refuses.
        session = await sql_db.backend.open_session(read_only=False)
        try:
            with pytest.raises(IntegrityViolation) as caught:
                await session.insert(children, [children.to_row(Child(uuid.uuid4(), "none"))])
        finally:
            await session.rollback()
        assert caught.value.reference == "fk_" + children.name + "_parent"
        assert caught.value.fields == ("parent",)
    finally:
        await sql_db.drop_tables(parents, children)


@pytest.mark.asyncio
async def test_a_child_written_around_repokit_still_restricts_its_parent(sql_db: Database) -> None:
    parents, children = _tables()
    await sql_db.create_tables(parents, children)
    try:
        child = uuid.uuid4()
        async with _engine(sql_db).begin() as connection:
            await connection.execute(sa.text(f"INSERT INTO {parents.name} (id) VALUES ('p')"))
            await connection.execute(
                sa.text(f"INSERT INTO {children.name} (id, parent) VALUES (:id, 'p')"),
                {"id": child.hex if _engine(sql_db).dialect.name == "sqlite" else str(child)},
            )
        # repokit sees the child core did not write; a purge of its parent is refused...
        with pytest.raises(IntegrityViolation) as caught:
            await Repository(sql_db, parents).purge("p")
        assert caught.value.reference == "fk_" + children.name + "_parent"
        # ...and so is a raw DELETE, by the database itself (ON DELETE RESTRICT).
        with pytest.raises(sa.exc.IntegrityError):
            async with _engine(sql_db).begin() as connection:
                await connection.execute(sa.text(f"DELETE FROM {parents.name}"))
    finally:
        await sql_db.drop_tables(parents, children)
