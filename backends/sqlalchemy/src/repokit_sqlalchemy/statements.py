"""Statements compiled once per shape, run on the driver with SQLAlchemy's own type processing.

Building a Core statement, computing its cache key and going through
SQLAlchemy's execution layer costs several times a point read on either
driver (measured: ~150 µs of Python per call against a 30–65 µs read). So a
statement is built and compiled with SQLAlchemy only the first time its
*shape* is seen: the kind of statement, the table, the condition's shape
(:func:`repokit_sqlalchemy.conditions.shape`), the orders and which of
limit and offset are present. Every operand is a parameter named ``p<i>``;
the compiled SQL text, the position of each parameter and the dialect's bind
processor for its type are kept. Later statements of that shape only
collect their operands and run the SQL text on the driver connection
(asyncpg prepares and caches it per connection).

Each compile checks that :func:`~repokit_sqlalchemy.conditions.shape`
collected exactly the operands the compiler bound, and that every parameter
is one of them; a statement that fails the check still runs, from its own
compilation, but is not cached (:attr:`StatementCache.uncached` counts them,
and the tests assert it stays zero).

Rows come back through :class:`Reader`: the column names and the result
processors of the table's column types on the dialect, applied only to the
columns that have one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from repokit.tables import Row
from repokit_sqlalchemy.conditions import Binder

__all__ = ["Reader", "Statement", "StatementCache"]

_PARAM = re.compile(r"p(\d+)\Z")
Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Statement:
    """Compiled SQL text and how to turn collected operands into its parameters."""

    sql: str
    #: For each positional parameter: the index of its operand.
    slots: tuple[int, ...]
    #: For each positional parameter: the bind processor of its type, if any.
    processors: tuple[Processor | None, ...]
    #: Whether no parameter needs processing or reordering.
    plain: bool

    def params(self, values: Sequence[Any]) -> Sequence[Any]:
        """The driver's positional parameters for *values* (the shape's operands)."""
        if self.plain:
            return values
        return [
            values[slot] if process is None else process(values[slot])
            for slot, process in zip(self.slots, self.processors, strict=True)
        ]


class StatementCache:
    """Compiled statements of one backend, by shape (least recently added first out).

    Args:
        dialect: the engine's SQLAlchemy dialect (compiles and processes binds).
        size: how many shapes to keep.
    """

    def __init__(self, dialect: Dialect, size: int = 2048) -> None:
        self.dialect = dialect
        self.size = size
        self._compiled: dict[Hashable, Statement] = {}
        #: Statements that failed the shape check (each compiled on every use).
        self.uncached = 0

    def get(
        self,
        key: Hashable,
        values: list[Any],
        build: Callable[[Binder], sa.ClauseElement],
    ) -> tuple[Statement, Sequence[Any]]:
        """The statement of shape *key* and its parameters for *values*.

        *build* makes the Core statement from a :class:`Binder`; it is called
        only for a shape not seen before, and must bind operands in the order
        the shape collected them into *values*.
        """
        found = self._compiled.get(key)
        if found is not None:
            return found, found.params(values)
        binder = Binder()
        compiled = build(binder).compile(dialect=self.dialect)
        statement = self._statement(compiled, len(binder.values))
        if statement is None or not _same(binder.values, values):
            self.uncached += 1
            return self._once(compiled)
        if len(self._compiled) >= self.size:
            del self._compiled[next(iter(self._compiled))]
        self._compiled[key] = statement
        return statement, statement.params(values)

    def _processor(self, bind: Any) -> Processor | None:
        process: Processor | None = bind.type.dialect_impl(self.dialect).bind_processor(
            self.dialect
        )
        return process

    def _statement(self, compiled: sa.engine.Compiled, bound: int) -> Statement | None:
        names = _positions(compiled)
        slots: list[int] = []
        for name in names:
            matched = _PARAM.match(name)
            if matched is None or int(matched.group(1)) >= bound:
                return None  # a parameter that is not an operand: not cacheable
            slots.append(int(matched.group(1)))
        binds = compiled.binds  # type: ignore[attr-defined]
        processors = tuple(self._processor(binds[name]) for name in names)
        plain = slots == list(range(bound)) and all(p is None for p in processors)
        return Statement(str(compiled), tuple(slots), processors, plain)

    def _once(self, compiled: sa.engine.Compiled) -> tuple[Statement, Sequence[Any]]:
        names = _positions(compiled)
        binds = compiled.binds  # type: ignore[attr-defined]
        values = [binds[name].effective_value for name in names]
        processors = tuple(self._processor(binds[name]) for name in names)
        statement = Statement(str(compiled), tuple(range(len(names))), processors, False)
        return statement, statement.params(values)


def _positions(compiled: sa.engine.Compiled) -> list[str]:
    names = getattr(compiled, "positiontup", None)
    return list(names or ())


def _same(bound: list[Any], collected: list[Any]) -> bool:
    return len(bound) == len(collected) and all(
        type(a) is type(b) and a == b for a, b in zip(bound, collected, strict=True)
    )


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
