"""PostgreSQL (asyncpg): column types, transactions, predicates and SQLSTATE mapping.

Types (CONTRACT §1): text ``COLLATE "C"`` (code point order, case-sensitive
LIKE), ``bigint``, ``double precision``, ``boolean``, ``numeric(p, s)``,
``timestamptz`` (asyncpg reads it back aware, in UTC), ``date``, ``uuid``.
JSON is stored as ``json``, not ``jsonb``: jsonb keeps numbers as
``numeric`` and prints ``1e16`` back as the integer ``10000000000000000``,
so a float would come back as an int (or, beyond 2**63, as a different
number); ``json`` keeps the text repokit wrote. JSON fields can only be
tested for null, so nothing is lost.

Transactions: read-write sessions run at the server's default isolation
(READ COMMITTED unless configured otherwise; the contract promises no
repeatable read). Read-only sessions open no transaction at all: each of
their statements reads its own snapshot, and a page and its total count are
one statement. repokit refuses their writes before any I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from repokit.capabilities import Capabilities
from repokit.conditions import MatchKind
from repokit.types import FieldType, Kind
from repokit_sqlalchemy.dialect import Bind, DriverError, Failure, SQLDialect

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
_ESCAPE = "/"
_ISOLATION_LEVELS = frozenset(
    {"SERIALIZABLE", "REPEATABLE READ", "READ COMMITTED", "READ UNCOMMITTED"}
)


def _like_pattern(kind: MatchKind, pattern: str) -> str:
    """The LIKE operand matching *pattern* literally (escape character ``/``)."""
    literal = pattern.replace(_ESCAPE, _ESCAPE * 2).replace("%", "/%").replace("_", "/_")
    if kind is MatchKind.CONTAINS:
        return f"%{literal}%"
    if kind is MatchKind.STARTSWITH:
        return f"{literal}%"
    return f"%{literal}"


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

    # -- transactions and statements on the driver ----------------------------------------------

    def driver(self, connection: Any) -> Any:
        return connection  # the asyncpg connection itself

    def begin_statement(self, *, read_only: bool, options: Mapping[str, Any]) -> str | None:
        # A read-only session runs each statement on its own (a page and its count are
        # one statement): no BEGIN / ROLLBACK round trips around a single read.
        if read_only:
            return None
        parts = ["BEGIN"]
        isolation = options.get("isolation_level")
        if isolation in _ISOLATION_LEVELS:
            parts.append(f"ISOLATION LEVEL {isolation}")
        if options.get("postgresql_readonly"):
            parts.append("READ ONLY")
        if options.get("postgresql_deferrable"):
            parts.append("DEFERRABLE")
        return " ".join(parts)

    async def fetch(
        self, driver: Any, sql: str, params: Sequence[Any], begin: str | None
    ) -> Sequence[Sequence[Any]]:
        if begin is not None:
            await driver.execute(begin)
        records: Sequence[Sequence[Any]] = await driver.fetch(sql, *params)
        return records

    async def execute(self, driver: Any, sql: str, params: Sequence[Any], begin: str | None) -> int:
        if begin is not None:
            await driver.execute(begin)
        status: str = await driver.execute(sql, *params)
        return int(status.rpartition(" ")[2])  # "UPDATE 3", "DELETE 3"

    async def executemany(
        self, driver: Any, sql: str, params: list[Sequence[Any]], begin: str | None
    ) -> None:
        if begin is not None:
            await driver.execute(begin)
        await driver.executemany(sql, params)

    async def end(self, driver: Any, *, commit: bool) -> None:
        await driver.execute("COMMIT" if commit else "ROLLBACK")

    def in_transaction(self, driver: Any) -> bool:
        return bool(driver.is_in_transaction())

    def closed(self, driver: Any) -> bool:
        return bool(driver.is_closed())

    async def run_ddl(self, connection: Any, driver: Any, work: Callable[[Any], None]) -> None:
        async with connection.begin():
            await connection.run_sync(work)

    # -- statements --------------------------------------------------------------------------

    def in_(
        self, column: ColumnElement[Any], values: Sequence[Any], ftype: FieldType, bind: Bind
    ) -> ColumnElement[bool]:
        # One array parameter: the statement text (and asyncpg's prepared statement)
        # is the same for any number of values.
        if len(values) == 1:
            return column == bind(values[0], column.type)
        array = postgresql.ARRAY(_array_element(ftype))
        return column == sa.any_(bind(list(values), array))

    def in_shape(self, values: Sequence[Any], ftype: FieldType, out: list[Any]) -> Hashable:
        if len(values) == 1:
            out.append(values[0])
            return 1
        out.append(list(values))
        return "array"

    def match(
        self, column: ColumnElement[Any], kind: MatchKind, pattern: str, bind: Bind
    ) -> ColumnElement[bool]:
        # LIKE with %, _ and the escape character itself escaped in the operand
        # (the columns are COLLATE "C": byte-wise and case-sensitive).
        return column.like(bind(_like_pattern(kind, pattern), sa.Text()), escape=_ESCAPE)

    def match_shape(self, kind: MatchKind, pattern: str, out: list[Any]) -> Hashable:
        out.append(_like_pattern(kind, pattern))
        return kind

    # -- errors ------------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> DriverError | None:
        if _is_stale_statement(exc):
            # A prepared statement cached before a schema change (ALTER TABLE …):
            # asyncpg drops it, so the transaction succeeds when run again.
            return DriverError(Failure.CONFLICT, "stale prepared statement")
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


def _is_stale_statement(exc: BaseException) -> bool:
    try:
        from asyncpg.exceptions import (  # type: ignore[import-untyped]
            InvalidCachedStatementError,
            OutdatedSchemaCacheError,
        )
    except ImportError:  # pragma: no cover - asyncpg is what this dialect runs on
        return False
    stale = (InvalidCachedStatementError, OutdatedSchemaCacheError)
    return any(isinstance(error, stale) for error in _chain(exc))


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from asyncpg.exceptions import ConnectionDoesNotExistError
    except ImportError:  # pragma: no cover - asyncpg is what this dialect runs on
        ConnectionDoesNotExistError = OSError  # noqa: N806
    for error in _chain(exc):
        if isinstance(error, OSError | ConnectionDoesNotExistError):
            return True
        if getattr(error, "connection_invalidated", False):
            return True
    return False
