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
import os
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

from repokit.backend import Backend, BackendSession, Select, Window
from repokit.capabilities import Capabilities
from repokit.conditions import Condition
from repokit.cursors import DEFAULT_KEY, CursorCodec
from repokit.errors import (
    RepositoryError,
    TransactionAborted,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit.registry import backend_for_url
from repokit.tables import Row, Table

__all__ = ["Database", "Session"]

R = TypeVar("R")


class Session:
    """One transaction, handed to the base utilities.

    A session that saw a backend error is aborted: every later operation
    raises :class:`~repokit.errors.TransactionAborted` and nothing of it is
    committed (CONTRACT §9).
    """

    __slots__ = ("_backend", "_error", "database", "read_only")

    def __init__(self, database: Database, backend: BackendSession, *, read_only: bool) -> None:
        self.database = database
        self.read_only = read_only
        self._backend: BackendSession | None = backend
        self._error: BaseException | None = None

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

    async def run(self, call: Callable[[BackendSession], Awaitable[R]]) -> R:
        """Run one backend call; any error aborts the transaction."""
        backend = self.backend
        try:
            return await call(backend)
        except BaseException as exc:
            self.fail(exc)
            raise

    # -- the SPI calls, each aborting the transaction when it fails ---------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        await self.run(lambda backend: backend.insert(table, rows))

    async def select(self, query: Select) -> list[Row]:
        return await self.run(lambda backend: backend.select(query))

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        return await self.run(lambda backend: backend.select_page(query, with_count=with_count))

    async def select_window(
        self, query: Select, *, count: Condition | None, probes: Sequence[Condition] = ()
    ) -> Window:
        return await self.run(
            lambda backend: backend.select_window(query, count=count, probes=probes)
        )

    async def count(self, table: Table[Any], where: Condition) -> int:
        return await self.run(lambda backend: backend.count(table, where))

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        return await self.run(
            lambda backend: backend.update(table, where, values, increment=increment)
        )

    async def update_one(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> Row | None:
        return await self.run(
            lambda backend: backend.update_one(table, where, values, increment=increment)
        )

    async def delete(self, table: Table[Any], where: Condition) -> int:
        return await self.run(lambda backend: backend.delete(table, where))

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


class Database:
    """A database of repositories on one backend.

    Args:
        backend: the backend to run on.
        cursor_key: the key that signs pagination cursors. Cursors are
            tamper-evident with the default key; give every process of a
            deployment the same secret key to make them unforgeable too.
            Defaults to ``$REPOKIT_CURSOR_KEY`` when set.
    """

    def __init__(self, backend: Backend, *, cursor_key: bytes | None = None) -> None:
        if not isinstance(backend, Backend):
            raise TypeError(f"expected a repokit Backend, got {backend!r}")
        self.backend = backend
        if cursor_key is None:
            env = os.environ.get("REPOKIT_CURSOR_KEY")
            cursor_key = env.encode() if env else DEFAULT_KEY
        self.cursors = CursorCodec(cursor_key)
        self._closed = False

    @classmethod
    async def connect(
        cls, url: str, *, cursor_key: bytes | None = None, **options: Any
    ) -> Database:
        """Connect to the database at *url*; the scheme picks the backend.

        Args:
            url: e.g. ``sqlite+aiosqlite:///app.db``, ``postgresql+asyncpg://…``,
                ``mongodb://…/appdb`` or ``memory://``.
            cursor_key: see :class:`Database`.
            options: passed to the backend (e.g. engine options).

        Raises:
            BackendNotInstalled: no backend for the scheme (names what to install).
            BackendUnavailable: the server cannot be reached.
        """
        backend_cls = backend_for_url(url)
        return cls(await backend_cls.connect(url, **options), cursor_key=cursor_key)

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do."""
        return self.backend.capabilities

    async def create_tables(self, *tables: Table[Any]) -> None:
        """Create *tables* with their indexes and constraints (existing ones are kept)."""
        await self.backend.create_tables(_tables(tables))

    async def drop_tables(self, *tables: Table[Any]) -> None:
        """Drop *tables* and all their data."""
        await self.backend.drop_tables(_tables(tables))

    def _session(self, read_only: bool) -> _SessionBlock:
        return _SessionBlock(self, read_only)

    def begin_session(self) -> _SessionBlock:
        """A read-write transaction: ``async with db.begin_session() as session``.

        Commits when the block ends normally; rolls back on any error.
        """
        return self._session(read_only=False)

    def begin_readonly_session(self) -> _SessionBlock:
        """A read-only transaction; writes inside it raise ``UnsupportedOperation``."""
        return self._session(read_only=True)

    async def run_in_transaction(
        self,
        work: Callable[[Session], Awaitable[R]],
        *,
        read_only: bool = False,
        attempts: int = 5,
    ) -> R:
        """Run ``work(session)`` in a transaction, retrying transient conflicts.

        Only :class:`~repokit.errors.TransactionConflict` (serialisation
        failures, deadlocks, a busy database, transient transaction errors) is
        retried, with jittered exponential back-off; every other error, and the
        last conflict, propagates. *work* may run several times, so it must not
        have side effects outside the transaction.
        """
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        for attempt in range(1, attempts + 1):
            try:
                async with self._session(read_only) as session:
                    return await work(session)
            except TransactionConflict:
                if attempt == attempts:
                    raise
            except TransactionAborted as exc:
                if attempt == attempts or not isinstance(exc.__cause__, TransactionConflict):
                    raise
            await asyncio.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Release every connection; the database is unusable afterwards."""
        if not self._closed:
            self._closed = True
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


class _SessionBlock:
    """``async with``: opens a session, then commits it, or rolls it back on any error.

    A class rather than a generator-based context manager: this runs around
    every repository call.
    """

    __slots__ = ("_database", "_read_only", "_session")

    def __init__(self, database: Database, read_only: bool) -> None:
        self._database = database
        self._read_only = read_only
        self._session: Session | None = None

    async def __aenter__(self) -> Session:
        database = self._database
        if database._closed:
            raise RepositoryError("the database is closed")
        backend = await database.backend.open_session(read_only=self._read_only)
        self._session = Session(database, backend, read_only=self._read_only)
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        assert session is not None
        if exc is not None:
            await session._end(commit=False)
            return
        error = session._error
        if error is not None:
            await session._end(commit=False)
            raise TransactionAborted(
                f"the transaction was rolled back because an operation inside it failed: {error!r}"
            ) from error
        await session._end(commit=not self._read_only)


def _tables(tables: Sequence[Any]) -> list[Table[Any]]:
    flat: list[Table[Any]] = []
    for table in tables:
        if isinstance(table, Table):
            flat.append(table)
        else:
            flat.extend(table)
    return flat
