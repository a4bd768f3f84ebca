"""Contract tests: CONTRACT §10 cursor binding — a cursor works only with its own query.

A cursor is opaque and bound to the table, filter, scope, soft-delete view
and order it came from. Any other query, and any cursor that is malformed,
truncated or changed in a single character, raises ``InvalidCursor`` in both
directions, and never another error. The data set is the one of
:mod:`repokit.testing.suite.pagination`.
"""

from __future__ import annotations

from typing import Any

import pytest

from repokit import CursorPagination, Database, Deleted, InvalidCursor, Order, Repository
from repokit.tables import Columns
from repokit.testing.schema import (
    Item,
    ItemId,
    Note,
    TenantScope,
    items,
    new_note_id,
    new_tenant,
    notes,
)
from repokit.testing.suite.pagination import in_order, seed

__all__ = ["TestCursorBinding"]

Repo = Repository[Item, ItemId]
c: Columns = items.c


async def _cursor(db: Database, tenant: str, **query: Any) -> str:
    """A cursor from the middle of a walk over the data set of *tenant*."""
    query.setdefault("scope", TenantScope(tenant))
    page = await Repository(db, items).search(pagination=CursorPagination(first=3), **query)
    cursor: str | None = page.end_cursor  # (search(**query) types as Any: its overloads)
    assert cursor is not None
    return cursor


async def _refused(db: Database, cursor: str, **query: Any) -> None:
    """Both directions refuse *cursor* with InvalidCursor, and with nothing else."""
    repo: Repo = Repository(db, items)
    for pagination in (
        CursorPagination(first=3, after=cursor),
        CursorPagination(last=3, before=cursor),
    ):
        with pytest.raises(InvalidCursor):
            await repo.search(pagination=pagination, **query)


class TestCursorBinding:
    """A cursor works only, unchanged, with the query it came from (filter, scope, order, table)."""

    @pytest.mark.asyncio
    async def test_a_cursor_from_another_filter_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant, conditions=c.score >= 1)
        await _refused(
            repokit_db, cursor, conditions=c.score >= 2, scope=TenantScope(repokit_tenant)
        )
        await _refused(repokit_db, cursor, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_a_cursor_from_another_deleted_view_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant)
        await _refused(
            repokit_db, cursor, scope=TenantScope(repokit_tenant), deleted=Deleted.INCLUDE
        )

    @pytest.mark.asyncio
    async def test_a_cursor_from_another_scope_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        other = new_tenant()
        await seed(repokit_db, other)
        cursor = await _cursor(repokit_db, repokit_tenant)
        await _refused(repokit_db, cursor, scope=TenantScope(other))
        await _refused(repokit_db, cursor, scope=[TenantScope(repokit_tenant), TenantScope(other)])
        await _refused(repokit_db, cursor, conditions=c.tenant == repokit_tenant)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "other_order",
        [
            pytest.param([c.score.desc()], id="other direction"),
            pytest.param([c.flag.asc()], id="other key"),
            pytest.param([c.score.asc(), c.flag.asc()], id="extra key"),
            pytest.param([], id="no order"),
        ],
    )
    async def test_a_cursor_from_another_order_is_invalid(
        self, repokit_db: Database, repokit_tenant: str, other_order: list[Order]
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant, orders=[c.score.asc()])
        await _refused(repokit_db, cursor, orders=other_order, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_a_cursor_from_another_table_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        scope = TenantScope(repokit_tenant, notes)
        note_repo: Repository[Note, int] = Repository(repokit_db, notes)
        await note_repo.batch_create(
            [Note(new_note_id(), repokit_tenant, f"note {i}", rank=i % 2) for i in range(5)],
            scope=scope,
        )
        page = await note_repo.search(pagination=CursorPagination(first=2), scope=scope)
        assert page.end_cursor is not None
        await _refused(repokit_db, page.end_cursor, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("", id="empty"),
            pytest.param(" ", id="space"),
            pytest.param("not a cursor", id="words"),
            pytest.param("====", id="padding only"),
            pytest.param("AQ", id="one byte"),
            pytest.param("é😀", id="not ascii"),
            pytest.param("\x00", id="nul"),
            pytest.param("A" * 10_000, id="long"),
            pytest.param(
                "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id="other version"
            ),
            pytest.param(
                "AZ3mWzx6Hc1Ry1n8i8kk0jcb1CfqV0mJw3ZQ3JgTjXoXbGwBb3xqIC0ZSA", id="random bytes"
            ),
        ],
    )
    async def test_a_malformed_cursor_is_invalid(
        self, repokit_db: Database, repokit_tenant: str, cursor: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        await _refused(repokit_db, cursor, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_a_truncated_cursor_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant)
        for length in sorted({1, 2, 5, 20, len(cursor) // 2, len(cursor) - 2, len(cursor) - 1}):
            await _refused(repokit_db, cursor[:length], scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_a_cursor_with_extra_characters_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant)
        for changed in (cursor + "=", cursor + "==", cursor + "A", " " + cursor, cursor + "\n"):
            await _refused(repokit_db, changed, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_a_cursor_with_any_one_character_changed_is_invalid(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await seed(repokit_db, repokit_tenant)
        cursor = await _cursor(repokit_db, repokit_tenant)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        for position, char in enumerate(cursor):
            # The next character of the alphabet: a different, still well-formed cursor.
            flipped = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
            tampered = cursor[:position] + flipped + cursor[position + 1 :]
            await _refused(repokit_db, tampered, scope=TenantScope(repokit_tenant))

    @pytest.mark.asyncio
    async def test_an_unchanged_cursor_of_the_same_query_is_accepted(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        live = await seed(repokit_db, repokit_tenant)
        order = [c.score.asc()]
        cursor = await _cursor(repokit_db, repokit_tenant, orders=order)
        # The same query, built again from scratch, takes the cursor.
        page = await Repository(repokit_db, items).search(
            orders=[items.c.score.asc()],
            pagination=CursorPagination(first=3, after=cursor),
            scope=TenantScope(repokit_tenant),
        )
        assert page.items == in_order(live, order)[3:6]
