"""aiosqlite with one thread hop per statement, and ``BEGIN`` folded into the first one.

aiosqlite runs sqlite3 on a worker thread and every call is a hop to it and
back; SQLAlchemy's adapter makes four per statement (open a cursor, execute,
fetch, close) and repokit added one for ``BEGIN``, one for ``COMMIT`` and
one for the pool's reset. A hop costs more than a point read itself.

:class:`OneHopConnection` wraps an aiosqlite connection: a statement opens
a cursor, executes, fetches every row and closes the cursor in a single hop,
and :meth:`OneHopConnection.statement` runs a session's ``BEGIN`` in that
same hop, before its first statement. SQLAlchemy's own statements (schema
management) go through the DB-API-shaped cursor, one hop each. Nothing
changes in what SQLite executes or in which order.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from repokit.shielding import HeldCancellation, shielded

__all__ = ["OneHopConnection", "connect"]


#: The aiosqlite versions whose private attributes this module uses (``_tx``,
#: ``_running``, ``_connection``, ``_thread``), each pinned by
#: tests/backends/sqlalchemy/test_aiosqlite_privates.py.
TESTED_AIOSQLITE = ((0, 21), (0, 22))


class OneHopConnection:
    """An aiosqlite connection whose cursors execute in one hop."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        #: Whether SQLite had a transaction open after the last hop (the connection
        #: autocommits, so only statements run through this object change it).
        self.in_transaction = False
        #: Raises if the database file is no longer the one opened (the dialect's
        #: check_database); run in the worker thread before COMMIT, and before the
        #: next hop's work while :attr:`check_next` is set.
        self.guard: Callable[[], None] | None = None
        self.check_next = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def run(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run *work* on the sqlite3 connection in the worker thread (one hop)."""
        connection = self._connection

        guard = self.guard if self.check_next else None
        self.check_next = False

        def tracked(sqlite: sqlite3.Connection) -> Any:
            try:
                if guard is not None:
                    guard()
                return work(sqlite)
            finally:
                self.in_transaction = sqlite.in_transaction

        # aiosqlite's own _execute(), except for the future: once handed to the worker
        # thread the work runs whether or not this task is cancelled, so the task waits
        # for its end and the cancellation lands afterwards. The session then knows
        # whether a transaction is open before the connection is used again.
        if not connection._running or connection._connection is None:
            raise ValueError("Connection closed")
        future = HeldCancellation(loop=asyncio.get_running_loop())
        connection._tx.put_nowait((future, functools.partial(tracked, connection._connection)))
        return await future

    async def rollback(self) -> None:
        """Roll back, without a hop when no transaction is open (the pool's reset)."""
        self.check_next = False  # a rollback is never refused
        if self.in_transaction:
            await self.run(lambda sqlite: sqlite.rollback())

    async def commit(self) -> None:
        """Commit (after the :attr:`guard`), without a hop when no transaction is open."""
        if self.in_transaction:
            self.check_next = True
            await self.run(lambda sqlite: sqlite.commit())

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    async def statement(
        self, sql: str, params: Any, *, begin: str | None = None, many: bool = False
    ) -> tuple[list[Any], int]:
        """Run one statement (after *begin*, if given) in one hop; return its rows and rowcount."""
        rows, _, count, _ = await self.run(_work(begin, sql, params, many))
        return rows, count


class _Cursor:
    """A DB-API-shaped async cursor that executes, fetches and closes in one hop."""

    arraysize = 1

    def __init__(self, owner: OneHopConnection) -> None:
        self._owner = owner
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _run(self, sql: str, params: Any, many: bool) -> _Cursor:
        work = _work(None, sql, params, many)
        self._rows, self.description, self.rowcount, self.lastrowid = await self._owner.run(work)
        return self

    async def execute(self, sql: str, params: Any = None) -> _Cursor:
        return await self._run(sql, params, many=False)

    async def executemany(self, sql: str, params: Sequence[Any]) -> _Cursor:
        return await self._run(sql, params, many=True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._rows = []


_Result = tuple[list[Any], Any, int, int | None]


def _work(
    prefix: str | None, sql: str, params: Any, many: bool
) -> Callable[[sqlite3.Connection], _Result]:
    """One hop's work: *prefix* (a ``BEGIN``), then the statement, all rows, the cursor closed."""

    def work(sqlite: sqlite3.Connection) -> _Result:
        if prefix is not None:
            sqlite.execute(prefix)
        cursor = sqlite.cursor()
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, () if params is None else params)
            description = cursor.description
            rows = cursor.fetchall() if description else []
            return rows, description, cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()

    return work


def connect(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy opening aiosqlite connections wrapped in one-hop form."""

    async def create() -> OneHopConnection:
        import aiosqlite

        pending = aiosqlite.connect(*args, **kwargs)
        # As SQLAlchemy does: the worker thread never blocks interpreter exit
        # (aiosqlite < 0.22 made the connection itself the thread).
        thread: Any = getattr(pending, "_thread", pending)
        thread.daemon = True

        async def opened() -> Any:
            return await pending

        async def close(connection: Any) -> None:
            await connection.close()

        # A cancellation while sqlite3 opens the file on the worker thread would lose
        # the connection it opens there (left to the garbage collector, unclosed): it
        # is held until the open has ended, and the connection then closed.
        return OneHopConnection(await shielded(opened(), undo=close))

    return create
