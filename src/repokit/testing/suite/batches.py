"""Contract tests: CONTRACT §9 batch writes.

Batch create, ``batch_update``, ``batch_delete`` and ``batch_purge`` are
all-or-nothing and return the number of entities they changed; they are
split into chunks that fit the backend (more ids than
``capabilities.max_ids_per_statement``) inside one transaction. A batch
operation with neither ids nor conditions is refused, and so is one with an
empty list of conditions (every entity is said explicitly, with
``conditions=[TRUE]``); ``ids=[]`` selects nothing. Reads take an empty list
of conditions as no filter.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from repokit import (
    TRUE,
    Database,
    Deleted,
    EntityAlreadyExists,
    InvalidQuery,
    Repository,
    Session,
)
from repokit.testing.plugin import requires
from repokit.testing.schema import Item, ItemId, TenantScope, items
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import item_names

__all__ = ["TestBatchCreate", "TestBatchTargets", "TestBatchesBeyondOneChunk"]

#: The most entities a test puts in one batch: enough to span chunks, small enough for CI.
_MOST = 2_500

BatchOperation = Callable[..., Awaitable[int]]


def _batch_operations(repo: Repository[Item, ItemId]) -> dict[str, BatchOperation]:
    """The batch writes that select by ids and/or conditions, by name."""

    async def update(**selection: Any) -> int:
        return await repo.batch_update({"score": 9}, **selection)

    return {
        "batch_update": update,
        "batch_delete": repo.batch_delete,
        "batch_purge": repo.batch_purge,
    }


_SELECTING = ["batch_delete", "batch_purge", "batch_update"]


def _beyond_a_chunk(db: Database) -> int:
    """A batch size that spans more than one chunk (up to a size CI can afford)."""
    return min(max(db.capabilities.max_ids_per_statement + 5, 1_200), _MOST)


async def _unchanged(db: Database, tenant: str, before: Sequence[Item]) -> bool:
    """Whether *tenant*'s items (deleted ones included) are exactly *before*."""
    page = await item_repository(db).search(scope=TenantScope(tenant), deleted=Deleted.INCLUDE)
    return sorted(page.items, key=lambda item: item.id) == sorted(before, key=lambda i: i.id)


class _Abandon(Exception):
    """Raised by a test to leave a session by an exception of its own."""


