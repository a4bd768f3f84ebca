"""The Database: a backend, its sessions, and the transaction runner.

``Database.connect(url)`` picks the backend from the URL scheme
(:mod:`repokit.registry`); ``Database(backend)`` wraps one built by hand, for
example around an engine or client the application already owns.

Writes run in :meth:`Database.begin_session` (commits on success, rolls back
on any error), reads in :meth:`Database.begin_readonly_session`.
:meth:`Database.run_in_transaction` re-runs a unit of work when the backend
reports a transient conflict.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import (
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from repokit.backend import Backend, BackendSession, Select, Upsert, UpsertResult, Window
from repokit.capabilities import Capabilities, describe
from repokit.conditions import Condition
from repokit.cursors import DEFAULT_KEY, CursorCodec
from repokit.drift import Remedy, SchemaChange
from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    IntegrityViolation,
    InvalidQuery,
    RepositoryError,
    SchemaDrift,
    TransactionAborted,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit.integrity import (
    dependency_order,
    purge_dependents,
    reference_error,
    require_parents,
)
from repokit.observability import DATABASE_LOG, Telemetry, log_conflict, log_session_end
from repokit.registry import backend_for_url
from repokit.replicas import PRIMARY_READS, Connect, Replica, Replicas
from repokit.shielding import shielded
from repokit.tables import Row, Table, utc_now
from repokit.values import floor_datetime

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["Attempt", "Database", "Savepoint", "Session", "Transaction"]

R = TypeVar("R")


class Session:
    """One transaction, handed to the base utilities.

    A session that saw a backend error is aborted: every later operation
    raises :class:`~repokit.errors.TransactionAborted` and nothing of it is
    committed (CONTRACT §9).
    """

    __slots__ = (
        "_backend",
        "_error",
        "_ran",
        "_replica",
        "_telemetry",
        "committed",
        "database",
        "read_only",
    )

    def __init__(
        self,
        database: Database,
        backend: BackendSession,
        *,
        read_only: bool,
        replica: Replica | None = None,
    ) -> None:
        self.database: Database = database
        self.read_only: bool = read_only
        #: Whether the session's transaction committed (CONTRACT §12: a cancellation
        #: arriving during COMMIT waits for it, so this is always known afterwards).
        self.committed: bool = False
        self._backend: BackendSession | None = backend
        self._error: BaseException | None = None
        #: The replica the session reads from (None: the primary).
        self._replica = replica
        #: Whether a backend call of the session has succeeded.
        self._ran = False
        self._telemetry: Telemetry = (
            database.telemetry if replica is None else database.replica_telemetry(replica)
        )

    @property
    def replica(self) -> Backend | None:
        """The replica this read-only session reads from; ``None`` for the primary."""
        return None if self._replica is None else self._replica.backend

    @property
    def backend(self) -> BackendSession:
        """The backend session; raises if the session has ended or failed."""
        if self._backend is None:
            raise RepositoryError("the session has ended; open a new one")
        if self._error is not None:
            raise TransactionAborted(
                f"an earlier operation in this transaction failed ({self._error!r}); "
                "the transaction will be rolled back"
            )
        return self._backend

    def require_writable(self, what: str) -> None:
        """Refuse a write in a read-only session, before any I/O."""
        if self.read_only:
            raise UnsupportedOperation(f"{what}: a read-only session refuses writes")
        self.backend  # noqa: B018 - raises for an ended or aborted session

    def fail(self, error: BaseException) -> None:
        """Mark the transaction aborted by *error* (a failed backend call)."""
        if self._error is None:
            self._error = error

    def savepoint(self) -> Savepoint:
        """A nested block whose failure undoes only itself: ``async with session.savepoint():``.

        When the block raises an exception, what it did is rolled back and the
        transaction goes on (a failed statement inside it no longer aborts the
        session); the exception propagates. A cancellation is not undone this
        way: the whole transaction rolls back. Nests.

        Raises:
            UnsupportedOperation: a read-only session, or a backend without the
                ``savepoints`` capability (MongoDB), before any I/O.
        """
        return Savepoint(self)

    async def run(
        self,
        call: Callable[[BackendSession], Awaitable[R]],
        operation: str = "call",
        table: Table[Any] | None = None,
        where: Condition | None = None,
        values: Any = None,
    ) -> R:
        """Run one backend call; any error aborts the transaction.

        The call is logged and traced when anything listens
        (:mod:`repokit.observability`), described by *operation* (the SPI
        method), *table*, *where* and *values* (the rows or values it writes).
        """
        backend = self.backend
        telemetry = self._telemetry
        try:
            if telemetry.watching():
                result = await telemetry.observe(
                    self, backend, call, operation, table, where, values
                )
            else:
                result = await call(backend)
        except BaseException as exc:
            if self._replica is not None and not self._ran and isinstance(exc, BackendUnavailable):
                return await self._reroute(exc, call, operation, table, where, values)
            self.fail(exc)
            if table is not None and isinstance(exc, EntityAlreadyExists):
                # The key's declared domain exception, chained to repokit's (CONTRACT §21).
                domain = table.domain_error(exc)
                if domain is not None:
                    raise domain from exc
            if table is not None and isinstance(exc, IntegrityViolation) and exc.reference:
                # A FOREIGN KEY the database enforced: the reference's exception (CONTRACT §23).
                domain = reference_error(table, exc)
                if domain is not None:
                    raise domain from exc
            raise
        self._ran = True
        return result

    async def _reroute(
        self,
        error: BackendUnavailable,
        call: Callable[[BackendSession], Awaitable[R]],
        operation: str,
        table: Table[Any] | None,
        where: Condition | None,
        values: Any,
    ) -> R:
        """The replica failed the session's first call: run it on the next server.

        Nothing was read yet, so the caller cannot tell (:mod:`repokit.replicas`).
        """
        replica, failed = self._replica, self._backend
        assert replica is not None
        assert failed is not None
        database = self.database
        database.replicas.failed(replica)
        self._backend, self._error = None, None
        await shielded(failed.rollback())
        try:
            self._replica, self._backend = await database._open_read()
        except BackendUnavailable as exc:
            self.fail(exc)
            raise exc from error
        self._telemetry = (
            database.telemetry
            if self._replica is None
            else database.replica_telemetry(self._replica)
        )
        return await self.run(call, operation, table, where, values)

    # -- the SPI calls, each aborting the transaction when it fails ---------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        if table.references:
            await require_parents(self, table, rows)
        await self.run(lambda backend: backend.insert(table, rows), "insert", table, None, rows)

    async def insert_if(self, table: Table[Any], row: Row, guard: Condition) -> bool:
        if table.references:
            await require_parents(self, table, (row,))
        return await self.run(
            lambda backend: backend.insert_if(table, row, guard), "insert_if", table, guard, [row]
        )

    async def select(self, query: Select) -> list[Row]:
        return await self.run(
            lambda backend: backend.select(query), "select", query.table, query.where
        )

    async def select_each(self, queries: Sequence[Select]) -> list[list[Row]]:
        if len(queries) < 2:
            return [await self.select(query) for query in queries]
        return await self.run(
            lambda backend: backend.select_each(queries),
            "select_each",
            queries[0].table,
            queries[0].where,
        )

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        return await self.run(
            lambda backend: backend.select_page(query, with_count=with_count),
            "select_page",
            query.table,
            query.where,
        )

    async def select_window(
        self, query: Select, *, count: Condition | None, probes: Sequence[Condition] = ()
    ) -> Window:
        return await self.run(
            lambda backend: backend.select_window(query, count=count, probes=probes),
            "select_window",
            query.table,
            query.where,
        )

    async def count(self, table: Table[Any], where: Condition) -> int:
        return await self.run(lambda backend: backend.count(table, where), "count", table, where)

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        if table.references and not table.referencing.isdisjoint(values):
            await require_parents(self, table, (values,))
        return await self.run(
            lambda backend: backend.update(table, where, values, increment=increment),
            "update",
            table,
            where,
            values,
        )

    async def update_one(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> Row | None:
        if table.references and not table.referencing.isdisjoint(values):
            await require_parents(self, table, (values,))
        return await self.run(
            lambda backend: backend.update_one(table, where, values, increment=increment),
            "update_one",
            table,
            where,
            values,
        )

    async def delete(self, table: Table[Any], where: Condition) -> int:
        if table.referenced_by:
            await purge_dependents(self, table, where)
        return await self.run(lambda backend: backend.delete(table, where), "delete", table, where)

    # -- upsert --

    async def upsert(self, upsert: Upsert) -> UpsertResult:
        table = upsert.table
        if table.references:
            # The row it may insert, and the values it may set (CONTRACT §23).
            await require_parents(self, table, (upsert.row,))
            if not table.referencing.isdisjoint(upsert.values):
                await require_parents(self, table, (upsert.values,))
        return await self.run(
            lambda backend: backend.upsert(upsert),
            "upsert",
            upsert.table,
            upsert.guard,
            [upsert.row],
        )

    # -- reads --

    async def exists(self, table: Table[Any], where: Condition) -> bool:
        return await self.run(lambda backend: backend.exists(table, where), "exists", table, where)

    async def hold(self, table: Table[Any], where: Condition) -> int:
        return await self.run(lambda backend: backend.hold(table, where), "hold", table, where)

    async def delete_returning(self, table: Table[Any], where: Condition) -> list[Row]:
        if table.referenced_by:
            await purge_dependents(self, table, where)
        return await self.run(
            lambda backend: backend.delete_returning(table, where),
            "delete_returning",
            table,
            where,
        )

    async def _end(self, commit: bool) -> None:
        backend, self._backend = self._backend, None
        if backend is None:
            return
        if not commit or self._error is not None:
            await backend.rollback()
            return
        try:
            await backend.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await backend.rollback()
            raise
        self.committed = True


class Savepoint:
    """``async with session.savepoint():`` (see :meth:`Session.savepoint`)."""

    __slots__ = ("_mark", "_session")

    def __init__(self, session: Session) -> None:
        self._session = session
        self._mark: object = None

    async def __aenter__(self) -> Session:
        session = self._session
        session.require_writable("savepoint")
        if not session.database.capabilities.savepoints:
            raise UnsupportedOperation(f"savepoint: {describe('savepoints')}")
        self._mark = await session.run(lambda backend: backend.begin_savepoint(), "savepoint")
        return session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        session, mark = self._session, self._mark
        if exc is None:
            await session.run(lambda backend: backend.release_savepoint(mark), "release savepoint")
            return False
        backend = session._backend
        if backend is None or not isinstance(exc, Exception):
            return False  # ended, or cancelled: the whole transaction rolls back
        try:
            # Shielded: a cancellation meanwhile must not leave it half done.
            await shielded(backend.rollback_to_savepoint(mark))
        except Exception as failure:
            session.fail(failure)  # the session stays aborted: everything rolls back
            return False
        session._error = None  # the failed statement is undone: the transaction goes on
        return False


class Database:
    """A database of repositories on one backend.

    Args:
        backend: the backend to run on.
        cursor_key: the secret key that signs pagination cursors. Defaults to
            ``$REPOKIT_CURSOR_KEY`` when set, else to a random key generated
            once per process (:data:`repokit.cursors.DEFAULT_KEY`): cursors then
            work across every Database of the process, but a cursor from another
            process (or from before a restart) is an ``InvalidCursor``. A
            deployment of several processes behind one API must set
            ``cursor_key`` or ``REPOKIT_CURSOR_KEY`` to the same secret in each.
        log_values: let the ``repokit.statements`` log records and failed spans
            carry values: condition operands, the rows and values written, error
            messages (which may quote them). Off by default: they may hold
            personal data. See ``docs/observability.md``.
        tracer_provider: the OpenTelemetry tracer provider spans go to; by
            default the global one, once the application has set it.
        replicas: read replicas of *backend* (backends, or a
            :class:`~repokit.replicas.Replicas` with its policy): read-only
            sessions run on them, everything else on *backend*, the primary
            (:mod:`repokit.replicas` says how one is picked).
        max_replica_lag: with a list of *replicas*: skip a replica more than
            this many seconds behind the primary, as its server measures it.
        clock: what time it is for repokit, a function returning an aware
            datetime (default: :func:`~repokit.tables.utc_now`): the maintained
            timestamps (CONTRACT §21) and timestamp soft-delete markers read
            it. Kept in :attr:`clock`, which a test may replace.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cursor_key: bytes | None = None,
        log_values: bool = False,
        tracer_provider: TracerProvider | None = None,
        replicas: Replicas | Sequence[Backend | Connect] = (),
        max_replica_lag: float | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(f"expected a repokit Backend, got {backend!r}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a function returning a datetime, got {clock!r}")
        self.backend = backend
        #: The database's clock (CONTRACT §21); :meth:`now` reads it.
        self.clock: Callable[[], datetime] = utc_now if clock is None else clock
        if isinstance(replicas, Replicas):
            if max_replica_lag is not None:
                raise InvalidQuery("max_replica_lag: give it to the Replicas, not to the Database")
        else:
            if replicas and backend.routes_reads:
                raise _routes_reads(type(backend))
            replicas = Replicas(replicas, max_lag=max_replica_lag)
        #: Where read-only sessions run (:mod:`repokit.replicas`); empty without replicas.
        self.replicas: Replicas = replicas
        self._log_values = log_values
        self._tracer_provider = tracer_provider
        if cursor_key is None:
            env = os.environ.get("REPOKIT_CURSOR_KEY")
            cursor_key = env.encode() if env else DEFAULT_KEY
        self.cursors: CursorCodec = CursorCodec(cursor_key)
        #: How backend calls are logged and traced (:mod:`repokit.observability`).
        self.telemetry: Telemetry = Telemetry(
            backend.endpoint, log_values=log_values, tracer_provider=tracer_provider
        )
        self._replica_telemetry: dict[int, Telemetry] = {}
        self._closed = False

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        cursor_key: bytes | None = None,
        log_values: bool = False,
        tracer_provider: TracerProvider | None = None,
        replicas: Sequence[str] = (),
        max_replica_lag: float | None = None,
        clock: Callable[[], datetime] | None = None,
        **options: Any,
    ) -> _Connecting[Self]:
        """Connect to the database at *url*; the scheme picks the backend.

        Await it for the database (``db = await Database.connect(url)``), or
        use it as an async context manager that connects on entry and closes
        the database on exit (``async with Database.connect(url) as db``).
        Nothing happens until then.

        Args:
            url: e.g. ``sqlite+aiosqlite:///app.db``, ``postgresql+asyncpg://…``,
                ``mongodb://…/appdb`` or ``memory://``.
            cursor_key: see :class:`Database`.
            log_values: see :class:`Database`.
            tracer_provider: see :class:`Database`.
            replicas: URLs of read replicas of *url*'s database, each connected
                with the same *options* (see :class:`Database`). A replica that
                cannot be reached now is skipped until it can.
            max_replica_lag: see :class:`Database`.
            clock: see :class:`Database`.
            options: passed to the backend (e.g. engine options).

        Raises:
            BackendNotInstalled: no backend for the scheme, or its driver is
                missing (names what to install).
            BackendUnavailable: the server cannot be reached.
        """

        if isinstance(replicas, str):
            raise InvalidQuery("replicas: a list of URLs, not one string")

        async def connect() -> Self:
            backend_cls = backend_for_url(url)
            for replica in replicas:
                if backend_for_url(replica) is not backend_cls:
                    raise InvalidQuery(
                        f"replica {redacted(replica)} is not a {backend_cls.__name__} "
                        f"like its primary {redacted(url)}"
                    )
            if replicas and backend_cls.routes_reads:
                raise _routes_reads(backend_cls)
            if max_replica_lag is not None:
                Replicas((), max_lag=max_replica_lag)  # checks it before any I/O
            backend = await backend_cls.connect(url, **options)
            mirrors: list[Backend | Connect] = []
            try:
                for replica in replicas:
                    mirrors.append(await _replica(backend_cls, replica, options))
                return cls(
                    backend,
                    cursor_key=cursor_key,
                    log_values=log_values,
                    tracer_provider=tracer_provider,
                    replicas=mirrors,
                    max_replica_lag=max_replica_lag,
                    clock=clock,
                )
            except BaseException:
                for mirror in mirrors:
                    if isinstance(mirror, Backend):
                        await mirror.close()
                await backend.close()
                raise

        return _Connecting(connect)

    def now(self) -> datetime:
        """The clock's time, in UTC, floored to milliseconds (CONTRACT §1, §21).

        Raises:
            TypeError: the clock returned something other than an aware datetime.
        """
        value = self.clock()
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise TypeError(f"the database's clock must return an aware datetime, got {value!r}")
        return floor_datetime(value)

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do."""
        return self.backend.capabilities

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the database then refuses new sessions)."""
        return self._closed

    async def create_tables(
        self, *tables: Table[Any], reconcile: bool = False
    ) -> list[SchemaChange]:
        """Create *tables* with their indexes and constraints; check the existing ones.

        Missing tables are created (on MongoDB, missing indexes too). An
        existing table whose stored schema differs from its declaration in
        any other way (an index or unique key added, removed or changed, a
        column added or removed: :meth:`schema_changes`) raises
        :class:`~repokit.errors.SchemaDrift` listing the differences, before
        anything is changed (CONTRACT §16).

        Args:
            tables: the tables (or collections of tables).
            reconcile: also apply the changes the backend can make itself
                (MongoDB: drop and replace the indexes repokit owns). The SQL
                backends make none: their schema changes are migrations.

        Returns:
            the changes applied.

        Raises:
            SchemaDrift: changes this call may not apply; nothing was changed.
        """
        flat = dependency_order(_tables(tables))
        changes = await self.backend.schema_changes(flat)
        allowed = (Remedy.CREATE, Remedy.RECONCILE) if reconcile else (Remedy.CREATE,)
        blocked = [change for change in changes if change.remedy not in allowed]
        if blocked:
            raise SchemaDrift(blocked)
        if reconcile:
            todo = [change for change in changes if change.remedy is Remedy.RECONCILE]
            if todo:
                await self.backend.reconcile_tables(flat, todo)
        await self.backend.create_tables(flat)
        return changes

    async def schema_changes(self, *tables: Table[Any]) -> list[SchemaChange]:
        """The dry run of :meth:`create_tables`: every difference, each with its remedy.

        Changes nothing. A :class:`~repokit.drift.SchemaChange` says what
        differs and what applies it: ``create_tables`` (missing tables),
        ``create_tables(..., reconcile=True)``, or a migration.
        """
        return await self.backend.schema_changes(_tables(tables))

    async def drop_tables(self, *tables: Table[Any]) -> None:
        """Drop *tables* and all their data (children before the tables they reference)."""
        await self.backend.drop_tables(dependency_order(_tables(tables))[::-1])

    def _session(
        self, read_only: bool, single: bool = False, primary: bool = False
    ) -> _SessionBlock:
        return _SessionBlock(self, read_only, single, primary)

    def begin_session(self) -> _SessionBlock:
        """A read-write transaction: ``async with db.begin_session() as session``.

        Commits when the block ends normally; rolls back on any error. Runs on
        the primary.
        """
        return self._session(read_only=False)

    def begin_readonly_session(self, *, primary: bool = False) -> _SessionBlock:
        """A read-only transaction; writes inside it raise ``UnsupportedOperation``.

        With replicas it runs on one of them (:mod:`repokit.replicas`), unless
        *primary* asks for the primary: reads that must see the caller's own
        latest writes. :meth:`reading_primary` does the same for every
        read-only session in a block.
        """
        return self._session(read_only=True, primary=primary)

    @contextlib.contextmanager
    def reading_primary(self) -> Iterator[None]:
        """Send every read-only session opened in the block (in this task) to the primary.

        For a repository call that must read its own writes, without a
        session of its own: ``with db.reading_primary(): await repo.get(key)``.
        """
        token = PRIMARY_READS.set(True)
        try:
            yield
        finally:
            PRIMARY_READS.reset(token)

    def replica_telemetry(self, replica: Replica) -> Telemetry:
        """How the calls of a session on *replica* are logged and traced (its own address)."""
        found = self._replica_telemetry.get(id(replica))
        if found is None:
            assert replica.backend is not None
            found = self._replica_telemetry[id(replica)] = Telemetry(
                replica.backend.endpoint,
                log_values=self._log_values,
                tracer_provider=self._tracer_provider,
            )
        return found

    async def _open_read(self) -> tuple[Replica | None, BackendSession]:
        """A read-only session on a replica that can serve, else on the primary."""
        routed = await self.replicas.open()
        if routed is not None:
            return routed
        return None, await self.backend.open_session(read_only=True)

    def transaction(self, *, read_only: bool = False, attempts: int = 5) -> Transaction:
        """A multi-statement block that is re-run on transient conflicts::

            async for attempt in db.transaction():
                async with attempt as session:
                    project = await projects.get(key, session=session)
                    await projects.update(key, spec, session=session)

        Each attempt is one :meth:`begin_session` block. A block that fails
        with :class:`~repokit.errors.TransactionConflict` (a serialisation
        failure, a deadlock, a MongoDB write conflict, a busy SQLite file) is
        rolled back and run again after a jittered exponential back-off (at
        most 0.5 s); every other error, and the conflict of the last attempt,
        propagates, and so does a conflict at COMMIT (the block may have left by
        ``return``: see :class:`Attempt`; :meth:`run_in_transaction` retries
        those too). The block may run several times, so it must not have side
        effects outside the transaction. A bare ``begin_session()`` block can
        raise ``TransactionConflict`` under contention; this form is the one to
        use wherever a block writes (CONTRACT §9).

        Args:
            read_only: attempts are read-only sessions.
            attempts: how many times the block may run (at least 1).
        """
        return Transaction(self, read_only=read_only, attempts=attempts)

    async def run_in_transaction(
        self,
        work: Callable[[Session], Awaitable[R]],
        *,
        read_only: bool = False,
        attempts: int = 5,
    ) -> R:
        """Run ``work(session)`` in a transaction, retrying transient conflicts.

        The same rule as :meth:`transaction`, for a unit of work written as a
        function: only :class:`~repokit.errors.TransactionConflict` is
        retried; *work* may run several times, so it must not have side
        effects outside the transaction.
        """
        return await self._run(work, read_only=read_only, attempts=attempts)

    async def _run(
        self,
        work: Callable[[Session], Awaitable[R]],
        *,
        read_only: bool = False,
        attempts: int = 5,
        single: bool = False,
    ) -> R:
        """:meth:`run_in_transaction`; *single*: the work is one write statement.

        (Repository calls outside a session pass *single* for the writes of
        one entity: see :meth:`BackendSession.single_statement`.)
        """
        _check_attempts(attempts)
        for attempt in range(1, attempts + 1):
            try:
                async with self._session(read_only, single) as session:
                    return await work(session)
            except (TransactionConflict, TransactionAborted) as exc:
                transient = is_transient(exc)
                if attempt == attempts or not transient:
                    if transient:
                        log_conflict(attempt, attempts, exc, None)
                    raise
                delay = backoff(attempt)
                log_conflict(attempt, attempts, exc, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Release every connection (the replicas' too); the database is unusable afterwards."""
        if not self._closed:
            self._closed = True
            try:
                await self.replicas.close()
            finally:
                await self.backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


D = TypeVar("D", bound=Database)


class _Connecting(Coroutine[Any, Any, D]):
    """What :meth:`Database.connect` returns: a coroutine and an async context manager.

    ``await`` it (or hand it to ``asyncio.run``, ``create_task``…) for the
    database; ``async with`` it to connect on entry and close on exit. The
    connecting coroutine is made only when awaited or entered, so one used
    only as a context manager leaves no never-awaited coroutine behind.
    """

    __slots__ = ("_connect", "_coroutine", "_database")

    def __init__(self, connect: Callable[[], Coroutine[Any, Any, D]]) -> None:
        self._connect = connect
        self._coroutine: Coroutine[Any, Any, D] | None = None
        self._database: D | None = None

    def _started(self) -> Coroutine[Any, Any, D]:
        if self._coroutine is None:
            self._coroutine = self._connect()
        return self._coroutine

    def __await__(self) -> Generator[Any, None, D]:
        return self._started().__await__()

    def send(self, value: Any) -> Any:
        return self._started().send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None, /) -> Any:
        if val is None and tb is None:
            return self._started().throw(typ)
        return self._started().throw(typ, val, tb)  # pragma: no cover - legacy signature

    def close(self) -> None:
        if self._coroutine is not None:
            self._coroutine.close()

    async def __aenter__(self) -> D:
        self._database = await self._connect()
        return self._database

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        database, self._database = self._database, None
        if database is not None:
            await database.close()


class _SessionBlock:
    """``async with``: opens a session, then commits it, or rolls it back on any error.

    A class rather than a generator-based context manager: this runs around
    every repository call.
    """

    __slots__ = ("_database", "_primary", "_read_only", "_session", "_single", "_started")

    def __init__(
        self, database: Database, read_only: bool, single: bool = False, primary: bool = False
    ) -> None:
        self._database = database
        self._read_only = read_only
        self._single = single
        self._primary = primary
        self._session: Session | None = None
        #: When the session began, if the session log was on then (else 0).
        self._started = 0.0

    async def __aenter__(self) -> Session:
        database = self._database
        if database._closed:
            raise RepositoryError("the database is closed")
        replica: Replica | None = None
        if not self._read_only:
            backend = await database.backend.open_session(read_only=False)
            if self._single:
                backend.single_statement()
        elif self._primary or PRIMARY_READS.get():
            backend = await database.backend.open_primary_read()
        elif database.replicas:
            replica, backend = await database._open_read()
        else:
            backend = await database.backend.open_session(read_only=True)
        self._session = Session(database, backend, read_only=self._read_only, replica=replica)
        if DATABASE_LOG.isEnabledFor(logging.DEBUG):
            self._started = time.perf_counter()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The end runs to completion even if the task is cancelled meanwhile (the
        # cancellation propagates afterwards): nothing is left half-ended (CONTRACT §12).
        session = self._session
        assert session is not None
        if exc is not None:
            await shielded(session._end(commit=False))
            if self._started:
                log_session_end(session, self._started, exc)
            return
        error = session._error
        if error is not None:
            await shielded(session._end(commit=False))
            if self._started:
                log_session_end(session, self._started, error)
            raise TransactionAborted(
                f"the transaction was rolled back because an operation inside it failed: {error!r}"
            ) from error
        try:
            await shielded(session._end(commit=not self._read_only))
        except BaseException as failure:
            if self._started:
                log_session_end(session, self._started, failure)
            raise
        if self._started:
            log_session_end(session, self._started, None)


def is_transient(error: BaseException) -> bool:
    """Whether re-running the transaction that raised *error* may succeed."""
    if isinstance(error, TransactionConflict):
        return True
    return isinstance(error, TransactionAborted) and isinstance(
        error.__cause__, TransactionConflict
    )


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1``: jittered, exponential, at most 0.5."""
    return random.uniform(0, min(0.5, 0.005 * 2**attempt))


def _check_attempts(attempts: int) -> None:
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be an int of at least 1, got {attempts!r}")


class Transaction:
    """The attempts of :meth:`Database.transaction`: an async iterator of :class:`Attempt` s."""

    __slots__ = ("_attempts", "_database", "_delay", "_done", "_read_only", "_tried")

    def __init__(self, database: Database, *, read_only: bool, attempts: int) -> None:
        _check_attempts(attempts)
        self._database = database
        self._read_only = read_only
        self._attempts = attempts
        self._tried = 0
        self._done = False
        #: The back-off before the next attempt, chosen when the last one conflicted.
        self._delay: float | None = None

    def __aiter__(self) -> Self:
        return self

    def _conflicted(self, error: BaseException, *, retry: bool) -> None:
        """The current attempt failed with transient *error*; choose the back-off, log it."""
        self._delay = backoff(self._tried) if retry else None
        log_conflict(self._tried, self._attempts, error, self._delay)

    async def __anext__(self) -> Attempt:
        if self._done:
            raise StopAsyncIteration
        if self._tried >= self._attempts:
            # Only reached when an attempt's block was skipped or left without an error.
            raise StopAsyncIteration
        if self._tried:
            delay, self._delay = self._delay, None
            await asyncio.sleep(backoff(self._tried) if delay is None else delay)
        self._tried += 1
        return Attempt(self, last=self._tried == self._attempts)


class Attempt:
    """One run of a :class:`Transaction` block: ``async with attempt as session``.

    Leaving the block normally commits and ends the iteration. A transient
    conflict *raised out of the block* rolls it back and is swallowed, so the
    next attempt runs (unless this is the last one). A conflict at COMMIT, or
    behind an error the block caught itself, propagates instead: the block may
    have left by ``return`` or ``break``, and Python would then discard a
    swallowed error with the loop — a lost write reported as done.
    :meth:`Database.run_in_transaction` retries those too.
    """

    __slots__ = ("_block", "_last", "_transaction")

    def __init__(self, transaction: Transaction, *, last: bool) -> None:
        self._transaction = transaction
        self._last = last
        self._block = transaction._database._session(transaction._read_only)

    async def __aenter__(self) -> Session:
        # A conflict while beginning (a SQLite writer turn not free within the busy
        # timeout) propagates: ``async with`` cannot skip a body whose enter failed.
        return await self._block.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            await self._block.__aexit__(exc_type, exc, tb)
        except (TransactionConflict, TransactionAborted) as error:
            # The block left without an error (maybe by return or break): the
            # conflict must reach the caller, never be swallowed (see the class).
            if is_transient(error):
                self._transaction._conflicted(error, retry=False)
            raise
        if exc is None:
            self._transaction._done = True
            return False
        if not is_transient(exc):
            return False
        self._transaction._conflicted(exc, retry=not self._last)
        return not self._last


def _routes_reads(backend_cls: type[Backend]) -> UnsupportedOperation:
    return UnsupportedOperation(
        f"{backend_cls.__name__} routes reads itself: name the servers in its URL "
        "and choose them with a read preference, not with replicas="
    )


async def _replica(
    backend_cls: type[Backend], url: str, options: Mapping[str, Any]
) -> Backend | Connect:
    """A replica's backend, or, while it cannot be reached, what connects to it later."""

    async def connect() -> Backend:
        return await backend_cls.connect(url, **options)

    try:
        return await connect()
    except BackendUnavailable:
        return connect


def redacted(url: str) -> str:
    """*url* without the password of its user info, for messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def _tables(tables: Sequence[Any]) -> list[Table[Any]]:
    flat: list[Table[Any]] = []
    for table in tables:
        if isinstance(table, Table):
            flat.append(table)
        else:
            flat.extend(table)
    return flat
