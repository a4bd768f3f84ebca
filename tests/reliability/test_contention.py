"""The same racing code reaches the same outcome on every backend (CONTRACT §9).

Writers race on one entity, each in the retrying block form
(``async for attempt in db.transaction(): async with attempt as session``),
all of them reading the entity first and writing after every other writer
has read it (or after a short wait where writers take turns, SQLite and
memory, so that no one waits forever). PostgreSQL makes the losers wait on
the row lock, MongoDB fails them at once with a write conflict that the
block form retries, SQLite and memory run them one after the other — and
the outcome is the same everywhere:

* plain updates all apply, one after the other (the version counts them);
* updates that all expect the version read before the race: exactly one
  applies, every other raises ``ConcurrentModification``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from reliability.sizes import scaled
from repokit import ConcurrentModification, Database, Repository
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit_mongodb import MongoBackend

Repo = Repository[Item, ItemId]
WRITERS = 4


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


async def _race(
    db: Database, repo: Repo, item: Item, *, expected: int | None
) -> tuple[list[str], int]:
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


def _assert_raced(db: Database, runs: int, rounds: int) -> None:
    if isinstance(db.backend, MongoBackend):
        # The race was real: MongoDB failed the losers with write conflicts, and they re-ran.
        assert runs > WRITERS * rounds


@pytest.mark.asyncio
async def test_racing_plain_updates_all_apply(every_db: Database) -> None:
    repo: Repo = Repository(every_db, items)
    runs = 0
    for _ in range(scaled(3)):
        tenant = new_tenant()
        item = await repo.create(Item(ItemId(uuid.uuid4()), tenant, "hot", score=-1))
        outcomes, ran = await _race(every_db, repo, item, expected=None)
        runs += ran
        assert outcomes == ["applied"] * WRITERS
        stored = await repo.get(item.id, scope=TenantScope(tenant))
        assert stored.version == item.version + WRITERS
        assert stored.score in range(WRITERS)
    _assert_raced(every_db, runs, scaled(3))


@pytest.mark.asyncio
async def test_racing_updates_of_one_version_apply_once(every_db: Database) -> None:
    repo: Repo = Repository(every_db, items)
    runs = 0
    for _ in range(scaled(3)):
        tenant = new_tenant()
        item = await repo.create(Item(ItemId(uuid.uuid4()), tenant, "hot", score=-1))
        outcomes, ran = await _race(every_db, repo, item, expected=item.version)
        runs += ran
        assert sorted(outcomes) == ["applied"] + ["stale"] * (WRITERS - 1)
        stored = await repo.get(item.id, scope=TenantScope(tenant))
        assert stored.version == item.version + 1
        assert stored.score == outcomes.index("applied")
    _assert_raced(every_db, runs, scaled(3))
