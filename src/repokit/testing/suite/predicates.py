"""Contract tests: CONTRACT §3 predicates, two-valued logic.

Every predicate is true or false for every entity, nulls included: ``!=`` and
``not_in`` match nulls, ranges and text matches never do, ``~p`` is the exact
complement of ``p``. Operands of the wrong type and unknown fields raise
``InvalidQuery`` before any I/O.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from repokit import TRUE, Database, InvalidQuery, and_, not_, or_
from repokit.conditions import Condition
from repokit.testing.schema import Level, Status, TenantScope, items, notes
from repokit.testing.suite._entities import (
    count_items,
    item_repository,
    matching_names,
    store_items,
)
from repokit.utilities import BatchQuerier

__all__ = ["TestBooleanAlgebra", "TestComparisons", "TestInvalidQueries", "TestMembership"]

Operator = Callable[[Any, Any], Any]

#: Five items: one null score, one null code and one with both null.
_ROWS: list[dict[str, Any]] = [
    {"name": "none", "score": None, "code": None},
    {"name": "one", "score": 1, "code": "apple"},
    {"name": "two", "score": 2, "code": "banana"},
    {"name": "three", "score": 3, "code": "apricot"},
    {"name": "five", "score": 5, "code": None},
]
_ALL = {"none", "one", "two", "three", "five"}


async def _seed(db: Database, tenant: str) -> None:
    await store_items(db, tenant, _ROWS)


class TestComparisons:
    @pytest.mark.asyncio
    async def test_eq_matches_equal_values_only(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, items.c.score == 2) == {"two"}

    @pytest.mark.asyncio
    async def test_eq_none_matches_null(self, repokit_db: Database, repokit_tenant: str) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, items.c.score == None) == {"none"}  # noqa: E711

    @pytest.mark.asyncio
    async def test_ne_none_matches_non_null(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        got = await matching_names(repokit_db, repokit_tenant, items.c.score != None)  # noqa: E711
        assert got == _ALL - {"none"}

    @pytest.mark.asyncio
    async def test_ne_matches_nulls(self, repokit_db: Database, repokit_tenant: str) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, items.c.score != 2) == _ALL - {
            "two"
        }

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("op", "operand", "expected"),
        [
            (operator.lt, 3, {"one", "two"}),
            (operator.le, 3, {"one", "two", "three"}),
            (operator.gt, 2, {"three", "five"}),
            (operator.ge, 2, {"two", "three", "five"}),
            (operator.gt, -(2**63), {"one", "two", "three", "five"}),
        ],
        ids=["lt", "le", "gt", "ge", "gt-min"],
    )
    async def test_range_comparison_never_matches_null(
        self,
        repokit_db: Database,
        repokit_tenant: str,
        op: Operator,
        operand: int,
        expected: set[str],
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert (
            await matching_names(repokit_db, repokit_tenant, op(items.c.score, operand)) == expected
        )

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("field", "low", "mid", "high"),
        [
            ("code", "a", "b", "c"),
            ("ratio", -1.5, 0.0, 2.25),
            ("price", Decimal("-0.01"), Decimal("9.99"), Decimal("10.00")),
            ("flag", False, None, True),
            ("level", Level.LOW, Level.MID, Level.HIGH),
            (
                "at",
                datetime(1969, 1, 1, tzinfo=UTC),
                datetime(2000, 1, 1, tzinfo=UTC),
                datetime(2000, 1, 1, 0, 0, 0, 1000, tzinfo=UTC),
            ),
            ("day", date(1999, 12, 31), date(2000, 1, 1), date(2000, 1, 2)),
            ("ref", uuid.UUID(int=255), uuid.UUID(int=2**64), uuid.UUID(int=2**127)),
        ],
    )
    async def test_comparisons_on_each_ordered_kind(
        self, repokit_db: Database, repokit_tenant: str, field: str, low: Any, mid: Any, high: Any
    ) -> None:
        rows = [{"name": "null"}, {"name": "low", field: low}, {"name": "high", field: high}]
        if mid is not None:
            rows.append({"name": "mid", field: mid})
        await store_items(repokit_db, repokit_tenant, rows)
        column = items.c[field]
        pivot = mid if mid is not None else high
        above = {"high"} if mid is not None else set()
        at_pivot = {"mid"} if mid is not None else {"high"}
        assert await matching_names(repokit_db, repokit_tenant, column < pivot) == {"low"}
        assert (
            await matching_names(repokit_db, repokit_tenant, column <= pivot) == {"low"} | at_pivot
        )
        assert await matching_names(repokit_db, repokit_tenant, column > pivot) == above
        assert await matching_names(repokit_db, repokit_tenant, column >= pivot) == above | at_pivot
        assert await matching_names(repokit_db, repokit_tenant, column == pivot) == at_pivot
        assert await matching_names(repokit_db, repokit_tenant, column != pivot) == (
            {"null", "low"} | above
        )


class TestMembership:
    @pytest.mark.asyncio
    async def test_in_matches_listed_values_but_not_null(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        got = await matching_names(repokit_db, repokit_tenant, items.c.score.in_([1, 3, 4, 3]))
        assert got == {"one", "three"}

    @pytest.mark.asyncio
    async def test_in_with_none_also_matches_null(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        got = await matching_names(repokit_db, repokit_tenant, items.c.score.in_([1, None]))
        assert got == {"none", "one"}

    @pytest.mark.asyncio
    async def test_in_of_nothing_matches_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, items.c.score.in_([])) == set()

    @pytest.mark.asyncio
    async def test_not_in_matches_nulls(self, repokit_db: Database, repokit_tenant: str) -> None:
        await _seed(repokit_db, repokit_tenant)
        got = await matching_names(repokit_db, repokit_tenant, items.c.score.not_in([1, 3]))
        assert got == {"none", "two", "five"}

    @pytest.mark.asyncio
    async def test_not_in_with_none_excludes_nulls(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        got = await matching_names(repokit_db, repokit_tenant, items.c.score.not_in([1, None]))
        assert got == {"two", "three", "five"}

    @pytest.mark.asyncio
    async def test_not_in_of_nothing_matches_everything(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, items.c.score.not_in([])) == _ALL

    @pytest.mark.asyncio
    @pytest.mark.parametrize("values", [[1, 3], [None], [None, 2], [], [4]])
    async def test_not_in_is_the_complement_of_in(
        self, repokit_db: Database, repokit_tenant: str, values: list[int | None]
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        inside = await matching_names(repokit_db, repokit_tenant, items.c.score.in_(values))
        outside = await matching_names(repokit_db, repokit_tenant, items.c.score.not_in(values))
        assert inside | outside == _ALL
        assert not inside & outside

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("make", "expected"),
        [
            (lambda c: c.contains("p"), {"one", "three"}),
            (lambda c: c.startswith("a"), {"one", "three"}),
            (lambda c: c.endswith("a"), {"two"}),
            (lambda c: c.contains(""), {"one", "two", "three"}),
        ],
        ids=["contains", "startswith", "endswith", "contains-empty"],
    )
    async def test_text_matches_never_match_null(
        self,
        repokit_db: Database,
        repokit_tenant: str,
        make: Callable[[Any], Condition],
        expected: set[str],
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, make(items.c.code)) == expected
        assert (
            await matching_names(repokit_db, repokit_tenant, ~make(items.c.code)) == _ALL - expected
        )


#: A fixed list of predicates over nulls and values: each must split the set in two.
_PREDICATES: list[Condition] = [
    items.c.score == 2,
    items.c.score != 2,
    items.c.score < 3,
    items.c.score >= 3,
    items.c.score.is_null(),
    items.c.score.is_not_null(),
    items.c.score.in_([1, None]),
    items.c.score.not_in([2, 5]),
    items.c.score.in_([]),
    items.c.score.not_in([]),
    items.c.code.contains("p"),
    items.c.code.startswith("ap"),
    items.c.code.endswith("a"),
    items.c.code != "apple",
    (items.c.score > 1) & items.c.code.startswith("a"),
    (items.c.score > 1) | items.c.code.is_null(),
    ~(items.c.score < 2) & (items.c.code != "banana"),
    or_(items.c.score == 5, and_(items.c.code.is_not_null(), items.c.score.not_in([1]))),
    and_(),
    or_(),
]


class TestBooleanAlgebra:
    @pytest.mark.asyncio
    async def test_complement_counts_add_up_to_everything(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        total = await count_items(repokit_db, repokit_tenant)
        assert total == len(_ALL)
        for predicate in _PREDICATES:
            matched = await count_items(repokit_db, repokit_tenant, predicate)
            unmatched = await count_items(repokit_db, repokit_tenant, ~predicate)
            assert matched + unmatched == total, predicate

    @pytest.mark.asyncio
    async def test_complement_matches_exactly_the_other_entities(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        for predicate in _PREDICATES:
            matched = await matching_names(repokit_db, repokit_tenant, predicate)
            assert (
                await matching_names(repokit_db, repokit_tenant, not_(predicate)) == _ALL - matched
            )
            assert await matching_names(repokit_db, repokit_tenant, ~~predicate) == matched

    @pytest.mark.asyncio
    async def test_and_of_nothing_matches_everything(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, and_()) == _ALL

    @pytest.mark.asyncio
    async def test_or_of_nothing_matches_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        assert await matching_names(repokit_db, repokit_tenant, or_()) == set()

    @pytest.mark.asyncio
    async def test_and_or_not_follow_boolean_algebra_over_nulls(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        a, b = items.c.score > 1, items.c.code.startswith("a")
        names_a = await matching_names(repokit_db, repokit_tenant, a)
        names_b = await matching_names(repokit_db, repokit_tenant, b)
        assert await matching_names(repokit_db, repokit_tenant, a & b) == names_a & names_b
        assert await matching_names(repokit_db, repokit_tenant, a | b) == names_a | names_b
        assert await matching_names(repokit_db, repokit_tenant, ~(a & b)) == _ALL - (
            names_a & names_b
        )
        assert await matching_names(repokit_db, repokit_tenant, ~(a | b)) == _ALL - (
            names_a | names_b
        )
        assert await matching_names(repokit_db, repokit_tenant, ~a | ~b) == _ALL - (
            names_a & names_b
        )


_WRONG_TYPES: list[tuple[str, Operator, Any]] = [
    ("score", operator.eq, "1"),
    ("score", operator.lt, 1.5),
    ("score", operator.eq, True),
    ("ratio", operator.gt, "0.5"),
    ("price", operator.eq, 1.5),
    ("flag", operator.eq, 1),
    ("at", operator.ge, datetime(2024, 1, 1)),
    ("at", operator.eq, date(2024, 1, 1)),
    ("day", operator.eq, datetime(2024, 1, 1, tzinfo=UTC)),
    ("ref", operator.eq, str(uuid.UUID(int=1))),
    ("level", operator.eq, 2),
    ("status", operator.eq, "active"),
    ("level", operator.eq, Status.ACTIVE),
    ("code", operator.eq, 5),
    ("code", operator.lt, b"x"),
    ("data", operator.eq, {"k": "v"}),
    ("score", lambda column, value: column.in_(value), ["1"]),
    ("score", lambda column, value: column.contains(value), "1"),
    ("code", lambda column, value: column.startswith(value), 1),
]


class TestInvalidQueries:
    @pytest.mark.asyncio
    @pytest.mark.parametrize(("field", "op", "operand"), _WRONG_TYPES)
    async def test_operand_of_another_type_raises_invalid_query_before_io(
        self, repokit_db: Database, repokit_tenant: str, field: str, op: Operator, operand: Any
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        querier = BatchQuerier(items)
        async with repokit_db.begin_readonly_session() as session:
            with pytest.raises(InvalidQuery):
                await querier.count(
                    session,
                    conditions=op(items.c[field], operand),
                    scope=TenantScope(repokit_tenant),
                )
            # Nothing reached the backend, so the transaction is still usable.
            assert await querier.count(session, scope=TenantScope(repokit_tenant)) == len(_ALL)

    @pytest.mark.asyncio
    async def test_unknown_field_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        with pytest.raises(InvalidQuery):
            items.c.no_such_field  # noqa: B018
        with pytest.raises(InvalidQuery):
            items.c["no_such_field"]
        with pytest.raises(InvalidQuery):
            await item_repository(repokit_db).batch_update(
                {"no_such_field": 1}, conditions=[TRUE], scope=TenantScope(repokit_tenant)
            )
        assert await count_items(repokit_db, repokit_tenant) == len(_ALL)

    @pytest.mark.asyncio
    async def test_condition_on_another_table_raises_invalid_query_before_io(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _seed(repokit_db, repokit_tenant)
        querier = BatchQuerier(items)
        async with repokit_db.begin_readonly_session() as session:
            with pytest.raises(InvalidQuery):
                await querier.count(
                    session, conditions=notes.c.rank == 1, scope=TenantScope(repokit_tenant)
                )
            assert await querier.count(session, scope=TenantScope(repokit_tenant)) == len(_ALL)
