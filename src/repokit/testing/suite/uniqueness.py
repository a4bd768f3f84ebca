"""Contract tests: CONTRACT §8 unique constraints and errors.

Unique keys ignore entities with ``None`` in any field of the key; a primary
or unique key collision raises ``EntityAlreadyExists`` naming the table and
the key's fields; every error of the §8 table is raised in its situation and
subclasses the builtin it resembles.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from repokit import (
    ConcurrentModification,
    CursorPagination,
    Database,
    EntityAlreadyExists,
    EntityNotFound,
    InvalidCursor,
    InvalidQuery,
    InvalidValue,
    RepositoryError,
    ScopeViolation,
    UnsupportedOperation,
)
from repokit.testing.schema import TenantScope, items, labels, new_tenant, notes
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import (
    label_repository,
    new_label,
    new_note,
    note_repository,
)

__all__ = ["TestErrorClasses", "TestUniqueKeys"]


class TestUniqueKeys:
    """Primary and unique key collisions, and the keys that never collide."""

    @pytest.mark.asyncio
    async def test_primary_key_collision_raises_entity_already_exists_naming_the_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(replace(new_item(repokit_tenant), id=item.id))
        assert raised.value.entity == items.entity_name
        assert raised.value.fields == ("id",)
        assert await count_items(repokit_db, repokit_tenant) == 1

    @pytest.mark.asyncio
    async def test_integer_primary_key_collision_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant, "first"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(replace(new_note(repokit_tenant, "second"), id=note.id))
        assert (raised.value.entity, raised.value.fields) == (notes.entity_name, ("id",))
        assert await repo.get(note.id, scope=TenantScope(repokit_tenant, notes)) == note

    @pytest.mark.asyncio
    async def test_string_primary_key_collision_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant, weight=1))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(replace(new_label(repokit_tenant, weight=2), key=label.key))
        assert (raised.value.entity, raised.value.fields) == (labels.entity_name, ("key",))
        assert await repo.get(label.key, scope=TenantScope(repokit_tenant, labels)) == label

    @pytest.mark.asyncio
    async def test_unique_key_collision_raises_entity_already_exists_naming_the_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "taken"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(new_item(repokit_tenant, "taken"))
        assert raised.value.entity == items.entity_name
        assert raised.value.fields == ("tenant", "name")
        assert await count_items(repokit_db, repokit_tenant) == 1

    @pytest.mark.asyncio
    async def test_nullable_unique_key_collision_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, code="c-1"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(new_item(repokit_tenant, code="c-1"))
        assert raised.value.fields == ("tenant", "code")

    @pytest.mark.asyncio
    async def test_unique_keys_are_per_value_of_every_key_field(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        await repo.create(new_item(repokit_tenant, "same", code="c-1"))
        await repo.create(new_item(other, "same", code="c-1"))
        assert await count_items(repokit_db, repokit_tenant) == 1
        assert await count_items(repokit_db, other) == 1

    @pytest.mark.asyncio
    async def test_unique_key_ignores_entities_with_none_in_a_key_field(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant, code=None) for _ in range(3)])
        await repo.create(new_item(repokit_tenant, code=None))
        assert await count_items(repokit_db, repokit_tenant, items.c.code == None) == 4  # noqa: E711

    @pytest.mark.asyncio
    async def test_unique_key_of_another_table_ignores_none_too(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        await repo.batch_create([new_label(repokit_tenant, color=None) for _ in range(2)])
        await repo.create(new_label(repokit_tenant, color=None))
        assert await repo.count(scope=TenantScope(repokit_tenant, labels)) == 3

    @pytest.mark.asyncio
    async def test_update_into_a_unique_key_collision_raises_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "taken"))
        other = await repo.create(new_item(repokit_tenant, "free"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.update(other.id, {"name": "taken"}, scope=TenantScope(repokit_tenant))
        assert raised.value.fields == ("tenant", "name")
        assert await repo.get(other.id, scope=TenantScope(repokit_tenant)) == other

    @pytest.mark.asyncio
    async def test_setting_a_key_field_to_none_frees_the_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        holder = await repo.create(new_item(repokit_tenant, code="c-1"))
        await repo.update(holder.id, {"code": None}, scope=TenantScope(repokit_tenant))
        taker = await repo.create(new_item(repokit_tenant, code="c-1"))
        assert await repo.get(taker.id, scope=TenantScope(repokit_tenant)) == taker


class TestErrorClasses:
    """Each error of the §8 table, raised in its situation, is the right class."""

    @pytest.mark.asyncio
    async def test_entity_not_found_is_a_lookup_error_naming_the_entity_and_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        key = new_item(repokit_tenant).id
        with pytest.raises(LookupError) as raised:
            await repo.get(key, scope=TenantScope(repokit_tenant))
        assert isinstance(raised.value, EntityNotFound)
        assert isinstance(raised.value, RepositoryError)
        assert (raised.value.entity, raised.value.key) == (items.entity_name, key)

    @pytest.mark.asyncio
    async def test_entity_already_exists_is_a_repository_error(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "taken"))
        with pytest.raises(RepositoryError) as raised:
            await repo.create(new_item(repokit_tenant, "taken"))
        assert isinstance(raised.value, EntityAlreadyExists)

    @pytest.mark.asyncio
    async def test_concurrent_modification_is_raised_by_a_failed_version_check(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(RepositoryError) as raised:
            await repo.update(
                item.id,
                {"score": 1},
                scope=TenantScope(repokit_tenant),
                expected_version=item.version + 1,
            )
        assert isinstance(raised.value, ConcurrentModification)

    @pytest.mark.asyncio
    async def test_scope_violation_is_raised_by_a_write_outside_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(RepositoryError) as raised:
            await repo.create(new_item(new_tenant()), scope=TenantScope(repokit_tenant))
        assert isinstance(raised.value, ScopeViolation)

    @pytest.mark.asyncio
    async def test_invalid_value_is_a_value_error_naming_entity_field_and_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        naive = datetime(2024, 1, 2, 3, 4, 5)
        with pytest.raises(InvalidValue) as raised:
            await repo.create(new_item(repokit_tenant, at=naive))
        assert isinstance(raised.value, ValueError)
        assert isinstance(raised.value, RepositoryError)
        assert (raised.value.entity, raised.value.field) == (items.entity_name, "at")
        assert raised.value.value == naive
        assert await count_items(repokit_db, repokit_tenant) == 0

    @pytest.mark.asyncio
    async def test_invalid_query_is_a_value_error_for_an_unknown_field(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(InvalidQuery) as raised:
            await repo.update(item.id, {"nickname": "x"}, scope=TenantScope(repokit_tenant))
        assert isinstance(raised.value, ValueError)
        assert isinstance(raised.value, RepositoryError)

    @pytest.mark.asyncio
    async def test_invalid_query_is_a_value_error_for_an_operand_of_another_type(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        with pytest.raises(InvalidQuery) as raised:
            await count_items(repokit_db, repokit_tenant, items.c.score == "seven")
        assert isinstance(raised.value, ValueError)

    @pytest.mark.asyncio
    async def test_invalid_cursor_is_a_value_error(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant))
        with pytest.raises(InvalidCursor) as raised:
            await repo.search(
                scope=TenantScope(repokit_tenant),
                pagination=CursorPagination(first=1, after="garbage"),
            )
        assert isinstance(raised.value, ValueError)
        assert isinstance(raised.value, RepositoryError)

    @pytest.mark.asyncio
    async def test_unsupported_operation_is_raised_for_what_a_table_lacks(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant))
        with pytest.raises(RepositoryError) as raised:
            await repo.delete(label.key, scope=TenantScope(repokit_tenant, labels))
        assert isinstance(raised.value, UnsupportedOperation)
