"""Contract tests: CONTRACT §18 upserts.

An upsert inserts the entity unless a stored entity holds its value of the
deciding key (``on=``: the primary key or a declared unique key), and then
updates that one instead. It never updates a soft-deleted entity or one
outside the caller's scope, refuses a bad ``on=`` and bad values before any
I/O, increments and checks versions as an update does, writes nothing for
an update that changes nothing, and ends concurrent upserts of one key with
exactly one insert.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit import (
    TRUE,
    ConcurrentModification,
    Database,
    Deleted,
    EntityAlreadyExists,
    InvalidQuery,
    InvalidValue,
    RepositoryError,
    ScopeViolation,
    TransactionAborted,
    Upserted,
)
from repokit.testing.plugin import requires
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Item, ItemId, Status, TenantScope, items, new_tenant, notes
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import new_note, note_repository
from repokit.testing.suite.properties import property_settings

__all__ = [
    "TestBatchUpserts",
    "TestUpsertKeys",
    "TestUpsertRace",
    "TestUpsertScope",
    "TestUpsertSoftDelete",
    "TestUpsertVersions",
    "TestUpserts",
    "TestUpsertsAgreeWithTheReference",
]

NAME_KEY = ("tenant", "name")
#: Tasks racing to upsert one key.
RACERS = 32


class TestUpserts:
    """Insert when no entity holds the key, else update the one that does."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("on", ["id", NAME_KEY])
    async def test_an_upsert_of_a_key_nobody_holds_inserts_the_entity_as_given(
        self, repokit_db: Database, repokit_tenant: str, on: Any
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant, score=3, data={"a": [1]}, version=4)
        done = await repo.upsert(item, on=on, scope=TenantScope(repokit_tenant))
        assert done == Upserted(item, inserted=True)
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_an_upsert_on_the_primary_key_updates_every_other_field(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1, code="c-1"))
        changed = replace(item, name="renamed", score=2, code=None, data={"k": 1}, version=50)
        done = await repo.upsert(changed, on="id", scope=TenantScope(repokit_tenant))
        expected = replace(changed, version=item.version + 1)  # the version is repokit's
        assert done == Upserted(expected, inserted=False)
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == expected

    @pytest.mark.asyncio
    async def test_an_upsert_on_a_unique_key_updates_the_holder_which_keeps_its_primary_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "shared", score=1))
        done = await repo.upsert(
            new_item(repokit_tenant, "shared", score=2),
            on=NAME_KEY,
            scope=TenantScope(repokit_tenant),
        )
        assert done == Upserted(replace(held, score=2, version=held.version + 1), inserted=False)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 1
        assert await repo.get(held.id, scope=TenantScope(repokit_tenant)) == done.entity

    @pytest.mark.asyncio
    async def test_the_fields_of_on_may_come_in_any_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "shared", score=1))
        done = await repo.upsert(new_item(repokit_tenant, "shared", score=2), on=("name", "tenant"))
        assert (done.entity.id, done.inserted) == (held.id, False)

    @pytest.mark.asyncio
    async def test_an_update_spec_sets_only_its_fields_and_an_insert_takes_the_whole_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        held = await repo.create(new_item(repokit_tenant, "held", score=1, code="c-1"))
        update = {"score": 9}
        updated = await repo.upsert(
            new_item(repokit_tenant, "held", score=9, code="c-2"),
            on=NAME_KEY,
            update=update,
            scope=scope,
        )
        assert updated.entity == replace(held, score=9, version=held.version + 1)
        fresh = new_item(repokit_tenant, "fresh", score=9, code="c-3")
        inserted = await repo.upsert(fresh, on=NAME_KEY, update=update, scope=scope)
        assert inserted == Upserted(fresh, inserted=True)

    @pytest.mark.asyncio
    async def test_an_empty_update_inserts_or_leaves_the_holder_as_it_is(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "held", score=1))
        kept = await repo.upsert(new_item(repokit_tenant, "held", score=2), on=NAME_KEY, update={})
        assert kept == Upserted(held, inserted=False)
        assert await repo.get(held.id) == held

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("on", "update"),
        [(NAME_KEY, {"name": "other"}), ("id", {"id": uuid.uuid4()}), ("id", {"version": 3})],
    )
    async def test_updating_the_key_or_the_version_raises_invalid_query_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str, on: Any, update: dict[str, Any]
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "held"))
        with pytest.raises(InvalidQuery):
            await repo.upsert(replace(held, score=1), on=on, update=update)
        assert await repo.get(held.id) == held


