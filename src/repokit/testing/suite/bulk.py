"""Contract tests: CONTRACT §20 savepoints and per-item bulk operations.

A savepoint's failure undoes only itself and the session goes on; a backend
without savepoints refuses them before any I/O. ``bulk_*`` operations
answer one outcome per item, in input order: each item is atomic on its own
and one failing does not stop the others, with or without an outer session.
"""

from __future__ import annotations

import uuid

import pytest

from repokit import (
    ConcurrentModification,
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    InvalidValue,
    Outcome,
    ScopeViolation,
    UnsupportedOperation,
)
from repokit.testing.schema import Item, ItemId, Status, TenantScope, new_tenant
from repokit.testing.suite._entities import item_repository, new_item

__all__ = ["TestBulkOperations", "TestSavepoints"]


class _Undo(Exception):
    """Raised by a test to leave a savepoint by an exception of its own."""


async def _names(db: Database, tenant: str) -> set[str]:
    repo = item_repository(db)
    page = await repo.search(scope=TenantScope(tenant), deleted=Deleted.INCLUDE)
    return {item.name for item in page.items}


async def _savepoints_or_refused(db: Database) -> bool:
    """Whether *db* has savepoints; if not, check that it refuses one before any I/O."""
    if db.capabilities.savepoints:
        return True
    async with db.begin_session() as session:
        with pytest.raises(UnsupportedOperation, match="savepoints"):
            async with session.savepoint():
                pass  # pragma: no cover - refused on entry
    return False


def _errors(outcomes: list[Outcome[Item]]) -> list[type[Exception] | None]:
    return [None if o.error is None else type(o.error) for o in outcomes]


