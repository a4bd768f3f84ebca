"""What differs between the SQL databases: the two halves each dialect implements.

The backend, the schema builder and the condition compiler are written once
against these interfaces, split by concern:

* :class:`SQLSpelling` is compile time only: how the database spells the few
  predicates databases write differently, its column types, CHECKs and table
  options. The condition compiler and :mod:`repokit_sqlalchemy.schema` (which
  builds tables, also for Alembic, with no connection) use nothing else.
* :class:`SQLDriver` is run time: engine preparation, transactions, statements
  on the driver connection, and the reading of its driver's error codes.

A :class:`SQLDialect` is both, one instance per backend. Dialects are found
by name in :mod:`repokit_sqlalchemy.dialects`; :mod:`repokit_sqlalchemy.postgres`
and :mod:`repokit_sqlalchemy.sqlite` are the two registered there.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from repokit.capabilities import Capabilities
from repokit.conditions import MatchKind
from repokit.planning import SizeClass
from repokit.types import FieldType

__all__ = [
    "Bind",
    "Derive",
    "DialectRegistration",
    "DriverError",
    "Failure",
    "SQLDialect",
    "SQLDriver",
    "SQLSpelling",
]

#: A value a dialect binds in place of an operand, computed from it at bind time.
Derive = Callable[[Any], Any]


class Bind(Protocol):
    """Binds one planned node's operand (:class:`repokit_sqlalchemy.conditions.Binder`).

    ``bind(type_)`` is a parameter holding the operand itself; ``bind(type_,
    derive)`` one holding ``derive(operand)``, computed when the statement
    runs (so a statement compiled once serves every operand).
    """

    def __call__(
        self, type_: sa.types.TypeEngine[Any], derive: Derive | None = None, /
    ) -> BindParameter[Any]: ...


class Failure(enum.Enum):
    """What a driver error means, read from its error code."""

    DUPLICATE = "duplicate"  # a unique or primary key collides
    INTEGRITY = "integrity"  # another constraint failed
    CONFLICT = "conflict"  # transient: serialisation failure, deadlock, busy database
    UNAVAILABLE = "unavailable"  # the server cannot be reached or the connection dropped
    READ_ONLY = "read_only"  # a write in a read-only transaction
    TOO_LARGE = "too_large"  # a value beyond a database limit (an index row's size)
    NO_TABLE = "no_table"  # the statement's table does not exist


@dataclass(frozen=True, slots=True)
class DriverError:
    """A classified driver error.

    Attributes:
        failure: what happened.
        code: the driver's code (SQLSTATE, SQLite extended result code name).
        constraint: the violated constraint or index name, when the driver names it.
        columns: the violated key's column names, when the driver lists them.
        table: the table the database did not find (``NO_TABLE``), when it names it:
            a statement with a semi-join or a scope's check reads more than one.
    """

    failure: Failure
    code: str
    constraint: str | None = None
    columns: tuple[str, ...] | None = None
    table: str | None = None


class SQLSpelling(ABC):
    """The compile-time half of a dialect: how the database spells what repokit compiles.

    No I/O and no state: one instance serves every backend and every table
    definition of its dialect.
    """

    #: SQLAlchemy's dialect name (the ``<name>_where`` / ``<name>_strict`` keyword prefix).
    name: str

    # -- predicates --------------------------------------------------------------------------

    # Both decide their spelling from the planned node alone (repokit.planning): what
    # they bind comes from the operand's slot at run time, through *bind*, so any
    # value they need besides the operand is derived from it there (Derive).

    @abstractmethod
    def in_(
        self, column: ColumnElement[Any], size: SizeClass, ftype: FieldType, bind: Bind
    ) -> ColumnElement[bool]:
        """``column`` equals one of the operand's values; null for a null column.

        The operand is a tuple of values (non-empty, no nulls) of the size
        class *size* (:func:`repokit.planning.size_class`): exactly that many,
        or :data:`~repokit.planning.MANY`, which must be spelled one way for
        any length.
        """

    @abstractmethod
    def match(self, column: ColumnElement[Any], kind: MatchKind, bind: Bind) -> ColumnElement[bool]:
        """Literal, case-sensitive match of the operand (a non-empty pattern); null for null."""

    #: Whether ORDER BY needs explicit NULLS FIRST / LAST for nulls to sort smallest.
    explicit_nulls_order: bool = True
    #: Whether the compiler always writes an OFFSET after a LIMIT.
    offset_with_limit: bool = False

    # -- tables ------------------------------------------------------------------------------

    @abstractmethod
    def column_type(self, ftype: FieldType) -> sa.types.TypeEngine[Any]:
        """The column type of a field of *ftype*."""

    def column_checks(self, column: str, ftype: FieldType) -> list[tuple[str, str]]:
        """CHECK constraints the column type does not enforce: ``(what, expression)`` pairs.

        *what* goes into the constraint's name (``ck_<table>_<column>_<what>``).
        """
        return []

    def table_options(self) -> dict[str, Any]:
        """Keyword arguments of ``sa.Table`` for this dialect (``sqlite_strict``)."""
        return {}

    # -- upsert --

    def upsert_insert(self, table: sa.Table) -> Any:
        """An INSERT into *table* with ``on_conflict_do_update`` / ``on_conflict_do_nothing``.

        SQLAlchemy's insert construct of the dialect (``INSERT … ON CONFLICT``);
        ``None`` (the default): the database has no native upsert, and the
        backend runs the SPI's default (a read, then an insert or an update).
        """
        return None

    def upsert_inserted(self) -> ColumnElement[bool] | None:
        """What an upsert's RETURNING adds to tell an inserted row from an updated one.

        ``None`` (the default): the row cannot tell, so the session first reads
        whether a row holds the key, in the upsert's transaction. That is only
        right on a database that lets one writer at a time in (SQLite); a
        database with concurrent writers must say it here (PostgreSQL:
        ``xmax = 0``).
        """
        return None


class SQLDriver(ABC):
    """The run-time half of a dialect: engine, transactions, statements, errors."""

    #: SQLAlchemy's dialect name.
    name: str
    #: The capabilities of a backend on this dialect.
    capabilities: Capabilities
    #: A query of one row and column: the seconds the server's data is behind its
    #: primary's (0 on a server that is no replica); ``None``: the database cannot tell.
    replica_lag_sql: str | None = None

    # -- engine ------------------------------------------------------------------------------

    @abstractmethod
    def engine_defaults(self, url: sa.URL) -> dict[str, Any]:
        """Engine options used unless the caller passes their own."""

    @abstractmethod
    def install(self, engine: AsyncEngine, *, owned: bool) -> None:
        """Attach per-connection setup to *engine* (idempotent)."""

    async def prepare(self, engine: AsyncEngine) -> None:  # noqa: B027 - optional hook
        """One-time preparation on first use (e.g. switching a file to WAL)."""

    # -- transactions and statements on the driver ----------------------------------------------

    @abstractmethod
    def driver(self, connection: Any) -> Any:
        """The object :meth:`fetch` / :meth:`execute` run on, for a pooled driver connection."""

    async def lease(self, connection: Any) -> None:  # noqa: B027 - optional hook
        """Prepare a pooled ``AsyncConnection`` before sessions run on its driver."""

    @abstractmethod
    def begin_statement(self, *, read_only: bool, options: Mapping[str, Any]) -> str | None:
        """What begins a session's transaction (``None``: each statement autocommits).

        *options* are the leased connection's execution options (an
        application's engine may ask for an isolation level or read-only
        transactions there).
        """

    def runs_alone(self, options: Mapping[str, Any]) -> bool:
        """Whether one write statement may run as its own transaction on such a connection.

        That is, without :meth:`begin_statement`'s BEGIN, meaning the same as
        inside it (``BackendSession.single_statement``): not where the BEGIN
        says more than "a transaction" (an isolation level, READ ONLY).
        """
        return False

    @abstractmethod
    async def fetch(
        self, driver: Any, sql: str, params: Sequence[Any], begin: str | None
    ) -> Sequence[Sequence[Any]]:
        """Run a query and return its records; run *begin* first when given."""

    @abstractmethod
    async def execute(self, driver: Any, sql: str, params: Sequence[Any], begin: str | None) -> int:
        """Run a write and return the number of rows it matched; run *begin* first when given."""

    @abstractmethod
    async def executemany(
        self, driver: Any, sql: str, params: list[Sequence[Any]], begin: str | None
    ) -> None:
        """Run a write once per parameter set; run *begin* first when given."""

    @abstractmethod
    async def end(self, driver: Any, *, commit: bool) -> None:
        """Commit or roll back the transaction a *begin* statement opened."""

    @abstractmethod
    async def run_ddl(self, connection: Any, driver: Any, work: Callable[[Any], None]) -> None:
        """Run SQLAlchemy schema *work* (``run_sync``) on a leased connection, atomically."""

    def closed(self, driver: Any) -> bool:
        """Whether the driver connection is known to be closed (its errors mean unavailable)."""
        return False

    @abstractmethod
    def in_transaction(self, driver: Any) -> bool:
        """Whether the driver connection has a transaction open."""

    def abort(self, driver: Any) -> None:  # noqa: B027 - optional hook
        """Close the driver connection at once, without a word to the server (idempotent).

        Runs after SQLAlchemy has invalidated a broken connection, whose own
        close may have failed quietly (SQLAlchemy logs and swallows it): a
        network server then sees the socket end and rolls back whatever
        transaction was open, instead of keeping it idle until the process
        collects the object.
        """

    def check_database(self) -> None:  # noqa: B027 - optional hook
        """Raise ``BackendUnavailable`` if the database is no longer the one prepared.

        Must be cheap (SQLite: one ``os.stat`` of the file). :meth:`opening`
        runs it as every session opens, and a dialect whose files can be
        replaced runs it again just before a read-write session's COMMIT.
        """

    def opening(self, driver: Any) -> None:
        """A session begins on *driver*: check the database before it reads or writes.

        The default checks here, at once (:meth:`check_database`); a dialect may
        instead run the check with the session's first statement (SQLite runs
        it in the worker thread, where it costs no event-loop hand-off).
        """
        self.check_database()

    def takes_turns(self, *, read_only: bool) -> bool:
        """Whether sessions of this kind wait in :meth:`acquire_turn` (so it may be skipped)."""
        return False

    async def acquire_turn(self, *, read_only: bool) -> asyncio.Semaphore | None:
        """Wait for this session's turn if the database serialises sessions; return the turn.

        The turn is a semaphore of one slot; the session releases it when it ends.
        """
        return None

    # -- errors ------------------------------------------------------------------------------

    @abstractmethod
    def classify(self, exc: BaseException) -> DriverError | None:
        """Read a driver error's code; ``None`` for an error with no repokit meaning."""


