"""Contract tests: CONTRACT §9 updates and versions.

An update returns the entity as stored; one that changes nothing writes
nothing and returns the current entity. ``OptionalState`` / ``TriState``
leave, set or nullify fields. The version field is incremented by every
write of an entity (delete and restore included) and ``expected_version`` is
a compare-and-set that raises ``ConcurrentModification``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from repokit import (
    TRUE,
    ConcurrentModification,
    Database,
    Deleted,
    EntityNotFound,
    InvalidQuery,
    InvalidValue,
    OptionalState,
    TriState,
    UpdaterSpec,
)
from repokit.testing.schema import TenantScope, items, notes
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import new_note, note_repository

__all__ = ["TestUpdateStates", "TestUpdates", "TestVersions"]


@dataclass(frozen=True)
class ItemUpdate(UpdaterSpec):
    """An update spec of the suite's items."""

    name: OptionalState[str] = OptionalState.nop()
    code: TriState[str] = TriState.nop()
    score: TriState[int] = TriState.nop()


@dataclass(frozen=True)
class NameErasure(UpdaterSpec):
    """A spec that (wrongly) declares the non-nullable ``name`` as a TriState."""

    name: TriState[str] = TriState.nop()


class TestUpdates:
    """Single-entity updates: what they return, write and refuse."""

    @pytest.mark.asyncio
    async def test_update_returns_the_entity_as_stored(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))
        updated = await repo.update(item.id, {"score": 2}, scope=TenantScope(repokit_tenant))
        assert updated == replace(item, score=2, version=item.version + 1)
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == updated

    @pytest.mark.asyncio
    async def test_update_of_a_missing_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(EntityNotFound):
            await repo.update(
                new_item(repokit_tenant).id, {"score": 2}, scope=TenantScope(repokit_tenant)
            )
        assert await count_items(repokit_db, repokit_tenant) == 0

    @pytest.mark.asyncio
    async def test_an_update_that_changes_nothing_returns_the_current_entity_unwritten(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))
        same = await repo.update(
            item.id, {"score": 1, "name": item.name}, scope=TenantScope(repokit_tenant)
        )
        assert same == item
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_an_update_with_nothing_to_set_returns_the_current_entity_unwritten(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        assert await repo.update(item.id, ItemUpdate(), scope=TenantScope(repokit_tenant)) == item
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", ["id", "version", "nickname"])
    async def test_updating_the_key_the_version_or_an_unknown_field_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        replacement = {"id": new_item(repokit_tenant).id, "version": 5, "nickname": "x"}[field]
        with pytest.raises(InvalidQuery):
            await repo.update(item.id, {field: replacement}, scope=TenantScope(repokit_tenant))
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_an_update_with_an_invalid_value_raises_invalid_value_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))
        with pytest.raises(InvalidValue):
            await repo.update(item.id, {"score": 2**63}, scope=TenantScope(repokit_tenant))
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_an_update_keeps_case_insensitive_matching_in_step(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, "Straße"))
        await repo.update(item.id, {"name": "Gasse"}, scope=TenantScope(repokit_tenant))
        name = items.c.name
        assert (
            await count_items(repokit_db, repokit_tenant, name.eq("GASSE", ignore_case=True)) == 1
        )
        assert (
            await count_items(repokit_db, repokit_tenant, name.eq("STRASSE", ignore_case=True)) == 0
        )

    @pytest.mark.asyncio
    async def test_an_update_of_a_table_without_a_version_field_returns_the_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant, "before"))
        updated = await repo.update(
            note.id, {"body": "after"}, scope=TenantScope(repokit_tenant, notes)
        )
        assert updated == replace(note, body="after")
        assert await repo.get(note.id, scope=TenantScope(repokit_tenant, notes)) == updated


