"""The condition tree and sort orders → SQLAlchemy Core, with two-valued logic.

SQL has three truth values: ``n <> 5``, ``n NOT IN (…)`` and ``NOT (n > 4)``
are *unknown* for a null ``n`` and so silently drop it, where the contract
(CONTRACT §3) wants every predicate true or false. The compiler therefore
pushes negations down to the leaves (De Morgan) and gives every leaf an
exact complement:

============================ ==============================================
leaf                         negated
============================ ==============================================
``f = v``                    ``f <> v OR f IS NULL``
``f <> v OR f IS NULL``      ``f = v``
``f < v``                    ``f >= v OR f IS NULL``
``f IN (…)``                 ``f NOT IN (…) OR f IS NULL``
``f LIKE …`` / substring     ``NOT (…) OR f IS NULL``
``f IS NULL``                ``f IS NOT NULL``
============================ ==============================================

A leaf is unknown only when its field is null, and then it is false, which
is what a WHERE clause makes of unknown in a negation-free tree. The
``OR f IS NULL`` arms are left out for fields that cannot be null. Plain
comparisons keep indexes usable, unlike ``coalesce(…)`` wrappers.

Orders put ``None`` first ascending and last descending (CONTRACT §5):
``NULLS FIRST`` / ``NULLS LAST`` where the dialect needs it spelled out.

Statements are compiled once per *shape* (:mod:`repokit_sqlalchemy.statements`):
every operand becomes a parameter named ``p0``, ``p1``, … in the order the
compiler binds it (:class:`Binder`), and :func:`shape` walks a condition the
same way to produce its cache key and its operands in that order, without
building any SQL. Two conditions with the same key compile to the same SQL.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement, UnaryExpression

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    In,
    IsNull,
    Match,
    Not,
    Op,
    Or,
    Order,
    unknown_node,
)
from repokit.tables import Table
from repokit_sqlalchemy.dialect import SQLSpelling

__all__ = ["Binder", "compile_condition", "compile_orders", "shape"]

_Comparator = Callable[[Any, Any], ColumnElement[bool]]

_OPERATORS: dict[Op, _Comparator] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}
_COMPLEMENT = {
    Op.EQ: Op.NE,
    Op.NE: Op.EQ,
    Op.LT: Op.GE,
    Op.LE: Op.GT,
    Op.GT: Op.LE,
    Op.GE: Op.LT,
}


class Binder:
    """Makes a statement's parameters, named ``p0``, ``p1``, … in binding order.

    :attr:`values` keeps the operands in that order, so a statement compiled
    once can be run again with another condition of the same shape.
    """

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, type_: sa.types.TypeEngine[Any]) -> BindParameter[Any]:
        name = f"p{len(self.values)}"
        self.values.append(value)
        return sa.bindparam(name, value, type_=type_)


class _Compiler:
    __slots__ = ("bind", "columns", "dialect", "table")

    def __init__(
        self, table: Table[Any], columns: sa.Table, dialect: SQLSpelling, bind: Binder
    ) -> None:
        self.table = table
        self.columns = columns
        self.dialect = dialect
        self.bind = bind

    def column(self, field: str) -> tuple[ColumnElement[Any], bool]:
        return self.columns.c[field], self.table.fields[field].type.nullable

    def compile(self, condition: Condition, negated: bool) -> ColumnElement[bool]:
        # isinstance, not match, as in shape(), which mirrors this (see unknown_node).
        if isinstance(condition, Compare):
            return self.compare(condition, negated)
        if isinstance(condition, And | Or):
            parts = [self.compile(item, negated) for item in condition.items]
            # De Morgan: NOT (a AND b) = NOT a OR NOT b.
            return sa.or_(*parts) if isinstance(condition, And) == negated else sa.and_(*parts)
        if isinstance(condition, Not):
            return self.compile(condition.item, not negated)
        if isinstance(condition, IsNull):
            column, _ = self.column(condition.field)
            return column.is_not(None) if negated else column.is_(None)
        if isinstance(condition, In):
            column, nullable = self.column(condition.field)
            ftype = self.table.fields[condition.field].type
            found = self.dialect.in_(column, condition.values, ftype, self.bind)
            return self.complement(found, column, nullable) if negated else found
        if isinstance(condition, Match):
            return self.match(condition, negated)
        if isinstance(condition, Const):
            return sa.true() if condition.value != negated else sa.false()
        raise unknown_node(condition)  # mypy: every member of Condition is handled above

    def compare(self, condition: Compare, negated: bool) -> ColumnElement[bool]:
        column, nullable = self.column(condition.field)
        op = _COMPLEMENT[condition.op] if negated else condition.op
        # A typed parameter, never a constant: SQLAlchemy would turn == True into IS true.
        operand = self.bind(condition.value, column.type)
        expression = _OPERATORS[op](column, operand)
        # Only != matches null; so does the complement of every other operator.
        if nullable and (condition.op is Op.NE) != negated:
            return sa.or_(expression, column.is_(None))
        return expression

    def match(self, condition: Match, negated: bool) -> ColumnElement[bool]:
        column, nullable = self.column(condition.field)
        if not condition.pattern:
            # Every string contains, starts and ends with "".
            return column.is_(None) if negated else column.is_not(None)
        found = self.dialect.match(column, condition.kind, condition.pattern, self.bind)
        return self.complement(found, column, nullable) if negated else found

    @staticmethod
    def complement(
        found: ColumnElement[bool], column: ColumnElement[Any], nullable: bool
    ) -> ColumnElement[bool]:
        # found is unknown only for a null column, so NOT found misses exactly the nulls.
        inverted = sa.not_(found)
        return sa.or_(inverted, column.is_(None)) if nullable else inverted


def compile_condition(
    condition: Condition,
    table: Table[Any],
    columns: sa.Table,
    dialect: SQLSpelling,
    bind: Binder | None = None,
) -> ColumnElement[bool]:
    """*condition* on *table* as a never-unknown SQL expression over *columns*."""
    return _Compiler(table, columns, dialect, bind or Binder()).compile(condition, False)


def shape(
    condition: Condition, table: Table[Any], dialect: SQLSpelling, values: list[Any]
) -> Hashable:
    """The cache key of *condition*'s SQL; appends its operands to *values* in binding order.

    Mirrors :class:`_Compiler` node for node: whatever changes the SQL text
    (node kinds, fields, operators, constants, how an IN list or a match is
    spelled) is in the key, and every value the compiler binds is appended.
    """
    # Runs for every statement: isinstance, not match (see unknown_node).
    if isinstance(condition, Compare):
        values.append(condition.value)
        return (condition.field, condition.op)
    if isinstance(condition, And | Or):
        parts = tuple(shape(item, table, dialect, values) for item in condition.items)
        return ("and" if isinstance(condition, And) else "or", parts)
    if isinstance(condition, Not):
        return ("not", shape(condition.item, table, dialect, values))
    if isinstance(condition, IsNull):
        return ("null", condition.field)
    if isinstance(condition, In):
        ftype = table.fields[condition.field].type
        return ("in", condition.field, dialect.in_shape(condition.values, ftype, values))
    if isinstance(condition, Match):
        if not condition.pattern:
            return ("match", condition.field, None)
        key = dialect.match_shape(condition.kind, condition.pattern, values)
        return ("match", condition.field, key)
    if isinstance(condition, Const):
        return condition.value
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


def compile_orders(
    orders: Sequence[Order],
    table: Table[Any],
    columns: sa.Table | Any,
    dialect: SQLSpelling,
) -> list[UnaryExpression[Any]]:
    """ORDER BY clauses sorting ``None`` smallest; *columns* may be a subquery's ``.c``."""
    clauses: list[UnaryExpression[Any]] = []
    source = columns.c if isinstance(columns, sa.Table) else columns
    for order in orders:
        column = source[order.field]
        nullable = table.fields[order.field].type.nullable
        if order.descending:
            clause = column.desc()
            if nullable and dialect.explicit_nulls_order:
                clause = clause.nulls_last()
        else:
            clause = column.asc()
            if nullable and dialect.explicit_nulls_order:
                clause = clause.nulls_first()
        clauses.append(clause)
    return clauses
