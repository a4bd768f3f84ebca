"""Load: concurrent workers running every operation lose nothing and invent nothing.

32 workers (x ``REPOKIT_RELIABILITY_SCALE`` operations each) run creates,
gets, searches, version-checked updates, deletes, restores, purges and the
batch operations at once, in two tenants, each predicting the exact outcome
of every operation from its own model. Afterwards the stored entities equal
the replay of the successful operations' log (:mod:`reliability.model`).
A second test runs the classic lost-update race on one entity.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from reliability.model import Entry, Model, replay
from reliability.sizes import scaled
from repokit import (
    ConcurrentModification,
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    Repository,
    RepositoryError,
    Session,
)
from repokit.testing import Harness
from repokit.testing.replication import StreamingPair
from repokit.testing.runner import prepare_tables
from repokit.testing.schema import Item, ItemId, Status, TenantScope, items, new_tenant

TASKS = 32
OPS = scaled(100)
HOT_PER_TENANT = 2
RACERS = 20

Repo = Repository[Item, ItemId]


class Worker:
    """One concurrent client: runs random operations and checks each outcome against its model."""

    def __init__(self, index: int, repo: Repo, tenant: str, hot: list[ItemId]) -> None:
        self.index = index
        self.repo = repo
        self.tenant = tenant
        self.scope = TenantScope(tenant)
        self.hot = hot
        self.rng = random.Random(index)
        self.model = Model()
        self.log: list[Entry] = []
        self.surprises: list[str] = []
        self.gone: list[ItemId] = []  # purged keys, to aim at
        self.counter = 0
        self.hot_seen: dict[ItemId, int] = {}
        self.ops = 0
        self.contract_errors = 0

    # -- helpers ----------------------------------------------------------------------------

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _new_item(self) -> Item:
        n = self._next()
        return Item(
            ItemId(uuid.uuid4()),
            self.tenant,
            f"w{self.index}-{n}",
            score=n,
            ratio=n / 4,
            data={"worker": self.index, "n": n},
        )

    def _key(self) -> ItemId:
        """One of this worker's keys (live, deleted or purged), or an unknown one."""
        known = list(self.model.entities)
        roll = self.rng.random()
        if known and roll < 0.85:
            return self.rng.choice(known)
        if self.gone and roll < 0.95:
            return self.rng.choice(self.gone)
        return ItemId(uuid.uuid4())

    def _keys(self) -> list[ItemId]:
        return [self._key() for _ in range(self.rng.randint(1, 5))]

    async def _check(
        self,
        what: str,
        call: Awaitable[Any],
        expected: Any,
        entry: Entry | None = None,
        *,
        tolerate: tuple[type[RepositoryError], ...] = (),
    ) -> Any:
        """Run *call*; it must return *expected* (or raise it, if it is an exception type).

        ``...`` expects any result; *tolerate* names errors the race may also cause.
        """
        self.ops += 1
        failing = isinstance(expected, type) and issubclass(expected, BaseException)
        try:
            result = await call
        except RepositoryError as exc:
            if (failing and isinstance(exc, expected)) or isinstance(exc, tolerate):
                self.contract_errors += 1
                return None
            self.surprises.append(f"{what}: raised {exc!r}, expected {expected!r}")
            return None
        if failing or (expected is not ... and result != expected):
            self.surprises.append(f"{what}: returned {result!r}, expected {expected!r}")
        if entry is not None and not failing:
            self.log.append(entry)
            self.model.apply(entry)
        return result

    # -- operations -------------------------------------------------------------------------

    async def create(self) -> None:
        item = self._new_item()
        if self.model.entities and self.rng.random() < 0.15:
            taken = dataclasses.replace(item, id=self.rng.choice(list(self.model.entities)))
            await self._check(
                "create (taken id)", self.repo.create(taken, scope=self.scope), EntityAlreadyExists
            )
            return
        await self._check(
            "create",
            self.repo.create(item, scope=self.scope),
            item,
            Entry("create", created=(item,)),
        )

    async def batch_create(self) -> None:
        batch = [self._new_item() for _ in range(self.rng.randint(1, 6))]
        entry = Entry("create", created=tuple(batch))
        await self._check(
            "batch_create", self.repo.batch_create(batch, scope=self.scope), batch, entry
        )

    async def get(self) -> None:
        key = self._key()
        deleted = self.rng.choice(list(Deleted))
        entity = self.model.entities.get(key)
        expected: Any = EntityNotFound
        if entity is not None and (
            deleted is Deleted.INCLUDE
            or (entity.status is Status.DELETED) == (deleted is Deleted.ONLY)
        ):
            expected = entity
        await self._check(
            f"get {key} {deleted}", self.repo.get(key, scope=self.scope, deleted=deleted), expected
        )

    async def search(self) -> None:
        prefix = f"w{self.index}-"
        expected = sorted(
            (e for e in self.model.entities.values() if e.status is not Status.DELETED),
            key=lambda e: (e.score, e.id),
        )
        page = await self._check(
            "search",
            self.repo.search(
                conditions=items.c.name.startswith(prefix),
                orders=[items.c.score.asc()],
                scope=self.scope,
                total_count=True,
            ),
            ...,
        )
        if page is not None and (page.items != expected or page.total_count != len(expected)):
            self.surprises.append(f"search: {len(page.items)} items, expected {len(expected)}")

    async def update(self) -> None:
        key = self._key()
        values = {"score": 1_000_000 + self._next(), "code": f"c{self.index}-{self.counter}"}
        current = self.model.live(key)
        stale = current is not None and self.rng.random() < 0.1
        version = (current.version + (1 if stale else 0)) if current is not None else 0
        expected: Any = EntityNotFound
        if current is not None:
            changed = dataclasses.replace(current, **values)
            expected = (
                ConcurrentModification
                if stale
                else dataclasses.replace(changed, version=version + 1)
            )
        await self._check(
            f"update {key}",
            self.repo.update(key, values, scope=self.scope, expected_version=version),
            expected,
            Entry("update", (key,), values=values),
        )

    async def update_hot(self) -> None:
        key = self.rng.choice(self.hot)
        self.ops += 1
        current = await self.repo.get(key, scope=self.scope)
        if current.version < self.hot_seen.get(key, 0):
            self.surprises.append(f"hot {key}: read version {current.version} after a later one")
        self.hot_seen[key] = current.version
        values = {"score": self.index * 10_000_000 + self._next()}
        await self._check(
            f"update hot {key}",
            self.repo.update(key, values, scope=self.scope, expected_version=current.version),
            ...,
            Entry("cas", (key,), values=values, expected=current.version),
            tolerate=(ConcurrentModification,),
        )

    async def delete(self) -> None:
        key = self._key()
        expected = None if self.model.live(key) is not None else EntityNotFound
        await self._check(
            f"delete {key}",
            self.repo.delete(key, scope=self.scope),
            expected,
            Entry("delete", (key,)),
        )

    async def restore(self) -> None:
        key = self._key()
        current = self.model.deleted(key)
        expected: Any = EntityNotFound
        if current is not None:
            expected = dataclasses.replace(
                current, status=Status.ACTIVE, version=current.version + 1
            )
        await self._check(
            f"restore {key}",
            self.repo.restore(key, scope=self.scope),
            expected,
            Entry("restore", (key,)),
        )

    async def purge(self) -> None:
        key = self._key()
        expected = None if key in self.model.entities else EntityNotFound
        await self._check(
            f"purge {key}", self.repo.purge(key, scope=self.scope), expected, Entry("purge", (key,))
        )
        self.gone.append(key)

    async def batch_update(self) -> None:
        keys = list(dict.fromkeys(self._keys()))
        values = {"ratio": self._next() / 8}
        matched = sum(self.model.live(k) is not None for k in keys)
        entry = Entry("update", tuple(keys), values=values)
        await self._check(
            "batch_update",
            self.repo.batch_update(values, ids=keys, scope=self.scope),
            matched,
            entry,
        )

    async def batch_delete(self) -> None:
        if self.rng.random() < 0.5:
            keys = list(dict.fromkeys(self._keys()))
            matched = [k for k in keys if self.model.live(k) is not None]
            call = self.repo.batch_delete(ids=keys, scope=self.scope)
        else:  # by condition: this worker's live entities with a low score
            bound = self.counter - self.rng.randint(5, 50)
            matched = [
                e.id
                for e in self.model.entities.values()
                if e.status is not Status.DELETED and e.score is not None and e.score < bound
            ]
            condition = items.c.name.startswith(f"w{self.index}-") & (items.c.score < bound)
            call = self.repo.batch_delete(conditions=condition, scope=self.scope)
        await self._check("batch_delete", call, len(matched), Entry("delete", tuple(matched)))

    async def batch_purge(self) -> None:
        keys = list(dict.fromkeys(self._keys()))
        matched = [k for k in keys if k in self.model.entities]
        entry = Entry("purge", tuple(matched))
        await self._check(
            "batch_purge", self.repo.batch_purge(ids=keys, scope=self.scope), len(matched), entry
        )
        self.gone.extend(matched)

    async def run(self, operations: int) -> None:
        weighted: list[tuple[Callable[[], Awaitable[None]], int]] = [
            (self.create, 14), (self.batch_create, 4), (self.get, 16), (self.search, 6),
            (self.update, 14), (self.update_hot, 10), (self.delete, 8),
            (self.restore, 6), (self.purge, 5), (self.batch_update, 6), (self.batch_delete, 5),
            (self.batch_purge, 3),
        ]  # fmt: skip
        calls, weights = zip(*weighted, strict=True)
        for _ in range(operations):
            await self.rng.choices(calls, weights)[0]()


