"""SQLite (aiosqlite): transactions, writer serialisation, predicates and error codes.

Concurrency. A SQLite database has one writer at a time. Left to itself,
a transaction that reads and then writes is upgraded to a write lock late and
fails with "database is locked" (or, in WAL mode, with a busy snapshot) when
another writer got there first. So:

* the file runs in WAL mode (readers never block the writer or each other)
  with a busy timeout, unless the pragmas say otherwise
  (:mod:`repokit_sqlalchemy.sqlite_pragmas`);
* the driver runs in autocommit mode and repokit begins every read-write
  transaction itself with ``BEGIN IMMEDIATE`` (the write lock before the
  first statement, so a read-modify-write never loses its lock), in the
  same hop to aiosqlite's thread as that statement; read-only sessions run
  each statement on its own (each reads one snapshot);
* read-write sessions of one process take turns per database file on an
  asyncio lock before they begin, so they queue in the event loop instead of
  spinning on the busy timeout. A writer in another process that holds the
  lock past the busy timeout surfaces as
  :class:`~repokit.errors.TransactionConflict`, which the transaction runner
  retries.

An in-memory database lives in a single connection; every session takes a
turn on it, and the backend declares it neither persistent nor concurrent.

Any error inside a transaction is followed by ``ROLLBACK``: SQLite itself
only undoes the failed statement and would commit the rest.

The file. Open connections keep the file they opened: a database file
deleted (or replaced, say by a restore that moves another file into place)
under a running backend would go on accepting writes into the old file,
which vanish on reopen. The file's identity (``st_dev``, ``st_ino``) is
recorded when the backend prepares and compared, with one ``os.stat``, as
every session opens and again just before a write session's ``COMMIT``. A
mismatch raises :class:`~repokit.errors.BackendUnavailable` naming the
file; nothing is committed, and the backend discards its idle connections
on the old file. Read-only sessions are refused too (once the file changed,
which file a pooled connection reads would depend on when it was opened).
The recorded identity is kept: sessions fail until the original file is
back in place; to work on a new file, open a new ``Database``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import operator
import os
import re
import sqlite3
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, assert_type

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from repokit.capabilities import Capabilities
from repokit.conditions import MatchKind
from repokit.errors import BackendUnavailable, InvalidQuery, TransactionConflict
from repokit.planning import MANY, SizeClass
from repokit.types import FieldType
from repokit_sqlalchemy import sqlite_driver
from repokit_sqlalchemy.dialect import (
    Bind,
    DialectRegistration,
    DriverError,
    Failure,
    SQLDialect,
    SQLSpelling,
)
from repokit_sqlalchemy.sqlite_driver import OneHopConnection
from repokit_sqlalchemy.sqlite_pragmas import SQLitePragmas, split_url
from repokit_sqlalchemy.sqlite_types import sqlite_checks, sqlite_column_type

__all__ = ["REGISTRATION", "SQLiteDialect", "SQLiteSpelling"]

#: How long a statement waits for another process's lock, and a writer for its turn.
DEFAULT_BUSY_TIMEOUT = 30.0

# Extended result codes (https://sqlite.org/rescode.html).
_SQLITE_ERROR = 1
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_CANTOPEN = 14
_SQLITE_CONSTRAINT = 19
_SQLITE_CONSTRAINT_PRIMARYKEY = 1555
_SQLITE_CONSTRAINT_UNIQUE = 2067

# SQLITE_ERROR is SQLite's generic code: a missing table has no code of its own, so the
# generic code and this message prefix together say it (never the message alone).
_NO_SUCH_TABLE = "no such table:"
# "UNIQUE constraint failed: items.tenant, items.name" or "...: index 'uq_items_x'".
# The code says what failed; the message only says which key.
_FAILED_KEY = re.compile(r"constraint failed: (?:index '(?P<index>[^']+)'|(?P<columns>.+))$")

#: Only for running the column types' bind processors, which do not depend on the driver.
_PROCESSING = sqlite_dialect.dialect()
#: Only for turning a URL into aiosqlite.connect() arguments.
_AIOSQLITE = SQLiteDialect_aiosqlite()

_Turns = dict[str, asyncio.Semaphore]
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = weakref.WeakKeyDictionary()


def _turn_lock(key: str) -> asyncio.Semaphore:
    """The writers' turn on database *key* in the running event loop (loop-bound).

    A semaphore of one slot rather than a lock: its ``locked()`` says exactly
    whether ``acquire()`` would wait (a lock's does not count the waiters a
    release has woken but that have not run yet), so a free turn is taken
    without a timer (:meth:`SQLiteDialect.acquire_turn`).
    """
    per_loop = _turns.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(key)
    if lock is None:
        lock = per_loop[key] = asyncio.BoundedSemaphore(1)
    return lock


class SQLiteSpelling(SQLSpelling):
    """How SQLite spells what repokit compiles (no I/O; shared by every backend)."""

    name = "sqlite"
    explicit_nulls_order = False  # SQLite already sorts NULL smallest
    offset_with_limit = True

    # -- predicates --------------------------------------------------------------------------

    def in_(
        self, column: ColumnElement[Any], size: SizeClass, ftype: FieldType, bind: Bind
    ) -> ColumnElement[bool]:
        # An exact size (fewer than EXACT_BELOW values, or floats: SQLite's JSON parser
        # may round them differently) is bound value by value.
        if size != MANY:
            assert isinstance(size, int)
            return column.in_([bind(column.type, operator.itemgetter(i)) for i in range(size)])
        # Long lists travel as one JSON array of stored forms: one bound variable
        # instead of one per value (SQLite allows 32766), and one statement text.
        array = bind(sa.Text(), functools.partial(_json_array, ftype=ftype))
        each: sa.Select[Any] = sa.select(sa.column("value")).select_from(sa.func.json_each(array))
        return column.in_(each)

    def match(self, column: ColumnElement[Any], kind: MatchKind, bind: Bind) -> ColumnElement[bool]:
        # LIKE is case-insensitive for ASCII in SQLite: compare substrings instead.
        # length() and substr() count characters, like Python's len().
        # Constants are literal: a statement's only parameters come from operands.
        operand = bind(sa.Text())
        if kind is MatchKind.CONTAINS:
            return sa.func.instr(column, operand) > sa.literal_column("0")
        if kind is MatchKind.STARTSWITH:
            start: sa.ColumnElement[Any] = sa.literal_column("1")
            return sa.func.substr(column, start, bind(sa.Integer(), len)) == operand
        if TYPE_CHECKING:  # mypy: the one kind left
            assert_type(kind, Literal[MatchKind.ENDSWITH])
        return sa.func.substr(column, bind(sa.Integer(), _negative_length)) == operand

    # -- tables ------------------------------------------------------------------------------

    def column_type(self, ftype: FieldType) -> sa.types.TypeEngine[Any]:
        return sqlite_column_type(ftype)

    def column_checks(self, column: str, ftype: FieldType) -> list[tuple[str, str]]:
        return sqlite_checks(column, ftype)

    def table_options(self) -> dict[str, Any]:
        return {"sqlite_strict": True}

    # -- upsert --

    def upsert_insert(self, table: sa.Table) -> Any:
        # RETURNING cannot tell an inserted row from an updated one here
        # (upsert_inserted is None): writers are serialised (BEGIN IMMEDIATE), so
        # the session reads whether a row holds the key first, in the same transaction.
        return sqlite_dialect.insert(table)


class SQLiteDialect(SQLiteSpelling, SQLDialect):
    """SQLite through aiosqlite: STRICT tables, WAL, serialised writers."""

    name = "sqlite"

    def __init__(
        self,
        url: sa.URL | None = None,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        pragmas: SQLitePragmas | None = None,
    ) -> None:
        database = (url.database if url is not None else None) or ""
        mode = url.query.get("mode") if url is not None else None
        self.in_memory = database in ("", ":memory:") or mode == "memory"
        if database.startswith("file:"):  # a URI filename (uri=true)
            database = database[len("file:") :].split("?", 1)[0]
        #: What identifies the database in this process: its real path.
        self.key = database if self.in_memory else os.path.realpath(database)
        pragmas = pragmas or SQLitePragmas()
        if self.in_memory:  # no journal file: SQLite keeps its memory journal
            pragmas = dataclasses.replace(pragmas, journal_mode=None)
        #: The pragmas asked for (``None``: the default of sqlite_pragmas.py's table).
        self.pragmas = pragmas
        if pragmas.busy_timeout is not None:
            busy_timeout = pragmas.busy_timeout / 1000
        self.busy_timeout = busy_timeout
        self.capabilities = Capabilities(
            max_ids_per_statement=10_000,  # well under SQLITE_MAX_VARIABLE_NUMBER (32766)
            persistent=not self.in_memory,
            concurrent_sessions=not self.in_memory,
        )
        self._owned = False
        self._prepared = False
        #: (st_dev, st_ino) of the file when prepared; None until then and in memory.
        self._file: tuple[int, int] | None = None

    # -- engine ------------------------------------------------------------------------------

    def engine_defaults(self, url: sa.URL) -> dict[str, Any]:
        # Autocommit at the driver level: repokit issues BEGIN / COMMIT itself, and
        # every session ends with one of them, so the pool needs no reset on return.
        # Connections execute each statement in one hop to aiosqlite's thread.
        args, kwargs = _AIOSQLITE.create_connect_args(url)
        return {
            "isolation_level": "AUTOCOMMIT",
            "pool_reset_on_return": None,
            "async_creator": sqlite_driver.connect(args, kwargs),
        }

    def install(self, engine: AsyncEngine, *, owned: bool) -> None:
        self._owned = owned
        if self.key in ("", ":memory:"):
            # An unnamed in-memory database belongs to its engine alone.
            self.key = f":memory:{id(engine)}"
        statements = self.pragmas.connection_statements(
            busy_timeout_ms=int(self.busy_timeout * 1000)
        )

        def on_connect(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.close()

        if not event.contains(engine.sync_engine, "connect", on_connect):
            event.listen(engine.sync_engine, "connect", on_connect)

    async def prepare(self, engine: AsyncEngine) -> None:
        if self._prepared or self.in_memory:
            return
        self._check_folder()
        async with engine.connect() as connection:
            if not self._owned:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            # Recorded in the file (WAL, DELETE): set once per file, here.
            wanted = self.pragmas.journal_mode or "WAL"
            try:
                result = await connection.exec_driver_sql(f"PRAGMA journal_mode = {wanted}")
                kept = str(result.scalar()).upper()
            except sa.exc.OperationalError as exc:
                error = self.classify(exc)
                failure = error.failure if error is not None else None
                if failure is Failure.CONFLICT and self.pragmas.journal_mode is not None:
                    raise self._journal_refused(wanted, "the file is locked") from exc
                # A database opened read-only keeps its journal mode: nobody here writes.
                if failure is not Failure.READ_ONLY:
                    raise
            else:
                # SQLite answers with the mode it kept. The default is best effort (as
                # ever); a mode asked for must hold, or the service would run on another.
                if self.pragmas.journal_mode is not None and kept != wanted:
                    raise self._journal_refused(wanted, f"SQLite kept {kept}")
            # The connection is open: the file exists now (SQLite creates a new one).
            found = os.stat(self.key)
            self._file = (found.st_dev, found.st_ino)
        self._prepared = True

    def _journal_refused(self, wanted: str, why: str) -> BackendUnavailable:
        return BackendUnavailable(
            f"cannot set journal_mode={wanted} on {self.key}: {why} (switching into or "
            "out of WAL needs every other connection to the file closed)"
        )

    def _check_folder(self) -> None:
        # Checked before aiosqlite is involved: a failed aiosqlite connect leaves its
        # worker thread to report to an event loop that may be closed by then.
        folder = os.path.dirname(self.key)
        if not os.path.isdir(folder):
            raise BackendUnavailable(f"cannot open {self.key}: {folder} is not a directory")

    def check_database(self) -> None:
        """Raise BackendUnavailable unless the file at the path is the one prepared."""
        expected = self._file
        if expected is None:  # in memory, or not prepared yet
            return
        try:
            found = os.stat(self.key)
        except FileNotFoundError:
            raise BackendUnavailable(
                f"the SQLite database file {self.key} was deleted while open: writes would "
                "go to the deleted file and be lost; put the file back or open a new Database"
            ) from None
        except OSError as exc:
            raise BackendUnavailable(f"cannot check the SQLite database file: {exc}") from exc
        if (found.st_dev, found.st_ino) != expected:
            raise BackendUnavailable(
                f"the SQLite database file {self.key} was replaced by another file while "
                "open: writes would go to the old file and be lost; open a new Database "
                "to use the new file"
            )

    # -- transactions ------------------------------------------------------------------------

    def takes_turns(self, *, read_only: bool) -> bool:
        return not read_only or self.in_memory

    async def acquire_turn(self, *, read_only: bool) -> asyncio.Semaphore | None:
        """Wait for this session's turn: writers always, readers on an in-memory database."""
        if not self.takes_turns(read_only=read_only):
            return None
        lock = _turn_lock(self.key)
        if not lock.locked():
            await lock.acquire()  # free, nobody waiting: no suspension, so no timer either
            return lock
        try:
            async with asyncio.timeout(self.busy_timeout):
                await lock.acquire()
        except TimeoutError:
            raise TransactionConflict(
                f"waited {self.busy_timeout}s for another write transaction on {self.key}"
            ) from None
        return lock

    async def lease(self, connection: Any) -> None:
        if not self._owned:
            # A borrowed engine keeps its own isolation; this connection autocommits
            # until it goes back to the pool, so that repokit's BEGIN is the only one.
            await connection.execution_options(isolation_level="AUTOCOMMIT")

    def driver(self, connection: Any) -> Any:
        driver = (
            connection if isinstance(connection, OneHopConnection) else OneHopConnection(connection)
        )
        driver.guard = self.check_database
        return driver

    def opening(self, driver: Any) -> None:
        # The file check runs in the worker thread, in the hop of the session's first
        # statement: os.stat on the event loop releases the interpreter lock, and taking
        # it back from busy worker threads cost ~30 µs a session (W9).
        driver.check_next = True

    def begin_statement(self, *, read_only: bool, options: Mapping[str, Any]) -> str | None:
        # Readers take no snapshot beyond their statement (each is atomic); writers
        # take the write lock up front, with their first statement.
        return None if read_only else "BEGIN IMMEDIATE"

    def runs_alone(self, options: Mapping[str, Any]) -> bool:
        # A writing statement alone takes the write lock itself, as BEGIN IMMEDIATE would.
        return True

    async def fetch(
        self, driver: Any, sql: str, params: Sequence[Any], begin: str | None
    ) -> Sequence[Sequence[Any]]:
        rows, _ = await driver.statement(sql, params, begin=begin)
        return rows  # type: ignore[no-any-return]

    async def execute(self, driver: Any, sql: str, params: Sequence[Any], begin: str | None) -> int:
        _, count = await driver.statement(sql, params, begin=begin)
        return count  # type: ignore[no-any-return]

    async def executemany(
        self, driver: Any, sql: str, params: list[Sequence[Any]], begin: str | None
    ) -> None:
        await driver.statement(sql, params, begin=begin, many=True)

    async def end(self, driver: Any, *, commit: bool) -> None:
        await (driver.commit() if commit else driver.rollback())

    def in_transaction(self, driver: Any) -> bool:
        return bool(driver.in_transaction)

    async def run_ddl(self, connection: Any, driver: Any, work: Callable[[Any], None]) -> None:
        await driver.statement("BEGIN IMMEDIATE", ())
        try:
            await connection.run_sync(work)
            self.check_database()  # as before a session's COMMIT
        except BaseException:
            await driver.rollback()
            raise
        await driver.commit()

    # -- errors ------------------------------------------------------------------------------

    def classify(self, exc: BaseException) -> DriverError | None:
        error = _find_sqlite_error(exc)
        if error is None:
            return None
        code = getattr(error, "sqlite_errorcode", None)
        if not isinstance(code, int):
            return None
        name = str(getattr(error, "sqlite_errorname", code))
        primary = code & 0xFF
        if code in (_SQLITE_CONSTRAINT_UNIQUE, _SQLITE_CONSTRAINT_PRIMARYKEY):
            constraint, columns = _failed_key(str(error))
            return DriverError(Failure.DUPLICATE, name, constraint, columns)
        if primary == _SQLITE_CONSTRAINT:
            return DriverError(Failure.INTEGRITY, name)
        if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
            return DriverError(Failure.CONFLICT, name)
        if primary == _SQLITE_CANTOPEN:
            return DriverError(Failure.UNAVAILABLE, name)
        if primary == _SQLITE_READONLY:
            return DriverError(Failure.READ_ONLY, name)
        text = str(error)
        if code == _SQLITE_ERROR and text.startswith(_NO_SUCH_TABLE):
            # "no such table: main.t" or "no such table: t"
            missing = text[len(_NO_SUCH_TABLE) :].strip().rpartition(".")[2]
            return DriverError(Failure.NO_TABLE, name, table=missing or None)
        return None