class TestSavepoints:
    """``session.savepoint()``: a nested block that rolls back alone."""

    @pytest.mark.asyncio
    async def test_a_failed_statement_in_a_savepoint_leaves_the_session_usable(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        if not await _savepoints_or_refused(repokit_db):
            return
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        first = new_item(repokit_tenant, "first")
        async with repokit_db.begin_session() as session:
            await repo.create(first, scope=scope, session=session)

            async def collide() -> None:
                async with session.savepoint():
                    await repo.create(new_item(repokit_tenant, "inside"), session=session)
                    await repo.create(new_item(repokit_tenant, "first"), session=session)

            with pytest.raises(EntityAlreadyExists):
                await collide()
            # The savepoint undid "inside"; the session goes on.
            await repo.create(new_item(repokit_tenant, "after"), scope=scope, session=session)
        assert await _names(repokit_db, repokit_tenant) == {"first", "after"}

    @pytest.mark.asyncio
    async def test_a_savepoint_that_ends_normally_keeps_its_writes_and_nests(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        if not await _savepoints_or_refused(repokit_db):
            return
        repo = item_repository(repokit_db)
        async with repokit_db.begin_session() as session:
            async with session.savepoint():
                kept = await repo.create(new_item(repokit_tenant, "kept"), session=session)

                async def undone() -> None:
                    async with session.savepoint():
                        await repo.create(new_item(repokit_tenant, "undone"), session=session)
                        await repo.update(kept.id, {"score": 5}, session=session)
                        raise _Undo

                with pytest.raises(_Undo):
                    await undone()
            seen = (await repo.search(scope=TenantScope(repokit_tenant), session=session)).items
            assert [(item.name, item.score) for item in seen] == [("kept", None)]
        assert await _names(repokit_db, repokit_tenant) == {"kept"}

    @pytest.mark.asyncio
    async def test_an_error_after_the_savepoint_still_rolls_everything_back(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        if not await _savepoints_or_refused(repokit_db):
            return
        repo = item_repository(repokit_db)

        async def released_then_abandoned() -> None:
            async with repokit_db.begin_session() as session:
                async with session.savepoint():
                    await repo.create(new_item(repokit_tenant, "released"), session=session)
                raise _Undo

        with pytest.raises(_Undo):
            await released_then_abandoned()
        assert await _names(repokit_db, repokit_tenant) == set()

    @pytest.mark.asyncio
    async def test_a_read_only_session_refuses_a_savepoint(self, repokit_db: Database) -> None:
        async with repokit_db.begin_readonly_session() as session:
            with pytest.raises(UnsupportedOperation, match="read-only"):
                async with session.savepoint():
                    pass  # pragma: no cover - refused on entry


class TestBulkOperations:
    """``bulk_*``: one outcome per item, each item atomic on its own."""

    @pytest.mark.asyncio
    async def test_bulk_create_stores_every_item_that_can_be_stored(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        taken = await repo.create(new_item(repokit_tenant, "taken"), scope=scope)
        entities = [
            new_item(repokit_tenant, "a"),
            new_item(repokit_tenant, "taken"),  # a unique key already held
            new_item(repokit_tenant, "b", score="not a number"),
            new_item(new_tenant(), "elsewhere"),  # outside the scope
            new_item(repokit_tenant, "c"),
        ]
        outcomes = await repo.bulk_create(entities, scope=scope)
        assert _errors(outcomes) == [
            None,
            EntityAlreadyExists,
            InvalidValue,
            ScopeViolation,
            None,
        ]
        assert [o.key for o in outcomes] == [e.id for e in entities]
        assert outcomes[0].entity == entities[0]
        assert await _names(repokit_db, repokit_tenant) == {"taken", "a", "c"}
        assert taken.name == "taken"

    @pytest.mark.asyncio
    async def test_bulk_update_applies_each_keys_own_values(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        one, two, three = await repo.batch_create(
            [new_item(repokit_tenant, n) for n in ("one", "two", "three")], scope=scope
        )
        missing = ItemId(uuid.uuid4())
        outcomes = await repo.bulk_update(
            {
                one.id: {"score": 1},
                missing: {"score": 2},
                two.id: {"name": "three"},  # collides with a live key
                three.id: {"score": 3},
            },
            scope=scope,
        )
        assert _errors(outcomes) == [None, EntityNotFound, EntityAlreadyExists, None]
        assert [o.key for o in outcomes] == [one.id, missing, two.id, three.id]
        assert outcomes[0].entity is not None
        assert outcomes[0].entity.score == 1
        stored = {item.name: item.score for item in (await repo.search(scope=scope)).items}
        assert stored == {"one": 1, "two": None, "three": 3}

    @pytest.mark.asyncio
    async def test_bulk_update_checks_each_expected_version_on_its_own(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant), scope=scope)
        await repo.update(item.id, {"score": 1}, scope=scope)
        # A concurrent writer's change meanwhile is not lost: a versioned update fails.
        async with repokit_db.begin_session() as session:
            with pytest.raises(ConcurrentModification):
                await repo.update(
                    item.id, {"score": 2}, expected_version=item.version, session=session
                )
        outcomes = await repo.bulk_update({item.id: {"score": 9}}, scope=scope)
        assert _errors(outcomes) == [None]

    @pytest.mark.asyncio
    async def test_bulk_delete_and_purge_report_each_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        a, b = await repo.batch_create(
            [new_item(repokit_tenant, "a"), new_item(repokit_tenant, "b")], scope=scope
        )
        missing = ItemId(uuid.uuid4())
        deleted = await repo.bulk_delete([a.id, missing, a.id], scope=scope)
        assert _errors(deleted) == [None, EntityNotFound, EntityNotFound]  # deleted once
        assert deleted[0].entity is not None
        assert deleted[0].entity.status is Status.DELETED
        purged = await repo.bulk_purge([b.id, "not a uuid", a.id], scope=scope)  # type: ignore[list-item]
        assert _errors(purged) == [None, InvalidValue, None]
        assert await _names(repokit_db, repokit_tenant) == set()

    @pytest.mark.asyncio
    async def test_bulk_operations_inside_a_session_share_its_transaction(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        if not repokit_db.capabilities.savepoints:
            async with repokit_db.begin_session() as session:
                with pytest.raises(UnsupportedOperation, match="savepoint"):
                    await repo.bulk_create([new_item(repokit_tenant)], session=session)
            return

        async def abandoned() -> None:
            async with repokit_db.begin_session() as session:
                outcomes = await repo.bulk_create(
                    [new_item(repokit_tenant, "x"), new_item(repokit_tenant, "x")],
                    scope=scope,
                    session=session,
                )
                assert _errors(outcomes) == [None, EntityAlreadyExists]
                # The session goes on after the failed item...
                await repo.create(new_item(repokit_tenant, "y"), scope=scope, session=session)
                raise _Abandon

        with pytest.raises(_Abandon):
            await abandoned()
        # ...and the caller's rollback undoes every item with it.
        assert await _names(repokit_db, repokit_tenant) == set()

    @pytest.mark.asyncio
    async def test_many_items_are_chunked_and_all_answered(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        entities = [new_item(repokit_tenant, f"n{i}") for i in range(250)]
        entities[7] = new_item(repokit_tenant, "n8")  # collides with the next one
        outcomes = await repo.bulk_create(entities, scope=scope)
        assert len(outcomes) == 250
        assert [i for i, o in enumerate(outcomes) if not o.ok] == [8]
        assert len(await _names(repokit_db, repokit_tenant)) == 249


class _Abandon(Exception):
    """Raised by a test to roll back a whole session."""
