"""Contract tests: CONTRACT §7 soft delete and purge.

``delete`` marks, ``restore`` unmarks, ``purge`` removes. Reads and batch
updates skip deleted entities unless asked; unique keys "among live
entities" ignore them. Both marker kinds are covered: a status field
(``rk_items``) and a ``deleted_at`` timestamp (``rk_notes``). A table
without a marker (``rk_labels``) can only purge.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from repokit import (
    TRUE,
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    UnsupportedOperation,
)
from repokit.testing.schema import Status, TenantScope, labels, notes
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import (
    item_names,
    label_repository,
    new_label,
    new_note,
    note_repository,
)

__all__ = [
    "TestDeletedUniqueness",
    "TestDeletedVisibility",
    "TestNoSoftDeleteMarker",
    "TestSoftDeleteByStatus",
    "TestSoftDeleteByTimestamp",
]


class TestSoftDeleteByStatus:
    """delete / restore / purge on a table whose marker is a status field."""

    @pytest.mark.asyncio
    async def test_delete_marks_the_entity_deleted(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)
        assert stored.status is Status.DELETED

    @pytest.mark.asyncio
    async def test_delete_of_a_missing_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(EntityNotFound):
            await repo.delete(new_item(repokit_tenant).id, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_delete_of_a_deleted_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        before = await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)
        with pytest.raises(EntityNotFound):
            await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        after = await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)
        assert after == before

    @pytest.mark.asyncio
    async def test_update_of_a_deleted_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.update(item.id, {"score": 2}, scope=TenantScope(repokit_tenant))
        stored = await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)
        assert stored.score == 1

    @pytest.mark.asyncio
    async def test_restore_unmarks_the_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        restored = await repo.restore(item.id, scope=TenantScope(repokit_tenant))
        assert restored.status is Status.ACTIVE
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == restored

    @pytest.mark.asyncio
    async def test_restore_of_a_live_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.restore(item.id, scope=TenantScope(repokit_tenant))
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_restore_of_a_missing_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(EntityNotFound):
            await repo.restore(new_item(repokit_tenant).id, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_purge_removes_a_live_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.purge(item.id, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)

    @pytest.mark.asyncio
    async def test_purge_removes_a_deleted_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        await repo.purge(item.id, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.get(item.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE)

    @pytest.mark.asyncio
    async def test_purge_of_a_missing_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(EntityNotFound):
            await repo.purge(new_item(repokit_tenant).id, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_batch_delete_marks_only_live_entities_and_counts_them(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        live = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        ids = [*(item.id for item in live), gone.id]
        assert await repo.batch_delete(ids=ids, scope=TenantScope(repokit_tenant)) == 2
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.ONLY) == 3

    @pytest.mark.asyncio
    async def test_batch_purge_removes_live_and_deleted_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant))
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        assert await repo.batch_purge(conditions=[TRUE], scope=TenantScope(repokit_tenant)) == 2
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0


class TestDeletedVisibility:
    """Reads and batch updates skip deleted entities unless the call asks for them."""

    @pytest.mark.asyncio
    async def test_get_excludes_a_deleted_entity_by_default(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.get(item.id, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_get_including_deleted_returns_live_and_deleted_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        live = await repo.create(new_item(repokit_tenant))
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        scope = TenantScope(repokit_tenant)
        assert await repo.get(live.id, scope=scope, deleted=Deleted.INCLUDE) == live
        assert (await repo.get(gone.id, scope=scope, deleted=Deleted.INCLUDE)).id == gone.id

    @pytest.mark.asyncio
    async def test_get_only_deleted_excludes_a_live_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        live = await repo.create(new_item(repokit_tenant))
        gone = await repo.create(new_item(repokit_tenant))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        scope = TenantScope(repokit_tenant)
        assert (await repo.get(gone.id, scope=scope, deleted=Deleted.ONLY)).id == gone.id
        with pytest.raises(EntityNotFound):
            await repo.get(live.id, scope=scope, deleted=Deleted.ONLY)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("deleted", "expected"),
        [
            (Deleted.EXCLUDE, ["live"]),
            (Deleted.INCLUDE, ["gone", "live"]),
            (Deleted.ONLY, ["gone"]),
        ],
        ids=["exclude", "include", "only"],
    )
    async def test_search_sees_deleted_entities_only_when_asked(
        self, repokit_db: Database, repokit_tenant: str, deleted: Deleted, expected: list[str]
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, "live"))
        gone = await repo.create(new_item(repokit_tenant, "gone"))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        assert await item_names(repokit_db, repokit_tenant, deleted) == expected

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("deleted", "expected"),
        [(Deleted.EXCLUDE, 2), (Deleted.INCLUDE, 3), (Deleted.ONLY, 1)],
        ids=["exclude", "include", "only"],
    )
    async def test_count_sees_deleted_entities_only_when_asked(
        self, repokit_db: Database, repokit_tenant: str, deleted: Deleted, expected: int
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant) for _ in range(3)])
        gone = (await repo.search(scope=TenantScope(repokit_tenant))).items[0]
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, repokit_tenant, deleted=deleted) == expected

    @pytest.mark.asyncio
    async def test_batch_update_skips_deleted_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        live = await repo.create(new_item(repokit_tenant, score=1))
        gone = await repo.create(new_item(repokit_tenant, score=1))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant))
        scope = TenantScope(repokit_tenant)
        changed = await repo.batch_update({"score": 2}, ids=[live.id, gone.id], scope=scope)
        assert changed == 1
        assert (await repo.get(gone.id, scope=scope, deleted=Deleted.ONLY)).score == 1
        assert (await repo.get(live.id, scope=scope)).score == 2


class TestDeletedUniqueness:
    """A unique key among live entities ignores deleted ones; a plain unique key does not."""

    @pytest.mark.asyncio
    async def test_a_deleted_entity_never_collides_on_a_unique_key_among_live_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first = await repo.create(new_item(repokit_tenant, "taken"))
        await repo.delete(first.id, scope=TenantScope(repokit_tenant))
        second = await repo.create(new_item(repokit_tenant, "taken"))
        assert await repo.get(second.id, scope=TenantScope(repokit_tenant)) == second

    @pytest.mark.asyncio
    async def test_several_deleted_entities_may_share_a_unique_key_among_live_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        for _ in range(2):
            item = await repo.create(new_item(repokit_tenant, "taken"))
            await repo.delete(item.id, scope=TenantScope(repokit_tenant))
        assert await item_names(repokit_db, repokit_tenant, Deleted.ONLY) == ["taken", "taken"]

    @pytest.mark.asyncio
    async def test_restoring_into_a_collision_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first = await repo.create(new_item(repokit_tenant, "taken"))
        await repo.delete(first.id, scope=TenantScope(repokit_tenant))
        await repo.create(new_item(repokit_tenant, "taken"))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.restore(first.id, scope=TenantScope(repokit_tenant))
        assert raised.value.fields == ("tenant", "name")
        stored = await repo.get(
            first.id, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE
        )
        assert stored.status is Status.DELETED

    @pytest.mark.asyncio
    async def test_a_deleted_entity_still_collides_on_a_plain_unique_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first = await repo.create(new_item(repokit_tenant, code="c-1"))
        await repo.delete(first.id, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(new_item(repokit_tenant, code="c-1"))
        assert raised.value.fields == ("tenant", "code")


class TestSoftDeleteByTimestamp:
    """delete / restore / purge on a table whose marker is a ``deleted_at`` timestamp."""

    @pytest.mark.asyncio
    async def test_delete_sets_the_deleted_at_timestamp(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))
        stored = await repo.get(
            note.id, scope=TenantScope(repokit_tenant, notes), deleted=Deleted.ONLY
        )
        assert stored.deleted_at is not None
        assert stored.deleted_at.utcoffset() == timedelta(0)

    @pytest.mark.asyncio
    async def test_get_excludes_a_deleted_entity_by_default(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))
        with pytest.raises(EntityNotFound):
            await repo.get(note.id, scope=TenantScope(repokit_tenant, notes))

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("deleted", "expected"),
        [(Deleted.EXCLUDE, 1), (Deleted.INCLUDE, 2), (Deleted.ONLY, 1)],
        ids=["exclude", "include", "only"],
    )
    async def test_count_sees_deleted_entities_only_when_asked(
        self, repokit_db: Database, repokit_tenant: str, deleted: Deleted, expected: int
    ) -> None:
        repo = note_repository(repokit_db)
        await repo.create(new_note(repokit_tenant))
        gone = await repo.create(new_note(repokit_tenant))
        await repo.delete(gone.id, scope=TenantScope(repokit_tenant, notes))
        assert (
            await repo.count(scope=TenantScope(repokit_tenant, notes), deleted=deleted) == expected
        )

    @pytest.mark.asyncio
    async def test_delete_of_a_deleted_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))
        with pytest.raises(EntityNotFound):
            await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))

    @pytest.mark.asyncio
    async def test_restore_clears_the_deleted_at_timestamp(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))
        restored = await repo.restore(note.id, scope=TenantScope(repokit_tenant, notes))
        assert restored == note
        assert await repo.get(note.id, scope=TenantScope(repokit_tenant, notes)) == note

    @pytest.mark.asyncio
    async def test_restore_of_a_live_entity_raises_entity_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.restore(note.id, scope=TenantScope(repokit_tenant, notes))

    @pytest.mark.asyncio
    async def test_purge_removes_a_deleted_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        await repo.delete(note.id, scope=TenantScope(repokit_tenant, notes))
        await repo.purge(note.id, scope=TenantScope(repokit_tenant, notes))
        assert (
            await repo.count(scope=TenantScope(repokit_tenant, notes), deleted=Deleted.INCLUDE) == 0
        )


class TestNoSoftDeleteMarker:
    """A table without a marker has no delete or restore; purge always exists."""

    @pytest.mark.asyncio
    async def test_delete_raises_unsupported_operation_and_changes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant))
        with pytest.raises(UnsupportedOperation):
            await repo.delete(label.key, scope=TenantScope(repokit_tenant, labels))
        assert await repo.get(label.key, scope=TenantScope(repokit_tenant, labels)) == label

    @pytest.mark.asyncio
    async def test_restore_raises_unsupported_operation(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant))
        with pytest.raises(UnsupportedOperation):
            await repo.restore(label.key, scope=TenantScope(repokit_tenant, labels))

    @pytest.mark.asyncio
    async def test_batch_delete_raises_unsupported_operation_and_changes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant))
        with pytest.raises(UnsupportedOperation):
            await repo.batch_delete(ids=[label.key], scope=TenantScope(repokit_tenant, labels))
        assert await repo.get(label.key, scope=TenantScope(repokit_tenant, labels)) == label

    @pytest.mark.asyncio
    async def test_purge_removes_the_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        label = await repo.create(new_label(repokit_tenant))
        await repo.purge(label.key, scope=TenantScope(repokit_tenant, labels))
        with pytest.raises(EntityNotFound):
            await repo.get(label.key, scope=TenantScope(repokit_tenant, labels))

    @pytest.mark.asyncio
    async def test_batch_purge_removes_the_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = label_repository(repokit_db)
        await repo.batch_create([new_label(repokit_tenant) for _ in range(3)])
        scope = TenantScope(repokit_tenant, labels)
        assert await repo.batch_purge(conditions=[TRUE], scope=scope) == 3
        assert await repo.count(scope=scope) == 0
