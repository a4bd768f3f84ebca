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
``EXISTS (…)``               ``NOT EXISTS (…)``
============================ ==============================================

A semi-join (CONTRACT §25) is a correlated ``EXISTS (SELECT * FROM other AS
sj<n> WHERE sj<n>.f = outer.g AND … AND <inner>)``: never unknown (a null on
either side of ``=`` only keeps that row out of the subquery), so its
negation is ``NOT EXISTS``, true for an entity whose paired field is null,
as the contract wants (``NOT IN (subquery)`` would be unknown there, and
unknown for every entity once the subquery yields a null). The other table
is always aliased, ``sj1``, ``sj2``, … in the order of the key, so a
semi-join on its own table and nested ones name each row source once.

A leaf is unknown only when its field is null, and then it is false, which
is what a WHERE clause makes of unknown in a negation-free tree. The
``OR f IS NULL`` arms are left out for fields that cannot be null. Plain
comparisons keep indexes usable, unlike ``coalesce(…)`` wrappers.

Orders put ``None`` first ascending and last descending (CONTRACT §5):
``NULLS FIRST`` / ``NULLS LAST`` where the dialect needs it spelled out.

Statements are compiled once per plan key (:mod:`repokit.planning`,
:mod:`repokit_sqlalchemy.statements`), and compiled *from the key*: the
compiler below reads only the key, the table and the dialect, so two
conditions with the same key compile to the same SQL. Each operand's slot
is in the key; its parameter is named ``p<slot>``, and a value a dialect
derives from it (a LIKE pattern, a length, a JSON array) ``p<slot>_<n>``,
with the derivation kept for bind time (:class:`Binder`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter, ColumnElement, UnaryExpression

from repokit.conditions import Condition, Op, Order
from repokit.planning import AND, COMPARE, EXISTS, IN, MATCH, NOT, NULL, OR, plan_into
from repokit.tables import Table
from repokit_sqlalchemy.dialect import Bind, Derive, SQLSpelling

__all__ = ["Binder", "compile_condition", "compile_orders", "compile_planned"]

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
    """Makes a statement's parameters from a plan's operands, by slot.

    ``p<slot>`` binds operand *slot* itself; ``p<slot>_<n>`` a value derived
    from it. :attr:`params` keeps, per parameter name, the slot and the
    derivation, so that a statement compiled once runs with the operands of
    any plan of the same key (:class:`repokit_sqlalchemy.statements.Statement`).
    The values bound at compile time are those of :attr:`operands`.
    """

    __slots__ = ("operands", "params")

    def __init__(self, operands: Sequence[Any] = ()) -> None:
        self.operands = operands
        #: Parameter name -> (slot, derivation or ``None``), in binding order.
        self.params: dict[str, tuple[int, Derive | None]] = {}

    def __call__(
        self, slot: int, type_: sa.types.TypeEngine[Any], derive: Derive | None = None
    ) -> BindParameter[Any]:
        name = f"p{slot}" if derive is None else f"p{slot}_{len(self.params)}"
        self.params[name] = (slot, derive)
        value = self.operands[slot]
        return sa.bindparam(name, value if derive is None else derive(value), type_=type_)

    def slot(self, slot: int) -> Bind:
        """The binder of one slot, as a dialect's spelling takes it (:class:`Bind`)."""
        return lambda type_, derive=None, /: self(slot, type_, derive)


class _Compiler:
    """Compiles a plan key (:mod:`repokit.planning`) once per key: not on a per-call path."""

    __slots__ = ("aliases", "bind", "columns", "dialect", "table")

    def __init__(
        self,
        table: Table[Any],
        columns: sa.FromClause,
        dialect: SQLSpelling,
        bind: Binder,
        aliases: list[int] | None = None,
    ) -> None:
        self.table = table
        self.columns = columns
        self.dialect = dialect
        self.bind = bind
        #: How many semi-join aliases the statement has so far (shared with nested compilers).
        self.aliases = [0] if aliases is None else aliases

    def column(self, field: str) -> tuple[ColumnElement[Any], bool]:
        return self.columns.c[field], self.table.fields[field].type.nullable

    def compile(self, key: Any, negated: bool) -> ColumnElement[bool]:
        if key is True or key is False:
            return sa.true() if key != negated else sa.false()
        tag = key[0]
        if tag == COMPARE:
            return self.compare(key[1], key[2], key[3], negated)
        if tag in (AND, OR):
            if tag == OR and not negated:
                rows = self.row_values(key[1])
                if rows is not None:
                    return rows
            parts = [self.compile(item, negated) for item in key[1]]
            # De Morgan: NOT (a AND b) = NOT a OR NOT b.
            return sa.or_(*parts) if (tag == AND) == negated else sa.and_(*parts)
        if tag == NOT:
            return self.compile(key[1], not negated)
        if tag == NULL:
            column, _ = self.column(key[1])
            return column.is_not(None) if negated else column.is_(None)
        if tag == IN:
            _, field, size, slot = key
            column, nullable = self.column(field)
            ftype = self.table.fields[field].type
            found = self.dialect.in_(column, size, ftype, self.bind.slot(slot))
            return self.complement(found, column, nullable) if negated else found
        if tag == MATCH:
            _, field, kind, slot = key
            column, nullable = self.column(field)
            found = self.dialect.match(column, kind, self.bind.slot(slot))
            return self.complement(found, column, nullable) if negated else found
        if tag == EXISTS:
            return self.exists(key[1], key[2], key[3], negated)
        raise TypeError(f"unknown plan key {key!r}")

    def exists(
        self, inner: Table[Any], pairs: Sequence[tuple[str, str]], where: Any, negated: bool
    ) -> ColumnElement[bool]:
        # schema builds partial indexes with this module: imported when first needed.
        from repokit_sqlalchemy.schema import sql_table

        self.aliases[0] += 1
        alias = sql_table(inner).alias(f"sj{self.aliases[0]}")
        nested = _Compiler(inner, alias, self.dialect, self.bind, self.aliases)
        correlated = [alias.c[field] == self.columns.c[outer] for field, outer in pairs]
        found = sa.exists().where(*correlated, nested.compile(where, False))
        return sa.not_(found) if negated else found

    def row_values(self, items: Sequence[Any]) -> ColumnElement[bool] | None:
        """``(f1, f2) IN ((?, ?), …)`` for a disjunction of equalities on non-null fields.

        What :meth:`Table.keys_condition` makes of a chunk of composite keys
        (CONTRACT §22): said as one row-value ``IN``, which both databases
        seek an index with, where a long ``OR`` would exceed SQLite's limit on
        expression depth (1000). ``None`` for any other disjunction.
        """
        fields: tuple[str, ...] | None = None
        slots: list[tuple[int, ...]] = []
        for item in items:
            if item is True or item is False or item[0] != AND:
                return None
            parts = item[1]
            if not all(p[0] == COMPARE and p[2] is Op.EQ for p in parts):
                return None
            names = tuple(p[1] for p in parts)
            if fields is None:
                fields = names
                if len(set(names)) < len(names) or any(self.column(f)[1] for f in names):
                    return None
            elif names != fields:
                return None
            slots.append(tuple(p[3] for p in parts))
        if fields is None:
            return None
        columns = [self.columns.c[f] for f in fields]
        rows = [
            sa.tuple_(*(self.bind(s, c.type) for s, c in zip(row, columns, strict=True)))
            for row in slots
        ]
        return sa.tuple_(*columns).in_(rows)

    def compare(self, field: str, op: Op, slot: int, negated: bool) -> ColumnElement[bool]:
        column, nullable = self.column(field)
        compared = _COMPLEMENT[op] if negated else op
        # A typed parameter, never a constant: SQLAlchemy would turn == True into IS true.
        operand = self.bind(slot, column.type)
        expression = _OPERATORS[compared](column, operand)
        # Only != matches null; so does the complement of every other operator.
        if nullable and (op is Op.NE) != negated:
            return sa.or_(expression, column.is_(None))
        return expression

    @staticmethod
    def complement(
        found: ColumnElement[bool], column: ColumnElement[Any], nullable: bool
    ) -> ColumnElement[bool]:
        # found is unknown only for a null column, so NOT found misses exactly the nulls.
        inverted = sa.not_(found)
        return sa.or_(inverted, column.is_(None)) if nullable else inverted


def compile_planned(
    key: Hashable, table: Table[Any], columns: sa.FromClause, dialect: SQLSpelling, bind: Binder
) -> ColumnElement[bool]:
    """The condition planned as *key* on *table*: a never-unknown SQL expression over *columns*.

    Reads nothing but *key* (and the table's fields): equal keys, equal SQL.
    Operands are bound through *bind*, by the slots the key names.
    """
    return _Compiler(table, columns, dialect, bind).compile(key, False)


def compile_condition(
    condition: Condition,
    table: Table[Any],
    columns: sa.Table,
    dialect: SQLSpelling,
) -> ColumnElement[bool]:
    """*condition* on *table* as a never-unknown SQL expression over *columns*.

    Planned and compiled on the spot, its operands bound as values (a partial
    index's WHERE, compiled into DDL).
    """
    operands: list[Any] = []
    key = plan_into(condition, operands)
    return compile_planned(key, table, columns, dialect, Binder(operands))


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
