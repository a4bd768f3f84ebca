"""Contract tests: CONTRACT §12 cancellation, §14 contention.

§12: an operation (or a ``begin_session()`` block) cancelled at any of its
suspensions — as ``asyncio.timeout()`` or a ``TaskGroup`` cancels — leaves
its writes visible entirely or not at all, the block's ``Session.committed``
says which, and the database goes on serving concurrent writers afterwards
(nothing it needs stayed held). §14: writers racing on one entity in the
retrying block form reach the same outcome on every backend.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest

from repokit import ConcurrentModification, Database, EntityAlreadyExists, Repository
from repokit.testing.cancelling import run_cancelled
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit.testing.suite._entities import item_repository, new_item

__all__ = ["TestCancellation", "TestContention"]

Repo = Repository[Item, ItemId]
#: One cancellation, then one at each of the next suspensions (a second one
#: arriving while the first is handled).
STORM = 3
WRITERS = 4

#: One run of an operation: what is cancelled, and the check that all or nothing is visible.
Case = tuple[Coroutine[Any, Any, Any], Callable[[], Awaitable[None]]]


async def _scores(repo: Repo, tenant: str) -> list[int | None]:
    page = await repo.search(scope=TenantScope(tenant), orders=[items.c.name.asc()])
    return [item.score for item in page.items]


async def _create(db: Database, repo: Repo, tenant: str) -> Case:
    async def check() -> None:
        assert len(await _scores(repo, tenant)) in (0, 1)

    return repo.create(new_item(tenant), scope=TenantScope(tenant)), check


async def _batch_create(db: Database, repo: Repo, tenant: str) -> Case:
    batch = [new_item(tenant, f"n{i:02}") for i in range(10)]

    async def check() -> None:
        assert len(await _scores(repo, tenant)) in (0, 10)

    return repo.batch_create(batch, scope=TenantScope(tenant)), check


async def _update(db: Database, repo: Repo, tenant: str) -> Case:
    item = await repo.create(new_item(tenant, score=1))

    async def check() -> None:
        stored = await repo.get(item.id)
        assert (stored.score, stored.version) in ((1, item.version), (7, item.version + 1))

    return repo.update(item.id, {"score": 7}, scope=TenantScope(tenant)), check


async def _block(db: Database, repo: Repo, tenant: str) -> Case:
    existing = await repo.create(new_item(tenant, "z", score=1))
    committed: list[bool] = []

    async def block() -> None:
        opened = db.begin_session()
        try:
            session = await opened.__aenter__()
        except BaseException:
            committed.append(False)  # cancelled while opening: nothing began
            raise
        try:
            await repo.create(new_item(tenant, "a"), session=session)
            await repo.update(existing.id, {"score": 7}, session=session)
        except BaseException as exc:
            try:
                await opened.__aexit__(type(exc), exc, exc.__traceback__)
            finally:
                committed.append(session.committed)
            raise
        try:
            await opened.__aexit__(None, None, None)
        finally:
            committed.append(session.committed)

    async def check() -> None:
        scores = await _scores(repo, tenant)
        after = scores == [None, 7]
        assert after or scores == [1], f"partly visible: {scores}"
        assert committed == [after], f"committed says {committed}, the state says {after}"

    return block(), check


async def _bulk_update(db: Database, repo: Repo, tenant: str) -> Case:
    one, two = await repo.batch_create([new_item(tenant, "a", score=1), new_item(tenant, "b")])
    missing = ItemId(new_item(tenant).id)

    async def check() -> None:
        # Each item all or nothing on its own (a backend without savepoints commits
        # them one by one; one with savepoints, a chunk at a time).
        for item, new in ((one, 7), (two, 8)):
            stored = await repo.get(item.id)
            assert (stored.score, stored.version) in (
                (item.score, item.version),
                (new, item.version + 1),
            ), f"partly applied: {stored}"

    updates = {one.id: {"score": 7}, missing: {"score": 1}, two.id: {"score": 8}}
    return repo.bulk_update(updates, scope=TenantScope(tenant)), check


_OPERATIONS: dict[str, Callable[[Database, Repo, str], Awaitable[Case]]] = {
    "create": _create,
    "batch_create": _batch_create,
    "update": _update,
    "bulk_update": _bulk_update,
    "session_block": _block,
}


class TestCancellation:
    """A cancellation at any suspension: all or nothing, and the database goes on serving."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_OPERATIONS))
    async def test_a_cancellation_at_any_suspension_leaves_all_or_nothing(
        self, repokit_db: Database, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        make = _OPERATIONS[operation]
        work, check = await make(repokit_db, repo, new_tenant())
        cancelled, suspensions = await run_cancelled(work, None)
        assert not cancelled
        await check()
        for storm in (0, STORM):
            for at in range(1, suspensions + 1):
                work, check = await make(repokit_db, repo, new_tenant())
                cancelled, ran = await run_cancelled(work, at, storm)
                assert cancelled or ran < at, f"the cancellation at suspension {at} was lost"
                await check()
        # Nothing stayed held: more concurrent writers than a small pool still get through.
        tenant = new_tenant()
        await asyncio.gather(*(repo.create(new_item(tenant)) for _ in range(12)))
        assert await repo.count(scope=TenantScope(tenant)) == 12

    @pytest.mark.asyncio
    async def test_a_timeout_around_a_failing_write_leaves_the_database_writable(
        self, repokit_db: Database
    ) -> None:
        """An error, then a cancellation while the transaction rolls back."""
        repo = item_repository(repokit_db)
        tenant = new_tenant()
        first = await repo.create(new_item(tenant, "dup"))
        duplicate = Item(first.id, tenant, "other")
        for at in range(1, 10):
            # EntityAlreadyExists: the cancellation came after the end (or nothing suspended).
            with contextlib.suppress(EntityAlreadyExists):
                await run_cancelled(repo.create(duplicate), at, STORM)
        await repo.create(new_item(tenant, "after"))
        assert await repo.count(scope=TenantScope(tenant)) == 2


class _Rendezvous:
    """Every writer's first attempt waits here until all have read, or 0.15 s have passed."""

    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._arrived = 0
        self._all = asyncio.Event()

    async def wait(self) -> None:
        self._arrived += 1
        if self._arrived >= self._parties:
            self._all.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.15):
                await self._all.wait()


