"""How the reference backend narrows a query before :func:`~repokit.evaluate.predicate` decides.

Each function here only *narrows*: it names rows that may match (the rows
under a pinned primary or unique key, the part of a sorted order past a
bound) and never decides a match itself; the backend still tests every
candidate with ``predicate(where)``. Each is sound on its own terms, stated
in its docstring: no row that matches the condition is left out.

Row order follows :func:`~repokit.evaluate.sort_rows` exactly: :func:`page`
takes the first rows with ``heapq.nsmallest``, which equals a stable sort
(``sorted(rows, key)[:n]``), on a key that compares as ``sort_rows``' passes
do. That relies on what ``sort_rows`` relies on too: the values of one field
are totally ordered (storage-normal values, CONTRACT §1, §5).
"""

from __future__ import annotations

import copy
import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    Not,
    Op,
    Or,
    Order,
    unknown_node,
)
from repokit.evaluate import sort_rows
from repokit.memory.store import Ordered, null_key
from repokit.tables import Row, Table, Unique

__all__ = [
    "conjuncts",
    "copy_row",
    "page",
    "pinned_keys",
    "pinned_primary",
    "pinned_unique",
    "start_of",
]

#: Types whose values are never mutated: a copy may share them.
_IMMUTABLE: frozenset[type] = frozenset(
    {str, int, float, bool, type(None), bytes, Decimal, datetime, date, time, timedelta, UUID}
)


def copy_row(row: Row) -> Row:
    """A deep copy of *row* that shares only immutable values (one memo, as ``deepcopy``)."""
    memo: dict[int, Any] = {}
    return {
        name: value if type(value) in _IMMUTABLE else copy.deepcopy(value, memo)
        for name, value in row.items()
    }


def conjuncts(condition: Condition) -> tuple[Condition, ...]:
    """The items of a top-level ``And`` (the condition itself otherwise)."""
    return condition.items if isinstance(condition, And) else (condition,)


def pinned_keys(where: Condition, field: str) -> tuple[Any, ...] | None:
    """Values *field* equals in every row matching *where*; ``None`` if not pinned.

    Sound: ``Compare ==`` and ``In`` match only rows whose field equals an
    operand (``predicate``), and a row matching an ``And`` matches each item.
    """
    match where:
        case Compare():
            return (where.value,) if where.field == field and where.op is Op.EQ else None
        case In():
            return where.values if where.field == field else None
        case Const():
            return None if where.value else ()
        case And():
            for item in where.items:
                found = pinned_keys(item, field)
                if found is not None:
                    return found
            return None
        case IsNull() | Match() | Or() | Not() | Exists():
            return None
        case _:
            raise unknown_node(where)


def pinned_primary(where: Condition, table: Table[Any]) -> tuple[Any, ...] | None:
    """The primary keys every row matching *where* holds one of; ``None`` if not pinned.

    A one-field key as :func:`pinned_keys` finds it; a composite key (CONTRACT
    §22) from a conjunction with an equality on every key field, and from a
    disjunction of such conjunctions (:meth:`Table.keys_condition`).
    """
    if not table.composite_key:
        return pinned_keys(where, table.primary_key)
    return _pinned_tuples(where, table.key_fields)


def _pinned_tuples(where: Condition, fields: tuple[str, ...]) -> tuple[Any, ...] | None:
    # Sound: a row matching an And matches each item; one matching an Or matches some item.
    if isinstance(where, Const):
        return None if where.value else ()
    if isinstance(where, And):
        equal: dict[str, Any] = {}
        for item in where.items:
            if isinstance(item, Compare) and item.op is Op.EQ:
                equal.setdefault(item.field, item.value)
        if all(field in equal for field in fields):
            return (tuple(equal[field] for field in fields),)
        for item in where.items:
            found = _pinned_tuples(item, fields)
            if found is not None:
                return found
        return None
    if isinstance(where, Or):
        keys: list[Any] = []
        for item in where.items:
            found = _pinned_tuples(item, fields)
            if found is None:
                return None
            keys.extend(found)
        return tuple(keys)
    return None


