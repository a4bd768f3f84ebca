"""Contract tests: CONTRACT §19 streaming and the small reads.

``stream`` walks every match in the total order, chunk by chunk, with scope
and soft delete applied, each chunk in a read-only session of its own (or in
the caller's session); what it sees of writes made while it runs is what
keyset chunks on a total order promise. ``exists`` answers one question;
``get_many`` finds many keys at once and reports the rest missing, scope
applied; ``purge_returning``, ``batch_purge_returning`` and
``delete_returning`` return what they removed or marked; projections
(``into=``) read a smaller frozen dataclass, checked before any I/O.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest

from repokit import (
    MAX_PAGE_SIZE,
    CursorPagination,
    Database,
    Deleted,
    EntityNotFound,
    InvalidQuery,
    Numeric,
    OffsetPagination,
    Repository,
)
from repokit.testing.schema import Item, ItemId, Level, Status, TenantScope, items, notes
from repokit.testing.suite._entities import item_repository, new_item, store_items
from repokit.testing.suite._writes import new_note, note_repository

__all__ = ["TestExists", "TestGetMany", "TestProjections", "TestReturningWrites", "TestStream"]

Repo = Repository[Item, ItemId]
c = items.c


@dataclass(frozen=True)
class ItemSummary:
    """A projection of Item: three of its fields."""

    id: ItemId
    name: str
    score: int | None


@dataclass(frozen=True)
class ItemValues:
    """A projection holding the kinds that need decoding, and no primary key."""

    status: Status
    level: Level | None
    price: Annotated[Decimal, Numeric(12, 2)] | None
    at: datetime | None
    day: date | None
    data: dict[str, Any] | None


@dataclass(frozen=True)
class WidenedName:
    """``name`` is never null in Item: a nullable projection field may still read it."""

    name: str | None


@dataclass(frozen=True)
class Stranger:
    """A projection with a field Item does not have."""

    name: str
    colour: str


@dataclass(frozen=True)
class Mistyped:
    """A projection whose ``score`` is of another type than Item's."""

    score: str | None


@dataclass(frozen=True)
class Narrowed:
    """A projection that refuses the nulls Item's ``score`` may hold."""

    score: int


class NotADataclass:
    name: str


async def _walk(stream: Any) -> list[Any]:
    return [entity async for entity in stream]


async def _scored(db: Database, tenant: str, count: int) -> list[Item]:
    """*count* items whose scores repeat and include nulls (ties for the keyset)."""
    return await store_items(
        db, tenant, [{"score": None if i % 4 == 0 else i % 3} for i in range(count)]
    )


