"""The SQLAlchemy backend: an ``AsyncEngine``, its dialect, schema management and sessions.

``Database.connect("postgresql+asyncpg://…")`` / ``"sqlite+aiosqlite:///app.db"``
builds an engine owned (and disposed) by the backend; the bare schemes
``postgresql://`` and ``sqlite://`` pick asyncpg and aiosqlite. Applications
that already own an ``AsyncEngine`` wrap it with
:meth:`SQLAlchemyBackend.from_engine`; the backend then never disposes it and
leaves its connections' settings as it found them.

Sessions queue for a connection in arrival order: with more concurrent
sessions than the pool holds, SQLAlchemy's pool lets a session that just
released a connection take it straight back, and a waiter can starve until
the pool timeout (measured: 32 concurrent clients on a 5 + 10 pool). A fair
gate sized to the pool admits waiters first come, first served.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from repokit.backend import Backend
from repokit.drift import SchemaChange
from repokit.errors import (
    BackendNotInstalled,
    BackendUnavailable,
    RepositoryError,
)
from repokit.gate import FairGate
from repokit.observability import Endpoint
from repokit.shielding import shielded
from repokit.tables import Table
from repokit_sqlalchemy.dialect import SQLDialect
from repokit_sqlalchemy.dialects import (
    dialect_for,
    dialect_options,
    registration_for,
    resolve_url,
)
from repokit_sqlalchemy.drift import stored_changes
from repokit_sqlalchemy.errors import translate
from repokit_sqlalchemy.schema import sql_table
from repokit_sqlalchemy.session import SQLAlchemySession
from repokit_sqlalchemy.sqlite_pragmas import SQLitePragmas
from repokit_sqlalchemy.statements import Reader, StatementCache

__all__ = ["Lease", "SQLAlchemyBackend", "endpoint_of"]


def endpoint_of(url: sa.URL, system: str) -> Endpoint:
    """Where *url* points, as logs and spans name it (SQLite: the file is the namespace).

    SQLAlchemy's dialect names are OpenTelemetry's ``db.system.name`` values
    (``postgresql``, ``sqlite``). A Unix socket (``?host=/run/postgresql``) is the address.
    """
    host: Any = url.host or url.query.get("host")
    if isinstance(host, tuple):
        host = host[0] if host else None
    return Endpoint(system, url.database or None, str(host) if host else None, url.port)


#: The SQLAlchemy versions whose ``QueuePool._max_overflow`` :func:`pool_limits` reads
#: (the only private of SQLAlchemy's this package uses), pinned by
#: tests/backends/sqlalchemy/test_sqlalchemy_privates.py.
TESTED_SQLALCHEMY = ((2, 0), (2, 1))


def _given(**options: Any) -> dict[str, Any]:
    """The dialect options a caller gave (``None``: not given)."""
    return {name: value for name, value in options.items() if value is not None}


def pool_limits(engine: AsyncEngine) -> tuple[int | None, float | None]:
    """How many connections the engine's pool lends at once, and how long a checkout waits.

    ``(None, None)`` for a pool without a limit. ``QueuePool`` has public
    ``size()`` and ``timeout()`` but no accessor for ``max_overflow``, so
    that one is read from its private attribute.
    """
    pool = engine.sync_engine.pool
    if not isinstance(pool, sa.pool.QueuePool):
        return None, None
    overflow = getattr(pool, "_max_overflow", -1)
    if not isinstance(overflow, int) or overflow < 0:  # -1: no limit (pool_size=0)
        return None, pool.timeout()
    return pool.size() + overflow, pool.timeout()


class Lease:
    """A pooled connection a session runs on, with what the session holds besides it.

    Attributes:
        connection: the SQLAlchemy connection holding the pool checkout.
        driver: what the dialect runs statements on (asyncpg's connection, a
            one-hop aiosqlite connection).
        turn: the writer turn of a SQLite session, released when it ends.
        gate: gives the session's slot in the fair gate back.
    """

    __slots__ = ("alone", "begins", "connection", "driver", "gate", "turn")

    def __init__(self, connection: AsyncConnection, driver: Any, dialect: SQLDialect) -> None:
        self.connection = connection
        self.driver = driver
        # What begins a read-write and a read-only session here (by the connection's
        # execution options: an engine's isolation level, say).
        options = connection.sync_connection.get_execution_options()  # type: ignore[union-attr]
        self.begins = (
            dialect.begin_statement(read_only=False, options=options),
            dialect.begin_statement(read_only=True, options=options),
        )
        #: Whether a single-statement write may skip the BEGIN here (SQLDriver.runs_alone).
        self.alone = dialect.runs_alone(options)
        self.turn: asyncio.Semaphore | None = None
        self.gate: Callable[[], None] | None = None

    def release(self) -> None:
        gate, self.gate = self.gate, None
        turn, self.turn = self.turn, None
        try:
            if gate is not None:
                gate()
        finally:
            if turn is not None:
                turn.release()


class SQLAlchemyBackend(Backend):
    """PostgreSQL (asyncpg) and SQLite (aiosqlite) on SQLAlchemy 2 Core.

    Args:
        engine: the async engine to run on.
        owned: whether :meth:`close` disposes the engine.
        busy_timeout: SQLite only: seconds a statement waits for another
            process's lock, and a writer for its turn, before the transaction
            fails with :class:`~repokit.errors.TransactionConflict` (default 30).
        sqlite_pragmas: SQLite only: ``journal_mode``, ``synchronous``,
            ``busy_timeout`` (milliseconds) and ``foreign_keys``, checked here
            (:mod:`repokit_sqlalchemy.sqlite_pragmas` lists values and defaults).

    Statements run on the driver connection of a *lease*: a connection checked
    out of the engine's pool. An engine the backend owns keeps up to its pool
    size of leases idle between sessions instead of returning them to the pool
    (a checkout and its reset cost more than a point read); a lost connection
    discards every idle lease. The pool's ``pool_pre_ping`` and
    ``pool_recycle`` therefore act when a lease is first taken, not while it
    sits idle. On PostgreSQL, an engine's ``isolation_level``,
    ``postgresql_readonly`` and ``postgresql_deferrable`` execution options
    shape the BEGIN of read-write sessions.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        owned: bool = False,
        busy_timeout: float | None = None,
        sqlite_pragmas: Mapping[str, Any] | SQLitePragmas | None = None,
        **dialect_options: Any,
    ) -> None:
        self.engine = engine
        given = _given(busy_timeout=busy_timeout, sqlite_pragmas=sqlite_pragmas, **dialect_options)
        self.dialect = dialect_for(engine.url, given)
        self.dialect.install(engine, owned=owned)
        self.capabilities = self.dialect.capabilities
        self.endpoint = endpoint_of(engine.url, self.dialect.name)
        self.statements = StatementCache(engine.dialect)
        #: By table, or by (table, columns) for a projection's reads.
        self._readers: dict[Hashable, Reader] = {}
        self._owned = owned
        self._prepared = False
        self._closed = False
        # Idle leases, per event loop (driver connections belong to one loop). Only an
        # owned engine's: a borrowed engine's pool is the application's to share.
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Lease]] = (
            weakref.WeakKeyDictionary()
        )
        pool = engine.sync_engine.pool
        self._keep = pool.size() if owned and isinstance(pool, sa.pool.QueuePool) else 0
        capacity, timeout = pool_limits(engine)
        self._gate = FairGate(capacity, timeout, self.dialect.name)

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        """Create an engine for *url* and check that the database answers.

        Args:
            url: ``postgresql[+asyncpg]://…`` or ``sqlite[+aiosqlite]:///path``.
            options: ``busy_timeout`` and ``sqlite_pragmas`` (SQLite, see the
                class); everything else goes to ``create_async_engine``
                (``pool_size``, ``echo``, …). A SQLite URL's query may hold the
                pragmas too (``?synchronous=NORMAL&busy_timeout=5000``); they are
                taken out before the driver sees the URL.

        Raises:
            BackendNotInstalled: the driver is not installed (names the extra).
            UnsupportedOperation: a driver repokit does not run on (says which to use).
            InvalidQuery: an unknown SQLite pragma or URL parameter, a value a pragma
                does not take, or one pragma given two values (names it).
            BackendUnavailable: the database cannot be reached.
        """
        taken = _given(**{name: options.pop(name, None) for name in dialect_options()})
        parsed = resolve_url(sa.make_url(url))
        entry = registration_for(parsed)
        parsed, taken = entry.url_options(parsed, taken)
        defaults = dialect_for(parsed, taken).engine_defaults(parsed)
        try:
            engine = create_async_engine(parsed, **{**defaults, **options})
        except ImportError as exc:  # the driver (SQLAlchemy imports it here)
            raise BackendNotInstalled(
                f"{parsed.drivername}:// needs the {entry.module} driver, which cannot be "
                f"imported ({exc}): install {entry.extra!r} (pip install '{entry.extra}')"
            ) from exc
        backend = cls(engine, owned=True, **taken)
        try:
            await backend._prepare()
        except BaseException:
            await engine.dispose()
            raise
        return backend

    @classmethod
    def from_engine(
        cls,
        engine: AsyncEngine,
        *,
        busy_timeout: float | None = None,
        sqlite_pragmas: Mapping[str, Any] | None = None,
    ) -> Self:
        """Run on an engine the application owns; :meth:`close` leaves it open.

        The pragmas of a borrowed SQLite engine come from ``sqlite_pragmas``
        only (its URL went to the driver when the engine was made).
        """
        return cls(engine, owned=False, busy_timeout=busy_timeout, sqlite_pragmas=sqlite_pragmas)

    async def _prepare(self) -> None:
        if self._prepared:
            return
        try:
            await self.dialect.prepare(self.engine)
            async with self.engine.connect():
                pass
        except BackendUnavailable:
            raise
        except Exception as exc:
            mapped = translate(exc, self.dialect, None)
            if isinstance(mapped, BackendUnavailable) or mapped is None:
                # Name the target: a bare "[Errno 2] No such file or directory" says
                # nothing about which socket, host or file could not be reached.
                target = self.engine.url.render_as_string(hide_password=True)
                raise BackendUnavailable(
                    f"cannot reach the {self.dialect.name} database at {target}: {exc}"
                ) from exc
            raise mapped from exc
        self._prepared = True

    # -- schema ------------------------------------------------------------------------------

    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        await self._ddl(tables, create=True)

    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        await self._ddl(tables, create=False)

    async def schema_changes(self, tables: Sequence[Table[Any]]) -> list[SchemaChange]:
        # Missing tables are created; anything else is a migration (repokit_sqlalchemy.drift).
        changes: list[SchemaChange] = []

        def run(sync: sa.Connection) -> None:
            changes.extend(stored_changes(sync, tables))

        await self._schema(run)
        return changes

    async def _ddl(self, tables: Sequence[Table[Any]], *, create: bool) -> None:
        def run(sync: sa.Connection) -> None:
            for table in tables:
                sql = sql_table(table)
                if create:
                    sql.create(sync, checkfirst=True)
                else:
                    sql.drop(sync, checkfirst=True)

        await self._schema(run)

    async def _schema(self, run: Callable[[sa.Connection], None]) -> None:
        """Run schema work (``run_sync``) on a write session's lease, in one transaction."""
        session = await self.open_session(read_only=False)
        lease = session._live()
        try:
            await self.dialect.run_ddl(lease.connection, lease.driver, run)
        except Exception as exc:
            error = session._error(exc, None)
            await session.rollback()
            raise error from exc
        await session.rollback()  # nothing left open: only the lease goes back

    # -- sessions ----------------------------------------------------------------------------

    def reader(self, table: Table[Any], columns: tuple[str, ...] | None = None) -> Reader:
        """How rows of *table* (only *columns*, when given: a projection) are read."""
        key = table if columns is None else (table, columns)
        found = self._readers.get(key)
        if found is None:
            sql = sql_table(table)
            selected = sql.c if columns is None else [sql.c[name] for name in columns]
            found = self._readers[key] = Reader(selected, self.engine.dialect)
        return found

    async def open_session(self, *, read_only: bool) -> SQLAlchemySession:
        if not self._prepared:
            await self._prepare()
        turn = None
        if self.dialect.takes_turns(read_only=read_only):
            turn = await self.dialect.acquire_turn(read_only=read_only)
        gate: Callable[[], None] | None = None
        try:
            # The pool's own timeout bounds the wait (a session that opens a second
            # one while every slot is taken must not wait forever).
            gate = await self._gate.enter()
            idle = self._idle.get(asyncio.get_running_loop())
            lease = idle.pop() if idle else await self._new_lease()
        except BaseException as exc:
            if gate is not None:
                gate()
            if turn is not None:
                turn.release()
            if isinstance(exc, Exception) and not isinstance(exc, RepositoryError):
                mapped = translate(exc, self.dialect, None)
                if mapped is None:
                    mapped = RepositoryError(f"cannot begin a transaction: {exc}")
                raise mapped from exc
            raise
        lease.gate = gate
        lease.turn = turn
        session = SQLAlchemySession(self, lease, read_only=read_only)
        try:
            # After the writer's turn: the database may have changed while it waited.
            self.dialect.opening(lease.driver)
        except BackendUnavailable:
            session._broken = True  # its siblings are on the old database too
            await session.rollback()
            raise
        return session

    async def replica_lag(self) -> float | None:
        """The server's replay lag in seconds (:attr:`SQLDriver.replica_lag_sql`).

        ``math.inf`` while the server cannot tell yet (a standby that has
        replayed no commit since it started), ``None`` on a dialect that
        cannot measure it (SQLite).
        """
        sql = self.dialect.replica_lag_sql
        if sql is None:
            return None
        session = await self.open_session(read_only=True)
        try:
            lease = session._live()
            try:
                records = await self.dialect.fetch(lease.driver, sql, (), None)
            except Exception as exc:
                raise session._error(exc, None) from exc
        finally:
            await shielded(session.rollback())
        value = records[0][0]
        return math.inf if value is None else float(value)

    async def _new_lease(self) -> Lease:
        if self._closed:
            raise RepositoryError("the backend is closed")
        connection = await self.engine.connect()
        try:
            await self.dialect.lease(connection)
            raw = await connection.get_raw_connection()
            return Lease(connection, self.dialect.driver(raw.driver_connection), self.dialect)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise

    async def release(self, lease: Lease, *, broken: bool) -> None:
        """Take a session's lease back: keep it idle, return it to the pool, or discard it."""
        try:
            if not broken and self.dialect.in_transaction(lease.driver):
                broken = True  # never hand out a connection with a transaction open
            if broken:
                await _discard(lease, self.dialect)
                # Its siblings were opened alike and may be as dead (a restarted server).
                idle = self._idle.pop(asyncio.get_running_loop(), [])
                for other in idle:
                    await _discard(other, self.dialect)
                return
            idle = self._idle.setdefault(asyncio.get_running_loop(), [])
            if len(idle) < self._keep and not self._closed:
                idle.append(lease)
                return
            with contextlib.suppress(Exception):
                await lease.connection.close()
        finally:
            lease.release()

    async def _discard_idle(self) -> None:
        for lease in self._idle.pop(asyncio.get_running_loop(), []):
            await _discard(lease, self.dialect)

    async def close(self) -> None:
        self._closed = True
        loop = asyncio.get_running_loop()
        for owner in list(self._idle):
            for lease in self._idle.pop(owner, []):
                if owner is loop:
                    with contextlib.suppress(Exception):
                        await lease.connection.close()
        if self._owned:
            await self.engine.dispose()


async def _discard(lease: Lease, dialect: SQLDialect) -> None:
    with contextlib.suppress(Exception):
        await lease.connection.invalidate()
    with contextlib.suppress(Exception):
        await lease.connection.close()
    with contextlib.suppress(Exception):
        dialect.abort(lease.driver)