def pinned_unique(where: Condition, unique: Unique) -> tuple[Any, ...] | None:
    """The key of *unique* that every row matching *where* holds; ``None`` if not pinned.

    Pinned when the top-level conjuncts hold ``field == value`` for every field
    of the key and every conjunct of the key's ``where``: a matching row then
    takes part in the key's index (no ``None``, ``where`` holds) under that key.
    """
    items = conjuncts(where)
    if unique.where is not None and not all(c in items for c in conjuncts(unique.where)):
        return None
    equal: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Compare) and item.op is Op.EQ:
            equal.setdefault(item.field, item.value)
    if not all(field in equal for field in unique.fields):
        return None
    return tuple(equal[field] for field in unique.fields)


def start_of(ordered: Ordered, where: Condition, first: Order) -> int:
    """The first position in *ordered* a row matching *where* can hold.

    *ordered* is sorted by *first* before anything else, so the rows a
    comparison on *first*'s field rules out lie before the others: the rows
    up to ``v`` for ``f > v`` ascending, those down to ``v`` for ``f < v``
    descending (a keyset page's seek), the non-nulls for ``f is null``
    descending. Binary search finds where the prefix ends. Sound by
    induction: a leaf skips only rows that fail it; a row matching an ``And``
    matches every item (so the largest start holds), a row matching an ``Or``
    matches some item (so the smallest does).
    """
    match where:
        case And():
            return max(start_of(ordered, item, first) for item in where.items)
        case Or():
            return min(start_of(ordered, item, first) for item in where.items)
        case Const():
            return 0 if where.value else len(ordered.rows)
        case IsNull():
            if where.field == first.field and first.descending:
                return _first(ordered.first, lambda key: not key[0])  # nulls come last
            return 0
        case Compare():
            if where.field != first.field or where.op is Op.NE:
                return 0
            passes = _bound(where.op, null_key(where.value), first.descending)
            return _first(ordered.first, passes)
        case In() | Match() | Not() | Exists():
            return 0
        case _:
            raise unknown_node(where)


def _bound(op: Op, pivot: tuple[bool, Any], descending: bool) -> Callable[[Any], bool]:
    """The test a sort key passes from the first row that may satisfy ``field <op> pivot``.

    ``Compare`` never matches a null, which sorts first ascending (last descending).
    """
    if not descending:
        if op is Op.GT:
            return lambda key: pivot < key
        if op in (Op.GE, Op.EQ):
            return lambda key: not key < pivot
        return lambda key: bool(key[0])  # < and <=: from the first non-null
    if op is Op.LT:
        return lambda key: key < pivot
    if op in (Op.LE, Op.EQ):
        return lambda key: not pivot < key
    return lambda key: True  # > and >=: non-nulls come first


def _first(keys: Sequence[Any], passes: Callable[[Any], bool]) -> int:
    """The first index whose key passes (*passes* is false, then true, along *keys*)."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if passes(keys[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo


class _Descending:
    """A sort key compared the other way round (``==`` unchanged)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[bool, Any]) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return other.key < self.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.key == other.key


def sort_key(orders: Sequence[Order]) -> Callable[[Row], tuple[Any, ...]]:
    """One key for all of *orders*: tuples compare as ``sort_rows``' stable passes order."""
    fields = [(o.field, o.descending) for o in orders]
    if not any(descending for _, descending in fields):
        names = [name for name, _ in fields]
        return lambda row: tuple(null_key(row.get(name)) for name in names)
    return lambda row: tuple(
        _Descending(null_key(row.get(name))) if descending else null_key(row.get(name))
        for name, descending in fields
    )


def page(rows: Iterable[Row], orders: Sequence[Order], offset: int, limit: int | None) -> list[Row]:
    """``sort_rows(rows, orders)[offset:offset + limit]``, in O(n log k) when limited."""
    if limit is None:
        return sort_rows(list(rows), orders)[offset:]
    end = offset + limit
    if not orders:
        return list(itertools.islice(rows, offset, end))
    return heapq.nsmallest(end, rows, key=sort_key(orders))[offset:]
