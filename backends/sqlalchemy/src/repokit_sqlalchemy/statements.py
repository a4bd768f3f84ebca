"""Statements compiled once per plan key, run on the driver with SQLAlchemy's own type processing.

Building a Core statement, computing its cache key and going through
SQLAlchemy's execution layer costs several times a point read on either
driver (measured: ~150 µs of Python per call against a 30–65 µs read). So a
statement is built and compiled with SQLAlchemy only the first time its
*key* is seen: the kind of statement, the table, the condition's plan key
(:mod:`repokit.planning`), the orders and which of limit and offset are
present. Every parameter comes from an operand's slot, the operand itself or
a value the dialect derives from it (:class:`~repokit_sqlalchemy.conditions.Binder`);
the compiled SQL text and, per positional parameter, its slot, derivation
and the dialect's bind processor for its type are kept. Later statements of
that key only plan their operands and run the SQL text on the driver
connection (asyncpg prepares and caches it per connection).

Each compile checks that the statement's parameters are what the plan says:
every one made by the binder from a slot, every operand used, and each
value the binder bound the same as its derivation gives at bind time. A
statement that fails the check still runs, from its own compilation, but is
not cached (:attr:`StatementCache.uncached` counts them, and the tests assert
it stays zero).

Rows come back through :class:`Reader`: the column names and the result
processors of the table's column types on the dialect, applied only to the
columns that have one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from repokit.tables import Row
from repokit_sqlalchemy.conditions import Binder
from repokit_sqlalchemy.dialect import Derive

__all__ = ["Param", "Reader", "Statement", "StatementCache"]

Processor = Callable[[Any], Any]


#: How one positional parameter is made: its operand's slot, a derivation, a bind processor.
Param = tuple[int, Derive | None, Processor | None]


@dataclass(frozen=True, slots=True)
class Statement:
    """Compiled SQL text and how to turn a plan's operands into its parameters."""

    sql: str
    #: For each positional parameter: its slot, derivation and bind processor.
    binds: tuple[Param, ...]
    #: Whether the parameters are the operands themselves, in slot order.
    plain: bool

    def params(self, operands: Sequence[Any]) -> Sequence[Any]:
        """The driver's positional parameters for *operands* (a plan's, in slot order)."""
        if self.plain:
            return operands
        out = []
        for slot, derive, process in self.binds:
            value = operands[slot]
            if derive is not None:
                value = derive(value)
            out.append(value if process is None else process(value))
        return out


class StatementCache:
    """Compiled statements of one backend, by key (least recently added first out).

    Args:
        dialect: the engine's SQLAlchemy dialect (compiles and processes binds).
        size: how many keys to keep.
    """

    def __init__(self, dialect: Dialect, size: int = 2048) -> None:
        self.dialect = dialect
        self.size = size
        self._compiled: dict[Hashable, Statement] = {}
        #: Statements that failed the self-check (each compiled on every use).
        self.uncached = 0

    def get(
        self,
        key: Hashable,
        operands: Sequence[Any],
        build: Callable[[Binder], sa.ClauseElement],
    ) -> tuple[Statement, Sequence[Any]]:
        """The statement of *key* and its parameters for *operands*.

        *build* makes the Core statement from a :class:`Binder` over
        *operands*; it is called only for a key not seen before, and must
        bind operands by the slots the key names.
        """
        found = self._compiled.get(key)
        if found is not None:
            return found, found.params(operands)
        binder = Binder(operands)
        compiled = build(binder).compile(dialect=self.dialect)
        statement = self._statement(compiled, binder)
        if statement is None:
            self.uncached += 1
            return self._once(compiled)
        if len(self._compiled) >= self.size:
            del self._compiled[next(iter(self._compiled))]
        self._compiled[key] = statement
        return statement, statement.params(operands)

    def _processor(self, bind: Any) -> Processor | None:
        process: Processor | None = bind.type.dialect_impl(self.dialect).bind_processor(
            self.dialect
        )
        return process

    def _statement(self, compiled: sa.engine.Compiled, binder: Binder) -> Statement | None:
        """The cacheable statement, or ``None`` if its parameters are not what the plan says."""
        names = _positions(compiled)
        binds = compiled.binds  # type: ignore[attr-defined]
        operands = binder.operands
        params: list[Param] = []
        used: set[int] = set()
        for name in names:
            made = binder.params.get(name)
            if made is None:
                return None  # a parameter of SQLAlchemy's own, not from an operand
            slot, derive = made
            operand = operands[slot]
            if not _same(
                binds[name].effective_value, operand if derive is None else derive(operand)
            ):
                return None  # bound something else than bind time would
            used.add(slot)
            params.append((slot, derive, self._processor(binds[name])))
        if used != set(range(len(operands))):
            return None  # an operand the plan lifted that the statement does not take
        plain = [slot for slot, _, _ in params] == list(range(len(operands))) and all(
            derive is None and process is None for _, derive, process in params
        )
        return Statement(str(compiled), tuple(params), plain)

    def _once(self, compiled: sa.engine.Compiled) -> tuple[Statement, Sequence[Any]]:
        names = _positions(compiled)
        binds = compiled.binds  # type: ignore[attr-defined]
        values = [binds[name].effective_value for name in names]
        params = tuple((i, None, self._processor(binds[name])) for i, name in enumerate(names))
        statement = Statement(str(compiled), params, False)
        return statement, statement.params(values)


def _positions(compiled: sa.engine.Compiled) -> list[str]:
    names = getattr(compiled, "positiontup", None)
    return list(names or ())


def _same(bound: Any, expected: Any) -> bool:
    return type(bound) is type(expected) and bound == expected


class Reader:
    """Turns driver records of a table's columns into rows.

    Records may carry extra columns after the table's (a count): they are
    ignored here and read by position.
    """

    __slots__ = ("names", "processed", "width")

    def __init__(self, columns: Iterable[sa.Column[Any]], dialect: Dialect) -> None:
        columns = list(columns)
        self.names = tuple(column.name for column in columns)
        self.width = len(self.names)
        processed: list[tuple[str, Processor]] = []
        for column in columns:
            impl = column.type.dialect_impl(dialect)
            process = _result_processor(impl, dialect)
            if process is not None:
                processed.append((column.name, process))
        self.processed = tuple(processed)

    def row(self, record: Sequence[Any]) -> Row:
        row = dict(zip(self.names, record, strict=False))
        for name, process in self.processed:
            row[name] = process(row[name])
        return row

    def rows(self, records: Iterable[Sequence[Any]]) -> list[Row]:
        names = self.names
        if not self.processed:
            return [dict(zip(names, record, strict=False)) for record in records]
        return [self.row(record) for record in records]


def _result_processor(impl: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    if isinstance(impl, sa.Numeric | sa.Float) and dialect.driver == "asyncpg":
        # asyncpg already returns Decimal for numeric and float for double
        # precision; SQLAlchemy's asyncpg numeric processor would need the column's
        # type OID to conclude the same.
        return None
    process: Processor | None = impl.result_processor(dialect, None)
    return process
