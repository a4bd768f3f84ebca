"""Hypothesis strategies over the suite's ``rk_items`` table: entities, conditions, orders, pages.

The values are drawn from small pools on purpose, so generated entities share
sort keys (ties), hold nulls, and meet the operands of generated conditions:

* :func:`item_for` / :func:`item_lists` — :class:`~repokit.testing.schema.Item`
  entities of one tenant with every value kind, unicode names that differ only
  by case or fold together (``ß``/``SS``, ``K``/``k``), datetimes that floor to
  the same millisecond or name one instant in different zones, UUIDs with the
  high bit set (unsigned big-endian order); lists honour the table's unique keys.
* :func:`conditions` — condition trees over the items' fields with every
  operator (comparisons, null tests, ``in_``/``not_in`` with and without
  ``None``, literal text matching, ``ignore_case``, off-grid operands) combined
  with ``&``, ``|``, ``~``, :func:`~repokit.and_` and :func:`~repokit.or_`
  (including the empty ones).
* :func:`orders`, :func:`offset_paginations`, :func:`cursor_starts`,
  :func:`page_sizes` and :func:`paginations` — sort keys and pages.

:func:`as_stored` gives an entity as every backend must return it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from hashlib import blake2b
from typing import Any
from uuid import UUID

from hypothesis import strategies as st

from repokit.conditions import Condition, Order, and_, or_
from repokit.pagination import CursorPagination, OffsetPagination, Pagination
from repokit.testing.schema import Item, ItemId, Level, Status, items

__all__ = [
    "ORDERABLE_FIELDS",
    "as_stored",
    "conditions",
    "cursor_starts",
    "ids_for",
    "item_changes",
    "item_for",
    "item_lists",
    "offset_paginations",
    "orders",
    "page_sizes",
    "paginations",
]

#: Fields of ``rk_items`` a search may sort by (every declared field but JSON).
ORDERABLE_FIELDS = (
    "id", "tenant", "name", "status", "code", "score", "ratio", "price",
    "flag", "level", "at", "day", "ref", "version",
)  # fmt: skip

# Characters that tie or fold together: ß/SS/ss, K (Kelvin sign)/k, É/é, İ/i̇,
# ﬁ/fi, plus LIKE and regex metacharacters and a character outside the BMP.
_TEXT = "aAbKkßSsÉéİﬁ%_\\.$ 😀"
_INT64 = (-(2**63), 2**63 - 1)
_UTC2 = timezone(timedelta(hours=2))
_INSTANTS = (
    datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2024, 1, 1, 0, 0, 0, 999, tzinfo=UTC),  # floors onto the previous one
    datetime(2024, 1, 1, 2, 0, tzinfo=_UTC2),  # the same instant in another zone
    datetime(2024, 1, 1, 0, 0, 0, 1_500, tzinfo=UTC),
    datetime(2024, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2099, 12, 31, 12, tzinfo=_UTC2),
)
_DAYS = (date(1999, 12, 31), date(2024, 1, 1), date(2024, 1, 2), date(2024, 2, 29))
_REFS = (
    UUID(int=0),
    UUID(int=1),
    UUID(int=2**64),
    UUID(int=2**127),
    UUID("7fffffff-ffff-ffff-ffff-ffffffffffff"),
    UUID("ffffffff-ffff-ffff-ffff-fffffffffffe"),
)
_PRICES = tuple(
    Decimal(v) for v in ("-9999999999.99", "-1.00", "0.00", "0.01", "1.5", "2.50", "9999999999.99")
)
# Operands between stored values: conditions rewrite them onto the stored grid.
_OFF_GRID_PRICES = tuple(Decimal(v) for v in ("-0.001", "0.005", "2.499", "2.501"))
_JSON: tuple[Any, ...] = (
    {},
    [],
    {"a": 1},
    {"a": [1, "x", True, 1.5]},
    [None, {"k": "v"}],
    {"nested": {"deep": ["é", -(2**63)]}},
)

_names = st.text(alphabet=_TEXT, min_size=1, max_size=4) | st.just("")
_codes = st.text(alphabet="aAb%_", min_size=1, max_size=2)
_scores = st.sampled_from((-1, 0, 1, 2, 3, *_INT64)) | st.integers(*_INT64)
_ratios = st.sampled_from((-1.5, -0.0, 0.0, 0.5, 1.0, 1e300, -5e-324)) | st.floats(
    allow_nan=False, allow_infinity=False
)
_prices = st.sampled_from(_PRICES)
_levels = st.sampled_from(Level)
_instants = st.sampled_from(_INSTANTS)
_days = st.sampled_from(_DAYS)
_refs = st.sampled_from(_REFS)
_statuses = st.sampled_from((Status.ACTIVE, Status.ACTIVE, Status.ARCHIVED, Status.DELETED))


def as_stored(entity: Item) -> Item:
    """*entity* as every backend returns it: values normalised (CONTRACT §1)."""
    return items.from_row(items.to_row(entity))


def ids_for(tenant: str) -> st.SearchStrategy[ItemId]:
    """Primary keys no other tenant's entities use (examples replay the same draws).

    The first byte is drawn, often with its high bit set, so keys still order
    differently as signed and unsigned bytes; the rest depends on *tenant*.
    """
    lead = st.sampled_from((0x00, 0x7F, 0x80, 0xFF)) | st.integers(0, 255)
    return st.builds(
        lambda first, raw: ItemId(
            UUID(bytes=bytes((first,)) + blake2b(tenant.encode() + raw, digest_size=15).digest())
        ),
        lead,
        st.binary(min_size=1, max_size=4),
    )


def item_for(tenant: str) -> st.SearchStrategy[Item]:
    """One entity of *tenant*; every optional field is often null."""
    return st.builds(
        Item,
        id=ids_for(tenant),
        tenant=st.just(tenant),
        name=_names,
        status=_statuses,
        code=st.none() | _codes,
        score=st.none() | _scores,
        ratio=st.none() | _ratios,
        price=st.none() | _prices,
        flag=st.none() | st.booleans(),
        level=st.none() | _levels,
        at=st.none() | _instants,
        day=st.none() | _days,
        ref=st.none() | _refs,
        data=st.none() | st.sampled_from(_JSON),
        version=st.integers(0, 2),
    )


def _live_name(item: Item) -> Any:
    # Names are unique among live entities only; deleted ones never collide.
    return item.name if item.status is not Status.DELETED else item.id


def _code(item: Item) -> Any:
    return item.code if item.code is not None else item.id


def item_lists(
    tenant: str, *, min_size: int = 0, max_size: int = 12
) -> st.SearchStrategy[list[Item]]:
    """Entities of *tenant* that can be created together (the unique keys hold).

    Half the lists are long (at least halfway to *max_size*): hypothesis
    otherwise favours short ones, and ties need many entities.
    """

    def lists(least: int) -> st.SearchStrategy[list[Item]]:
        return st.lists(
            item_for(tenant),
            min_size=least,
            max_size=max_size,
            unique_by=(lambda item: item.id, _live_name, _code),
        )

    return lists(min_size) | lists(max(min_size, (min_size + max_size) // 2))


def item_changes() -> st.SearchStrategy[dict[str, Any]]:
    """The values an update sets (possibly none): new text, nulls, a status, ties."""
    return st.fixed_dictionaries(
        {},
        optional={
            "name": _names,
            "code": st.none() | _codes,
            "score": st.none() | _scores,
            "ratio": st.none() | _ratios,
            "at": st.none() | _instants,
            "status": _statuses,
        },
    )


_POOLS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.uuids().map(ItemId),
    "tenant": _names,
    "name": st.text(alphabet=_TEXT, max_size=70),  # may exceed MaxLength: matches nothing
    "status": st.sampled_from(Status),
    "code": _codes,
    "score": _scores,
    "ratio": _ratios,
    "price": st.sampled_from(_PRICES + _OFF_GRID_PRICES) | st.integers(-3, 3),
    "flag": st.booleans(),
    "level": _levels,
    "at": _instants,
    "day": _days,
    "ref": _refs,
    "version": st.integers(0, 3),
}
_COMPARISONS: tuple[Callable[[Any, Any], Any], ...] = (
    operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge,
)  # fmt: skip
_TEXTUAL = ("name", "code", "tenant")
_FOLDED = ("name",)
_MATCHES = ("contains", "startswith", "endswith")


@dataclass(frozen=True)
class _Operands:
    """The operand strategies of one field, built once per :func:`conditions` call."""

    values: st.SearchStrategy[Any]
    lists: st.SearchStrategy[list[Any]]
    fragments: st.SearchStrategy[Any]
    shapes: st.SearchStrategy[str]


def _operands(field: str, pool: Sequence[Item]) -> _Operands:
    """Values of *field*: its pool, or a non-null value some entity of *pool* holds."""
    seen = [v for v in dict.fromkeys(getattr(i, field) for i in pool) if v is not None]
    values = _POOLS[field] | st.sampled_from(seen) if seen else _POOLS[field]
    shapes = ["compare", "null", "in"]
    if field in _TEXTUAL:
        shapes.append("match")
    if field in _FOLDED:
        shapes += ["folded match", "folded eq"]
    return _Operands(
        values=values,
        lists=st.lists(st.none() | values, max_size=3),
        fragments=_FRAGMENTS | values,
        shapes=st.sampled_from(shapes),
    )


class _LazyOperands(dict[str, _Operands]):
    """Builds a field's operand strategies on first use (hypothesis validates each once)."""

    def __init__(self, pool: Sequence[Item]) -> None:
        super().__init__()
        self.pool = pool

    def __missing__(self, field: str) -> _Operands:
        self[field] = operands = _operands(field, self.pool)
        return operands


