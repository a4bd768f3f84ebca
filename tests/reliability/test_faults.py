"""Faults: a server stopped mid-run, a connection that dies, a server that is not there.

Each server-stopping test runs on a server of its own (:mod:`reliability.controlled`),
never on the session's shared servers. While writers run batches and
updates, the server stops and starts again: in-flight and later operations
raise ``BackendUnavailable`` (nothing else), no batch is ever partly visible,
and the same :class:`~repokit.Database` works again once the server is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from reliability.controlled import ControlledMongo, ControlledPostgres, free_port
from reliability.sizes import scaled
from repokit import (
    BackendUnavailable,
    Database,
    Deleted,
    Repository,
    RepositoryError,
)
from repokit.testing.schema import ALL_TABLES, Item, ItemId, TenantScope, items, new_tenant

BATCH = 25
WRITERS = 6
Repo = Repository[Item, ItemId]


# -- servers of our own ----------------------------------------------------------------------


@dataclass
class Controlled:
    """A server under the test's control: its URL and how to stop and start it."""

    url: str
    stop: Callable[[], None]
    start: Callable[[], None]
    options: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def controlled_postgres() -> Iterator[ControlledPostgres]:
    server = ControlledPostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def controlled_mongo() -> Iterator[ControlledMongo]:
    server = ControlledMongo()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(params=["postgres-fast", "postgres-immediate", "mongodb"])
def controlled(request: pytest.FixtureRequest) -> Controlled:
    """A restartable server; PostgreSQL stopped politely (fast) or like a crash (immediate)."""
    if request.param == "mongodb":
        mongo: ControlledMongo = request.getfixturevalue("controlled_mongo")
        # Short server selection: operations during the outage fail in 0.5 s, not 3 s.
        return Controlled(mongo.url, mongo.stop, mongo.start, {"serverSelectionTimeoutMS": 500})
    postgres: ControlledPostgres = request.getfixturevalue("controlled_postgres")
    mode = request.param.split("-", 1)[1]
    return Controlled(postgres.url, lambda: postgres.stop(mode), postgres.start)


async def _connect(controlled: Controlled) -> Database:
    """Connect, waiting out a server that an earlier test restarted and is still waking.

    The MongoDB options select a server within 0.5 s (so that the outage is seen
    at once); right after a restart on a loaded machine the first selection may
    take longer than that.
    """
    for _ in range(20):
        try:
            return await Database.connect(controlled.url, **controlled.options)
        except BackendUnavailable:
            await asyncio.sleep(0.25)
    return await Database.connect(controlled.url, **controlled.options)


@pytest_asyncio.fixture
async def controlled_db(controlled: Controlled) -> AsyncIterator[Database]:
    db = await _connect(controlled)
    try:
        await db.create_tables(*ALL_TABLES)
        yield db
    finally:
        await db.close()


# -- the outage ------------------------------------------------------------------------------


@dataclass
class Outcomes:
    """What the writers saw: committed and failed batches, errors by type."""

    committed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    after_restart: int = 0
    restarted: bool = False


def _batch(tenant: str, label: str) -> list[Item]:
    return [Item(ItemId(uuid.uuid4()), tenant, f"{label}-{n}", score=n) for n in range(BATCH)]


def _marker(label: str) -> float:
    index, n = label[1:].split("x")
    return float(int(index) * 1_000_000 + int(n))


async def _writer(repo: Repo, tenant: str, index: int, out: Outcomes, stop: asyncio.Event) -> None:
    scope = TenantScope(tenant)
    n = 0
    while not stop.is_set():
        n += 1
        label = f"b{index}x{n}"
        try:
            created = await repo.batch_create(_batch(tenant, label), scope=scope)
            # A batch update of the same entities: all of them or none.
            ids = [e.id for e in created]
            await repo.batch_update({"ratio": _marker(label)}, ids=ids, scope=scope)
        except RepositoryError as exc:
            out.failed.append(label)
            out.errors.append(exc)
            await asyncio.sleep(0.02)
            continue
        out.committed.append(label)
        if out.restarted:
            out.after_restart += 1


