"""The reference semantics of conditions and orders, evaluated in Python.

This is the executable form of CONTRACT §3–5 over storage-normal rows: the
in-memory backend answers every query with it, and core uses it to check a
scope against the values about to be written (CONTRACT §6).
:func:`predicate` compiles a condition into a test of a row once (for
checking many rows); :func:`evaluate` is the one-row shorthand.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, assert_never

from repokit.conditions import (
    FALSE,
    TRUE,
    And,
    Compare,
    Condition,
    Const,
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

__all__ = ["evaluate", "predicate", "sort_rows", "substitute"]

Predicate = Callable[[Mapping[str, Any]], bool]

# The leaves that read one field; built once (``A | B`` in a call builds a new union).
_Leaf: TypeAlias = Compare | In | IsNull | Match

_MATCH: dict[MatchKind, Callable[[str, str], bool]] = {
    MatchKind.CONTAINS: lambda value, pattern: pattern in value,
    MatchKind.STARTSWITH: str.startswith,
    MatchKind.ENDSWITH: str.endswith,
}


def evaluate(condition: Condition, row: Mapping[str, Any]) -> bool:
    """Whether *row* satisfies *condition*; a missing field is ``None``."""
    return predicate(condition)(row)


def predicate(condition: Condition) -> Predicate:
    """*condition* as a test of a row, dispatched once: the reference semantics.

    Each node becomes a closure, so a condition tested against many rows is
    not re-inspected per row. ``Compare`` ``==`` and ordering operators and
    ``In`` / ``Match`` never match a null field; ``!=`` does (CONTRACT §3).
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
        parts = tuple(map(predicate, condition.items))
        return lambda row: all(part(row) for part in parts)
    if isinstance(condition, Or):
        parts = tuple(map(predicate, condition.items))
        return lambda row: any(part(row) for part in parts)
    if isinstance(condition, Not):
        inner = predicate(condition.item)
        return lambda row: not inner(row)
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


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
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


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
