"""Contract tests: CONTRACT §13 limits, the same on every backend and checked before any I/O.

Page sizes and offsets beyond ``MAX_PAGE_SIZE`` / ``MAX_OFFSET``, conditions
nested deeper than ``MAX_CONDITION_DEPTH``, cursors longer than
``MAX_CURSOR_LENGTH`` and entities larger than ``MAX_ENTITY_BYTES`` are
refused with repokit errors, and nothing is written; right at each limit the
operation is served.
"""

from __future__ import annotations

import pytest

from repokit import (
    MAX_CONDITION_DEPTH,
    MAX_CURSOR_LENGTH,
    MAX_ENTITY_BYTES,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    Condition,
    CursorPagination,
    Database,
    InvalidCursor,
    InvalidQuery,
    InvalidValue,
    OffsetPagination,
)
from repokit.testing.schema import TenantScope, items
from repokit.testing.suite._entities import item_repository, new_item

__all__ = ["TestLimits"]

#: A JSON value over the entity size limit (counted in its stored, BSON-like form).
_HUGE = {"blob": "x" * MAX_ENTITY_BYTES}


def _nested(depth: int) -> Condition:
    """``score == 0`` combined with ``&`` / ``|`` alternately until *depth* levels nest."""
    condition: Condition = items.c.score == 0
    for level in range(depth):
        other = items.c.score == level + 1
        condition = (condition | other) if level % 2 else (condition & other)
    return condition


class TestLimits:
    @pytest.mark.parametrize(
        "make",
        [
            lambda: OffsetPagination(limit=MAX_PAGE_SIZE + 1),
            lambda: OffsetPagination(limit=10, offset=MAX_OFFSET + 1),
            lambda: CursorPagination(first=MAX_PAGE_SIZE + 1),
            lambda: CursorPagination(last=MAX_PAGE_SIZE + 1),
            lambda: OffsetPagination(limit=2**63),
        ],
        ids=["limit", "offset", "first", "last", "limit-2**63"],
    )
    def test_pages_beyond_the_limits_are_invalid_queries(self, make: object) -> None:
        with pytest.raises(InvalidQuery):
            make()  # type: ignore[operator]

    @pytest.mark.asyncio
    async def test_a_page_of_the_maximum_size_is_served(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.batch_create([new_item(repokit_tenant) for _ in range(3)])
        scope = TenantScope(repokit_tenant)
        page = await repo.search(scope=scope, pagination=OffsetPagination(limit=MAX_PAGE_SIZE))
        assert len(page.items) == 3
        walked = await repo.search(scope=scope, pagination=CursorPagination(first=MAX_PAGE_SIZE))
        assert len(walked.items) == 3

    def test_a_condition_nested_too_deeply_is_an_invalid_query(self) -> None:
        with pytest.raises(InvalidQuery):
            _nested(MAX_CONDITION_DEPTH + 1)

    @pytest.mark.asyncio
    async def test_a_condition_nested_to_the_limit_is_served(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        await repo.create(new_item(repokit_tenant, score=1))
        # The scope adds one more level; the outer | makes the stored score match.
        condition = _nested(MAX_CONDITION_DEPTH - 2) | (items.c.score == 1)
        assert getattr(condition, "depth", 0) >= MAX_CONDITION_DEPTH - 2
        assert await repo.count(conditions=[condition], scope=TenantScope(repokit_tenant)) == 1

    @pytest.mark.asyncio
    async def test_a_cursor_longer_than_the_limit_is_an_invalid_cursor(
        self, repokit_db: Database
    ) -> None:
        with pytest.raises(InvalidCursor):
            await item_repository(repokit_db).search(
                pagination=CursorPagination(first=1, after="a" * (MAX_CURSOR_LENGTH + 1))
            )

    @pytest.mark.asyncio
    async def test_an_entity_over_the_size_limit_is_refused_and_nothing_is_written(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        scope = TenantScope(repokit_tenant)
        with pytest.raises(InvalidValue, match="Item"):
            await repo.create(new_item(repokit_tenant, data=_HUGE))
        with pytest.raises(InvalidValue):  # a batch is refused whole
            await repo.batch_create(
                [new_item(repokit_tenant), new_item(repokit_tenant, data=_HUGE)]
            )
        assert await repo.count(scope=scope) == 0
        stored = await repo.create(new_item(repokit_tenant, score=1))
        with pytest.raises(InvalidValue):
            await repo.update(stored.id, {"data": _HUGE})
        assert await repo.get(stored.id) == stored