async def _wait_for(condition: Callable[[], bool], out: Outcomes, what: str) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):  # a guard against hanging, not a timing claim
            while not condition():  # noqa: ASYNC110 - the writers only update counters
                await asyncio.sleep(0.01)
    assert condition(), f"{what}; errors so far: {out.errors[-3:]!r}"


@pytest.mark.asyncio
async def test_a_restarted_server_loses_no_committed_batch_and_shows_no_partial_one(
    controlled: Controlled, controlled_db: Database
) -> None:
    repo: Repo = Repository(controlled_db, items)
    tenant = new_tenant()
    out = Outcomes()
    stop = asyncio.Event()
    writers = [asyncio.create_task(_writer(repo, tenant, i, out, stop)) for i in range(WRITERS)]
    try:
        await _wait_for(lambda: len(out.committed) >= scaled(12), out, "no commit")
        await asyncio.to_thread(controlled.stop)
        await _wait_for(lambda: len(out.errors) >= WRITERS, out, "outage unnoticed")
        await asyncio.to_thread(controlled.start)
        out.restarted = True
        await _wait_for(lambda: out.after_restart >= scaled(12), out, "no recovery")
    finally:
        stop.set()
        await asyncio.gather(*writers)

    unexpected = [e for e in out.errors if not isinstance(e, BackendUnavailable)]
    assert not unexpected, f"errors other than BackendUnavailable: {unexpected[:5]!r}"
    page = await repo.search(scope=TenantScope(tenant), deleted=Deleted.INCLUDE)
    by_batch: dict[str, list[Item]] = {}
    for entity in page.items:
        by_batch.setdefault(entity.name.rsplit("-", 1)[0], []).append(entity)
    for label in out.committed:
        stored = by_batch.get(label, [])
        assert len(stored) == BATCH, f"committed batch {label}: {len(stored)} of {BATCH} stored"
        ratios = {e.ratio for e in stored}
        assert ratios == {_marker(label)}, f"committed batch update {label}: {ratios}"
    for label in out.failed:
        stored = by_batch.get(label, [])
        assert len(stored) in (0, BATCH), f"failed batch {label}: {len(stored)} of {BATCH} stored"
        ratios = {e.ratio for e in stored}
        assert ratios in (set(), {None}, {_marker(label)}), f"failed batch {label}: {ratios}"
    assert set(by_batch) <= {*out.committed, *out.failed}, "entities nobody wrote"


@pytest.mark.asyncio
async def test_a_transaction_cut_off_by_the_server_stopping_commits_nothing(
    controlled: Controlled, controlled_db: Database
) -> None:
    repo: Repo = Repository(controlled_db, items)
    tenant = new_tenant()
    batch = _batch(tenant, "cut")

    async def write_through_the_outage() -> None:
        async with controlled_db.begin_session() as session:
            await repo.batch_create(batch, scope=TenantScope(tenant), session=session)
            await asyncio.to_thread(controlled.stop)
            try:
                await repo.batch_update({"score": -1}, ids=[e.id for e in batch], session=session)
            finally:
                await asyncio.to_thread(controlled.start)

    with pytest.raises(BackendUnavailable):
        await write_through_the_outage()
    assert await repo.count(scope=TenantScope(tenant), deleted=Deleted.INCLUDE) == 0
    # The same Database, never recreated, works again.
    await repo.batch_create(batch, scope=TenantScope(tenant))
    assert await repo.count(scope=TenantScope(tenant)) == BATCH


# -- a connection that dies, on the shared servers --------------------------------------------


@pytest.mark.asyncio
async def test_a_postgres_transaction_whose_connection_is_killed_commits_nothing(
    postgres_url: str,
) -> None:
    import asyncpg  # type: ignore[import-untyped]

    application = f"repokit-fault-{uuid.uuid4().hex[:8]}"
    db = await Database.connect(
        postgres_url, connect_args={"server_settings": {"application_name": application}}
    )
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await db.create_tables(*ALL_TABLES)
        repo: Repo = Repository(db, items)
        tenant = new_tenant()
        batch = _batch(tenant, "killed")

        async def write_until_killed() -> None:
            async with db.begin_session() as session:
                await repo.batch_create(batch, scope=TenantScope(tenant), session=session)
                killed = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = $1",
                    application,
                )
                assert killed == 1
                await repo.batch_update({"score": -1}, ids=[e.id for e in batch], session=session)

        with pytest.raises(BackendUnavailable):
            await write_until_killed()
        assert await repo.count(scope=TenantScope(tenant), deleted=Deleted.INCLUDE) == 0
        await repo.batch_create(batch, scope=TenantScope(tenant))
        assert await repo.count(scope=TenantScope(tenant)) == BATCH
    finally:
        await admin.close()
        await db.close()


