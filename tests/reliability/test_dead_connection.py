"""A connection that dies during a large batch fails it with ``BackendUnavailable``, quickly.

While a 30,000-entity ``batch_create`` is on the wire, a second connection
ends the first one from the server side, the way an administrator or a
failover would: ``pg_terminate_backend`` on PostgreSQL, ``killOp`` on
SecantusDB (which closes the client's socket). The batch must fail with
``BackendUnavailable`` within :data:`BOUND` seconds, whatever the transport
(PostgreSQL 18 over its Unix socket, ``$REPOKIT_TEST_POSTGRES_URL`` over TCP,
MongoDB over TCP), commit nothing partial, and the same ``Database`` must
serve reads and writes right afterwards. On MongoDB the insert fails at once;
the rollback's ``abortTransaction`` then waits for the server to finish the
cut-off insert, at most ``repokit_mongodb.session.ABORT_TIMEOUT`` (2 s).

The bound is checked with ``asyncio.timeout`` *and* its ``expired()``:
cancelling a stuck asyncpg ``executemany`` makes it raise the connection's
error instead of ``CancelledError``, so an expired timeout alone would look
like a pass. SQLite has no connection to lose (the driver runs in-process).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from repokit import BackendUnavailable, Database, Deleted, Repository
from repokit.testing.schema import ALL_TABLES, Item, ItemId, TenantScope, items, new_tenant
from servers.mongodb import MONGODB_URL_ENV
from servers.postgres import POSTGRES_URL_ENV

#: Entities in the PostgreSQL batch that is cut off (one ``executemany``).
SIZE = 30_000
#: Entities in the MongoDB batch (one ``insert_many``): SecantusDB goes on inserting
#: after the kill, in this process, for about 0.4 ms a document; 10,000 keep it
#: busy well past the rollback's bound without slowing the next tests for long.
MONGODB_SIZE = 10_000
#: Seconds within which the lost connection must surface (measured: milliseconds).
BOUND = 10
#: Seconds to wait for the batch to show up on the server before giving up.
APPEAR = 30

Repo = Repository[Item, ItemId]
Kill = Callable[[], Awaitable[None]]


def _batch(tenant: str, label: str, size: int) -> list[Item]:
    return [Item(ItemId(uuid.uuid4()), tenant, f"{label}-{n}", score=n) for n in range(size)]


async def _cut_off(
    db: Database, kill: Kill, request: pytest.FixtureRequest, size: int = SIZE
) -> tuple[Repo, str]:
    """Start the large batch, *kill* its connection, and check the failure and its timing."""
    repo: Repo = Repository(db, items)
    tenant = new_tenant()
    create = asyncio.create_task(
        repo.batch_create(_batch(tenant, "cut", size), scope=TenantScope(tenant))
    )
    try:
        await kill()
        killed = time.monotonic()
        async with asyncio.timeout(BOUND) as deadline:
            with pytest.raises(BackendUnavailable):
                await create
        detected = time.monotonic() - killed
    finally:
        create.cancel()
    assert not deadline.expired(), f"the lost connection went unnoticed for {BOUND} s"
    # Reported in the JUnit XML (junit_family=legacy) for docs/reliability.md.
    request.node.user_properties.append(("detection_seconds", round(detected, 4)))
    return repo, tenant


async def _still_serves(repo: Repo, tenant: str, *, committed: tuple[int, ...]) -> None:
    """The same Database reads and writes; the cut-off batch left *committed* entities."""
    scope = TenantScope(tenant)
    assert await repo.count(scope=scope, deleted=Deleted.INCLUDE) in committed
    after = new_tenant()
    await repo.batch_create(_batch(after, "after", 25), scope=TenantScope(after))
    assert await repo.count(scope=TenantScope(after)) == 25


async def _until(probe: Callable[[], Awaitable[Any]], what: str) -> Any:
    """What *probe* finds, polled until it finds something."""
    try:
        async with asyncio.timeout(APPEAR):  # a guard against hanging, not a timing claim
            while (found := await probe()) is None:  # noqa: ASYNC110 - polling the server
                await asyncio.sleep(0.002)
    except TimeoutError:
        raise AssertionError(f"{what} never showed up on the server") from None
    return found


# -- PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture(params=["unix-socket", "tcp"])
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The embedded PostgreSQL 18 over its Unix socket; ``$REPOKIT_TEST_POSTGRES_URL`` (TCP)."""
    override = os.environ.get(POSTGRES_URL_ENV)
    if request.param == "tcp":
        if not override:
            pytest.skip(f"${POSTGRES_URL_ENV} is not set")
        yield override
    elif not override:
        yield str(request.getfixturevalue("postgres_url"))  # the session's embedded server
    else:
        # The session's server is the override: start an embedded one of our own.
        from reliability.controlled import ControlledPostgres

        server = ControlledPostgres()
        try:
            yield str(server.url)
        finally:
            server.close()


@pytest.mark.asyncio
async def test_a_postgres_connection_killed_during_a_large_batch_create_is_reported_quickly(
    pg_url: str, request: pytest.FixtureRequest
) -> None:
    import asyncpg  # type: ignore[import-untyped]

    application = f"repokit-dead-{uuid.uuid4().hex[:8]}"
    db = await Database.connect(
        pg_url, connect_args={"server_settings": {"application_name": application}}
    )
    admin = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await db.create_tables(*ALL_TABLES)

        async def inserting() -> int | None:
            pid: int | None = await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1"
                " AND state = 'active' AND query LIKE 'INSERT INTO rk_items%'",
                application,
            )
            return pid

        async def kill() -> None:
            pid = await _until(inserting, "the batch's INSERT")
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)

        repo, tenant = await _cut_off(db, kill, request)
        await _still_serves(repo, tenant, committed=(0,))  # one transaction: nothing of it
    finally:
        await admin.close()
        await db.close()


# -- MongoDB ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_mongodb_connection_killed_during_a_large_batch_create_is_reported_quickly(
    mongodb_url: str, request: pytest.FixtureRequest
) -> None:
    if os.environ.get(MONGODB_URL_ENV):
        # mongod's killOp interrupts the operation and keeps the connection open;
        # only SecantusDB's closes the client's socket, the fault under test.
        pytest.skip("closing a client's connection from the server needs SecantusDB's killOp")
    from pymongo import AsyncMongoClient

    application = f"repokit-dead-{uuid.uuid4().hex[:8]}"
    db = await Database.connect(mongodb_url, appname=application)
    admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url)
    try:
        await db.create_tables(*ALL_TABLES)

        async def inserting() -> int | None:
            report = await admin.admin.command("currentOp")
            for op in report["inprog"]:
                name = op.get("clientMetadata", {}).get("application", {}).get("name")
                if name == application and op.get("op") == "insert":
                    return int(op["opid"])
            return None

        async def kill() -> None:
            opid = await _until(inserting, "the batch's insert")
            killed = await admin.admin.command("killOp", op=opid)
            assert killed.get("info") == "operation killed", killed

        repo, tenant = await _cut_off(db, kill, request, MONGODB_SIZE)
        # The insert ran in a transaction that never commits (SecantusDB goes on
        # inserting into it for a while, invisibly, until the abort or its lifetime ends).
        await _still_serves(repo, tenant, committed=(0,))
    finally:
        await admin.close()
        await db.close()
