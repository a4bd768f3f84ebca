"""``create_tables`` on an existing SQL table reports drift instead of ignoring it (CONTRACT §16).

Each test creates a table from one definition, then calls ``create_tables``
(or ``schema_changes``) with a changed definition of the same table: the
changes are listed as migrations, and nothing is altered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from repokit import (
    Database,
    Index,
    Remedy,
    SchemaAction,
    SchemaChange,
    SchemaDrift,
    StatusMarker,
    Table,
    Unique,
)

from .conftest import Thing


def _things(
    name: str,
    *,
    unique: Sequence[Unique | tuple[str, ...]] = (
        Unique(("tenant", "name"), among_live=True),
        ("tenant", "code"),
    ),
    indexes: Sequence[Index | tuple[str, ...]] = (("tenant", "count"),),
) -> Table[Thing]:
    return Table(
        Thing,
        name,
        primary_key="id",
        unique=list(unique),
        indexes=list(indexes),
        soft_delete=StatusMarker("status", deleted="gone", restored="live"),
        ignore_case=["name"],
    )


@dataclass(frozen=True)
class Lean:
    """Thing's table with fewer fields, and one of its own."""

    id: uuid.UUID
    tenant: str
    name: str
    note: str | None = None


def _actions(changes: Sequence[SchemaChange]) -> set[tuple[SchemaAction, str]]:
    return {(change.action, change.name) for change in changes}


@pytest.mark.asyncio
async def test_create_tables_on_a_schema_it_created_reports_nothing(
    db: Database, things: Table[Thing]
) -> None:
    assert await db.schema_changes(things) == []
    assert await db.create_tables(things) == []
    assert await db.create_tables(_things(things.name)) == []  # an equal definition


@pytest.mark.asyncio
async def test_a_missing_table_is_a_change_create_tables_applies(sql_url: str) -> None:
    table = _things(f"sa_drift_{uuid.uuid4().hex[:8]}")
    db = await Database.connect(sql_url)
    try:
        planned = await db.schema_changes(table)
        assert planned == [
            SchemaChange(table.name, SchemaAction.CREATE_TABLE, table.name, Remedy.CREATE)
        ]
        assert await db.create_tables(table) == planned
        assert await db.schema_changes(table) == []
    finally:
        await db.drop_tables(table)
        await db.close()


@pytest.mark.asyncio
async def test_a_null_equal_key_on_an_existing_table_reports_nothing_and_warns_nothing(
    sql_url: str,
) -> None:
    """SQLite's inspector warns about the key's expression index; drift reads it quietly.

    The warning would be an error here (pyproject's filterwarnings), as it is for
    an application running with ``-W error``.
    """
    table = Table(
        Thing,
        f"sa_nulls_{uuid.uuid4().hex[:8]}",
        primary_key="id",
        unique=[Unique(("tenant", "code"), nulls="equal")],
    )
    db = await Database.connect(sql_url)
    try:
        await db.create_tables(table)
        assert await db.schema_changes(table) == []
        assert await db.create_tables(table) == []
    finally:
        await db.drop_tables(table)
        await db.close()


@pytest.mark.asyncio
async def test_an_index_added_to_the_definition_is_drift_naming_it(
    db: Database, things: Table[Thing]
) -> None:
    changed = _things(things.name, indexes=[("tenant", "count"), ("tenant", "ratio")])
    with pytest.raises(SchemaDrift) as caught:
        await db.create_tables(changed)
    name = f"ix_{things.name}_tenant_ratio"
    assert _actions(caught.value.changes) == {(SchemaAction.CREATE_INDEX, name)}
    assert caught.value.changes[0].remedy is Remedy.MIGRATION
    assert name in str(caught.value)
    assert "migration" in str(caught.value)
    # Nothing was created: the dry run still lists it.
    assert _actions(await db.schema_changes(changed)) == {(SchemaAction.CREATE_INDEX, name)}


@pytest.mark.asyncio
async def test_a_removed_unique_key_is_drift(db: Database, things: Table[Thing]) -> None:
    changed = _things(things.name, unique=[Unique(("tenant", "name"), among_live=True)])
    with pytest.raises(SchemaDrift) as caught:
        await db.create_tables(changed)
    name = f"uq_{things.name}_tenant_code"
    assert _actions(caught.value.changes) == {(SchemaAction.DROP_INDEX, name)}
    assert name in str(caught.value)


@pytest.mark.asyncio
async def test_a_unique_key_no_longer_among_live_is_a_changed_key(
    db: Database, things: Table[Thing]
) -> None:
    # The partial unique index becomes a plain unique key under the same name.
    changed = _things(things.name, unique=[("tenant", "name"), ("tenant", "code")])
    changes = await db.schema_changes(changed)
    name = f"uq_{things.name}_tenant_name"
    assert _actions(changes) == {(SchemaAction.REPLACE_INDEX, name)}
    assert "partial" in changes[0].detail


@pytest.mark.asyncio
async def test_added_and_removed_fields_are_drift(db: Database, things: Table[Thing]) -> None:
    lean = Table(Lean, things.name, primary_key="id")
    actions = _actions(await db.schema_changes(lean))
    assert (SchemaAction.ADD_COLUMN, "note") in actions
    assert (SchemaAction.DROP_COLUMN, "count") in actions
    assert (SchemaAction.DROP_INDEX, f"ix_{things.name}_tenant_count") in actions


@pytest.mark.asyncio
async def test_reconcile_does_not_alter_a_sql_table(db: Database, things: Table[Thing]) -> None:
    changed = _things(things.name, indexes=[])
    with pytest.raises(SchemaDrift) as caught:
        await db.create_tables(changed, reconcile=True)
    assert {change.remedy for change in caught.value.changes} == {Remedy.MIGRATION}
    assert _actions(await db.schema_changes(things)) == set()  # the index is still there


@pytest.mark.asyncio
async def test_an_index_added_by_hand_under_another_name_is_left_alone(
    db: Database, things: Table[Thing]
) -> None:
    import sqlalchemy as sa

    from repokit_sqlalchemy import SQLAlchemyBackend

    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    async with backend.engine.begin() as connection:
        await connection.execute(sa.text(f"CREATE INDEX hand_made ON {things.name} (ratio)"))
    assert await db.schema_changes(things) == []