class TestBatchCreate:
    """Batch create stores every entity or none."""

    @pytest.mark.asyncio
    async def test_batch_create_stores_every_entity_and_returns_them(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        entities = [new_item(repokit_tenant, score=i) for i in range(5)]
        created = await item_repository(repokit_db).batch_create(entities)
        assert created == entities
        assert await item_names(repokit_db, repokit_tenant) == sorted(e.name for e in entities)

    @pytest.mark.asyncio
    async def test_batch_create_of_nothing_returns_an_empty_list(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        assert await item_repository(repokit_db).batch_create([]) == []
        assert await count_items(repokit_db, repokit_tenant) == 0

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_collision_in_the_middle_of_a_batch_create_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        taken = await repo.create(new_item(repokit_tenant, "taken"))
        batch = [
            new_item(repokit_tenant),
            new_item(repokit_tenant, "taken"),
            new_item(repokit_tenant),
        ]
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_create(batch)
        assert await _unchanged(repokit_db, repokit_tenant, [taken])

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_unique_key_twice_in_one_batch_create_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        batch = [
            new_item(repokit_tenant),
            new_item(repokit_tenant, "twice"),
            new_item(repokit_tenant, "twice"),
        ]
        with pytest.raises(EntityAlreadyExists):
            await item_repository(repokit_db).batch_create(batch)
        assert await count_items(repokit_db, repokit_tenant) == 0

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_primary_key_twice_in_one_batch_create_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        first = new_item(repokit_tenant)
        twin = Item(first.id, repokit_tenant, "twin")
        with pytest.raises(EntityAlreadyExists) as raised:
            await item_repository(repokit_db).batch_create([first, new_item(repokit_tenant), twin])
        assert raised.value.fields == ("id",)
        assert await count_items(repokit_db, repokit_tenant) == 0


class TestBatchTargets:
    """What a batch selects, and the counts it returns."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_a_batch_with_neither_ids_nor_conditions_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        with pytest.raises(InvalidQuery):
            await _batch_operations(repo)[operation](scope=TenantScope(repokit_tenant))
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_an_empty_list_of_conditions_raises_invalid_query_naming_the_operation(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        with pytest.raises(InvalidQuery) as refused:
            await _batch_operations(repo)[operation](
                conditions=[], scope=TenantScope(repokit_tenant)
            )
        assert operation in str(refused.value)
        assert items.name in str(refused.value)
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_an_empty_list_of_conditions_is_refused_even_with_ids(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        with pytest.raises(InvalidQuery):
            await _batch_operations(repo)[operation](
                ids=[before[0].id], conditions=(), scope=TenantScope(repokit_tenant)
            )
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    async def test_reads_with_an_empty_list_of_conditions_filter_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # Unlike a batch write, a read may take an empty list: it changes nothing.
        repo = item_repository(repokit_db)
        stored = await repo.batch_create([new_item(repokit_tenant) for _ in range(3)])
        scope = TenantScope(repokit_tenant)
        page = await repo.search(conditions=[], scope=scope)
        assert {item.id for item in page.items} == {item.id for item in stored}
        assert await repo.count(conditions=[], scope=scope) == 3

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_empty_ids_change_nothing_and_return_zero(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        run = _batch_operations(repo)[operation]
        assert await run(ids=[], scope=TenantScope(repokit_tenant)) == 0
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_empty_ids_restrict_conditions_that_match_everything(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        run = _batch_operations(repo)[operation]
        assert await run(ids=[], conditions=[TRUE], scope=TenantScope(repokit_tenant)) == 0
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", _SELECTING)
    async def test_ids_and_conditions_together_select_their_intersection(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        low, high, other_high = await repo.batch_create(
            [
                new_item(repokit_tenant, score=1),
                new_item(repokit_tenant, score=5),
                new_item(repokit_tenant, score=5),
            ]
        )
        run = _batch_operations(repo)[operation]
        changed = await run(
            ids=[low.id, high.id],
            conditions=[items.c.score >= 5],
            scope=TenantScope(repokit_tenant),
        )
        assert changed == 1
        assert not await _unchanged(repokit_db, repokit_tenant, [low, high, other_high])
        scope = TenantScope(repokit_tenant)
        assert await repo.get(low.id, scope=scope) == low
        assert await repo.get(other_high.id, scope=scope) == other_high

    @pytest.mark.asyncio
    async def test_conditions_true_targets_every_entity_in_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant, score=i) for i in range(3)])
        assert (
            await repo.batch_update(
                {"score": 9}, conditions=[TRUE], scope=TenantScope(repokit_tenant)
            )
            == 3
        )
        assert await count_items(repokit_db, repokit_tenant, items.c.score == 9) == 3

    @pytest.mark.asyncio
    async def test_batch_update_counts_matched_entities_that_already_hold_the_values(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create(
            [new_item(repokit_tenant, score=9), new_item(repokit_tenant, score=1)]
        )
        changed = await repo.batch_update(
            {"score": 9}, conditions=[TRUE], scope=TenantScope(repokit_tenant)
        )
        assert changed == 2

    @pytest.mark.asyncio
    async def test_batch_update_with_nothing_to_set_counts_matches_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(2)])
        assert (
            await repo.batch_update({}, conditions=[TRUE], scope=TenantScope(repokit_tenant)) == 2
        )
        assert await _unchanged(repokit_db, repokit_tenant, before)

    @pytest.mark.asyncio
    async def test_batch_purge_returns_the_number_removed(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        kept, *doomed = await repo.batch_create(
            [new_item(repokit_tenant, score=i) for i in range(4)]
        )
        removed = await repo.batch_purge(
            ids=[i.id for i in doomed], scope=TenantScope(repokit_tenant)
        )
        assert removed == 3
        assert await _unchanged(repokit_db, repokit_tenant, [kept])

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_unique_collision_in_a_batch_update_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        before = await repo.batch_create([new_item(repokit_tenant) for _ in range(3)])
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_update(
                {"name": "same"}, conditions=[TRUE], scope=TenantScope(repokit_tenant)
            )
        assert await _unchanged(repokit_db, repokit_tenant, before)


class TestBatchesBeyondOneChunk:
    """Batches over more ids than one statement takes work, and stay atomic.

    A batch holds ``max_ids_per_statement + 5`` entities (at least 1,200, at
    most 2,500 so real servers stay quick): it spans chunks wherever the
    backend's limit is below that cap, as the reference backend's is.
    """

    async def _many(self, db: Database, tenant: str) -> list[Item]:
        entities = [new_item(tenant, f"n{i:05d}", score=0) for i in range(_beyond_a_chunk(db))]
        return await item_repository(db).batch_create(entities, scope=TenantScope(tenant))

    @pytest.mark.asyncio
    async def test_batch_create_beyond_one_chunk_stores_everything(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        many = await self._many(repokit_db, repokit_tenant)
        assert await count_items(repokit_db, repokit_tenant) == len(many)

    @pytest.mark.asyncio
    async def test_batch_update_by_ids_beyond_one_chunk_updates_them_all(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        many = await self._many(repokit_db, repokit_tenant)
        changed = await item_repository(repokit_db).batch_update(
            {"score": 9}, ids=[item.id for item in many], scope=TenantScope(repokit_tenant)
        )
        assert changed == len(many)
        assert await count_items(repokit_db, repokit_tenant, items.c.score == 9) == len(many)

    @pytest.mark.asyncio
    async def test_batch_delete_by_ids_beyond_one_chunk_deletes_them_all(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        many = await self._many(repokit_db, repokit_tenant)
        changed = await item_repository(repokit_db).batch_delete(
            ids=[item.id for item in many], scope=TenantScope(repokit_tenant)
        )
        assert changed == len(many)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.ONLY) == len(many)

    @pytest.mark.asyncio
    async def test_batch_purge_by_ids_beyond_one_chunk_removes_them_all(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        many = await self._many(repokit_db, repokit_tenant)
        changed = await item_repository(repokit_db).batch_purge(
            ids=[item.id for item in many], scope=TenantScope(repokit_tenant)
        )
        assert changed == len(many)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_batch_create_beyond_one_chunk_with_a_late_collision_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        taken = await repo.create(new_item(repokit_tenant, "taken"))
        batch = [new_item(repokit_tenant) for _ in range(_beyond_a_chunk(repokit_db))]
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_create([*batch, new_item(repokit_tenant, "taken")])
        assert await _unchanged(repokit_db, repokit_tenant, [taken])

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_batch_update_beyond_one_chunk_with_a_late_collision_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first, last = await repo.batch_create([new_item(repokit_tenant), new_item(repokit_tenant)])
        # Missing ids between the two push them into different chunks: the
        # collision happens only once the first one is already updated.
        gap = [ItemId(uuid.uuid4()) for _ in range(_beyond_a_chunk(repokit_db))]
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_update(
                {"code": "same"}, ids=[first.id, *gap, last.id], scope=TenantScope(repokit_tenant)
            )
        assert await _unchanged(repokit_db, repokit_tenant, [first, last])

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_batch_purge_beyond_one_chunk_rolls_back_with_its_session(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        many = await self._many(repokit_db, repokit_tenant)
        repo = item_repository(repokit_db)

        async def work(session: Session) -> None:
            ids = [item.id for item in many]
            assert await repo.batch_purge(ids=ids, session=session) == len(many)
            raise _Abandon

        with pytest.raises(_Abandon):
            await repokit_db.run_in_transaction(work)
        assert await count_items(repokit_db, repokit_tenant) == len(many)