class TestStream:
    """stream(): every match once, in the total order, chunk by chunk."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("chunk_size", [1, 3, 4, 12, 1000])
    async def test_stream_yields_every_match_in_the_total_order(
        self, repokit_db: Database, repokit_tenant: str, chunk_size: int
    ) -> None:
        repo = item_repository(repokit_db)
        await _scored(repokit_db, repokit_tenant, 12)
        scope = TenantScope(repokit_tenant)
        for orders in ([c.score.asc()], [c.score.desc(), c.name.asc()], []):
            page = await repo.search(scope=scope, orders=orders)
            streamed = await _walk(repo.stream(scope=scope, orders=orders, chunk_size=chunk_size))
            assert streamed == page.items

    @pytest.mark.asyncio
    async def test_stream_applies_conditions_scope_and_soft_delete(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        mine = await _scored(repokit_db, repokit_tenant, 8)
        await _scored(repokit_db, repokit_tenant + "-other", 5)
        scope = TenantScope(repokit_tenant)
        await repo.delete(mine[1].id, scope=scope)
        live = await _walk(repo.stream(scope=scope, chunk_size=2))
        assert {i.id for i in live} == {i.id for i in mine} - {mine[1].id}
        gone = await _walk(repo.stream(scope=scope, deleted=Deleted.ONLY, chunk_size=2))
        assert [i.id for i in gone] == [mine[1].id]
        every = await _walk(repo.stream(scope=scope, deleted=Deleted.INCLUDE, chunk_size=2))
        assert len(every) == 8
        ones = await _walk(repo.stream(conditions=[c.score == 1], scope=scope, chunk_size=1))
        assert ones == (await repo.search(conditions=[c.score == 1], scope=scope)).items

    @pytest.mark.asyncio
    async def test_stream_of_nothing_yields_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        assert await _walk(repo.stream(scope=TenantScope(repokit_tenant))) == []

    @pytest.mark.asyncio
    @pytest.mark.parametrize("chunk_size", [0, -1, True, 2.0, "10", None, MAX_PAGE_SIZE + 1])
    async def test_a_bad_chunk_size_is_refused_by_the_call_before_any_io(
        self, repokit_db: Database, chunk_size: Any
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidQuery, match="chunk_size"):
            repo.stream(chunk_size=chunk_size)  # not iterated: the call itself refuses

    @pytest.mark.asyncio
    async def test_the_largest_chunk_size_is_accepted(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await _scored(repokit_db, repokit_tenant, 3)
        stream = repo.stream(scope=TenantScope(repokit_tenant), chunk_size=MAX_PAGE_SIZE)
        assert len(await _walk(stream)) == 3

    @pytest.mark.asyncio
    async def test_bad_conditions_and_orders_are_refused_by_the_call(
        self, repokit_db: Database
    ) -> None:
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidQuery):
            repo.stream(conditions=[notes.c.rank == 1])
        with pytest.raises(InvalidQuery):
            repo.stream(orders=[notes.c.rank.asc()])
        with pytest.raises(InvalidQuery):
            repo.stream(scope=[])

    @pytest.mark.asyncio
    async def test_writes_between_chunks_are_seen_where_the_walk_has_not_been(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        stored = await store_items(
            repokit_db, repokit_tenant, [{"name": f"m{i}", "score": i} for i in range(6)]
        )
        seen: list[str] = []
        async for item in repo.stream(scope=scope, orders=[c.score.asc()], chunk_size=2):
            seen.append(item.name)
            if item.name == "m1":  # the first chunk is read: change what lies ahead and behind
                await repo.purge(stored[4].id, scope=scope)
                await repo.create(new_item(repokit_tenant, "ahead", score=100), scope=scope)
                await repo.create(new_item(repokit_tenant, "behind", score=-1), scope=scope)
                # Moved without changing its sort key: still seen once, with the new value.
                await repo.update(stored[3].id, {"code": "moved"}, scope=scope)
        assert seen == ["m0", "m1", "m2", "m3", "m5", "ahead"]

    @pytest.mark.asyncio
    async def test_an_entity_whose_sort_key_moves_ahead_of_the_walk_is_seen_again(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        stored = await store_items(
            repokit_db, repokit_tenant, [{"name": f"m{i}", "score": i} for i in range(4)]
        )
        seen: list[str] = []
        async for item in repo.stream(scope=scope, orders=[c.score.asc()], chunk_size=2):
            seen.append(item.name)
            if item.name == "m1":
                await repo.update(stored[0].id, {"score": 50}, scope=scope)  # seen, moves ahead
                await repo.update(stored[3].id, {"score": -5}, scope=scope)  # unseen, moves behind
        assert seen == ["m0", "m1", "m2", "m0"]

    @pytest.mark.asyncio
    async def test_a_stream_in_a_session_reads_in_that_session(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        await _scored(repokit_db, repokit_tenant, 3)
        async with repokit_db.begin_session() as session:
            await repo.create(new_item(repokit_tenant, "uncommitted"), session=session)
            streamed = await _walk(repo.stream(scope=scope, chunk_size=2, session=session))
        assert "uncommitted" in {item.name for item in streamed}
        assert len(streamed) == 4

    @pytest.mark.asyncio
    async def test_breaking_out_early_leaves_the_database_serving(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        await _scored(repokit_db, repokit_tenant, 10)
        for _ in range(20):  # more streams abandoned than a small pool has connections
            async for _item in repo.stream(scope=scope, chunk_size=3):
                break
        await _serves_concurrent_writers(repo)

    @pytest.mark.asyncio
    async def test_a_cancelled_stream_leaves_the_database_serving(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        await _scored(repokit_db, repokit_tenant, 10)
        started = asyncio.Event()

        async def consume() -> None:
            async for _item in repo.stream(scope=scope, chunk_size=2):
                started.set()
                await asyncio.sleep(0)

        for _ in range(10):
            started.clear()
            task = asyncio.create_task(consume())
            await started.wait()
            for _ in range(3):  # somewhere inside a later chunk's read, or between chunks
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await _serves_concurrent_writers(repo)


async def _serves_concurrent_writers(repo: Repo) -> None:
    tenant = f"after-{uuid.uuid4().hex[:12]}"
    await asyncio.gather(*(repo.create(new_item(tenant)) for _ in range(12)))
    assert await repo.count(scope=TenantScope(tenant)) == 12


class TestExists:
    """exists(): whether anything matches, with scope and soft delete applied."""

    @pytest.mark.asyncio
    async def test_exists_says_whether_any_entity_matches(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        assert not await repo.exists(scope=scope)
        await _scored(repokit_db, repokit_tenant, 5)
        assert await repo.exists(scope=scope)
        assert await repo.exists(conditions=[c.score == 2], scope=scope)
        assert not await repo.exists(conditions=[c.score == 7], scope=scope)
        assert await repo.exists(conditions=[], scope=scope)
        assert await repo.exists(conditions=None, scope=scope)

    @pytest.mark.asyncio
    async def test_exists_sees_nothing_outside_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=3))
        other = TenantScope(repokit_tenant + "-other")
        assert not await repo.exists(conditions=[c.id == item.id], scope=other)
        assert await repo.exists(conditions=[c.id == item.id], scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_exists_follows_the_soft_delete_view(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=scope)
        assert not await repo.exists(scope=scope)
        assert await repo.exists(scope=scope, deleted=Deleted.ONLY)
        assert await repo.exists(conditions=[c.id == item.id], deleted=Deleted.INCLUDE)

    @pytest.mark.asyncio
    async def test_exists_refuses_a_condition_on_another_table(self, repokit_db: Database) -> None:
        with pytest.raises(InvalidQuery):
            await item_repository(repokit_db).exists(conditions=[notes.c.rank == 1])


class TestGetMany:
    """get_many(): found entities by key and the keys missing, scope applied."""

    @pytest.mark.asyncio
    async def test_get_many_returns_what_it_found_and_what_is_missing_in_input_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        stored = await _scored(repokit_db, repokit_tenant, 4)
        absent = [ItemId(uuid.uuid4()) for _ in range(2)]
        keys = [stored[2].id, absent[0], stored[0].id, absent[1], stored[3].id]
        found = await repo.get_many(keys, scope=TenantScope(repokit_tenant))
        assert list(found.entities) == [stored[2].id, stored[0].id, stored[3].id]
        assert found.entities[stored[0].id] == stored[0]
        assert found.missing == absent

    @pytest.mark.asyncio
    async def test_duplicate_keys_count_once(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        absent = ItemId(uuid.uuid4())
        found = await repo.get_many([item.id, absent, item.id, absent])
        assert found.entities == {item.id: item}
        assert found.missing == [absent]

    @pytest.mark.asyncio
    async def test_an_entity_outside_the_scope_is_reported_missing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        mine = await repo.create(new_item(repokit_tenant))
        theirs = await repo.create(new_item(repokit_tenant + "-other"))
        found = await repo.get_many([theirs.id, mine.id], scope=TenantScope(repokit_tenant))
        assert found.entities == {mine.id: mine}
        assert found.missing == [theirs.id]

    @pytest.mark.asyncio
    async def test_a_deleted_entity_is_missing_unless_the_view_includes_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant))
        await repo.delete(item.id, scope=scope)
        assert (await repo.get_many([item.id], scope=scope)).missing == [item.id]
        found = await repo.get_many([item.id], scope=scope, deleted=Deleted.INCLUDE)
        assert found.entities[item.id].status is Status.DELETED

    @pytest.mark.asyncio
    async def test_no_keys_find_nothing(self, repokit_db: Database) -> None:
        found = await item_repository(repokit_db).get_many([])
        assert (found.entities, found.missing) == ({}, [])

    @pytest.mark.asyncio
    async def test_integer_keys_and_a_generator_of_keys(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        found = await repo.get_many(k for k in (note.id, note.id + 10**9))
        assert found.entities == {note.id: note}
        assert found.missing == [note.id + 10**9]

    @pytest.mark.asyncio
    async def test_a_string_is_not_a_list_of_keys(self, repokit_db: Database) -> None:
        with pytest.raises(InvalidQuery):
            await Repository(repokit_db, notes).get_many("123")


class TestReturningWrites:
    """purge_returning, batch_purge_returning, delete_returning: what was removed or marked."""

    @pytest.mark.asyncio
    async def test_purge_returning_removes_the_entity_and_returns_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant, score=4, data={"k": [1, 2]}))
        assert await repo.purge_returning(item.id, scope=scope) == item
        assert not await repo.exists(conditions=[c.id == item.id], deleted=Deleted.INCLUDE)

    @pytest.mark.asyncio
    async def test_purge_returning_reaches_a_deleted_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant))
        deleted = await repo.delete_returning(item.id, scope=scope)
        assert await repo.purge_returning(item.id, scope=scope) == deleted

    @pytest.mark.asyncio
    async def test_purge_returning_of_a_missing_or_out_of_scope_entity_raises_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.purge_returning(item.id, scope=TenantScope(repokit_tenant + "-other"))
        with pytest.raises(EntityNotFound):
            await repo.purge_returning(ItemId(uuid.uuid4()))
        assert await repo.get(item.id) == item

    @pytest.mark.asyncio
    async def test_batch_purge_returning_returns_the_removed_entities_by_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        scope = TenantScope(repokit_tenant, notes)
        created = await repo.batch_create(
            [new_note(repokit_tenant, rank=i % 2) for i in range(6)], scope=scope
        )
        other = await repo.create(new_note(repokit_tenant + "-other", rank=1))
        removed = await repo.batch_purge_returning(conditions=[notes.c.rank == 1], scope=scope)
        assert removed == sorted((n for n in created if n.rank == 1), key=lambda n: n.id)
        assert await repo.count(scope=scope) == 3
        assert await repo.get(other.id) == other

    @pytest.mark.asyncio
    async def test_batch_purge_returning_by_ids_includes_deleted_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        scope = TenantScope(repokit_tenant, notes)
        a, b, _ = await repo.batch_create([new_note(repokit_tenant) for _ in range(3)])
        marked = await repo.delete_returning(b.id, scope=scope)
        removed = await repo.batch_purge_returning(ids=[b.id, a.id, a.id], scope=scope)
        assert removed == sorted([a, marked], key=lambda n: n.id)
        assert await repo.batch_purge_returning(ids=[a.id], scope=scope) == []

    @pytest.mark.asyncio
    async def test_batch_purge_returning_refuses_an_empty_list_of_conditions(
        self, repokit_db: Database
    ) -> None:
        repo = note_repository(repokit_db)
        with pytest.raises(InvalidQuery):
            await repo.batch_purge_returning(conditions=[])
        with pytest.raises(InvalidQuery):
            await repo.batch_purge_returning()

    @pytest.mark.asyncio
    async def test_delete_returning_returns_the_entity_marked(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        item = await repo.create(new_item(repokit_tenant, score=2))
        marked = await repo.delete_returning(item.id, scope=scope)
        assert marked.status is Status.DELETED
        assert marked.version == item.version + 1
        assert marked.score == 2
        assert await repo.get(item.id, deleted=Deleted.ONLY) == marked
        with pytest.raises(EntityNotFound):
            await repo.delete_returning(item.id, scope=scope)

    @pytest.mark.asyncio
    async def test_delete_returning_with_a_timestamp_marker(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant))
        marked = await repo.delete_returning(note.id)
        assert marked.deleted_at is not None
        assert await repo.get(note.id, deleted=Deleted.ONLY) == marked


class TestProjections:
    """into=: a smaller frozen dataclass, its fields only, checked before any I/O."""

    @pytest.mark.asyncio
    async def test_search_get_get_many_and_stream_read_into_a_projection(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        stored = await _scored(repokit_db, repokit_tenant, 5)
        want = [ItemSummary(i.id, i.name, i.score) for i in stored]
        page = await repo.search(scope=scope, into=ItemSummary)
        assert page.items == sorted(want, key=lambda s: s.id)
        assert await repo.get(stored[1].id, into=ItemSummary) == want[1]
        found = await repo.get_many([stored[0].id, stored[2].id], into=ItemSummary)
        assert found.entities == {stored[0].id: want[0], stored[2].id: want[2]}
        streamed = await _walk(
            repo.stream(scope=scope, orders=[c.score.asc()], chunk_size=2, into=ItemSummary)
        )
        entities = await repo.search(scope=scope, orders=[c.score.asc()])
        assert streamed == [ItemSummary(i.id, i.name, i.score) for i in entities.items]

    @pytest.mark.asyncio
    async def test_a_projection_reads_every_kind_as_the_entity_does(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(
            new_item(
                repokit_tenant,
                status=Status.ARCHIVED,
                level=Level.HIGH,
                price=Decimal("12.5"),
                at=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
                day=date(2024, 2, 29),
                data={"a": [1, None, "x"], "b": {"c": 1.5}},
            )
        )
        stored = await repo.get(item.id)
        got = await repo.get(item.id, into=ItemValues)
        assert got == ItemValues(
            stored.status, stored.level, stored.price, stored.at, stored.day, stored.data
        )
        assert got.status is Status.ARCHIVED
        assert got.level is Level.HIGH
        assert await repo.get(item.id, into=WidenedName) == WidenedName(item.name)
        assert await repo.get(item.id, into=Item) == stored  # the entity class itself

    @pytest.mark.asyncio
    @pytest.mark.parametrize("backward", [False, True])
    async def test_cursor_pages_of_a_projection_without_the_sort_key_walk_every_entity(
        self, repokit_db: Database, repokit_tenant: str, backward: bool
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        await _scored(repokit_db, repokit_tenant, 9)
        orders = [c.score.desc()]  # score is not in WidenedName: fetched, not returned
        walked: list[WidenedName] = []
        cursor: str | None = None
        for _ in range(10):
            if backward:
                pagination = CursorPagination(last=2, before=cursor)
            else:
                pagination = CursorPagination(first=2, after=cursor)
            page = await repo.search(
                scope=scope, orders=orders, pagination=pagination, into=WidenedName
            )
            walked = page.items + walked if backward else walked + page.items
            more = page.has_previous_page if backward else page.has_next_page
            cursor = page.start_cursor if backward else page.end_cursor
            if not more:
                break
        entities = (await repo.search(scope=scope, orders=orders)).items
        assert walked == [WidenedName(i.name) for i in entities]

    @pytest.mark.asyncio
    async def test_an_offset_page_of_a_projection_counts_and_pages_as_entities_do(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        await _scored(repokit_db, repokit_tenant, 5)
        pagination = OffsetPagination(limit=2, offset=2)
        page = await repo.search(
            scope=scope, pagination=pagination, total_count=True, into=ItemSummary
        )
        whole = await repo.search(scope=scope, pagination=pagination, total_count=True)
        assert page.items == [ItemSummary(i.id, i.name, i.score) for i in whole.items]
        assert (page.total_count, page.has_next_page, page.has_previous_page) == (5, True, True)
        assert (page.start_cursor, page.end_cursor) == (whole.start_cursor, whole.end_cursor)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("projection", "words"),
        [
            (Stranger, ("Stranger.colour", "Item")),
            (Mistyped, ("Mistyped.score", "Item.score")),
            (Narrowed, ("Narrowed.score", "Item.score")),
            (NotADataclass, ("NotADataclass", "Item")),
        ],
    )
    async def test_a_projection_that_does_not_fit_the_entity_is_refused_before_any_io(
        self,
        repokit_db: Database,
        repokit_tenant: str,
        projection: type[Any],
        words: tuple[str, ...],
    ) -> None:
        repo = item_repository(repokit_db)
        key = ItemId(uuid.uuid4())
        reads: list[Callable[[], Awaitable[Any]]] = [
            lambda: repo.search(into=projection),
            lambda: repo.get(key, into=projection),
            lambda: repo.get_many([key], into=projection),
        ]
        for read in reads:
            with pytest.raises(InvalidQuery) as caught:
                await read()
            for word in words:
                assert word in str(caught.value)
        with pytest.raises(InvalidQuery):
            repo.stream(into=projection)
        # Refused before any I/O: an outer transaction is not aborted by it.
        async with repokit_db.begin_session() as session:
            with pytest.raises(InvalidQuery):
                await repo.search(into=projection, session=session)
            await repo.create(new_item(repokit_tenant), session=session)
        assert await repo.count(scope=TenantScope(repokit_tenant)) == 1

    @pytest.mark.asyncio
    async def test_a_projection_may_declare_its_fields_in_another_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        @dataclass(frozen=True)
        class NoteRank:
            rank: int | None
            id: int

        repo = note_repository(repokit_db)
        note = await repo.create(new_note(repokit_tenant, rank=3))
        assert await repo.get(note.id, into=NoteRank) == NoteRank(3, note.id)
