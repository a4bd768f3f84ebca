"""CONTRACT §19 in core: chunk sizes, projection checks, get_many's chunks, streams' sessions.

On the reference backend, instrumented: what each read asked the backend for
(``Select.columns``, one statement per key chunk, one session per stream
chunk), and that a backend ignoring ``columns`` gives the same answers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, NewType

import pytest
import pytest_asyncio

from repokit import (
    MAX_PAGE_SIZE,
    CursorPagination,
    Database,
    InvalidQuery,
    MaxLength,
    Repository,
    Table,
)
from repokit.backend import BackendSession, Select
from repokit.capabilities import Capabilities
from repokit.memory.backend import MemoryBackend, MemorySession
from repokit.projections import projection
from repokit.tables import Row
from repokit.utilities.querier import check_chunk_size

ThingId = NewType("ThingId", uuid.UUID)


@dataclass(frozen=True)
class Thing:
    id: ThingId
    name: Annotated[str, MaxLength(20)]
    size: int
    note: str | None = None


things: Table[Thing, ThingId] = Table(Thing, "unit_things", primary_key="id", key_type=ThingId)


@dataclass(frozen=True)
class Named:
    name: str


@dataclass(frozen=True)
class Keyed:
    id: uuid.UUID  # the NewType's own type: accepted
    size: int | None  # wider than the entity's: accepted


class Recording(MemoryBackend):
    """The reference backend, recording every select and counting sessions."""

    capabilities = Capabilities(persistent=False, max_ids_per_statement=2)

    def __init__(self, *, ignore_columns: bool = False) -> None:
        super().__init__()
        self.selects: list[Select] = []
        self.sessions = 0
        self.ignore_columns = ignore_columns

    async def open_session(self, *, read_only: bool) -> MemorySession:
        self.sessions += 1
        session = await super().open_session(read_only=read_only)
        backend = self
        select = session.select

        async def recorded(query: Select) -> list[Row]:
            backend.selects.append(query)
            if backend.ignore_columns:
                query = Select(query.table, query.where, query.orders, query.limit, query.offset)
            return await select(query)

        session.select = recorded  # type: ignore[method-assign]
        return session


async def _database(backend: Recording) -> Database:
    db = Database(backend)
    await db.create_tables(things)
    async with db.begin_session() as session:
        await Repository(db, things).batch_create(
            [Thing(ThingId(uuid.UUID(int=i)), f"t{i}", i % 3) for i in range(1, 8)],
            session=session,
        )
    backend.selects.clear()
    backend.sessions = 0
    return db


@pytest_asyncio.fixture
async def recording() -> AsyncIterator[tuple[Database, Recording]]:
    backend = Recording()
    db = await _database(backend)
    yield db, backend
    await db.close()


# -- chunk sizes and projection checks ------------------------------------------------------


@pytest.mark.parametrize("size", [1, 1000, MAX_PAGE_SIZE])
def test_chunk_sizes_in_range_are_accepted(size: int) -> None:
    assert check_chunk_size(size) == size


@pytest.mark.parametrize("size", [0, -3, MAX_PAGE_SIZE + 1, True, 1.0, "5", None])
def test_other_chunk_sizes_are_refused_naming_the_argument(size: Any) -> None:
    with pytest.raises(InvalidQuery, match="chunk_size"):
        check_chunk_size(size)


def test_the_entity_class_and_none_are_no_projection() -> None:
    assert projection(things, None) is None
    assert projection(things, Thing) is None


def test_new_types_max_length_and_wider_nullability_are_accepted() -> None:
    named = projection(things, Named)
    keyed = projection(things, Keyed)
    assert named is not None
    assert named.fields == ("name",)
    assert keyed is not None
    assert keyed.columns(("name",)) == ("id", "size", "name")
    assert projection(things, Named) is named  # checked once per (table, class)


def test_a_projection_field_the_entity_lacks_names_both_classes_and_the_field() -> None:
    @dataclass(frozen=True)
    class Odd:
        colour: str

    with pytest.raises(InvalidQuery, match=r"Odd\.colour: Thing has no field 'colour'"):
        projection(things, Odd)


def test_a_projection_field_of_another_type_names_both_types() -> None:
    @dataclass(frozen=True)
    class Odd:
        size: str

    with pytest.raises(InvalidQuery, match=r"Odd\.size is str, but Thing\.size is int"):
        projection(things, Odd)


@pytest.mark.parametrize(
    "into",
    [
        dataclass(type("Mutable", (), {"__annotations__": {"name": str}})),
        dataclass(frozen=True)(type("Empty", (), {})),
        dataclass(frozen=True)(
            type("Late", (), {"__annotations__": {"name": str}, "name": field(init=False)})
        ),
        int,
        "Named",
    ],
)
def test_what_is_not_a_usable_frozen_dataclass_is_refused(into: Any) -> None:
    with pytest.raises(InvalidQuery):
        projection(things, into)


# -- what the backend is asked for ----------------------------------------------------------


@pytest.mark.asyncio
async def test_reads_into_a_projection_ask_only_for_its_fields_and_what_the_read_needs(
    recording: tuple[Database, Recording],
) -> None:
    db, backend = recording
    repo = Repository(db, things)
    await repo.get(ThingId(uuid.UUID(int=1)), into=Named)
    await repo.search(orders=[things.c.size.desc()], into=Named)
    await repo.get_many([ThingId(uuid.UUID(int=1))], into=Named)
    assert [query.columns for query in backend.selects] == [
        ("id", "name"),
        ("id", "name", "size"),
        ("id", "name"),
    ]
    backend.selects.clear()
    await repo.search()
    assert backend.selects[0].columns is None


@pytest.mark.asyncio
async def test_the_reference_backend_returns_only_the_columns_asked_for() -> None:
    db = Database(MemoryBackend())
    await db.create_tables(things)
    await Repository(db, things).create(Thing(ThingId(uuid.uuid4()), "a", 1))
    async with db.begin_readonly_session() as session:
        rows = await session.select(Select(things, things.c.size == 1, columns=("id", "size")))
    assert [sorted(row) for row in rows] == [["id", "size"]]


@pytest.mark.asyncio
async def test_a_backend_that_ignores_columns_gives_the_same_projections() -> None:
    plain, ignoring = Recording(), Recording(ignore_columns=True)
    answers = []
    for backend in (plain, ignoring):
        db = await _database(backend)
        repo = Repository(db, things)
        page = await repo.search(
            orders=[things.c.size.asc()], pagination=CursorPagination(first=3), into=Keyed
        )
        streamed = [k async for k in repo.stream(orders=[things.c.name.desc()], into=Named)]
        got = await repo.get(ThingId(uuid.UUID(int=2)), into=Named)
        answers.append((page.items, page.end_cursor, streamed, got))
        await db.close()
    assert answers[0] == answers[1]


@pytest.mark.asyncio
async def test_get_many_reads_one_statement_per_chunk_of_keys(
    recording: tuple[Database, Recording],
) -> None:
    db, backend = recording
    keys = [ThingId(uuid.UUID(int=i)) for i in (1, 2, 3, 4, 99)]
    found = await Repository(db, things).get_many(keys)
    assert len(backend.selects) == 3  # max_ids_per_statement = 2
    assert list(found.entities) == keys[:4]
    assert found.missing == keys[4:]


@pytest.mark.asyncio
async def test_each_stream_chunk_is_read_in_a_session_of_its_own(
    recording: tuple[Database, Recording],
) -> None:
    db, backend = recording
    repo = Repository(db, things)
    streamed = [thing.id async for thing in repo.stream(chunk_size=3)]
    assert len(streamed) == 7
    assert backend.sessions == len(backend.selects) == 3  # 3 + 3 + 1
    assert [query.limit for query in backend.selects] == [3, 3, 3]
    assert not backend._store.readers  # every read-only snapshot was given back


@pytest.mark.asyncio
async def test_a_stream_abandoned_after_its_first_entity_holds_no_session(
    recording: tuple[Database, Recording],
) -> None:
    db, backend = recording
    stream = Repository(db, things).stream(chunk_size=2)
    async for _thing in stream:
        assert not backend._store.readers  # the chunk's session ended before the yield
        break
    assert backend.sessions == 1
    assert not backend._store.readers


@pytest.mark.asyncio
async def test_a_stream_in_a_session_reads_every_chunk_in_it(
    recording: tuple[Database, Recording],
) -> None:
    db, backend = recording
    async with db.begin_readonly_session() as session:
        streamed = [t async for t in Repository(db, things).stream(chunk_size=2, session=session)]
    assert len(streamed) == 7
    assert backend.sessions == 1
    assert len(backend.selects) == 4


# -- the SPI's defaults ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_default_exists_and_delete_returning_answer_as_the_overrides_do(
    recording: tuple[Database, Recording],
) -> None:
    db, _ = recording
    async with db.begin_session() as session:
        backend = session.backend
        assert await BackendSession.exists(backend, things, things.c.size == 1)
        assert not await BackendSession.exists(backend, things, things.c.size == 9)
        removed = await BackendSession.delete_returning(backend, things, things.c.size == 1)
        assert sorted(row["name"] for row in removed) == ["t1", "t4", "t7"]
        assert not await backend.exists(things, things.c.size == 1)
        assert await BackendSession.delete_returning(backend, things, things.c.size == 1) == []
