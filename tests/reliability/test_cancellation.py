"""Cancellation at every await point leaks nothing and leaves nothing half-done (CONTRACT §12).

Each operation kind runs once to count its suspensions (the awaits at which
the event loop may switch tasks), then once per suspension with the task
cancelled exactly there: the cancellation lands on the future the operation
is waiting for, as ``task.cancel()`` from a timeout or a ``TaskGroup`` would.
A second variant keeps cancelling at the next suspensions too (a cancellation
arriving while the first is being handled). After every cancelled run:

* no fair-gate slot is held, no SQLite writer turn, no memory writer lock;
* every connection is back: the pool lends out only the backend's idle
  leases, none of them has a transaction open, and PostgreSQL shows no
  session ``idle in transaction``;
* what the operation writes is visible entirely or not at all, and a
  session block's ``committed`` says which;
* the database still serves reads and writes (the next run's set-up writes,
  its checks read).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from reliability.sizes import scaled
from repokit import CursorPagination, Database, EntityAlreadyExists, Repository
from repokit.memory.backend import MemoryBackend
from repokit.testing.cancelling import run_cancelled
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit_mongodb import MongoBackend
from repokit_sqlalchemy import SQLAlchemyBackend
from repokit_sqlalchemy.sqlite import SQLiteDialect, _turn_lock

Repo = Repository[Item, ItemId]

#: Cancellations per storm: the first one, then one at each of the next suspensions.
STORM = 3


# -- the accounting --------------------------------------------------------------------------


async def _assert_nothing_held(db: Database) -> None:
    backend = db.backend
    if isinstance(backend, MemoryBackend):
        assert not backend._store.writer.locked(), "the memory writer lock is still held"
        assert not backend._store.readers, "a memory read-only snapshot is still open"
        return
    if isinstance(backend, MongoBackend):
        assert backend._gate.held() == 0, "a MongoDB gate slot is still held"
        return
    assert isinstance(backend, SQLAlchemyBackend)
    assert backend._gate.held() == 0, "a fair-gate slot is still held"
    dialect = backend.dialect
    if isinstance(dialect, SQLiteDialect):
        assert not _turn_lock(dialect.key).locked(), "the SQLite writer turn is still held"
    idle = backend._idle.get(asyncio.get_running_loop(), [])
    for lease in idle:
        assert not dialect.in_transaction(lease.driver), "an idle connection is in a transaction"
        assert lease.gate is None
        assert lease.turn is None
    pool = backend.engine.sync_engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    assert pool.checkedout() == len(idle), (
        f"{pool.checkedout()} connections checked out, {len(idle)} of them idle leases"
    )
    if dialect.name == "postgresql":
        # This database's own sessions (every_db names them; the server is shared). A
        # connection terminated on cancellation (mid-executemany) is gone on the client at
        # once, but its server process shows "idle in transaction" until it has read the
        # end of the socket, which a loaded machine can delay. A connection really left in
        # a transaction stays there: the check waits for the count to settle.
        stuck = -1
        async with backend.engine.connect() as connection:
            name = await connection.exec_driver_sql("SELECT current_setting('application_name')")
            assert name.scalar_one().startswith("repokit-every-db-")  # conftest's naming
            for _ in range(200):
                result = await connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND application_name = current_setting('application_name') "
                    "AND state LIKE 'idle in transaction%'"
                )
                stuck = result.scalar_one()
                if stuck == 0:
                    break
                await asyncio.sleep(0.05)
            sessions = []
            if stuck:
                found = await connection.exec_driver_sql(
                    "SELECT pid, state, backend_start, xact_start, state_change, query "
                    "FROM pg_stat_activity WHERE application_name = "
                    "current_setting('application_name')"
                )
                sessions = [tuple(row) for row in found]
        clients = [lease.driver.get_server_pid() for lease in idle]
        assert stuck == 0, (
            f"a PostgreSQL session is idle in a transaction: {sessions!r}; idle leases' "
            f"server pids: {clients}"
        )


async def _drop_idle_connections(db: Database) -> None:
    """Discard a SQL backend's idle leases: the next session connects anew."""
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    for lease in backend._idle.pop(asyncio.get_running_loop(), []):
        await lease.connection.close()
    await backend.engine.dispose()  # and the pool's own: the next checkout connects