def _negative_length(pattern: str) -> int:
    """substr()'s start for a suffix of *pattern*'s length."""
    return -len(pattern)


@functools.lru_cache(maxsize=256)
def _stored_form(ftype: FieldType) -> Callable[[Any], Any] | None:
    """The bind processor of *ftype*'s SQLite column: a value's stored form."""
    process: Callable[[Any], Any] | None = sqlite_column_type(ftype).bind_processor(_PROCESSING)
    return process


def _json_array(values: Sequence[Any], ftype: FieldType) -> str:
    process = _stored_form(ftype)
    stored = [process(value) for value in values] if process else list(values)
    return json.dumps(stored, ensure_ascii=False)


def _find_sqlite_error(exc: BaseException | None) -> sqlite3.Error | None:
    seen = 0
    while exc is not None and seen < 8:
        orig = getattr(exc, "orig", None)
        if isinstance(orig, sqlite3.Error):
            return orig
        if isinstance(exc, sqlite3.Error):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _failed_key(message: str) -> tuple[str | None, tuple[str, ...] | None]:
    found = _FAILED_KEY.search(message.strip())
    if found is None:
        return None, None
    if found.group("index"):
        return found.group("index"), None
    columns = tuple(part.strip().rpartition(".")[2] for part in found.group("columns").split(","))
    return None, columns


