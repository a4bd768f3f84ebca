"""Contract tests: CONTRACT §5 ordering.

Strings by code point, ``None`` smallest, ``False < True``, numbers
numerically, datetimes chronologically, UUIDs by their 16 bytes big-endian,
and the primary key (ascending) as the final tie-breaker of every order.
Entities are stored in an order unlike the expected one, so insertion order
cannot pass for sorting.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from repokit import Database, InvalidQuery, Repository
from repokit.testing.schema import (
    Label,
    Level,
    Note,
    TenantScope,
    items,
    labels,
    new_note_id,
    notes,
)
from repokit.testing.suite._entities import item_repository, ordered_names, store_items
from repokit.values import INT64_MAX, INT64_MIN

__all__ = ["TestOrderOfValues", "TestTieBreaks"]


def _scrambled(values: Sequence[Any]) -> list[Any]:
    scrambled = list(values)
    random.Random(len(scrambled)).shuffle(scrambled)
    return scrambled


async def _sorted_by(db: Database, tenant: str, field: str, values: Sequence[Any]) -> None:
    """Store one item per value (named by its expected position) and check both directions."""
    rows = [{"name": f"{position:03}", field: value} for position, value in enumerate(values)]
    await store_items(db, tenant, _scrambled(rows))
    expected = [row["name"] for row in rows]
    column = items.c[field]
    assert await ordered_names(db, tenant, column.asc()) == expected
    assert await ordered_names(db, tenant, column.desc()) == expected[::-1]


class TestOrderOfValues:
    @pytest.mark.asyncio
    async def test_strings_order_by_code_point(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        names = [" ", "0", "A", "B", "Z", "a", "aa", "b", "z", "~", "é", "\ufb01", "\uff61", "𝄞"]
        await store_items(repokit_db, repokit_tenant, ({"name": n} for n in _scrambled(names)))
        assert sorted(names) == names
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.asc()) == names
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.desc()) == names[::-1]

    @pytest.mark.asyncio
    async def test_uppercase_sorts_before_lowercase(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await store_items(repokit_db, repokit_tenant, ({"name": n} for n in ["b", "a", "B", "A"]))
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.asc()) == [
            "A",
            "B",
            "a",
            "b",
        ]

    @pytest.mark.asyncio
    async def test_astral_characters_sort_after_the_whole_basic_plane(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # UTF-16 order would put U+1D11E (a surrogate pair) before U+E000.
        names = ["\ud7ff", "\ue000", "\uff61", "\ufffd", "\U0001d11e", "\U0001f600"]
        await store_items(repokit_db, repokit_tenant, ({"name": n} for n in _scrambled(names)))
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.asc()) == names

    @pytest.mark.asyncio
    async def test_a_prefix_sorts_before_its_extensions(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        names = ["", "a", "a b", "a-b", "aa", "ab"]
        await store_items(repokit_db, repokit_tenant, ({"name": n} for n in _scrambled(names)))
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.asc()) == names

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("field", "low", "high"),
        [
            ("code", "A", "a"),
            ("score", -1, 0),
            ("ratio", -0.5, 0.0),
            ("price", Decimal("-0.01"), Decimal("0.00")),
            ("flag", False, True),
            ("level", Level.LOW, Level.MID),
            ("at", datetime(1900, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)),
            ("day", date(1, 1, 1), date(2000, 1, 1)),
            ("ref", uuid.UUID(int=0), uuid.UUID(int=1)),
        ],
    )
    async def test_none_sorts_first_ascending_and_last_descending(
        self, repokit_db: Database, repokit_tenant: str, field: str, low: Any, high: Any
    ) -> None:
        await _sorted_by(repokit_db, repokit_tenant, field, [None, low, high])

    @pytest.mark.asyncio
    async def test_false_sorts_before_true(self, repokit_db: Database, repokit_tenant: str) -> None:
        await _sorted_by(repokit_db, repokit_tenant, "flag", [False, True])

    @pytest.mark.asyncio
    async def test_integers_order_numerically(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        numbers = [INT64_MIN, -100, -9, -1, 0, 2, 9, 10, 100, 2**53 + 1, INT64_MAX]
        await _sorted_by(repokit_db, repokit_tenant, "score", numbers)

    @pytest.mark.asyncio
    async def test_floats_order_numerically(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        numbers = [-1.7976931348623157e308, -10.0, -1.5, 0.0, 5e-324, 0.1, 2.5, 10.0, 1e300]
        await _sorted_by(repokit_db, repokit_tenant, "ratio", numbers)

    @pytest.mark.asyncio
    async def test_decimals_order_numerically(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        prices = ["-9999999999.99", "-10.00", "-0.01", "0.00", "0.10", "9.99", "10.00", "100.50"]
        await _sorted_by(repokit_db, repokit_tenant, "price", [Decimal(p) for p in prices])

    @pytest.mark.asyncio
    async def test_datetimes_order_chronologically_whatever_their_offset(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        def zone(hours: int) -> timezone:
            return timezone(timedelta(hours=hours))

        moments = [
            datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
            datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
            datetime(2024, 5, 1, 12, 0, tzinfo=zone(5)),  # 07:00Z
            datetime(2024, 5, 1, 7, 0, 0, 1000, tzinfo=UTC),
            datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            datetime(2024, 5, 1, 8, 0, tzinfo=zone(-2)),  # 10:00Z
            datetime(2024, 5, 2, 0, 30, tzinfo=zone(14)),  # 10:30Z on May 1st
        ]
        await _sorted_by(repokit_db, repokit_tenant, "at", moments)

    @pytest.mark.asyncio
    async def test_dates_order_chronologically(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        days = [date(1, 1, 1), date(999, 12, 31), date(2024, 9, 30), date(2024, 10, 1)]
        await _sorted_by(repokit_db, repokit_tenant, "day", days)

    @pytest.mark.asyncio
    async def test_uuids_order_by_their_bytes_big_endian(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        refs = [
            uuid.UUID("00000000-0000-0000-0000-0000000000ff"),
            uuid.UUID("00000000-0000-0000-0100-000000000000"),
            uuid.UUID("00000000-0000-0001-0000-000000000000"),
            uuid.UUID("00000000-0100-0000-0000-000000000000"),
            uuid.UUID("00000001-0000-0000-0000-000000000000"),
            uuid.UUID("01000000-0000-0000-0000-000000000000"),
            uuid.UUID("7fffffff-ffff-ffff-ffff-ffffffffffff"),
            uuid.UUID("80000000-0000-0000-0000-000000000000"),
            uuid.UUID("ffffffff-ffff-ffff-ffff-fffffffffffe"),
        ]
        assert sorted(refs, key=lambda ref: ref.bytes) == refs
        await _sorted_by(repokit_db, repokit_tenant, "ref", refs)

    @pytest.mark.asyncio
    async def test_int_enums_order_by_their_values(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _sorted_by(repokit_db, repokit_tenant, "level", [Level.LOW, Level.MID, Level.HIGH])

    @pytest.mark.asyncio
    async def test_sorting_by_a_json_field_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await store_items(repokit_db, repokit_tenant, [{"name": "only", "data": {"k": 1}}])
        with pytest.raises(InvalidQuery):
            items.c.data.asc()
        with pytest.raises(InvalidQuery):
            items.c.data.desc()
        assert await ordered_names(repokit_db, repokit_tenant, items.c.name.asc()) == ["only"]

    @pytest.mark.asyncio
    async def test_order_on_another_table_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await store_items(repokit_db, repokit_tenant, [{}])
        with pytest.raises(InvalidQuery):
            await ordered_names(repokit_db, repokit_tenant, notes.c.rank.asc())


class TestTieBreaks:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("descending", [False, True])
    async def test_equal_sort_keys_come_back_by_primary_key(
        self, repokit_db: Database, repokit_tenant: str, descending: bool
    ) -> None:
        stored = await store_items(
            repokit_db, repokit_tenant, [{"score": s} for s in [2, 1, 2, 1, 2, 2]]
        )
        score = items.c.score
        page = await item_repository(repokit_db).search(
            orders=[score.desc() if descending else score.asc()], scope=TenantScope(repokit_tenant)
        )
        by_id = sorted(stored, key=lambda item: item.id)
        ones = [item.id for item in by_id if item.score == 1]
        twos = [item.id for item in by_id if item.score == 2]
        assert [item.id for item in page.items] == (twos + ones if descending else ones + twos)

    @pytest.mark.asyncio
    async def test_nulls_tie_break_by_primary_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        rows: list[dict[str, Any]] = [{"score": None}] * 4 + [{"score": 0}]
        stored = await store_items(repokit_db, repokit_tenant, rows)
        page = await item_repository(repokit_db).search(
            orders=[items.c.score.asc()], scope=TenantScope(repokit_tenant)
        )
        nulls = sorted(item.id for item in stored if item.score is None)
        assert [item.id for item in page.items][:4] == nulls

    @pytest.mark.asyncio
    async def test_without_orders_entities_come_back_by_primary_key(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        stored = await store_items(repokit_db, repokit_tenant, [{} for _ in range(6)])
        page = await item_repository(repokit_db).search(scope=TenantScope(repokit_tenant))
        assert [item.id for item in page.items] == sorted(item.id for item in stored)

    @pytest.mark.asyncio
    async def test_later_sort_keys_break_ties_of_earlier_ones(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        rows: list[dict[str, Any]] = [
            {"name": "t-1", "flag": True, "score": 1},
            {"name": "n-2", "flag": None, "score": 2},
            {"name": "f-9", "flag": False, "score": 9},
            {"name": "t-5", "flag": True, "score": 5},
            {"name": "f-null", "flag": False, "score": None},
            {"name": "t-null", "flag": True, "score": None},
        ]
        await store_items(repokit_db, repokit_tenant, rows)
        got = await ordered_names(
            repokit_db, repokit_tenant, items.c.flag.asc(), items.c.score.desc()
        )
        assert got == ["n-2", "f-9", "f-null", "t-5", "t-1", "t-null"]

    @pytest.mark.asyncio
    async def test_integer_primary_keys_break_ties_numerically(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        first, second = new_note_id(), new_note_id()
        keys = [first, -first, second * 10, second]
        repo: Repository[Note, int] = Repository(repokit_db, notes)
        scope = TenantScope(repokit_tenant, notes)
        await repo.batch_create(
            [Note(key, repokit_tenant, "same", rank=1) for key in keys], scope=scope
        )
        page = await repo.search(orders=[notes.c.rank.asc()], scope=scope)
        assert [note.id for note in page.items] == sorted(keys)

    @pytest.mark.asyncio
    async def test_string_primary_keys_break_ties_by_code_point(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        keys = [f"{repokit_tenant}/{suffix}" for suffix in ["b", "B", "a", "é", "A", "aa", "𝄞"]]
        repo: Repository[Label, str] = Repository(repokit_db, labels)
        scope = TenantScope(repokit_tenant, labels)
        await repo.batch_create([Label(key, repokit_tenant) for key in keys], scope=scope)
        page = await repo.search(orders=[labels.c.weight.asc()], scope=scope)
        assert [label.key for label in page.items] == sorted(keys)