class SQLDialect(SQLSpelling, SQLDriver):
    """Both halves: what a backend runs on (one instance per backend)."""


def _no_url_options(url: sa.URL, options: Mapping[str, Any]) -> tuple[sa.URL, dict[str, Any]]:
    return url, dict(options)


@dataclass(frozen=True)
class DialectRegistration:
    """One SQL database the backend runs on.

    Attributes:
        name: SQLAlchemy's dialect name, a URL's backend name (``postgresql``).
        title: the database's name in messages (``PostgreSQL``).
        driver: the async driver repokit runs it on, a URL's driver name (``asyncpg``).
        module: the driver's module, named when it cannot be imported.
        extra: the distribution extra that installs the driver (``repokit[postgres]``).
        spelling: the dialect's compile-time half (stateless, shared).
        open: makes the dialect of one backend from its URL and the options
            among :attr:`options` that the caller gave.
        options: the ``Database.connect`` options this dialect takes
            (``busy_timeout``); another dialect's options are refused.
        url_options: takes options that this dialect reads from the URL's query
            out of it, before the driver sees the URL; returns the URL without
            them and the options merged.
    """

    name: str
    title: str
    driver: str
    module: str
    extra: str
    spelling: SQLSpelling
    open: Callable[[sa.URL, Mapping[str, Any]], SQLDialect]
    options: frozenset[str] = frozenset()
    url_options: Callable[[sa.URL, Mapping[str, Any]], tuple[sa.URL, dict[str, Any]]] = (
        _no_url_options
    )

    @property
    def drivername(self) -> str:
        """The URL scheme repokit runs the database on (``postgresql+asyncpg``)."""
        return f"{self.name}+{self.driver}"
