"""The reference backend at scale: its cost follows the rows touched, its answers never change.

Costs are counted, never timed: ``MemoryBackend.stats`` counts the rows a
query's condition was tested on, the rows whose unique keys were computed and
the rows put through a full sort. On a 20,000-row table a write computes the
keys of the rows it writes only, a get by key tests one row, and a keyset walk
tests each row about twice in all (it used to scan the table once per page).

The behaviour tests cover what the cheaper paths must keep: partial unique
keys, keys with ``None``, rollback, snapshots read across committed writes,
keys passed between rows inside one session. The property tests hold the
page and keyset shortcuts to the reference semantics (``sort_rows`` over the
rows ``evaluate`` accepts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from repokit import (
    TRUE,
    CursorPagination,
    Database,
    Deleted,
    EntityAlreadyExists,
    Repository,
    StatusMarker,
    Table,
    Unique,
)
from repokit.backend import Select
from repokit.conditions import FALSE, Compare, Condition, Match, MatchKind, Op, Order, and_, or_
from repokit.cursors import keyset_after, sort_values
from repokit.evaluate import evaluate, sort_rows
from repokit.memory import MemoryBackend
from repokit.memory.queries import page, pinned_keys, start_of
from repokit.memory.store import MemoryStats, Ordered
from repokit.tables import Row

# -- a table with a partial unique key and a nullable one ----------------------------------------


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    team: str
    name: str
    email: str | None = None
    status: str = "active"
    score: int = 0


members: Table[Member, uuid.UUID] = Table(
    Member,
    "scale_members",
    primary_key="id",
    key_type=uuid.UUID,
    unique=[Unique(("team", "name"), among_live=True), ("team", "email")],
    soft_delete=StatusMarker("status", deleted="deleted", restored="active"),
)
m = members.c
Repo = Repository[Member, uuid.UUID]

#: Rows in the large table.
N = 20_000


def member(i: int, *, name: str | None = None, email: str | None = None) -> Member:
    return Member(uuid.UUID(int=i + 1), "t", name or f"m{i:06d}", email, score=i % 97)


def backend_of(db: Database) -> MemoryBackend:
    assert isinstance(db.backend, MemoryBackend)
    return db.backend


def spent(db: Database, before: MemoryStats) -> MemoryStats:
    """What the backend counted since *before* (a copy of its stats)."""
    now = backend_of(db).stats
    return MemoryStats(
        now.rows_tested - before.rows_tested,
        now.keys_computed - before.keys_computed,
        now.rows_sorted - before.rows_sorted,
    )


def mark(db: Database) -> MemoryStats:
    return dataclasses.replace(backend_of(db).stats)


@pytest_asyncio.fixture
async def db() -> AsyncIterator[Database]:
    database = await Database.connect("memory://")
    await database.create_tables(members)
    yield database
    await database.close()


@pytest_asyncio.fixture
async def big(db: Database) -> Database:
    """*db* holding N members (one batch; indexes built on the way)."""
    await Repository(db, members).batch_create(member(i) for i in range(N))
    return db


# -- cost: rows touched, not rows stored ---------------------------------------------------------


@pytest.mark.asyncio
async def test_an_insert_into_a_large_table_computes_the_keys_of_the_new_rows_only(
    big: Database,
) -> None:
    before = mark(big)
    await Repository(big, members).batch_create(member(N + i) for i in range(10))
    cost = spent(big, before)
    assert cost.keys_computed == 10 * len(members.unique)
    assert cost.rows_tested == 0


@pytest.mark.asyncio
async def test_a_get_by_key_tests_one_row(big: Database) -> None:
    before = mark(big)
    found = await Repository(big, members).get(uuid.UUID(int=1234))
    assert found.name == "m001233"
    assert spent(big, before).rows_tested == 1


@pytest.mark.asyncio
async def test_an_update_by_key_touches_its_row_only(big: Database) -> None:
    before = mark(big)
    await Repository(big, members).update(uuid.UUID(int=77), {"name": "renamed"})
    cost = spent(big, before)
    assert cost.rows_tested <= 2  # update_one: the read, then the write
    assert cost.keys_computed == len(members.unique)


@pytest.mark.asyncio
async def test_a_purge_by_keys_touches_those_rows_only(big: Database) -> None:
    repo: Repo = Repository(big, members)
    before = mark(big)
    purged = await repo.batch_purge(ids=[uuid.UUID(int=i) for i in range(1, 101)])
    assert purged == 100
    assert spent(big, before).rows_tested <= 2 * 100
    assert await repo.count() == N - 100


@pytest.mark.asyncio
async def test_a_search_pinning_a_unique_key_tests_one_row(big: Database) -> None:
    repo: Repo = Repository(big, members)
    await repo.update(uuid.UUID(int=10), {"email": "ten@x"})
    for pinned in ([m.team == "t", m.name == "m000042"], [m.team == "t", m.email == "ten@x"]):
        before = mark(big)
        found = await repo.search(conditions=pinned)
        assert len(found.items) == 1
        assert spent(big, before).rows_tested == 1, pinned


@pytest.mark.asyncio
async def test_a_partial_unique_key_is_not_used_for_a_search_that_includes_deleted_rows(
    db: Database,
) -> None:
    repo: Repo = Repository(db, members)
    await repo.create(member(1, name="x"))
    await repo.delete(uuid.UUID(int=2))
    await repo.create(member(2, name="x"))
    found = await repo.search(conditions=[m.team == "t", m.name == "x"], deleted=Deleted.INCLUDE)
    assert sorted(item.id.int for item in found.items) == [2, 3]


@pytest.mark.asyncio
async def test_a_keyset_walk_tests_each_row_a_few_times_and_sorts_once(big: Database) -> None:
    repo: Repo = Repository(big, members)
    before = mark(big)
    seen, after = 0, None
    while True:
        page_ = await repo.search(
            conditions=[m.team == "t"],
            orders=[m.score.asc()],
            pagination=CursorPagination(first=200, after=after),
        )
        seen += len(page_.items)
        if not page_.has_next_page:
            break
        after = page_.end_cursor
    cost = spent(big, before)
    assert seen == N
    # 100 pages: one scan for the first page, then each page reads from the first row
    # of its cursor's score (about 2 pages' worth) and probes its cursor's row by key;
    # a scan per page would test 100 N rows.
    assert cost.rows_tested < 4 * N
    assert cost.rows_sorted == N


@pytest.mark.asyncio
async def test_a_page_after_a_write_costs_a_scan_not_a_sort(big: Database) -> None:
    repo: Repo = Repository(big, members)
    await repo.update(uuid.UUID(int=5), {"score": 1})
    before = mark(big)
    first = await repo.search(orders=[m.name.desc()], pagination=CursorPagination(first=10))
    cost = spent(big, before)
    assert [item.name for item in first.items][:2] == ["m019999", "m019998"]
    assert cost.rows_sorted == 0
    assert cost.rows_tested == N


@pytest.mark.asyncio
async def test_a_write_session_neither_copies_the_table_nor_keeps_history_nobody_reads(
    big: Database,
) -> None:
    data = backend_of(big)._store.tables[members.name]
    rows = data.rows
    await Repository(big, members).update(uuid.UUID(int=3), {"score": 5})
    assert data.rows is rows  # changed in place
    assert data.history == {}  # no snapshot older than the commit is open
    async with big.begin_readonly_session() as reader:
        await Repository(big, members).update(uuid.UUID(int=3), {"score": 6})
        assert list(data.history) == [uuid.UUID(int=3)]  # the reader's row, and only it
        assert (await Repository(big, members).get(uuid.UUID(int=3), session=reader)).score == 5
    assert data.history == {}


# -- behaviour the cheaper paths keep ------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_key_among_live_entities_ignores_deleted_ones_until_a_restore(
    db: Database,
) -> None:
    repo: Repo = Repository(db, members)
    first = await repo.create(member(1, name="x"))
    await repo.delete(first.id)
    await repo.create(member(2, name="x"))
    with pytest.raises(EntityAlreadyExists):
        await repo.restore(first.id)
    with pytest.raises(EntityAlreadyExists):
        await repo.create(member(3, name="x"))


@pytest.mark.asyncio
async def test_a_key_with_a_none_never_collides(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.batch_create(member(i) for i in range(5))  # email None, five times
    await repo.update(uuid.UUID(int=1), {"email": "a@x"})
    with pytest.raises(EntityAlreadyExists):
        await repo.update(uuid.UUID(int=2), {"email": "a@x"})
    await repo.update(uuid.UUID(int=1), {"email": None})
    await repo.update(uuid.UUID(int=2), {"email": "a@x"})


@pytest.mark.asyncio
async def test_two_new_rows_with_one_key_collide_in_one_batch(db: Database) -> None:
    repo: Repo = Repository(db, members)
    with pytest.raises(EntityAlreadyExists):
        await repo.batch_create([member(1, name="x"), member(2, name="x")])
    assert await repo.count() == 0


@pytest.mark.asyncio
async def test_a_rollback_puts_back_every_row_and_key(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.batch_create([member(1, name="a"), member(2, name="b", email="b@x")])
    before = (await repo.search()).items

    async def rolled_back() -> None:
        async with db.begin_session() as session:
            await repo.create(member(3, name="c", email="c@x"), session=session)
            await repo.update(uuid.UUID(int=2), {"name": "a2", "email": "new@x"}, session=session)
            await repo.purge(uuid.UUID(int=3), session=session)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert (await repo.search()).items == before
    with pytest.raises(EntityAlreadyExists):
        await repo.create(member(9, name="b"))  # still taken
    with pytest.raises(EntityAlreadyExists):
        await repo.create(member(9, email="b@x"))
    await repo.batch_create([member(9, name="a2", email="new@x"), member(10, name="c")])


@pytest.mark.asyncio
async def test_an_update_of_a_unique_key_rolled_back_frees_the_new_key(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.create(member(1, name="old"))

    async def rolled_back() -> None:
        async with db.begin_session() as session:
            await repo.update(uuid.UUID(int=2), {"name": "new"}, session=session)
            with pytest.raises(EntityAlreadyExists):
                await repo.create(member(5, name="new"), session=session)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        await rolled_back()
    assert (await repo.get(uuid.UUID(int=2))).name == "old"
    await repo.create(member(5, name="new"))
    with pytest.raises(EntityAlreadyExists):
        await repo.create(member(6, name="old"))


@pytest.mark.asyncio
async def test_a_key_freed_by_a_purge_can_be_taken_in_the_same_session(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.create(member(1, name="x"))
    async with db.begin_session() as session:
        await repo.purge(uuid.UUID(int=2), session=session)
        await repo.create(member(2, name="x"), session=session)
    assert [item.id.int for item in (await repo.search()).items] == [3]
    with pytest.raises(EntityAlreadyExists):
        await repo.create(member(4, name="x"))


@pytest.mark.asyncio
async def test_keys_passed_between_rows_in_one_session_are_held_by_their_new_rows(
    db: Database,
) -> None:
    repo: Repo = Repository(db, members)
    await repo.batch_create([member(1, name="x"), member(2, name="y")])
    async with db.begin_session() as session:
        await repo.update(uuid.UUID(int=2), {"name": "tmp"}, session=session)
        await repo.update(uuid.UUID(int=3), {"name": "x"}, session=session)
        await repo.update(uuid.UUID(int=2), {"name": "y"}, session=session)
    names = {item.id.int: item.name for item in (await repo.search()).items}
    assert names == {2: "y", 3: "x"}
    for taken in ("x", "y"):
        with pytest.raises(EntityAlreadyExists):
            await repo.create(member(7, name=taken))
    await repo.create(member(7, name="tmp"))


@pytest.mark.asyncio
async def test_a_reader_keeps_its_snapshot_across_committed_writes(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.batch_create(member(i) for i in range(30))
    old = (await repo.search(orders=[m.name.asc()])).items
    async with db.begin_readonly_session() as reader:
        await repo.update(uuid.UUID(int=1), {"name": "zz"})
        await repo.purge(uuid.UUID(int=2))
        await repo.create(member(100))
        await repo.batch_update({"score": 0}, conditions=[TRUE])
        async with db.begin_readonly_session() as later:
            assert await repo.count(session=later) == 30
            assert (await repo.get(uuid.UUID(int=1), session=later)).name == "zz"
        assert (await repo.search(orders=[m.name.asc()], session=reader)).items == old
        assert await repo.count(session=reader) == 30
        assert (await repo.get(uuid.UUID(int=2), session=reader)) == old[1]
        assert (await repo.get(uuid.UUID(int=1), session=reader)).name == "m000000"
        walked, after = [], None
        while True:
            part = await repo.search(
                orders=[m.score.desc()],
                pagination=CursorPagination(first=7, after=after),
                session=reader,
            )
            walked += part.items
            if not part.has_next_page:
                break
            after = part.end_cursor
        assert sorted(walked, key=lambda item: item.id) == sorted(old, key=lambda item: item.id)
    assert backend_of(db)._store.tables[members.name].history == {}
    assert (await repo.get(uuid.UUID(int=1))).name == "zz"


@pytest.mark.asyncio
async def test_a_reader_opened_during_a_write_sees_only_what_was_committed(db: Database) -> None:
    repo: Repo = Repository(db, members)
    await repo.create(member(1, name="a"))
    async with db.begin_session() as writer:
        await repo.update(uuid.UUID(int=2), {"name": "b"}, session=writer)
        await repo.create(member(2, name="c"), session=writer)
        async with db.begin_readonly_session() as reader:
            assert [i.name for i in (await repo.search(session=reader)).items] == ["a"]
            assert await repo.count(conditions=[m.name == "c"], session=reader) == 0
            assert await repo.count(session=writer) == 2
    async with db.begin_readonly_session() as reader:
        names = [i.name for i in (await repo.search(orders=[m.name.asc()], session=reader)).items]
        assert names == ["b", "c"]


@pytest.mark.asyncio
async def test_readers_at_two_snapshots_see_two_states(db: Database) -> None:
    repo: Repo = Repository(db, members)
    key = uuid.UUID(int=2)
    await repo.create(member(1, name="v1"))
    async with db.begin_readonly_session() as first:
        await repo.update(key, {"name": "v2"})
        async with db.begin_readonly_session() as second:
            await repo.update(key, {"name": "v3"})
            await repo.purge(key)
            assert (await repo.get(key, session=first)).name == "v1"
            assert (await repo.get(key, session=second)).name == "v2"
            assert await repo.count(session=first) == await repo.count(session=second) == 1
    assert await repo.count() == 0


@dataclass(frozen=True)
class Doc:
    id: int
    data: dict[str, Any] | None = None


docs: Table[Doc, int] = Table(Doc, "scale_docs", primary_key="id", key_type=int)


@pytest.mark.asyncio
async def test_stored_rows_alias_nothing_callers_pass_or_get() -> None:
    backend = MemoryBackend()
    await backend.create_tables([docs])
    row: Row = {"id": 1, "data": {"tags": ["a"]}}
    values: Row = {"data": {"tags": ["b"]}}
    writer = await backend.open_session(read_only=False)
    await writer.insert(docs, [row])
    row["data"]["tags"].append("changed")
    await writer.update(docs, TRUE, values)
    values["data"]["tags"].append("changed")
    await writer.commit()
    reader = await backend.open_session(read_only=True)
    (read,) = await reader.select(Select(docs, TRUE))
    read["data"]["tags"].append("changed")
    (again,) = await reader.select(Select(docs, TRUE))
    await reader.commit()
    assert again == {"id": 1, "data": {"tags": ["b"]}}


# -- the shortcuts hold to the reference semantics -----------------------------------------------


@dataclass(frozen=True)
class Point:
    id: int
    a: int | None
    b: int | None


points: Table[Point, int] = Table(Point, "scale_points", primary_key="id", key_type=int)
p = points.c
values = st.none() | st.integers(0, 4)
point_rows = st.lists(st.tuples(values, values), max_size=30).map(
    lambda pairs: [{"id": i, "a": a, "b": b} for i, (a, b) in enumerate(pairs)]
)


@st.composite
def total_orders(draw: st.DrawFn) -> tuple[Order, ...]:
    fields = draw(st.permutations(["a", "b"]).flatmap(lambda f: st.sampled_from([f[:0], f[:1], f])))
    chosen = [p[f].desc() if draw(st.booleans()) else p[f].asc() for f in fields]
    return (*chosen, p.id.desc() if draw(st.booleans()) else p.id.asc())


@st.composite
def filters(draw: st.DrawFn) -> Condition:
    leaf = st.one_of(
        st.just(TRUE),
        values.filter(lambda v: v is not None).flatmap(
            lambda v: st.sampled_from([p.a == v, p.a > v, p.a <= v, p.b >= v, p.b < v, p.b != v])
        ),
        st.sampled_from([p.a.is_null(), p.b.is_not_null(), p.id.in_([1, 2, 3])]),
    )
    parts = draw(st.lists(leaf, min_size=1, max_size=3))
    return and_(*parts) if draw(st.booleans()) else or_(*parts)


def reference(rows: list[Row], where: Condition, query: Select) -> list[Row]:
    matched = [row for row in rows if evaluate(where, row)]
    end = None if query.limit is None else query.offset + query.limit
    return sort_rows(matched, query.orders)[query.offset : end]


@given(
    rows=point_rows,
    orders=total_orders(),
    offset=st.integers(0, 5),
    limit=st.none() | st.integers(0, 8),
)
def test_a_page_is_the_slice_of_the_reference_sort(
    rows: list[Row], orders: tuple[Order, ...], offset: int, limit: int | None
) -> None:
    untotal = orders[:-1]  # ties too: the heap must keep the input order, as the sort does
    for by in (orders, untotal):
        end = None if limit is None else offset + limit
        expected = sort_rows(rows, by)[offset:end]
        assert [id(row) for row in page(rows, by, offset, limit)] == [id(row) for row in expected]


@settings(max_examples=60, deadline=None)
@given(
    rows=point_rows,
    where=filters(),
    orders=total_orders(),
    position=st.tuples(values, values, st.integers(-1, 31)),
    offset=st.integers(0, 3),
    limit=st.none() | st.integers(0, 6),
)
def test_selects_answer_as_the_reference_through_every_path(
    rows: list[Row],
    where: Condition,
    orders: tuple[Order, ...],
    position: tuple[Any, Any, int],
    offset: int,
    limit: int | None,
) -> None:
    a, b, key = position
    cursor = sort_values({"id": key, "a": a, "b": b}, orders)
    keyset = and_(where, keyset_after(orders, cursor))

    async def check() -> None:
        backend = MemoryBackend()
        await backend.create_tables([points])
        writer = await backend.open_session(read_only=False)
        await writer.insert(points, rows)
        await writer.commit()
        old = await backend.open_session(read_only=True)
        # A committed write the old snapshot must not see: deletes, updates, an insert.
        writer = await backend.open_session(read_only=False)
        await writer.delete(points, p.id.in_([row["id"] for row in rows if row["id"] % 3 == 0]))
        await writer.update(points, p.b.is_null(), {"b": 4})
        await writer.insert(points, [{"id": 99, "a": 2, "b": None}])
        await writer.commit()
        new_rows = [
            {**row, "b": 4 if row["b"] is None else row["b"]} for row in rows if row["id"] % 3
        ]
        new = await backend.open_session(read_only=True)
        for reader, state in ((old, rows), (new, [*new_rows, {"id": 99, "a": 2, "b": None}])):
            for condition in (where, keyset):
                query = Select(points, condition, orders, limit, offset)
                expected = reference(state, condition, query)
                # A first ask scans, the second builds the sorted order, the third reuses it.
                for _ in range(3):
                    assert await reader.select(query) == expected
                everything = reference(state, condition, Select(points, condition))
                assert await reader.count(points, condition) == len(everything)
            await reader.commit()

    asyncio.run(check())


def test_the_narrowing_functions_take_every_node_class() -> None:
    ordered = Ordered([{"a": None}, {"a": 1}], [(False, 0), (True, 1)])
    samples: list[Condition] = [
        TRUE,
        FALSE,
        *(Compare(points.name, "a", op, 1) for op in Op),
        p.a.in_([1, 2]),
        p.a.is_null(),
        Match(points.name, "a", MatchKind.CONTAINS, "x"),
        and_(p.a == 1, p.b == 2),
        or_(p.a == 1, p.b == 2),
        ~(p.a == 1),
    ]
    for where in samples:
        for first in (p.a.asc(), p.a.desc()):
            assert 0 <= start_of(ordered, where, first) <= 2
        pinned_keys(where, "id")
