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

import functools
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

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
    ignored here and read by position. :attr:`row` is a function made for
    the columns (see :func:`_row_function`).
    """

    __slots__ = ("names", "row", "width")

    def __init__(self, columns: Iterable[sa.Column[Any]], dialect: Dialect) -> None:
        columns = list(columns)
        self.names = tuple(column.name for column in columns)
        self.width = len(self.names)
        processors = [
            _result_processor(column.type.dialect_impl(dialect), dialect) for column in columns
        ]
        #: ``row(record) -> Row``: the record's first :attr:`width` values by column name,
        #: each through its column type's result processor, if it has one.
        self.row: Callable[[Sequence[Any]], Row] = _row_function(self.names, processors)

    def rows(self, records: Iterable[Sequence[Any]]) -> list[Row]:
        row = self.row
        return [row(record) for record in records]


def _row_function(
    names: Sequence[str], processors: Sequence[Processor | None]
) -> Callable[[Sequence[Any]], Row]:
    """``lambda record: {names[0]: process0(record[0]), names[1]: record[1], …}``, made once.

    Every row a read returns goes through it: one dict display instead of
    ``dict(zip())`` and a store per processed column (≈0.5 µs a row of seven
    columns, a quarter of the reader's cost). The source is generated, as
    :mod:`dataclasses` does for ``__init__``: column names enter it only as
    ``repr()`` string literals, processors only as names bound in its namespace.
    """
    namespace: dict[str, Any] = {}
    entries = []
    for index, (name, process) in enumerate(zip(names, processors, strict=True)):
        value = f"record[{index}]"
        if process is not None:
            namespace[f"_p{index}"] = process
            value = f"_p{index}({value})"
        entries.append(f"{name!r}: {value}")
    source = f"def row(record):\n    return {{{', '.join(entries)}}}\n"
    exec(source, namespace)  # see the docstring: no caller text but literals
    function: Callable[[Sequence[Any]], Row] = namespace["row"]
    return function


def _result_processor(impl: sa.types.TypeEngine[Any], dialect: Dialect) -> Processor | None:
    if isinstance(impl, sa.Numeric | sa.Float) and dialect.driver == "asyncpg":
        # asyncpg already returns Decimal for numeric and float for double
        # precision; SQLAlchemy's asyncpg numeric processor would need the column's
        # type OID to conclude the same.
        return None
    if (
        isinstance(impl, TypeDecorator)
        and type(impl).process_result_value is not TypeDecorator.process_result_value
        and _plain(impl.load_dialect_impl(dialect), dialect)
    ):
        # repokit's decorators (aware datetimes, plain UUIDs, SQLite's storage forms) over
        # a type the driver returns as it is: their own method, one call a value instead
        # of SQLAlchemy's wrapper calling it (the same method, with the same dialect).
        return functools.partial(impl.process_result_value, dialect=dialect)
    process: Processor | None = impl.result_processor(dialect, None)
    return process


def _plain(impl: sa.types.TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether *impl* reads values as the driver returns them (no result processor)."""
    return impl.dialect_impl(dialect).result_processor(dialect, None) is None