# -- the operations --------------------------------------------------------------------------


def _item(tenant: str, name: str, score: int = 0) -> Item:
    return Item(ItemId(uuid.uuid4()), tenant, name, score=score)


@dataclass
class Case:
    """One run: *work* is what is cancelled; *check* asserts all or nothing of it is visible."""

    work: Coroutine[Any, Any, Any]
    check: Callable[[], Awaitable[None]]


async def _scores(repo: Repo, tenant: str) -> list[int | None]:
    page = await repo.search(scope=TenantScope(tenant), orders=[items.c.name.asc()])
    return [item.score for item in page.items]


async def _create(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()

    async def check() -> None:
        assert len(await _scores(repo, tenant)) in (0, 1)

    return Case(repo.create(_item(tenant, "a"), scope=TenantScope(tenant)), check)


async def _batch_create(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()
    batch = [_item(tenant, f"n{i:02}") for i in range(20)]

    async def check() -> None:
        assert len(await _scores(repo, tenant)) in (0, 20)

    return Case(repo.batch_create(batch, scope=TenantScope(tenant)), check)


async def _update(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()
    item = await repo.create(_item(tenant, "a", score=1))

    async def check() -> None:
        stored = await repo.get(item.id)
        assert (stored.score, stored.version) in ((1, item.version), (7, item.version + 1))

    return Case(repo.update(item.id, {"score": 7}, scope=TenantScope(tenant)), check)


async def _batch_update(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()
    created = await repo.batch_create([_item(tenant, f"n{i:02}", score=1) for i in range(10)])
    ids = [item.id for item in created]

    async def check() -> None:
        assert set(await _scores(repo, tenant)) in ({1}, {7})

    return Case(repo.batch_update({"score": 7}, ids=ids, scope=TenantScope(tenant)), check)


async def _purge(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()
    item = await repo.create(_item(tenant, "a"))

    async def check() -> None:
        assert len(await _scores(repo, tenant)) in (0, 1)

    return Case(repo.purge(item.id, scope=TenantScope(tenant)), check)


async def _search(repo: Repo, db: Database) -> Case:
    tenant = new_tenant()
    await repo.batch_create([_item(tenant, f"n{i:02}") for i in range(5)])

    async def check() -> None:
        assert len(await _scores(repo, tenant)) == 5

    work = repo.search(
        scope=TenantScope(tenant), pagination=CursorPagination(first=2), total_count=True
    )
    return Case(work, check)


async def _stream(repo: Repo, db: Database) -> Case:
    """A stream walked over several chunks (a session each), then abandoned (CONTRACT §19)."""
    tenant = new_tenant()
    await repo.batch_create([_item(tenant, f"n{i:02}") for i in range(7)])

    async def walk() -> None:
        seen = 0
        async for _item in repo.stream(scope=TenantScope(tenant), chunk_size=2):
            seen += 1
            if seen == 5:  # inside the third chunk: broken out of, never finished
                break

    async def check() -> None:
        assert len(await _scores(repo, tenant)) == 7

    return Case(walk(), check)


async def _session_block(repo: Repo, db: Database) -> Case:
    """Several statements in one begin_session() block: all of them or none, as committed says."""
    tenant = new_tenant()
    existing = await repo.create(_item(tenant, "z", score=1))
    committed: list[bool] = []

    async def block() -> None:
        session_block = db.begin_session()
        try:
            session = await session_block.__aenter__()
        except BaseException:
            committed.append(False)  # cancelled while opening: nothing began
            raise
        try:
            await repo.create(_item(tenant, "a"), session=session)
            await repo.update(existing.id, {"score": 7}, session=session)
            await repo.batch_create([_item(tenant, "b"), _item(tenant, "c")], session=session)
        except BaseException as exc:
            try:
                await session_block.__aexit__(type(exc), exc, exc.__traceback__)
            finally:
                committed.append(session.committed)
            raise
        try:
            await session_block.__aexit__(None, None, None)
        finally:
            committed.append(session.committed)

    async def check() -> None:
        scores = await _scores(repo, tenant)
        after = len(scores) == 4 and scores[-1] == 7
        assert after or scores == [1], f"partly visible: {scores}"
        assert committed == [after], f"committed says {committed}, the state says {after}"

    return Case(block(), check)


OPERATIONS: dict[str, Callable[[Repo, Database], Awaitable[Case]]] = {
    "create": _create,
    "batch_create": _batch_create,
    "update": _update,
    "batch_update": _batch_update,
    "purge": _purge,
    "search_with_total": _search,
    "stream": _stream,
    "session_block": _session_block,
}


# -- the sweep -------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_cancellation_at_every_suspension_leaks_nothing(
    every_db: Database, operation: str
) -> None:
    repo: Repo = Repository(every_db, items)
    make = OPERATIONS[operation]

    case = await make(repo, every_db)
    cancelled, suspensions = await run_cancelled(case.work, None)
    assert not cancelled
    await case.check()
    await _assert_nothing_held(every_db)
    # The reference backend runs without suspending (nothing to cancel in between); its
    # waits for the writer lock are covered by the test after this one.
    assert suspensions >= 1 or isinstance(every_db.backend, MemoryBackend)

    # Every suspension, singly and in a storm, on a pooled connection and (SQL) on a new
    # one; REPOKIT_RELIABILITY_SCALE repeats the sweep.
    injected = 0
    cold_runs = (False, True) if isinstance(every_db.backend, SQLAlchemyBackend) else (False,)
    counts = {False: suspensions}
    if True in cold_runs:
        case = await make(repo, every_db)
        await _drop_idle_connections(every_db)
        _, counts[True] = await run_cancelled(case.work, None)
        await case.check()
    for _ in range(scaled(1)):
        for cold, storm in itertools.product(cold_runs, (0, STORM)):
            for at in range(1, counts[cold] + 1):
                case = await make(repo, every_db)
                if cold:
                    await _drop_idle_connections(every_db)
                cancelled, ran = await run_cancelled(case.work, at, storm)
                # A run may suspend less often than the first (a pooled connection reused).
                assert cancelled or ran < at, f"the cancellation at suspension {at} was swallowed"
                injected += cancelled * (1 + storm)
                await _assert_nothing_held(every_db)
                await case.check()
    assert injected >= suspensions or isinstance(every_db.backend, MemoryBackend)
    print(f"{operation}: {counts} suspensions, {injected} cancellations injected")


@pytest.mark.asyncio
async def test_a_writer_cancelled_while_waiting_for_its_turn_writes_nothing(
    every_db: Database,
) -> None:
    """Waiting for the writer turn (SQLite, memory), then cancelled: nothing written."""
    backend = every_db.backend
    sqlite = isinstance(backend, SQLAlchemyBackend) and isinstance(backend.dialect, SQLiteDialect)
    if not (sqlite or isinstance(backend, MemoryBackend)):
        pytest.skip("writers queue for a turn only on SQLite and memory (elsewhere they run)")
    repo: Repo = Repository(every_db, items)
    tenant = new_tenant()
    async with db_block(every_db) as session:
        await repo.create(_item(tenant, "first"), session=session)
        waiting = asyncio.create_task(repo.create(_item(tenant, "cancelled")))
        for _ in range(20):
            await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    assert [i.name for i in (await repo.search(scope=TenantScope(tenant))).items] == ["first"]
    await _assert_nothing_held(every_db)


@pytest.mark.asyncio
async def test_a_writer_cancelled_as_its_turn_comes_writes_nothing(every_db: Database) -> None:
    """The cancellation arrives in the loop turn where the writer turn is handed over."""
    backend = every_db.backend
    sqlite = isinstance(backend, SQLAlchemyBackend) and isinstance(backend.dialect, SQLiteDialect)
    if not (sqlite or isinstance(backend, MemoryBackend)):
        pytest.skip("writers queue for a turn only on SQLite and memory (elsewhere they run)")
    repo: Repo = Repository(every_db, items)
    tenant = new_tenant()
    for round_ in range(scaled(5)):
        async with db_block(every_db) as session:
            await repo.create(_item(tenant, f"first{round_}"), session=session)
            waiting = asyncio.create_task(repo.create(_item(tenant, f"cancelled{round_}")))
            for _ in range(20):
                await asyncio.sleep(0)
        waiting.cancel()  # the turn was just given to it: no await in between
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await _assert_nothing_held(every_db)
    names = [i.name for i in (await repo.search(scope=TenantScope(tenant))).items]
    assert not [name for name in names if name.startswith("cancelled")]


def db_block(db: Database) -> Any:
    return db.begin_session()


@pytest.mark.asyncio
async def test_a_cancelled_session_leaves_the_database_writable(every_db: Database) -> None:
    """After cancellations inside blocks, a full pool of concurrent writers still gets through."""
    repo: Repo = Repository(every_db, items)
    tenant = new_tenant()
    for at in range(1, 6):
        await run_cancelled(repo.create(_item(tenant, f"c{at}")), at)
    created = await asyncio.gather(*(repo.create(_item(tenant, f"w{i:02}")) for i in range(20)))
    assert len(created) == 20
    await _assert_nothing_held(every_db)


@pytest.mark.asyncio
async def test_a_timeout_during_a_failing_write_releases_everything(every_db: Database) -> None:
    """EntityAlreadyExists inside asyncio.timeout(), cancelled while it rolls back."""
    repo: Repo = Repository(every_db, items)
    tenant = new_tenant()
    first = await repo.create(_item(tenant, "dup"))
    duplicate = Item(first.id, tenant, "other")
    for at in range(1, 12):
        # EntityAlreadyExists: the cancellation came after the end (or nothing suspended).
        with contextlib.suppress(EntityAlreadyExists):
            await run_cancelled(repo.create(duplicate), at, STORM)
        await _assert_nothing_held(every_db)
    await repo.create(_item(tenant, "after"))  # later writes still succeed
    await _assert_nothing_held(every_db)


@pytest.mark.asyncio
async def test_a_large_batch_cancelled_midway_ends_promptly_and_writes_nothing(
    every_db: Database,
) -> None:
    """Cancelled in the middle of a 30,000-row batch: it ends within seconds, nothing visible.

    asyncpg's multi-chunk executemany, cancelled while it waits for the socket to
    drain, would otherwise wait for ever for a reply the server never sends.
    """
    repo: Repo = Repository(every_db, items)
    # SecantusDB (the MongoDB test server, in-process) inserts ~2,500 documents a second
    # and finishes a cut-off insert before it aborts: 2,500 keep each cut well within 10 s.
    size = scaled(2_500 if isinstance(every_db.backend, MongoBackend) else 30_000)

    def batch(tenant: str) -> list[Item]:
        return [_item(tenant, f"n{i:05}") for i in range(size)]

    warm = new_tenant()
    _, suspensions = await run_cancelled(
        repo.batch_create(batch(warm), scope=TenantScope(warm)), None
    )
    points = {1, suspensions // 4, suspensions // 2, 3 * suspensions // 4} if suspensions else set()
    for at in sorted(points - {0}):  # the reference backend never suspends: nothing to cut
        tenant = new_tenant()
        work = repo.batch_create(batch(tenant), scope=TenantScope(tenant))
        task = asyncio.create_task(run_cancelled(work, at))
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:
            task.cancel()
            pytest.fail(f"cancelled at suspension {at} of {suspensions}: still running after 10 s")
        cancelled, _ = task.result()
        assert cancelled
        assert await repo.count(scope=TenantScope(tenant)) in (0, size)
        await _assert_nothing_held(every_db)
    await repo.create(_item(new_tenant(), "after"))