_FRAGMENTS = st.text(alphabet=_TEXT, max_size=2)
_LEAF_FIELDS = st.sampled_from((*ORDERABLE_FIELDS, "data"))


@st.composite
def _leaf(draw: st.DrawFn, operands: Mapping[str, _Operands]) -> Condition:
    field = draw(_LEAF_FIELDS)
    column = items.c[field]
    if field == "data":
        return column.is_null() if draw(st.booleans()) else column.is_not_null()
    strategies = operands[field]
    shape = draw(strategies.shapes)
    if shape == "compare":
        compare = draw(st.sampled_from(_COMPARISONS))
        result: Condition = compare(column, draw(strategies.values))
    elif shape == "null":
        # == None and != None are spelled as comparisons on purpose.
        result = column == None if draw(st.booleans()) else column != None  # noqa: E711
    elif shape == "in":
        values = draw(strategies.lists)
        result = column.in_(values) if draw(st.booleans()) else column.not_in(values)
    elif shape == "folded eq":
        result = column.eq(draw(strategies.values), ignore_case=True)
    else:
        fragment = draw(strategies.fragments)
        method = getattr(column, draw(st.sampled_from(_MATCHES)))
        result = method(fragment, ignore_case=shape == "folded match")
    return result


def _combine(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    pairs = st.tuples(children, children)
    # min_size=1: extend(nothing()) must stay empty; the empty and_()/or_() are leaves.
    many = st.lists(children, min_size=1, max_size=3)
    return st.one_of(
        pairs.map(lambda p: p[0] & p[1]),
        pairs.map(lambda p: p[0] | p[1]),
        children.map(lambda c: ~c),
        many.map(lambda cs: and_(*cs)),
        many.map(lambda cs: or_(*cs)),
    )


def conditions(pool: Sequence[Item] = (), *, max_leaves: int = 6) -> st.SearchStrategy[Condition]:
    """Condition trees over ``rk_items``; operands are often values the *pool* holds."""
    leaves = st.one_of(_leaf(_LazyOperands(tuple(pool))), st.sampled_from([and_(), or_()]))
    return st.recursive(leaves, _combine, max_leaves=max_leaves)


def orders(*, max_keys: int = 3) -> st.SearchStrategy[list[Order]]:
    """Up to *max_keys* distinct sort keys, each ascending or descending."""
    keys = st.lists(
        st.tuples(st.sampled_from(ORDERABLE_FIELDS), st.booleans()),
        max_size=max_keys,
        unique_by=lambda key: key[0],
    )
    return keys.map(
        lambda ks: [items.c[f].desc() if descending else items.c[f].asc() for f, descending in ks]
    )


def page_sizes(max_size: int = 5) -> st.SearchStrategy[int]:
    """Page sizes from 1 to *max_size*."""
    return st.integers(1, max_size)


def offset_paginations(
    *, max_limit: int = 5, max_offset: int = 15
) -> st.SearchStrategy[OffsetPagination]:
    """Offset pages, including ones beyond the end of a small result."""
    return st.builds(
        OffsetPagination, limit=page_sizes(max_limit), offset=st.integers(0, max_offset)
    )


def cursor_starts(*, max_size: int = 5) -> st.SearchStrategy[CursorPagination]:
    """The first page (``first=n``) or the last page (``last=n``) of a cursor walk."""
    return st.one_of(
        page_sizes(max_size).map(lambda n: CursorPagination(first=n)),
        page_sizes(max_size).map(lambda n: CursorPagination(last=n)),
    )


def paginations(*, max_size: int = 5) -> st.SearchStrategy[Pagination | None]:
    """No pagination, an offset page, or the first or last cursor page."""
    return st.none() | offset_paginations(max_limit=max_size) | cursor_starts(max_size=max_size)
