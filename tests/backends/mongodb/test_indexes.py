"""``create_tables`` reconciles the indexes repokit owns on MongoDB (CONTRACT §16).

Missing indexes are created by a plain ``create_tables``; stale and changed
ones are listed as drift unless ``reconcile=True``, which drops them (and
re-creates the changed ones). ``schema_changes`` is the dry run. These run
on SecantusDB unless ``$REPOKIT_TEST_MONGODB_URL`` names a real server:
it lists, creates and drops indexes like mongod, and a dropped unique index
stops enforcing its key there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from repokit import (
    Database,
    EntityAlreadyExists,
    Index,
    Remedy,
    Repository,
    SchemaAction,
    SchemaChange,
    SchemaDrift,
    StatusMarker,
    Table,
    Unique,
)

from .conftest import Mood, Thing


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
        soft_delete=StatusMarker("mood", deleted=Mood.GONE, restored=Mood.CALM),
        ignore_case=["name"],
    )


async def _index_names(raw: Any, table: Table[Any]) -> set[str]:
    return {index["name"] async for index in await raw[table.name].list_indexes()}


def _actions(changes: Sequence[SchemaChange]) -> set[tuple[SchemaAction, str, Remedy]]:
    return {(change.action, change.name, change.remedy) for change in changes}


@pytest.mark.asyncio
async def test_create_tables_on_collections_it_created_reports_nothing(
    db: Database, things: Table[Thing]
) -> None:
    assert await db.schema_changes(things) == []
    assert await db.create_tables(things) == []
    assert await db.create_tables(_things(things.name), reconcile=True) == []


@pytest.mark.asyncio
async def test_a_missing_collection_is_created(mongodb_url: str) -> None:
    table = _things(f"mg_idx_{uuid.uuid4().hex[:8]}")
    db = await Database.connect(mongodb_url)
    try:
        planned = await db.schema_changes(table)
        assert _actions(planned) == {(SchemaAction.CREATE_TABLE, table.name, Remedy.CREATE)}
        assert await db.create_tables(table) == planned
        assert await db.schema_changes(table) == []
    finally:
        await db.drop_tables(table)
        await db.close()


@pytest.mark.asyncio
async def test_an_added_index_is_created_by_create_tables(
    db: Database, things: Table[Thing], raw: Any
) -> None:
    changed = _things(things.name, indexes=[("tenant", "count"), ("tenant", "ratio")])
    name = f"ix_{things.name}_tenant_ratio"
    applied = await db.create_tables(changed)
    assert _actions(applied) == {(SchemaAction.CREATE_INDEX, name, Remedy.CREATE)}
    assert name in await _index_names(raw, things)
    assert await db.schema_changes(changed) == []


@pytest.mark.asyncio
async def test_a_removed_unique_key_is_drift_until_reconciled(
    db: Database, things: Table[Thing], raw: Any
) -> None:
    changed = _things(things.name, unique=[Unique(("tenant", "name"), among_live=True)])
    name = f"uq_{things.name}_tenant_code"
    with pytest.raises(SchemaDrift) as caught:
        await db.create_tables(changed)
    assert _actions(caught.value.changes) == {(SchemaAction.DROP_INDEX, name, Remedy.RECONCILE)}
    assert "reconcile=True" in str(caught.value)
    assert name in await _index_names(raw, things)  # nothing changed


@pytest.mark.asyncio
async def test_reconcile_drops_a_removed_unique_index_and_duplicates_are_then_accepted(
    db: Database, things: Table[Thing], raw: Any, new_thing: Callable[..., Thing]
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    await repo.create(new_thing(code="same"))
    with pytest.raises(EntityAlreadyExists):
        await repo.create(new_thing(code="same"))

    changed = _things(things.name, unique=[Unique(("tenant", "name"), among_live=True)])
    name = f"uq_{things.name}_tenant_code"
    applied = await db.create_tables(changed, reconcile=True)
    assert _actions(applied) == {(SchemaAction.DROP_INDEX, name, Remedy.RECONCILE)}
    assert name not in await _index_names(raw, things)
    relaxed: Repository[Thing, uuid.UUID] = Repository(db, changed)
    await relaxed.create(new_thing(code="same"))
    assert await db.schema_changes(changed) == []


@pytest.mark.asyncio
async def test_the_dry_run_lists_changes_without_making_them(
    db: Database, things: Table[Thing], raw: Any
) -> None:
    before = await _index_names(raw, things)
    changed = _things(things.name, unique=[], indexes=[("tenant", "ratio")])
    planned = await db.schema_changes(changed)
    assert _actions(planned) == {
        (SchemaAction.CREATE_INDEX, f"ix_{things.name}_tenant_ratio", Remedy.CREATE),
        (SchemaAction.DROP_INDEX, f"ix_{things.name}_tenant_count", Remedy.RECONCILE),
        (SchemaAction.DROP_INDEX, f"uq_{things.name}_tenant_code", Remedy.RECONCILE),
        (SchemaAction.DROP_INDEX, f"uq_{things.name}_tenant_name", Remedy.RECONCILE),
    }
    assert await _index_names(raw, things) == before
    assert await db.schema_changes(changed) == planned


@pytest.mark.asyncio
async def test_reconcile_replaces_a_changed_unique_key(
    db: Database, things: Table[Thing], raw: Any, new_thing: Callable[..., Thing]
) -> None:
    # Among live entities -> among all of them: same name, another partial filter.
    changed = _things(things.name, unique=[("tenant", "name"), ("tenant", "code")])
    name = f"uq_{things.name}_tenant_name"
    with pytest.raises(SchemaDrift) as caught:
        await db.create_tables(changed)
    assert _actions(caught.value.changes) == {(SchemaAction.REPLACE_INDEX, name, Remedy.RECONCILE)}
    await db.create_tables(changed, reconcile=True)
    indexes = {index["name"]: index async for index in await raw[things.name].list_indexes()}
    assert indexes[name]["unique"] is True
    assert "partialFilterExpression" not in indexes[name]
    assert await db.schema_changes(changed) == []

    repo: Repository[Thing, uuid.UUID] = Repository(db, changed)
    first = await repo.create(new_thing(name="taken"))
    await repo.delete(first.id)
    with pytest.raises(EntityAlreadyExists):  # a deleted entity now holds its name
        await repo.create(new_thing(name="taken"))


@pytest.mark.asyncio
async def test_reconcile_leaves_an_index_created_by_hand_alone(
    db: Database, things: Table[Thing], raw: Any
) -> None:
    await raw[things.name].create_index([("ratio", 1)], name="hand_made")
    assert await db.schema_changes(things) == []
    await db.create_tables(_things(things.name, indexes=[]), reconcile=True)
    names = await _index_names(raw, things)
    assert "hand_made" in names
    assert f"ix_{things.name}_tenant_count" not in names
