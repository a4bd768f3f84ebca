"""Contract tests: CONTRACT §10 pagination (offset and cursor pages, walks, cursor binding).

Every test works on the same shape of data in a fresh tenant: thirteen live
entities whose sort keys hold many ties and nulls, two soft-deleted ones and
a neighbouring tenant's entities, so a page that counts or shows anything
outside the filtered, scoped set is caught. Expected orders are computed here
in plain Python (CONTRACT §5), not taken from the backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from repokit import (
    CursorPagination,
    Database,
    InvalidQuery,
    OffsetPagination,
    Order,
    Page,
    Repository,
)
from repokit.tables import Columns
from repokit.testing.schema import (
    Item,
    ItemId,
    Status,
    TenantScope,
    items,
    new_tenant,
)

__all__ = ["TestCursorPagination", "TestOffsetPagination"]

Repo = Repository[Item, ItemId]
c: Columns = items.c

_T0 = datetime(2024, 1, 1, tzinfo=UTC)
_T1 = datetime(2024, 1, 2, tzinfo=UTC)
_T2 = datetime(2024, 1, 3, tzinfo=UTC)
_U0, _U1, _U2 = uuid.UUID(int=1), uuid.UUID(int=2**64), uuid.UUID(int=2**127)
# Thirteen live entities: sort keys with many ties and nulls.
_SCORES = (None, 3, 1, None, 3, 2, 1, 3, None, 2, 0, 3, 1)
_FLAGS = (True, None, False, True, None, False, True, True, None, False, None, True, False)
_ATS = (None, _T1, _T1, _T0, None, _T2, _T1, None, _T0, _T2, _T1, None, _T0)
_REFS = (None, _U1, _U0, _U1, None, _U2, _U0, None, _U1, _U2, None, _U0, _U1)
LIVE = len(_SCORES)

#: Orders the walks run over: directions, several keys, nullable keys, the key itself.
ORDERS: dict[str, list[Order]] = {
    "default": [],
    "score": [c.score.asc()],
    "score desc": [c.score.desc()],
    "flag desc, score": [c.flag.desc(), c.score.asc()],
    "at, ref desc": [c.at.asc(), c.ref.desc()],
    "ref desc, at desc, score": [c.ref.desc(), c.at.desc(), c.score.asc()],
    "id": [c.id.asc()],
    "id desc": [c.id.desc()],
    "score desc, id desc": [c.score.desc(), c.id.desc()],
}
_ORDER_PARAMS = [pytest.param(order, id=name) for name, order in ORDERS.items()]


async def seed(db: Database, tenant: str) -> list[Item]:
    """Create the pagination data set in *tenant*; return its live entities."""
    live = [
        Item(ItemId(uuid.uuid4()), tenant, f"item-{i:02d}", score=s, flag=f, at=a, ref=r)
        for i, (s, f, a, r) in enumerate(zip(_SCORES, _FLAGS, _ATS, _REFS, strict=True))
    ]
    deleted = [
        Item(ItemId(uuid.uuid4()), tenant, f"gone-{i}", status=Status.DELETED, score=i)
        for i in range(2)
    ]
    neighbour = new_tenant()
    others = [Item(ItemId(uuid.uuid4()), neighbour, f"other-{i}", score=i) for i in range(3)]
    repo: Repo = Repository(db, items)
    await repo.batch_create([*live, *deleted], scope=TenantScope(tenant))
    await repo.batch_create(others, scope=TenantScope(neighbour))
    return live


def in_order(entities: Sequence[Item], orders: Sequence[Order]) -> list[Item]:
    """*entities* sorted as CONTRACT §5 says: None smallest, the primary key last."""
    result = sorted(entities, key=lambda e: e.id)
    for order in reversed(orders):
        result.sort(key=_sort_key(order.field), reverse=order.descending)
    return result


def _sort_key(field: str) -> Callable[[Item], tuple[bool, Any]]:
    def key(entity: Item) -> tuple[bool, Any]:
        value = getattr(entity, field)
        return (False, 0) if value is None else (True, value)

    return key


async def walk_pages(repo: Repo, size: int, *, backward: bool, **query: Any) -> list[Page[Item]]:
    """Every page of a cursor walk from one end to the other, in walking order."""
    pages: list[Page[Item]] = []
    cursor: str | None = None
    for _ in range(100):
        pagination = (
            CursorPagination(last=size, before=cursor)
            if backward
            else CursorPagination(first=size, after=cursor)
        )
        page = await repo.search(pagination=pagination, total_count=True, **query)
        pages.append(page)
        if not (page.has_previous_page if backward else page.has_next_page):
            return pages
        cursor = page.start_cursor if backward else page.end_cursor
    raise AssertionError("a cursor walk did not reach the end within 100 pages")


def _flags(page: Page[Item]) -> tuple[bool, bool]:
    return page.has_previous_page, page.has_next_page


class TestOffsetPagination:
    """Offset pages: bounds, order, exact neighbours, total count."""

    @pytest.mark.parametrize("limit", [0, -1, True, 1.5])
    def test_a_limit_below_one_or_not_an_integer_is_an_invalid_query(self, limit: Any) -> None:
        with pytest.raises(InvalidQuery):
            OffsetPagination(limit=limit)

    @pytest.mark.parametrize("offset", [-1, True, None])
    def test_a_negative_or_non_integer_offset_is_an_invalid_query(self, offset: Any) -> None:
        with pytest.raises(InvalidQuery):
            OffsetPagination(limit=3, offset=offset)

    @pytest.mark.asyncio
    async def test_a_page_holds_its_slice_of_the_requested_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.score.desc(), c.flag.asc()]
        page = await Repository(repokit_db, items).search(
            orders=order,
            pagination=OffsetPagination(limit=4, offset=3),
            scope=TenantScope(repokit_tenant),
        )
        assert page.items == in_order(live, order)[3:7]

    @pytest.mark.asyncio
    async def test_the_first_page_has_a_next_page_and_no_previous_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            pagination=OffsetPagination(limit=5), scope=TenantScope(repokit_tenant)
        )
        assert (len(page.items), *_flags(page)) == (5, False, True)

    @pytest.mark.asyncio
    async def test_a_middle_page_has_both_neighbours(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            pagination=OffsetPagination(limit=5, offset=5), scope=TenantScope(repokit_tenant)
        )
        assert (len(page.items), *_flags(page)) == (5, True, True)

    @pytest.mark.asyncio
    async def test_a_partial_last_page_has_no_next_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            pagination=OffsetPagination(limit=5, offset=10), scope=TenantScope(repokit_tenant)
        )
        assert (len(page.items), *_flags(page)) == (LIVE - 10, True, False)

    @pytest.mark.asyncio
    async def test_a_full_last_page_has_no_next_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        # Twelve entities match: the third page of four is full and the last.
        page = await Repository(repokit_db, items).search(
            conditions=c.name != "item-00",
            pagination=OffsetPagination(limit=4, offset=8),
            scope=TenantScope(repokit_tenant),
        )
        assert (len(page.items), *_flags(page)) == (4, True, False)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("total_count", [False, True])
    async def test_an_offset_beyond_the_end_is_empty_with_a_previous_page(
        self, repokit_db: Database, repokit_tenant: str, total_count: bool
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            pagination=OffsetPagination(limit=3, offset=50),
            scope=TenantScope(repokit_tenant),
            total_count=total_count,
        )
        assert (page.items, *_flags(page)) == ([], True, False)
        assert (page.start_cursor, page.end_cursor) == (None, None)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("offset", [0, 4])
    async def test_an_empty_result_has_neither_neighbour(
        self, repokit_db: Database, repokit_tenant: str, offset: int
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            conditions=c.score > 100,
            pagination=OffsetPagination(limit=3, offset=offset),
            scope=TenantScope(repokit_tenant),
            total_count=True,
        )
        assert (page.items, page.total_count, *_flags(page)) == ([], 0, False, False)

    @pytest.mark.asyncio
    async def test_total_count_counts_the_whole_filtered_scoped_set(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            conditions=c.score != 3,
            pagination=OffsetPagination(limit=2, offset=1),
            scope=TenantScope(repokit_tenant),
            total_count=True,
        )
        assert page.total_count == sum(1 for e in live if e.score != 3)
        assert len(page.items) == 2

    @pytest.mark.asyncio
    @pytest.mark.parametrize("order", _ORDER_PARAMS)
    async def test_walking_every_offset_page_visits_every_entity_once_in_order(
        self, repokit_db: Database, repokit_tenant: str, order: list[Order]
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        seen: list[Item] = []
        for offset in range(0, LIVE + 3, 3):
            page = await repo.search(
                orders=order,
                pagination=OffsetPagination(3, offset),
                scope=TenantScope(repokit_tenant),
            )
            seen += page.items
        assert seen == in_order(live, order)


class TestCursorPagination:
    """Cursor pages: arguments, order of backward pages, exact neighbours, complete walks."""

    @pytest.mark.parametrize(
        "arguments",
        [
            pytest.param({}, id="neither first nor last"),
            pytest.param({"first": 2, "last": 2}, id="first and last"),
            pytest.param({"first": 2, "before": "x"}, id="first with before"),
            pytest.param({"last": 2, "after": "x"}, id="last with after"),
            pytest.param(
                {"first": 2, "after": "x", "last": 2, "before": "x"}, id="both directions"
            ),
            pytest.param({"first": 0}, id="first 0"),
            pytest.param({"last": -1}, id="last -1"),
            pytest.param({"first": True}, id="first True"),
        ],
    )
    def test_one_direction_with_a_positive_size_is_required(
        self, arguments: dict[str, Any]
    ) -> None:
        with pytest.raises(InvalidQuery):
            CursorPagination(**arguments)

    @pytest.mark.asyncio
    async def test_the_first_page_has_a_next_page_and_no_previous_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            orders=[c.score.asc()],
            pagination=CursorPagination(first=4),
            scope=TenantScope(repokit_tenant),
        )
        assert page.items == in_order(live, [c.score.asc()])[:4]
        assert _flags(page) == (False, True)

    @pytest.mark.asyncio
    async def test_the_last_page_comes_back_in_the_requested_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.at.desc(), c.score.asc()]
        page = await Repository(repokit_db, items).search(
            orders=order, pagination=CursorPagination(last=4), scope=TenantScope(repokit_tenant)
        )
        assert page.items == in_order(live, order)[-4:]
        assert _flags(page) == (True, False)

    @pytest.mark.asyncio
    async def test_a_backward_page_comes_back_in_the_requested_order(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.flag.asc(), c.ref.desc()]
        expected = in_order(live, order)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        last = await repo.search(orders=order, pagination=CursorPagination(last=4), scope=scope)
        page = await repo.search(
            orders=order, pagination=CursorPagination(last=5, before=last.start_cursor), scope=scope
        )
        assert page.items == expected[-9:-4]
        assert _flags(page) == (True, True)

    @pytest.mark.asyncio
    async def test_a_middle_page_has_both_neighbours_in_both_directions(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        first = await repo.search(pagination=CursorPagination(first=4), scope=scope)
        forward = await repo.search(
            pagination=CursorPagination(first=4, after=first.end_cursor), scope=scope
        )
        last = await repo.search(pagination=CursorPagination(last=4), scope=scope)
        backward = await repo.search(
            pagination=CursorPagination(last=4, before=last.start_cursor), scope=scope
        )
        assert _flags(forward) == _flags(backward) == (True, True)

    @pytest.mark.asyncio
    async def test_an_exact_multiple_of_the_page_size_ends_on_a_full_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        query: dict[str, Any] = {
            "conditions": c.name != "item-00",
            "scope": TenantScope(repokit_tenant),
        }
        repo: Repo = Repository(repokit_db, items)
        for backward in (False, True):
            pages = await walk_pages(repo, 4, backward=backward, **query)
            assert [len(p.items) for p in pages] == [4, 4, 4]

    @pytest.mark.asyncio
    async def test_the_page_after_the_last_entity_is_empty_with_a_previous_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        last = await repo.search(pagination=CursorPagination(last=2), scope=scope)
        page = await repo.search(
            pagination=CursorPagination(first=3, after=last.end_cursor), scope=scope
        )
        assert (page.items, *_flags(page)) == ([], True, False)
        assert (page.start_cursor, page.end_cursor) == (None, None)

    @pytest.mark.asyncio
    async def test_the_page_before_the_first_entity_is_empty_with_a_next_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        first = await repo.search(pagination=CursorPagination(first=2), scope=scope)
        page = await repo.search(
            pagination=CursorPagination(last=3, before=first.start_cursor), scope=scope
        )
        assert (page.items, *_flags(page)) == ([], False, True)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("pagination", [CursorPagination(first=3), CursorPagination(last=3)])
    async def test_an_empty_result_has_no_cursors_and_no_neighbours(
        self, repokit_db: Database, repokit_tenant: str, pagination: CursorPagination
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        page = await Repository(repokit_db, items).search(
            conditions=c.score > 100,
            pagination=pagination,
            scope=TenantScope(repokit_tenant),
            total_count=True,
        )
        assert (page.items, page.total_count, *_flags(page)) == ([], 0, False, False)
        assert (page.start_cursor, page.end_cursor) == (None, None)

    @pytest.mark.asyncio
    async def test_total_count_ignores_the_cursor_and_the_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        matching = sum(1 for e in live if e.flag is not True)
        query: dict[str, Any] = {"conditions": c.flag != True, "scope": TenantScope(repokit_tenant)}  # noqa: E712
        repo: Repo = Repository(repokit_db, items)
        for backward in (False, True):
            pages = await walk_pages(repo, 2, backward=backward, **query)
            assert {p.total_count for p in pages} == {matching}

    @pytest.mark.asyncio
    @pytest.mark.parametrize("order", _ORDER_PARAMS)
    async def test_walking_forward_visits_every_entity_once_in_order(
        self, repokit_db: Database, repokit_tenant: str, order: list[Order]
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        expected = in_order(live, order)
        whole = await repo.search(orders=order, scope=TenantScope(repokit_tenant))
        assert whole.items == expected
        for size in (1, 3, 5):
            pages = await walk_pages(
                repo, size, backward=False, orders=order, scope=TenantScope(repokit_tenant)
            )
            assert [e for p in pages for e in p.items] == expected
            assert [_flags(p) for p in pages] == [
                (i > 0, i < len(pages) - 1) for i in range(len(pages))
            ]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("order", _ORDER_PARAMS)
    async def test_walking_backward_visits_every_entity_once_in_order(
        self, repokit_db: Database, repokit_tenant: str, order: list[Order]
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        expected = in_order(live, order)
        for size in (1, 3, 5):
            pages = await walk_pages(
                repo, size, backward=True, orders=order, scope=TenantScope(repokit_tenant)
            )
            assert [e for p in reversed(pages) for e in p.items] == expected
            assert [_flags(p) for p in pages] == [
                (i < len(pages) - 1, i > 0) for i in range(len(pages))
            ]

    @pytest.mark.asyncio
    async def test_turning_back_returns_the_previous_page(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        query: dict[str, Any] = {"orders": [c.score.desc()], "scope": TenantScope(repokit_tenant)}
        first = await repo.search(pagination=CursorPagination(first=4), **query)
        second = await repo.search(
            pagination=CursorPagination(first=4, after=first.end_cursor), **query
        )
        back = await repo.search(
            pagination=CursorPagination(last=4, before=second.start_cursor), **query
        )
        assert back.items == first.items
        assert _flags(back) == (False, True)

    @pytest.mark.asyncio
    async def test_an_after_cursor_still_works_once_its_entity_is_purged(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.score.asc()]
        expected = in_order(live, order)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        first = await repo.search(orders=order, pagination=CursorPagination(first=4), scope=scope)
        await repo.purge(first.items[-1].id, scope=scope)
        page = await repo.search(
            orders=order, pagination=CursorPagination(first=4, after=first.end_cursor), scope=scope
        )
        assert page.items == expected[4:8]
        assert _flags(page) == (True, True)

    @pytest.mark.asyncio
    async def test_no_previous_page_once_the_only_entity_behind_the_cursor_is_purged(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        first, second = [
            Item(ItemId(uuid.uuid4()), repokit_tenant, f"n{s}", score=s) for s in (1, 2)
        ]
        await repo.batch_create([first, second], scope=scope)
        query: dict[str, Any] = {"orders": [c.score.asc()], "scope": scope}
        page = await repo.search(pagination=CursorPagination(first=1), **query)
        assert page.items == [first]
        await repo.purge(first.id, scope=scope)
        after = await repo.search(
            pagination=CursorPagination(first=1, after=page.end_cursor), **query
        )
        assert after.items == [second]
        assert _flags(after) == (False, False)

    @pytest.mark.asyncio
    async def test_no_previous_page_once_the_cursor_entity_moves_past_the_cursor(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # The cursor's own entity still exists but now sorts after the cursor:
        # it is no longer behind it, and nothing else is.
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        first, second = [
            Item(ItemId(uuid.uuid4()), repokit_tenant, f"n{s}", score=s) for s in (1, 2)
        ]
        await repo.batch_create([first, second], scope=scope)
        query: dict[str, Any] = {"orders": [c.score.asc()], "scope": scope}
        page = await repo.search(pagination=CursorPagination(first=1), **query)
        moved = await repo.update(first.id, {"score": 3}, scope=scope)
        after = await repo.search(
            pagination=CursorPagination(first=2, after=page.end_cursor), **query
        )
        assert after.items == [second, moved]
        assert _flags(after) == (False, False)

    @pytest.mark.asyncio
    async def test_a_before_cursor_still_works_once_its_entity_is_purged(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.at.desc()]
        expected = in_order(live, order)
        repo: Repo = Repository(repokit_db, items)
        scope = TenantScope(repokit_tenant)
        last = await repo.search(orders=order, pagination=CursorPagination(last=4), scope=scope)
        await repo.purge(last.items[0].id, scope=scope)
        page = await repo.search(
            orders=order, pagination=CursorPagination(last=4, before=last.start_cursor), scope=scope
        )
        assert page.items == expected[-8:-4]
        assert _flags(page) == (True, True)