class TestUpsertKeys:
    """``on=`` names a key; values are checked before any I/O."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "on", ["score", ("tenant",), ("tenant", "name", "code"), (), ("id", "tenant"), [1]]
    )
    async def test_on_naming_no_key_raises_invalid_query_naming_the_entity_and_the_fields(
        self, repokit_db: Database, repokit_tenant: str, on: Any
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidQuery) as raised:
            await repo.upsert(new_item(repokit_tenant), on=on)
        assert items.entity_name in str(raised.value)
        if on and isinstance(on, tuple):
            assert repr(on) in str(raised.value)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_a_null_in_the_deciding_key_raises_invalid_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidValue) as raised:
            await repo.upsert(new_item(repokit_tenant, code=None), on=("tenant", "code"))
        assert (raised.value.entity, raised.value.field) == (items.entity_name, "code")
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", ["score", "name"])
    async def test_an_invalid_value_is_refused_before_any_io_so_the_transaction_goes_on(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        repo = item_repository(repokit_db)
        bad: Any = {"score": 2**63, "name": "x" * 65}[field]
        held = await repo.create(new_item(repokit_tenant, "held"))
        async with repokit_db.begin_session() as session:
            for entity in (new_item(repokit_tenant, **{field: bad}), replace(held, **{field: bad})):
                with pytest.raises(InvalidValue) as raised:
                    await repo.upsert(entity, on="id", session=session)
                assert raised.value.field == field
            await repo.create(new_item(repokit_tenant, "after"), session=session)
        assert await repo.get(held.id) == held
        assert await count_items(repokit_db, repokit_tenant) == 2

    @pytest.mark.asyncio
    async def test_an_invalid_update_value_raises_invalid_value_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "held"))
        with pytest.raises(InvalidValue):
            await repo.upsert(held, on="id", update={"score": 2**63})
        assert await repo.get(held.id) == held

    @pytest.mark.asyncio
    async def test_a_collision_on_another_key_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "first", code="taken"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(new_item(repokit_tenant, "second", code="taken"), on=NAME_KEY)
        assert raised.value.fields == ("tenant", "code")
        assert await count_items(repokit_db, repokit_tenant) == 1

    @pytest.mark.asyncio
    async def test_an_update_into_a_taken_unique_key_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "first", code="taken"))
        held = await repo.create(new_item(repokit_tenant, "second", code="free"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(replace(held, code="taken"), on="id")
        assert raised.value.fields == ("tenant", "code")
        assert await repo.get(held.id) == held


class TestUpsertSoftDelete:
    """A deleted entity holds its primary key (and plain unique keys), not a key among live."""

    @pytest.mark.asyncio
    async def test_a_deleted_entity_does_not_hold_a_key_among_live_so_the_upsert_inserts(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        old = await repo.create(new_item(repokit_tenant, "reused", score=1))
        await repo.delete(old.id)
        deleted = await repo.get(old.id, deleted=Deleted.ONLY)
        fresh = new_item(repokit_tenant, "reused", score=2)
        assert await repo.upsert(fresh, on=NAME_KEY) == Upserted(fresh, inserted=True)
        assert await repo.get(old.id, deleted=Deleted.ONLY) == deleted

    @pytest.mark.asyncio
    async def test_a_deleted_entity_given_holds_no_key_among_live_so_it_is_inserted_beside(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        live = await repo.create(new_item(repokit_tenant, "shared", score=1))
        gone = new_item(repokit_tenant, "shared", score=2, status=Status.DELETED)
        assert await repo.upsert(gone, on=NAME_KEY) == Upserted(gone, inserted=True)
        assert await repo.get(live.id) == live
        assert await repo.get(gone.id, deleted=Deleted.ONLY) == gone
        # With the live holder's own primary key it collides on that, as a create would.
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(replace(gone, id=live.id), on=NAME_KEY)
        assert raised.value.fields == ("id",)
        assert await repo.get(live.id) == live
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 2

    @pytest.mark.asyncio
    async def test_a_deleted_entity_holds_its_primary_key_so_the_upsert_raises(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        old = await repo.create(new_item(repokit_tenant, score=1))
        await repo.delete(old.id)
        deleted = await repo.get(old.id, deleted=Deleted.ONLY)
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(replace(old, score=2), on="id")
        assert (raised.value.entity, raised.value.fields) == (items.entity_name, ("id",))
        assert await repo.get(old.id, deleted=Deleted.ONLY) == deleted

    @pytest.mark.asyncio
    async def test_a_deleted_note_holds_its_primary_key_too(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        scope = TenantScope(repokit_tenant, notes)
        note = await repo.create(new_note(repokit_tenant, "before"))
        await repo.delete(note.id, scope=scope)
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(replace(note, body="after"), on="id", scope=scope)
        assert raised.value.fields == ("id",)
        assert (await repo.get(note.id, scope=scope, deleted=Deleted.ONLY)).body == "before"

    @pytest.mark.asyncio
    async def test_a_live_note_is_updated_and_a_missing_one_inserted(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        scope = TenantScope(repokit_tenant, notes)
        note = await repo.create(new_note(repokit_tenant, "before"))
        assert await repo.upsert(replace(note, body="after"), on="id", scope=scope) == Upserted(
            replace(note, body="after"), inserted=False
        )
        fresh = new_note(repokit_tenant, "new")
        assert await repo.upsert(fresh, on="id", scope=scope) == Upserted(fresh, inserted=True)


class TestUpsertScope:
    """An upsert neither creates nor updates outside the scope, nor reveals what is there."""

    @pytest.mark.asyncio
    async def test_an_entity_outside_the_scope_raises_scope_violation_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        with pytest.raises(ScopeViolation):
            await repo.upsert(new_item(other), on="id", scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, other, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_a_key_held_in_another_scope_raises_entity_already_exists_and_touches_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        theirs = await repo.create(new_item(other, "theirs", score=1), scope=TenantScope(other))
        mine = Item(theirs.id, repokit_tenant, "mine", score=2)
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.upsert(mine, on="id", scope=TenantScope(repokit_tenant))
        assert (raised.value.entity, raised.value.fields) == (items.entity_name, ("id",))
        assert other not in str(raised.value)
        assert "theirs" not in str(raised.value)
        assert await repo.get(theirs.id) == theirs
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_a_key_held_in_another_scope_and_a_deleted_holder_look_alike(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        other = new_tenant()
        theirs = await repo.create(new_item(other), scope=TenantScope(other))
        gone = await repo.create(new_item(repokit_tenant), scope=scope)
        await repo.delete(gone.id, scope=scope)
        errors = []
        for key in (theirs.id, gone.id):
            with pytest.raises(EntityAlreadyExists) as raised:
                await repo.upsert(Item(key, repokit_tenant, "probe"), on="id", scope=scope)
            errors.append(raised.value)
        assert [(type(e), e.entity, e.fields) for e in errors] == [
            (EntityAlreadyExists, items.entity_name, ("id",))
        ] * 2
        assert str(errors[0]).replace(str(theirs.id), "?") == str(errors[1]).replace(
            str(gone.id), "?"
        )

    @pytest.mark.asyncio
    async def test_an_update_that_would_leave_the_scope_raises_scope_violation(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant))
        with pytest.raises(ScopeViolation):
            await repo.upsert(
                held, on="id", update={"tenant": new_tenant()}, scope=TenantScope(repokit_tenant)
            )
        assert await repo.get(held.id) == held

    @pytest.mark.asyncio
    async def test_a_tenant_qualified_key_never_matches_another_tenants_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        theirs = await repo.create(new_item(other, "same"), scope=TenantScope(other))
        mine = new_item(repokit_tenant, "same")
        done = await repo.upsert(mine, on=NAME_KEY, scope=TenantScope(repokit_tenant))
        assert done == Upserted(mine, inserted=True)
        assert await repo.get(theirs.id) == theirs


class TestUpsertVersions:
    """Versions as for updates: incremented by a write, checked by expected_version."""

    @pytest.mark.asyncio
    async def test_an_insert_stores_the_version_given_and_an_update_increments_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant, score=1, version=7)
        assert (await repo.upsert(item, on="id")).entity.version == 7
        assert (await repo.upsert(replace(item, score=2), on="id")).entity.version == 8

    @pytest.mark.asyncio
    @pytest.mark.parametrize("data", [None, {"nested": [1, {"a": None}]}])
    async def test_an_upsert_that_changes_nothing_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str, data: Any
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "held", score=1, data=data))
        for on in ("id", NAME_KEY):
            same = replace(held, id=ItemId(uuid.uuid4())) if on == NAME_KEY else held
            assert await repo.upsert(same, on=on) == Upserted(held, inserted=False)
        assert await repo.upsert(held, on="id", update={"score": 1}) == Upserted(held, False)
        assert await repo.get(held.id) == held

    @pytest.mark.asyncio
    async def test_a_change_of_a_json_field_is_written(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, data={"a": 1}))
        done = await repo.upsert(replace(held, data={"a": 2}), on="id")
        assert done == Upserted(replace(held, data={"a": 2}, version=held.version + 1), False)
        assert await repo.get(held.id) == done.entity

    @pytest.mark.asyncio
    async def test_an_upsert_at_the_expected_version_updates(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, score=1))
        done = await repo.upsert(replace(held, score=2), on="id", expected_version=held.version)
        assert done.entity == replace(held, score=2, version=held.version + 1)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("score", [1, 3])
    async def test_a_stale_expected_version_raises_concurrent_modification_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str, score: int
    ) -> None:
        # score 1: the upsert would change nothing; the version is checked all the same.
        repo = item_repository(repokit_db)
        read = await repo.create(new_item(repokit_tenant, score=0))
        current = await repo.update(read.id, {"score": 1})
        with pytest.raises(ConcurrentModification) as raised:
            await repo.upsert(replace(current, score=score), on="id", expected_version=read.version)
        assert raised.value.expected_version == read.version
        assert raised.value.actual_version == current.version
        assert await repo.get(read.id) == current

    @pytest.mark.asyncio
    async def test_an_expected_version_does_not_stop_an_insert(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant)
        assert await repo.upsert(item, on="id", expected_version=5) == Upserted(item, True)

    @pytest.mark.asyncio
    async def test_expected_version_on_a_table_without_a_version_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        with pytest.raises(InvalidQuery):
            await repo.upsert(new_note(repokit_tenant), on="id", expected_version=0)
        assert await repo.count(scope=TenantScope(repokit_tenant, notes)) == 0


class TestBatchUpserts:
    """batch_upsert: every entity checked first, upserted in order, all or nothing."""

    @pytest.mark.asyncio
    async def test_a_batch_reports_each_entity_in_input_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first, second = await repo.batch_create(
            [new_item(repokit_tenant, "a", score=1), new_item(repokit_tenant, "b", score=1)]
        )
        batch = [
            new_item(repokit_tenant, "b", score=2),
            new_item(repokit_tenant, "c", score=2),
            new_item(repokit_tenant, "a", score=2),
        ]
        done = await repo.batch_upsert(batch, on=NAME_KEY, scope=TenantScope(repokit_tenant))
        assert [(d.entity.name, d.inserted) for d in done] == [
            ("b", False),
            ("c", True),
            ("a", False),
        ]
        assert done[0].entity == replace(second, score=2, version=second.version + 1)
        assert done[1].entity == batch[1]
        assert done[2].entity == replace(first, score=2, version=first.version + 1)
        assert await count_items(repokit_db, repokit_tenant, items.c.score == 2) == 3

    @pytest.mark.asyncio
    async def test_a_later_entity_with_the_key_of_an_earlier_one_updates_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        batch = [new_item(repokit_tenant, "same", score=i) for i in range(3)]
        done = await repo.batch_upsert(batch, on=NAME_KEY)
        assert [d.inserted for d in done] == [True, False, False]
        assert done[-1].entity == replace(batch[0], score=2, version=2)
        assert await count_items(repokit_db, repokit_tenant) == 1

    @pytest.mark.asyncio
    async def test_an_empty_batch_writes_nothing(self, repokit_db: Database) -> None:
        assert await item_repository(repokit_db).batch_upsert([], on="id") == []

    @pytest.mark.asyncio
    async def test_one_entity_outside_the_scope_means_nothing_is_written(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        batch = [new_item(repokit_tenant), new_item(new_tenant())]
        with pytest.raises(ScopeViolation):
            await repo.batch_upsert(batch, on="id", scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_collision_part_way_writes_nothing_of_the_batch(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        held = await repo.create(new_item(repokit_tenant, "held", score=1, code="taken"))
        batch = [
            new_item(repokit_tenant, "held", score=2, code="taken"),
            new_item(repokit_tenant, "new", score=2),
            new_item(repokit_tenant, "other", code="taken"),
        ]
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_upsert(batch, on=NAME_KEY)
        assert await repo.get(held.id) == held
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 1

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_an_error_core_finds_part_way_aborts_the_transaction(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id)
        batch = [new_item(repokit_tenant, "new"), replace(gone, score=5)]
        session_block = repokit_db.begin_session()
        with pytest.raises(TransactionAborted):  # noqa: PT012 - the block's end raises it
            async with session_block as session:
                with pytest.raises(EntityAlreadyExists):
                    await repo.batch_upsert(batch, on="id", session=session)
                with pytest.raises(TransactionAborted):
                    await repo.count(session=session)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 1

    @pytest.mark.asyncio
    async def test_an_error_before_anything_is_written_leaves_the_transaction_going(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id)
        async with repokit_db.begin_session() as session:
            with pytest.raises(EntityAlreadyExists):
                await repo.batch_upsert([replace(gone, score=5)], on="id", session=session)
            await repo.create(new_item(repokit_tenant, "after"), session=session)
        assert await count_items(repokit_db, repokit_tenant) == 1


class TestUpsertRace:
    """Concurrent upserts of one key: one insert, the rest updates, no error."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("on", ["id", NAME_KEY])
    @pytest.mark.parametrize("spec", [False, True], ids=["all-fields", "spec"])
    async def test_concurrent_upserts_of_one_key_insert_once_and_update_the_rest(
        self, repokit_db: Database, on: Any, spec: bool
    ) -> None:
        repo = item_repository(repokit_db)
        tenant = new_tenant()
        key = ItemId(uuid.uuid4())

        async def upsert(index: int) -> Upserted[Item]:
            entity = Item(key if on == "id" else ItemId(uuid.uuid4()), tenant, "raced", score=index)
            update = {"score": index} if spec else None
            return await repo.upsert(entity, on=on, update=update, scope=TenantScope(tenant))

        done = await asyncio.gather(*(upsert(i) for i in range(RACERS)))
        assert sum(d.inserted for d in done) == 1
        assert await count_items(repokit_db, tenant, deleted=Deleted.INCLUDE) == 1
        stored = await repo.get(done[0].entity.id, scope=TenantScope(tenant))
        assert {d.entity.id for d in done} == {stored.id}
        # Every score differs from the one before it, so every update wrote.
        assert stored.version == RACERS - 1
        assert stored == max(done, key=lambda d: d.entity.version).entity


