"""PostgreSQL (asyncpg): column types, transactions, predicates and SQLSTATE mapping.

Types (CONTRACT §1): text ``COLLATE "C"`` (code point order, case-sensitive
LIKE), ``bigint``, ``double precision``, ``boolean``, ``numeric(p, s)``,
``timestamptz`` (asyncpg reads it back aware, in UTC), ``date``, ``uuid``.
JSON is stored as ``json``, not ``jsonb``: jsonb keeps numbers as
``numeric`` and prints ``1e16`` back as the integer ``10000000000000000``,
so a float would come back as an int (or, beyond 2**63, as a different
number); ``json`` keeps the text repokit wrote. JSON fields can only be
tested for null, so nothing is lost.

Transactions: read-write sessions run at READ COMMITTED (the contract
promises no repeatable read); read-only sessions run ``REPEATABLE READ READ
ONLY`` so that a page, its total count and the has-next / has-previous probes
read one snapshot (a read-only transaction never fails to serialise).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from repokit.capabilities import Capabilities
from repokit.conditions import MatchKind
from repokit.types import FieldType, Kind
from repokit_sqlalchemy.dialect import DriverError, Failure, SQLDialect

__all__ = ["PostgresDialect", "postgres_column_type"]

# SQLSTATE classes and codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
_UNIQUE_VIOLATION = "23505"
_INTEGRITY_CLASS = "23"
_CONFLICTS = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_READ_ONLY = "25006"  # read_only_sql_transaction
_UNAVAILABLE_CLASS = "08"  # connection exception
# admin / crash shutdown, cannot connect now, too many connections
_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300"})
_TOO_LARGE = "54000"  # program_limit_exceeded: e.g. an index row over its size limit


class UtcDateTime(TypeDecorator[datetime]):
    """``timestamptz`` read back aware in UTC.

    asyncpg reads ``-infinity`` as the naive ``datetime.min``, and writes
    ``datetime(1, 1, 1, tzinfo=UTC)`` (the smallest instant) as ``-infinity``:
    it sorts first either way, so only the lost zone needs restoring.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class PlainUUID(TypeDecorator[UUID]):
    """``uuid`` read back as :class:`uuid.UUID` (asyncpg returns its own subclass)."""

    impl = sa.Uuid(as_uuid=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or type(value) is UUID:
            return value
        return UUID(bytes=value.bytes)


def _enum_is_text(ftype: FieldType) -> bool:
    assert ftype.enum is not None
    return isinstance(next(iter(ftype.enum)).value, str)


def postgres_column_type(ftype: FieldType) -> sa.types.TypeEngine[Any]:
    """The PostgreSQL column type for *ftype* (also the default for other dialects)."""
    kind = ftype.kind
    if kind is Kind.STR or (kind is Kind.ENUM and _enum_is_text(ftype)):
        if ftype.max_length is not None:
            return sa.String(ftype.max_length, collation="C")
        return sa.Text(collation="C")
    if kind in (Kind.INT, Kind.ENUM):
        return sa.BigInteger()
    if kind is Kind.FLOAT:
        return sa.Double()
    if kind is Kind.BOOL:
        return sa.Boolean(create_constraint=False)
    if kind is Kind.DECIMAL:
        return sa.Numeric(ftype.precision, ftype.scale, asdecimal=True)
    if kind is Kind.DATETIME:
        return UtcDateTime()
    if kind is Kind.DATE:
        return sa.Date()
    if kind is Kind.UUID:
        return PlainUUID()
    if kind is Kind.JSON:
        return sa.JSON(none_as_null=True)
    raise AssertionError(f"unknown kind {kind!r}")


def _array_element(ftype: FieldType) -> sa.types.TypeEngine[Any]:
    """The element type of an ``= ANY(array)`` operand (no collation: the column's applies)."""
    if ftype.kind is Kind.STR or (ftype.kind is Kind.ENUM and _enum_is_text(ftype)):
        return sa.Text()
    if ftype.kind is Kind.DATETIME:
        return sa.DateTime(timezone=True)
    if ftype.kind is Kind.UUID:
        return sa.Uuid(as_uuid=True)
    return postgres_column_type(ftype)


class PostgresDialect(SQLDialect):
    """PostgreSQL through asyncpg."""

    name = "postgresql"
    # A B-tree index row holds at most about a third of a page (2704 bytes, after
    # compression): 2000 bytes per text field leaves room for the rest of a key.
    capabilities = Capabilities(max_ids_per_statement=10_000, max_indexed_text_bytes=2000)

    def engine_defaults(self, url: sa.URL) -> dict[str, Any]:
        return {}

    def install(self, engine: AsyncEngine, *, owned: bool) -> None:
        return None

    # -- transactions ------------------------------------------------------------------------

    async def begin(self, connection: AsyncConnection, *, read_only: bool) -> None:
        # asyncpg sends BEGIN with the first statement, so an unused session costs nothing.
        if read_only:
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        await connection.begin()

    async def commit(self, connection: AsyncConnection) -> None:
        await connection.commit()

    async def rollback(self, connection: AsyncConnection) -> None:
        await connection.rollback()

    # -- statements --------------------------------------------------------------------------

    def in_(
        self, column: ColumnElement[Any], values: Sequence[Any], ftype: FieldType
    ) -> ColumnElement[bool]:
        # One array parameter: the statement text (and asyncpg's prepared statement)
        # is the same for any number of values.
        found: ColumnElement[bool]
        if len(values) == 1:
            found = column == values[0]
        else:
            array = postgresql.ARRAY(_array_element(ftype))
            found = column == sa.any_(sa.bindparam(None, list(values), type_=array))
        return found

    def match(
        self, column: ColumnElement[Any], kind: MatchKind, pattern: str
    ) -> ColumnElement[bool]:
        # autoescape escapes %, _ and the escape character itself in the operand.
        if kind is MatchKind.CONTAINS:
            return column.contains(pattern, autoescape=True)
        if kind is MatchKind.STARTSWITH:
            return column.startswith(pattern, autoescape=True)
        return column.endswith(pattern, autoescape=True)

    # -- errors ------------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> DriverError | None:
        sqlstate, constraint = _sqlstate(exc)
        if sqlstate is None:
            if _is_connection_error(exc):
                return DriverError(Failure.UNAVAILABLE, "connection")
            return None
        if sqlstate == _UNIQUE_VIOLATION:
            return DriverError(Failure.DUPLICATE, sqlstate, constraint)
        if sqlstate.startswith(_INTEGRITY_CLASS):
            return DriverError(Failure.INTEGRITY, sqlstate, constraint)
        if sqlstate in _CONFLICTS:
            return DriverError(Failure.CONFLICT, sqlstate)
        if sqlstate == _TOO_LARGE:
            return DriverError(Failure.TOO_LARGE, sqlstate)
        if sqlstate == _READ_ONLY:
            return DriverError(Failure.READ_ONLY, sqlstate)
        if sqlstate.startswith(_UNAVAILABLE_CLASS) or sqlstate in _UNAVAILABLE:
            return DriverError(Failure.UNAVAILABLE, sqlstate)
        return None


def _chain(exc: BaseException | None) -> list[BaseException]:
    found: list[BaseException] = []
    while exc is not None and len(found) < 8 and exc not in found:
        found.append(exc)
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException) and orig not in found:
            found.append(orig)
            exc = orig
        exc = exc.__cause__ or exc.__context__
    return found


def _sqlstate(exc: BaseException) -> tuple[str | None, str | None]:
    sqlstate: str | None = None
    constraint: str | None = None
    for error in _chain(exc):
        code = getattr(error, "sqlstate", None)
        if isinstance(code, str) and sqlstate is None:
            sqlstate = code
        name = getattr(error, "constraint_name", None)
        if isinstance(name, str) and constraint is None:
            constraint = name
    return sqlstate, constraint


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from asyncpg.exceptions import (  # type: ignore[import-untyped]
            ConnectionDoesNotExistError,
        )
    except ImportError:  # pragma: no cover - asyncpg is what this dialect runs on
        ConnectionDoesNotExistError = OSError  # noqa: N806
    for error in _chain(exc):
        if isinstance(error, OSError | ConnectionDoesNotExistError):
            return True
        if getattr(error, "connection_invalidated", False):
            return True
    return False