async def race(db: Database, item: Item, *, expected: int | None) -> tuple[list[str], int]:
    """WRITERS tasks update *item* in ``db.transaction()`` blocks, after all of them read it.

    Returns each writer's outcome (``applied`` or ``stale``) and how many block
    runs there were in all (more than WRITERS when conflicts made some re-run).
    """
    repo = item_repository(db)
    meet = _Rendezvous(WRITERS)
    runs = 0

    async def writer(index: int) -> str:
        nonlocal runs
        first = True
        try:
            async for attempt in db.transaction(attempts=10):
                async with attempt as session:
                    runs += 1
                    await repo.get(item.id, session=session)
                    if first:
                        first = False
                        await meet.wait()
                    await repo.update(
                        item.id, {"score": index}, expected_version=expected, session=session
                    )
        except ConcurrentModification:
            return "stale"
        return "applied"

    outcomes = list(await asyncio.gather(*(writer(i) for i in range(WRITERS))))
    return outcomes, runs


class TestContention:
    """Racing writers in the block form: the same outcome whether the database waits or fails."""

    @pytest.mark.asyncio
    async def test_racing_plain_updates_all_apply(self, repokit_db: Database) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(new_tenant(), score=-1))
        outcomes, _ = await race(repokit_db, item, expected=None)
        assert outcomes == ["applied"] * WRITERS
        stored = await repo.get(item.id)
        assert stored.version == item.version + WRITERS
        assert stored.score in range(WRITERS)

    @pytest.mark.asyncio
    async def test_racing_updates_of_one_version_apply_once(self, repokit_db: Database) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(new_tenant(), score=-1))
        outcomes, _ = await race(repokit_db, item, expected=item.version)
        assert sorted(outcomes) == ["applied"] + ["stale"] * (WRITERS - 1)
        stored = await repo.get(item.id)
        assert stored.version == item.version + 1
        assert stored.score == outcomes.index("applied")