async def _stored(repo: Repo, tenants: list[str]) -> dict[ItemId, Item]:
    page = await repo.search(conditions=items.c.tenant.in_(tenants), deleted=Deleted.INCLUDE)
    return {e.id: e for e in page.items}


@pytest.mark.asyncio
async def test_concurrent_workers_lose_no_write_and_invent_none(db: Database) -> None:
    await _load(db)


@pytest.mark.asyncio
async def test_concurrent_workers_on_a_primary_and_its_replica_lose_nothing(
    streaming_pair: StreamingPair,
) -> None:
    # Reads on the replica; commits wait until it applied them (remote_apply), so each
    # worker reads its own writes there, as its model predicts.
    harness = Harness(
        url=streaming_pair.primary.url(),
        options={
            "replicas": [streaming_pair.replica.url()],
            "connect_args": {"server_settings": {"synchronous_commit": "remote_apply"}},
        },
    )
    db = await harness.open()
    try:
        await prepare_tables(harness, db)
        assert len(db.replicas) == 1
        async with db.begin_readonly_session() as session:
            assert session.replica is not None
        await _load(db)
    finally:
        await db.close()


async def _load(db: Database) -> None:
    repo: Repo = Repository(db, items)
    tenants = [new_tenant(), new_tenant()]
    hot: dict[str, list[ItemId]] = {}
    setup: list[Entry] = []
    for tenant in tenants:
        batch = [
            Item(ItemId(uuid.uuid4()), tenant, f"hot-{n}", score=0) for n in range(HOT_PER_TENANT)
        ]
        await repo.batch_create(batch, scope=TenantScope(tenant))
        setup.append(Entry("create", created=tuple(batch)))
        hot[tenant] = [e.id for e in batch]
    workers = [Worker(i, repo, tenants[i % 2], hot[tenants[i % 2]]) for i in range(TASKS)]
    await asyncio.gather(*(w.run(OPS) for w in workers))

    surprises = [s for w in workers for s in w.surprises]
    assert not surprises, f"{len(surprises)} unexpected outcomes, first ones:\n" + "\n".join(
        surprises[:20]
    )
    expected = replay(setup, [w.log for w in workers]).entities
    stored = await _stored(repo, tenants)
    lost = expected.keys() - stored.keys()
    phantom = stored.keys() - expected.keys()
    assert not lost, f"{len(lost)} entities lost"
    assert not phantom, f"{len(phantom)} phantom entities"
    differing = [k for k in expected if expected[k] != stored[k]]
    assert not differing, (
        f"{len(differing)} entities differ, e.g. {expected[differing[0]]} != {stored[differing[0]]}"
    )
    assert sum(w.ops for w in workers) >= TASKS * OPS
    assert (
        sum(w.contract_errors for w in workers) > 0
    )  # the run did aim at missing and stale entities