class TestUpdateStates:
    """OptionalState and TriState: leave, set, or set to null."""

    @pytest.mark.asyncio
    async def test_nop_states_leave_every_field_as_it_is(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, code="c-1", score=1))
        updated = await repo.update(item.id, ItemUpdate(), scope=TenantScope(repokit_tenant))
        assert (updated.name, updated.code, updated.score) == (item.name, "c-1", 1)

    @pytest.mark.asyncio
    async def test_optional_state_update_sets_the_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, code="c-1", score=1))
        spec = ItemUpdate(name=OptionalState.update("renamed"))
        await repo.update(item.id, spec, scope=TenantScope(repokit_tenant))
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant))
        assert (stored.name, stored.code, stored.score) == ("renamed", "c-1", 1)

    @pytest.mark.asyncio
    async def test_tri_state_update_sets_the_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, code="c-1", score=1))
        await repo.update(
            item.id, ItemUpdate(score=TriState.update(5)), scope=TenantScope(repokit_tenant)
        )
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant))
        assert (stored.name, stored.code, stored.score) == (item.name, "c-1", 5)

    @pytest.mark.asyncio
    async def test_tri_state_nullify_sets_the_field_to_none(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, code="c-1", score=1))
        await repo.update(
            item.id, ItemUpdate(code=TriState.nullify()), scope=TenantScope(repokit_tenant)
        )
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant))
        assert (stored.name, stored.code, stored.score) == (item.name, None, 1)

    @pytest.mark.asyncio
    async def test_nullify_of_a_non_nullable_field_raises_invalid_value_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(InvalidValue):
            await repo.update(
                item.id, NameErasure(TriState.nullify()), scope=TenantScope(repokit_tenant)
            )
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_batch_update_applies_the_states_to_every_selected_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create(
            [new_item(repokit_tenant, code=f"c-{i}", score=i) for i in range(3)]
        )
        spec = ItemUpdate(code=TriState.nullify(), score=TriState.update(7))
        assert (
            await repo.batch_update(spec, conditions=[TRUE], scope=TenantScope(repokit_tenant)) == 3
        )
        c = items.c
        assert await count_items(repokit_db, repokit_tenant, c.code.is_null(), c.score == 7) == 3


class TestVersions:
    """Every write increments the version; expected_version is a compare-and-set."""

    @pytest.mark.asyncio
    async def test_every_update_increments_the_version(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=0))
        for score in (1, 2):
            await repo.update(item.id, {"score": score}, scope=TenantScope(repokit_tenant))
        assert (
            await repo.get(item.id, scope=TenantScope(repokit_tenant))
        ).version == item.version + 2

    @pytest.mark.asyncio
    async def test_delete_increments_the_version(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.ONLY)
        assert stored.version == item.version + 1

    @pytest.mark.asyncio
    async def test_restore_increments_the_version(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        restored = await repo.restore(item.id, scope=TenantScope(repokit_tenant))
        assert restored.version == item.version + 2
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == restored

    @pytest.mark.asyncio
    async def test_batch_update_increments_the_version_of_every_matched_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant, score=i) for i in range(3)])
        await repo.batch_update({"score": 9}, conditions=[TRUE], scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, repokit_tenant, items.c.version == 1) == 3

    @pytest.mark.asyncio
    async def test_batch_delete_increments_the_version_of_every_deleted_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        await repo.batch_delete(conditions=[TRUE], scope=TenantScope(repokit_tenant))
        version_one = items.c.version == 1
        assert await count_items(repokit_db, repokit_tenant, version_one, deleted=Deleted.ONLY) == 2

    @pytest.mark.asyncio
    async def test_an_update_with_the_expected_version_succeeds(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))
        updated = await repo.update(
            item.id, {"score": 2}, scope=TenantScope(repokit_tenant), expected_version=item.version
        )
        assert (updated.score, updated.version) == (2, item.version + 1)

    @pytest.mark.asyncio
    async def test_a_stale_expected_version_raises_concurrent_modification_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        read = await repo.create(new_item(repokit_tenant, score=1))
        current = await repo.update(read.id, {"score": 2}, scope=TenantScope(repokit_tenant))
        with pytest.raises(ConcurrentModification) as raised:
            await repo.update(
                read.id,
                {"score": 3},
                scope=TenantScope(repokit_tenant),
                expected_version=read.version,
            )
        assert raised.value.expected_version == read.version
        assert raised.value.actual_version == current.version
        assert await repo.get(read.id, scope=TenantScope(repokit_tenant)) == current

    @pytest.mark.asyncio
    async def test_expected_version_on_a_table_without_a_version_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant, "before"))
        with pytest.raises(InvalidQuery):
            await repo.update(
                note.id,
                {"body": "after"},
                scope=TenantScope(repokit_tenant, notes),
                expected_version=0,
            )
        assert await repo.get(note.id, scope=TenantScope(repokit_tenant, notes)) == note