def _pragmas(value: Mapping[str, Any] | SQLitePragmas | None) -> SQLitePragmas | None:
    if value is None or isinstance(value, SQLitePragmas):
        return value
    return SQLitePragmas.parse(value)


def _open(url: sa.URL, options: Mapping[str, Any]) -> SQLiteDialect:
    busy_timeout = options.get("busy_timeout")
    pragmas = _pragmas(options.get("sqlite_pragmas"))
    if busy_timeout is None:
        return SQLiteDialect(url, pragmas=pragmas)
    if pragmas is not None and pragmas.busy_timeout is not None:
        raise InvalidQuery(
            "busy_timeout is given twice: as the busy_timeout option (seconds) and as "
            "a SQLite pragma (milliseconds)"
        )
    return SQLiteDialect(url, busy_timeout=busy_timeout, pragmas=pragmas)


def _url_options(url: sa.URL, options: Mapping[str, Any]) -> tuple[sa.URL, dict[str, Any]]:
    # The pragmas a URL's query holds (?synchronous=NORMAL), merged with sqlite_pragmas=.
    url, in_url = split_url(url)
    given = _pragmas(options.get("sqlite_pragmas"))
    return url, {**options, "sqlite_pragmas": in_url if given is None else in_url.merge(given)}


#: How :mod:`repokit_sqlalchemy.dialects` finds this dialect.
REGISTRATION = DialectRegistration(
    name="sqlite",
    title="SQLite",
    driver="aiosqlite",
    module="aiosqlite",
    extra="repokit[sqlite]",
    spelling=SQLiteSpelling(),
    open=_open,
    options=frozenset({"busy_timeout", "sqlite_pragmas"}),
    url_options=_url_options,
)
