"""The reference semantics of conditions and orders, evaluated in Python.

This is the executable form of CONTRACT §3–5 over storage-normal rows: the
in-memory backend answers every query with it, and core uses it to check a
scope against the values about to be written (CONTRACT §6).
:func:`predicate` compiles a condition into a test of a row once (for
checking many rows); :func:`evaluate` is the one-row shorthand.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias, assert_never

from repokit.conditions import (
    FALSE,
    TRUE,
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    MatchKind,
    Not,
    Op,
    Or,
    Order,
    and_,
    not_,
    or_,
    unknown_node,
)
from repokit.errors import InvalidQuery

if TYPE_CHECKING:
    from repokit.tables import Table

__all__ = ["RowsOf", "evaluate", "predicate", "sort_rows", "substitute"]

Predicate = Callable[[Mapping[str, Any]], bool]
#: The rows of another table a semi-join reads (CONTRACT §25), as the caller sees them.
RowsOf = Callable[["Table[Any]"], Iterable[Mapping[str, Any]]]

# The leaves that read one field; built once (``A | B`` in a call builds a new union).
_Leaf: TypeAlias = Compare | In | IsNull | Match

_MATCH: dict[MatchKind, Callable[[str, str], bool]] = {
    MatchKind.CONTAINS: lambda value, pattern: pattern in value,
    MatchKind.STARTSWITH: str.startswith,
    MatchKind.ENDSWITH: str.endswith,
}


def evaluate(condition: Condition, row: Mapping[str, Any], rows_of: RowsOf | None = None) -> bool:
    """Whether *row* satisfies *condition*; a missing field is ``None``."""
    return predicate(condition, rows_of)(row)


def predicate(condition: Condition, rows_of: RowsOf | None = None) -> Predicate:
    """*condition* as a test of a row, dispatched once: the reference semantics.

    Each node becomes a closure, so a condition tested against many rows is
    not re-inspected per row. ``Compare`` ``==`` and ordering operators and
    ``In`` / ``Match`` never match a null field; ``!=`` does (CONTRACT §3).

    A semi-join (:class:`Exists`) reads the other table through *rows_of*,
    once, when the predicate is made: the keys of the inner rows that match
    are collected then, so the predicate answers as of that moment (the
    memory backend makes it and runs it without awaiting). Without
    *rows_of* a semi-join raises :class:`~repokit.errors.InvalidQuery`.
    """
    # Runs for every query of the memory backend: isinstance, not match (see unknown_node).
    if isinstance(condition, Const):
        const = condition.value
        return lambda row: const
    if isinstance(condition, Compare):
        return _compare_predicate(condition)
    if isinstance(condition, In):
        field, values = condition.field, condition.values
        return lambda row: (value := row.get(field)) is not None and value in values
    if isinstance(condition, IsNull):
        field = condition.field
        return lambda row: row.get(field) is None
    if isinstance(condition, Match):
        field, pattern, match = condition.field, condition.pattern, _MATCH[condition.kind]
        return lambda row: (value := row.get(field)) is not None and match(value, pattern)
    if isinstance(condition, And):
        parts = tuple(predicate(item, rows_of) for item in condition.items)
        return lambda row: all(part(row) for part in parts)
    if isinstance(condition, Or):
        parts = tuple(predicate(item, rows_of) for item in condition.items)
        return lambda row: any(part(row) for part in parts)
    if isinstance(condition, Not):
        inner = predicate(condition.item, rows_of)
        return lambda row: not inner(row)
    if isinstance(condition, Exists):
        return _exists_predicate(condition, rows_of)
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


def _exists_predicate(condition: Exists, rows_of: RowsOf | None) -> Predicate:
    """The semi-join as a set of the matching inner rows' keys (no null in any)."""
    if rows_of is None:
        raise InvalidQuery(
            f"a condition across tables (on {condition.inner.name!r}) needs the database "
            "to be evaluated"
        )
    matches = predicate(condition.where, rows_of)
    inner = [name for name, _ in condition.on]
    outer = [name for _, name in condition.on]
    keys = {tuple(map(row.get, inner)) for row in rows_of(condition.inner) if matches(row)}
    keys = {key for key in keys if None not in key}
    if not outer:
        found = bool(keys)
        return lambda row: found
    if len(outer) == 1:
        (field,) = outer
        values = {key[0] for key in keys}
        return lambda row: (value := row.get(field)) is not None and value in values
    return lambda row: (key := tuple(map(row.get, outer))) in keys and None not in key


def _compare_predicate(condition: Compare) -> Predicate:
    field, operand = condition.field, condition.value
    compare: Callable[[Any, Any], bool]
    match condition.op:
        case Op.EQ:
            return lambda row: (value := row.get(field)) is not None and bool(value == operand)
        case Op.NE:
            return lambda row: (value := row.get(field)) is None or bool(value != operand)
        case Op.LT:
            compare = operator.lt
        case Op.LE:
            compare = operator.le
        case Op.GT:
            compare = operator.gt
        case Op.GE:
            compare = operator.ge
        case _:
            assert_never(condition.op)
    return lambda row: (value := row.get(field)) is not None and compare(value, operand)


def substitute(condition: Condition, known: Mapping[str, Any]) -> Condition:
    """Partially evaluate *condition* with the fields in *known* fixed.

    Leaves that read only known fields become :data:`TRUE` / :data:`FALSE`;
    the rest is kept. Used to check a scope against a batch update's values
    without reading every entity.

    A semi-join takes the known values of its outer fields into its inner
    condition (``inner_field == value``; ``FALSE`` for a null, which matches
    nothing); once every pair is known it is the same for every entity, and
    :func:`repokit.semijoins.settle` asks the database for it.
    """
    # Runs for every scoped update: isinstance, not match (see unknown_node).
    if isinstance(condition, And):
        return and_(*(substitute(item, known) for item in condition.items))
    if isinstance(condition, Or):
        return or_(*(substitute(item, known) for item in condition.items))
    if isinstance(condition, Not):
        return not_(substitute(condition.item, known))
    if isinstance(condition, Const):
        return condition
    if isinstance(condition, _Leaf):
        if condition.field in known:
            return TRUE if evaluate(condition, known) else FALSE
        return condition
    if isinstance(condition, Exists):
        return _substitute_exists(condition, known)
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


def _substitute_exists(condition: Exists, known: Mapping[str, Any]) -> Condition:
    if not any(outer in known for _, outer in condition.on):
        return condition
    pinned: list[Condition] = []
    rest: list[tuple[str, str]] = []
    for inner, outer in condition.on:
        if outer not in known:
            rest.append((inner, outer))
            continue
        value = known[outer]
        if value is None:
            return FALSE  # a null pairs with nothing
        pinned.append(Compare(condition.inner.name, inner, Op.EQ, value))
    return Exists(condition.table, condition.inner, tuple(rest), and_(condition.where, *pinned))


def sort_rows(rows: Sequence[Mapping[str, Any]], orders: Sequence[Order]) -> list[Any]:
    """Sort rows by *orders* (``None`` smallest), last key first, stably."""
    result = list(rows)
    for order in reversed(orders):
        field = order.field

        def key(row: Mapping[str, Any], field: str = field) -> tuple[bool, Any]:
            value = row.get(field)
            return (value is not None, value if value is not None else 0)

        result.sort(key=key, reverse=order.descending)
    return result