# -- differential ------------------------------------------------------------------------

_NAMES = ("n0", "n1", "n2")
_ON: tuple[Any, ...] = ("id", NAME_KEY)


@st.composite
def _operations(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Upserts over a few ids and names (so they collide), deletes and restores between.

    Ids are drawn as indices, made keys of the example's own tenant by :func:`_key`.
    """
    keys = st.integers(0, 2)
    operation = st.one_of(
        st.tuples(
            st.just("upsert"),
            keys,
            st.sampled_from(_NAMES),
            st.integers(0, 2),
            st.sampled_from([Status.ACTIVE, Status.ARCHIVED]),
            st.sampled_from(_ON),
            st.sampled_from([None, "score", "empty"]),
            st.none() | st.integers(0, 3),
        ),
        st.tuples(st.just("delete"), keys),
        st.tuples(st.just("restore"), keys),
    )
    return draw(st.lists(operation, min_size=1, max_size=8))


def _key(tenant: str, index: int) -> ItemId:
    """The example's *index*-th id: its own, so no earlier example's entity holds it."""
    return ItemId(uuid.uuid5(uuid.NAMESPACE_URL, f"repokit-upsert/{tenant}/{index}"))


async def _apply(db: Database, tenant: str, operations: list[tuple[Any, ...]]) -> list[Any]:
    """What each operation answered (the result, or the error's class and key fields)."""
    repo = item_repository(db)
    scope = TenantScope(tenant)
    answers: list[Any] = []
    for operation in operations:
        try:
            if operation[0] == "upsert":
                _, index, name, score, status, on, update, expected = operation
                entity = Item(_key(tenant, index), tenant, name, status=status, score=score)
                spec = {"score": score} if update == "score" else {} if update == "empty" else None
                answers.append(
                    await repo.upsert(
                        entity, on=on, update=spec, scope=scope, expected_version=expected
                    )
                )
            elif operation[0] == "delete":
                await repo.delete(_key(tenant, operation[1]), scope=scope)
                answers.append("deleted")
            else:
                answers.append(await repo.restore(_key(tenant, operation[1]), scope=scope))
        except RepositoryError as exc:
            answers.append((type(exc), getattr(exc, "fields", None)))
    page = await repo.search(scope=scope, deleted=Deleted.INCLUDE)
    answers.append(page.items)
    return answers


class TestUpsertsAgreeWithTheReference:
    """Differential: upsert sequences answer and store as on the reference backend."""

    @property_settings()
    @given(operations=_operations())
    def test_upsert_sequences_equal_the_reference(
        self, repokit_runner: SuiteRunner, operations: list[tuple[Any, ...]]
    ) -> None:
        tenant = new_tenant()
        try:
            actual = repokit_runner.run(_apply(repokit_runner.db, tenant, operations))
            expected = repokit_runner.run(_apply(repokit_runner.oracle, tenant, operations))
            assert actual == expected
        finally:
            for db in (repokit_runner.db, repokit_runner.oracle):
                repokit_runner.run(
                    item_repository(db).batch_purge(conditions=TRUE, scope=TenantScope(tenant))
                )
