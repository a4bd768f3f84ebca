"""The replica policy (repokit.replicas) on the reference backend.

Each memory:// backend is a database of its own, so a read shows which one
served it: the primary and each replica hold a different note. The replica
tests on a real streaming replica are in tests/replicas.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from repokit import (
    BackendUnavailable,
    Database,
    InvalidQuery,
    Repository,
    Table,
    UnsupportedOperation,
)
from repokit.backend import Backend, Select
from repokit.memory.backend import MemoryBackend, MemorySession
from repokit.replicas import Replicas

pytestmark = pytest.mark.asyncio


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    where: str


notes: Table[Note] = Table(Note, "notes", primary_key="id")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Lagging(MemoryBackend):
    """A memory backend that reports the lag a test sets, and counts the measurements."""

    def __init__(self) -> None:
        super().__init__()
        self.lag: float | None = 0.0
        self.measured = 0

    async def replica_lag(self) -> float | None:
        self.measured += 1
        return self.lag


class Failing(MemoryBackend):
    """A memory backend whose sessions fail their first read as a lost connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = 0

    async def open_session(self, *, read_only: bool) -> MemorySession:
        session = await super().open_session(read_only=read_only)
        backend = self

        async def select(query: Select) -> Any:
            backend.failed += 1
            raise BackendUnavailable("the replica's connection was lost")

        session.select = select  # type: ignore[method-assign]
        return session


async def _holding(backend: Backend, where: str) -> uuid.UUID:
    """Put one note saying *where* into *backend*."""
    db = Database(backend)
    await db.create_tables(notes)
    key = uuid.uuid4()
    await Repository(db, notes).create(Note(key, where))
    return key


async def _served_by(db: Database) -> set[str]:
    repo: Repository[Note, uuid.UUID] = Repository(db, notes)
    return {note.where for note in (await repo.search()).items}


async def test_read_only_sessions_take_turns_on_the_replicas() -> None:
    primary, one, two = MemoryBackend(), MemoryBackend(), MemoryBackend()
    for backend, name in ((primary, "primary"), (one, "one"), (two, "two")):
        await _holding(backend, name)
    db = Database(primary, replicas=[one, two])
    assert [await _served_by(db) for _ in range(4)] == [{"one"}, {"two"}, {"one"}, {"two"}]
    async with db.begin_session() as session:
        assert session.replica is None
        assert {n.where for n in (await Repository(db, notes).search(session=session)).items} == {
            "primary"
        }
    async with db.begin_readonly_session(primary=True) as session:
        assert session.replica is None
    with db.reading_primary():
        assert await _served_by(db) == {"primary"}
    assert await _served_by(db) == {"one"}


async def test_a_failed_replica_is_skipped_for_retry_after_seconds() -> None:
    primary, broken, good = MemoryBackend(), Failing(), MemoryBackend()
    for backend, name in ((primary, "primary"), (broken, "broken"), (good, "good")):
        await _holding(backend, name)
    clock = Clock()
    db = Database(primary, replicas=Replicas([broken, good], retry_after=5, clock=clock))
    # The first statement fails on the broken replica and is re-run on the next one.
    assert await _served_by(db) == {"good"}
    assert broken.failed == 1
    assert [await _served_by(db) for _ in range(3)] == [{"good"}] * 3
    assert broken.failed == 1  # skipped
    clock.now = 5.0
    # Tried again within a round (and failed again): the turn falls to it once in two.
    assert [await _served_by(db) for _ in range(2)] == [{"good"}] * 2
    assert broken.failed == 2


async def test_reads_fall_back_to_the_primary_when_no_replica_serves() -> None:
    primary, broken = MemoryBackend(), Failing()
    await _holding(primary, "primary")
    await _holding(broken, "broken")
    db = Database(primary, replicas=[broken])
    assert await _served_by(db) == {"primary"}
    async with db.begin_readonly_session() as session:
        assert session.replica is None  # still down


async def test_a_replica_behind_max_lag_is_skipped_and_measured_once_per_interval() -> None:
    primary, replica = MemoryBackend(), Lagging()
    await _holding(primary, "primary")
    await _holding(replica, "replica")
    clock = Clock()
    db = Database(primary, replicas=Replicas([replica], max_lag=2, lag_interval=1, clock=clock))
    assert await _served_by(db) == {"replica"}
    assert await _served_by(db) == {"replica"}
    assert replica.measured == 1
    replica.lag = 3.0
    assert await _served_by(db) == {"replica"}  # the measurement is not stale yet
    clock.now = 1.5
    assert await _served_by(db) == {"primary"}
    assert replica.measured == 2
    replica.lag = math.inf  # the server cannot tell: not caught up
    clock.now = 3.0
    assert await _served_by(db) == {"primary"}
    replica.lag = None  # the backend cannot measure: taken as caught up
    clock.now = 4.5
    assert await _served_by(db) == {"replica"}


async def test_a_replica_not_reached_at_connect_is_connected_to_later() -> None:
    primary, later = MemoryBackend(), MemoryBackend()
    await _holding(primary, "primary")
    await _holding(later, "later")
    attempts = []

    async def connect() -> Backend:
        attempts.append(1)
        if len(attempts) == 1:
            raise BackendUnavailable("not up yet")
        return later

    clock = Clock()
    db = Database(primary, replicas=Replicas([connect], retry_after=1, clock=clock))
    assert await _served_by(db) == {"primary"}
    assert await _served_by(db) == {"primary"}  # skipped until retry_after
    clock.now = 1.0
    assert await _served_by(db) == {"later"}
    assert len(attempts) == 2
    await db.close()
    assert db.replicas.replicas[0].backend is None  # closed and let go


async def test_bad_replica_settings_are_refused_before_any_io() -> None:
    for bad in ({"max_lag": -1}, {"lag_interval": "1"}, {"retry_after": True}):
        with pytest.raises(InvalidQuery, match="replicas"):
            Replicas([], **bad)
    with pytest.raises(InvalidQuery, match="max_replica_lag"):
        Database(MemoryBackend(), replicas=Replicas([]), max_replica_lag=1.0)
    with pytest.raises(TypeError, match="Backend"):
        Replicas(["memory://"])  # type: ignore[list-item]
    with pytest.raises(InvalidQuery, match="list of URLs"):
        await Database.connect("memory://", replicas="memory://")  # type: ignore[arg-type]
    with pytest.raises(InvalidQuery, match="is not a"):
        await Database.connect("memory://", replicas=["sqlite+aiosqlite:///x.db"])
    with pytest.raises(InvalidQuery, match="max_lag"):
        await Database.connect("memory://", replicas=["memory://"], max_replica_lag=-2)


async def test_a_backend_that_routes_reads_itself_refuses_replicas() -> None:
    class Routing(MemoryBackend):
        routes_reads = True

    with pytest.raises(UnsupportedOperation, match="read preference"):
        Database(Routing(), replicas=[MemoryBackend()])


async def test_connect_builds_replicas_from_urls() -> None:
    async with Database.connect("memory://", replicas=["memory://", "memory://"]) as db:
        assert len(db.replicas) == 2
        async with db.begin_readonly_session() as session:
            assert session.replica is db.replicas.replicas[0].backend