async def _increment(db: Database, repo: Repo, key: ItemId, tenant: str) -> int:
    """Read-modify-write *key*'s score with a version check; retry on a lost race."""
    conflicts = 0
    while True:

        async def work(session: Session) -> None:
            current = await repo.get(key, scope=TenantScope(tenant), session=session)
            await asyncio.sleep(0)  # let the other racers read the same version
            await repo.update(
                key,
                {"score": (current.score or 0) + 1},
                scope=TenantScope(tenant),
                expected_version=current.version,
                session=session,
            )

        try:
            await db.run_in_transaction(work)
            return conflicts
        except ConcurrentModification:
            conflicts += 1


@pytest.mark.asyncio
async def test_racing_read_modify_writes_with_version_checks_lose_no_update(db: Database) -> None:
    repo: Repo = Repository(db, items)
    tenant = new_tenant()
    counter = await repo.create(Item(ItemId(uuid.uuid4()), tenant, "counter", score=0))
    racers = RACERS
    await asyncio.gather(*(_increment(db, repo, counter.id, tenant) for _ in range(racers)))
    final = await repo.get(counter.id, scope=TenantScope(tenant))
    assert final.score == racers
    assert final.version == racers


_SMALL_POOL = {
    "sqlite": {"pool_size": 2, "max_overflow": 0, "pool_timeout": 2},
    "postgres": {"pool_size": 2, "max_overflow": 0, "pool_timeout": 2},
    "mongodb": {"maxPoolSize": 2, "waitQueueTimeoutMS": 2000},
}


@pytest.mark.asyncio
async def test_more_concurrent_clients_than_pooled_connections_all_get_their_turn(
    backend_name: str, reliability_harness: Harness
) -> None:
    # Clients that release a connection and ask for one again at once: a pool that
    # lets them cut in line starves a waiter past its timeout (repokit.gate).
    assert reliability_harness.url is not None
    db = await Database.connect(reliability_harness.url, **_SMALL_POOL[backend_name])
    try:
        await prepare_tables(reliability_harness, db)
        repo: Repo = Repository(db, items)
        tenant = new_tenant()
        item = await repo.create(Item(ItemId(uuid.uuid4()), tenant, "shared"))

        async def client() -> None:
            for _ in range(scaled(100)):
                assert await repo.get(item.id, scope=TenantScope(tenant)) == item

        await asyncio.gather(*(client() for _ in range(TASKS)))
    finally:
        await db.close()
