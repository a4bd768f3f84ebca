"""Keyset conditions (repokit.cursors.keyset_after): null-safe, tie-safe, both directions.

Checked against the reference ordering (``sort_rows``) with ``evaluate``: the
rows "after" a position are exactly the rows that sort after it, so "after"
and "not after" partition every row set, whatever ties and nulls it holds.
"""

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from repokit.conditions import FALSE, TRUE, Compare, IsNull, Not, Op, Or, Order, and_
from repokit.cursors import CursorCodec, fingerprint, keyset_after, reverse, sort_values
from repokit.evaluate import evaluate, sort_rows
from repokit.tables import Row
from repokit.testing.schema import notes

c = notes.c
T = "rk_notes"


def ids(data: list[Row]) -> list[int]:
    return [row["id"] for row in data]


def after(orders: tuple[Order, ...], position: Row, data: list[Row]) -> list[int]:
    boundary = keyset_after(orders, sort_values(position, orders))
    return ids([row for row in sort_rows(data, orders) if evaluate(boundary, row)])


# -- structure ----------------------------------------------------------------------------------


def test_after_a_value_ascending_is_greater_than_it() -> None:
    assert keyset_after([c.rank.asc()], [3]) == Compare(T, "rank", Op.GT, 3)


def test_after_null_ascending_is_every_non_null() -> None:
    assert keyset_after([c.rank.asc()], [None]) == Not(IsNull(T, "rank"))


def test_after_a_value_descending_is_smaller_or_null() -> None:
    assert keyset_after([c.rank.desc()], [3]) == Or(
        (Compare(T, "rank", Op.LT, 3), IsNull(T, "rank"))
    )


def test_after_null_descending_is_nothing() -> None:
    assert keyset_after([c.rank.desc()], [None]) is FALSE


def test_later_keys_apply_only_among_ties_of_earlier_keys() -> None:
    assert keyset_after([c.rank.asc(), c.id.asc()], [None, 7]) == Or(
        (Not(IsNull(T, "rank")), and_(IsNull(T, "rank"), Compare(T, "id", Op.GT, 7)))
    )


def test_after_nothing_in_an_empty_order_is_false() -> None:
    assert keyset_after([], []) is FALSE


def test_reverse_flips_every_direction() -> None:
    assert reverse([c.rank.asc(), c.id.desc()]) == (c.rank.desc(), c.id.asc())


def test_sort_values_reads_the_order_fields_with_missing_as_none() -> None:
    assert sort_values({"id": 1}, [c.rank.asc(), c.id.asc()]) == [None, 1]


# -- partition properties -----------------------------------------------------------------------

ranks = st.none() | st.integers(0, 2)
bodies = st.sampled_from(["a", "b"])


@st.composite
def row_sets(draw: st.DrawFn) -> list[Row]:
    keys = draw(st.lists(st.integers(0, 50), unique=True, max_size=9))
    return [{"id": k, "rank": draw(ranks), "body": draw(bodies)} for k in keys]


@st.composite
def total_orders(draw: st.DrawFn) -> tuple[Order, ...]:
    fields = draw(st.lists(st.sampled_from(["rank", "body"]), unique=True, max_size=2))
    orders = [c[f].desc() if draw(st.booleans()) else c[f].asc() for f in fields]
    key = c.id.desc() if draw(st.booleans()) else c.id.asc()
    return (*orders, key)


@given(row_sets(), total_orders(), st.data())
def test_after_a_row_is_exactly_the_rows_sorted_after_it(
    data: list[Row], orders: tuple[Order, ...], draw: st.DataObject
) -> None:
    if not data:
        return
    ordered = sort_rows(data, orders)
    i = draw.draw(st.integers(0, len(data) - 1))
    assert after(orders, ordered[i], data) == ids(ordered[i + 1 :])


@given(row_sets(), total_orders(), st.data())
def test_after_and_not_after_partition_the_rows(
    data: list[Row], orders: tuple[Order, ...], draw: st.DataObject
) -> None:
    if not data:
        return
    position = draw.draw(st.sampled_from(data))
    boundary = keyset_after(orders, sort_values(position, orders))
    inside = {row["id"] for row in data if evaluate(boundary, row)}
    outside = {row["id"] for row in data if evaluate(~boundary, row)}
    assert inside.isdisjoint(outside)
    assert inside | outside == {row["id"] for row in data}
    assert position["id"] in outside


@given(row_sets(), total_orders(), st.data())
def test_after_in_the_reversed_order_is_exactly_the_rows_before(
    data: list[Row], orders: tuple[Order, ...], draw: st.DataObject
) -> None:
    if not data:
        return
    ordered = sort_rows(data, orders)
    i = draw.draw(st.integers(0, len(data) - 1))
    assert after(reverse(orders), ordered[i], data) == ids(reversed(ordered[:i]))


@given(row_sets(), total_orders(), ranks, bodies, st.integers(0, 50))
def test_after_a_position_no_row_holds_is_the_rows_sorted_after_it(
    data: list[Row], orders: tuple[Order, ...], rank: Any, body: str, key: int
) -> None:
    if key in {row["id"] for row in data}:
        return
    phantom = {"id": key, "rank": rank, "body": body}
    ordered = sort_rows([*data, phantom], orders)
    expected = ids(ordered[ordered.index(phantom) + 1 :])
    assert after(orders, phantom, data) == expected


def _walk(data: list[Row], orders: tuple[Order, ...], size: int, backward: bool) -> list[int]:
    """Page through *data* like the querier does, carrying positions in real cursors."""
    codec = CursorCodec()
    bound = fingerprint(notes, TRUE, orders)
    walk = reverse(orders) if backward else orders
    seen: list[int] = []
    cursor = None
    while True:
        where = TRUE
        if cursor is not None:
            where = keyset_after(walk, codec.decode(cursor, notes, orders, bound))
        page = [row for row in sort_rows(data, walk) if evaluate(where, row)][:size]
        if not page:
            return seen
        seen.extend(ids(page))
        cursor = codec.encode(notes, orders, bound, page[-1])


@given(row_sets(), total_orders(), st.integers(1, 3))
def test_walking_forward_visits_every_row_once_in_order(
    data: list[Row], orders: tuple[Order, ...], size: int
) -> None:
    assert _walk(data, orders, size, backward=False) == ids(sort_rows(data, orders))


@given(row_sets(), total_orders(), st.integers(1, 3))
def test_walking_backward_visits_every_row_once_in_reverse_order(
    data: list[Row], orders: tuple[Order, ...], size: int
) -> None:
    assert _walk(data, orders, size, backward=True) == ids(reversed(sort_rows(data, orders)))