_SQLITE_VICTIM = textwrap.dedent(
    """
    import asyncio, sys, uuid
    from repokit import Database, Repository
    from repokit.testing.schema import Item, ItemId, TenantScope, items

    async def main(url, tenant, size):
        db = await Database.connect(url)
        repo = Repository(db, items)
        batch = [Item(ItemId(uuid.uuid4()), tenant, f"killed-{n}") for n in range(size)]
        async with db.begin_session() as session:
            await repo.batch_create(batch, scope=TenantScope(tenant), session=session)
            print("written", flush=True)
            await asyncio.sleep(600)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


@pytest.mark.asyncio
async def test_a_sqlite_transaction_of_a_killed_process_commits_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'killed.db'}"
    db = await Database.connect(url, busy_timeout=10)
    try:
        await db.create_tables(*ALL_TABLES)
        tenant = new_tenant()
        victim = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SQLITE_VICTIM, url, tenant, str(BATCH),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert victim.stdout is not None
            line = await victim.stdout.readline()
            assert line.decode().strip() == "written"
        finally:
            with contextlib.suppress(ProcessLookupError):
                victim.send_signal(signal.SIGKILL)
            await victim.wait()
        repo: Repo = Repository(db, items)
        assert await repo.count(scope=TenantScope(tenant), deleted=Deleted.INCLUDE) == 0
        # The dead writer's lock is gone: the next write needs no waiting on it.
        await repo.batch_create(_batch(tenant, "after"), scope=TenantScope(tenant))
        assert await repo.count(scope=TenantScope(tenant)) == BATCH
    finally:
        await db.close()


# -- a database that is not there ------------------------------------------------------------


def _unreachable_urls(tmp: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    port = free_port()
    return {
        "postgres-closed-port": (f"postgresql+asyncpg://repokit@127.0.0.1:{port}/nowhere", {}),
        "postgres-missing-socket": (
            f"postgresql+asyncpg://repokit@/nowhere?host={tmp / 'no-such-dir'}",
            {},
        ),
        "mongodb-closed-port": (
            f"mongodb://127.0.0.1:{port}/nowhere",
            {"serverSelectionTimeoutMS": 1000},
        ),
        "sqlite-missing-folder": (f"sqlite+aiosqlite:///{tmp / 'no-such-dir' / 'app.db'}", {}),
    }


# PyMongo 4.20 leaves the socket of a connection attempt open when closing the client
# cancels its monitor mid-connect (pool_shared._async_create_connection closes it on
# OSError and TimeoutError only); the leak is PyMongo's, collected here to keep it here.
_PYMONGO_SOCKET_LEAK = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


@pytest.mark.parametrize(
    "target",
    [
        "postgres-closed-port",
        "postgres-missing-socket",
        pytest.param("mongodb-closed-port", marks=_PYMONGO_SOCKET_LEAK),
        "sqlite-missing-folder",
    ],
)
@pytest.mark.asyncio
async def test_connecting_to_an_unreachable_database_fails_clearly(
    target: str, tmp_path: Path
) -> None:
    url, options = _unreachable_urls(tmp_path)[target]
    async with asyncio.timeout(30):  # a guard against hanging, not a timing claim
        with pytest.raises(BackendUnavailable) as raised:
            await Database.connect(url, **options)
    message = str(raised.value)
    if not target.startswith("sqlite"):  # SQLite's folder is checked before any driver call
        assert raised.value.__cause__ is not None, "the driver's error is not chained"
    gc.collect()  # a leaked driver socket is reported by this test, not a later one
    assert "nowhere" in message or "no-such-dir" in message or "127.0.0.1" in message, (
        f"the message does not say what could not be reached: {message}"
    )
