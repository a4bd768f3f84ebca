"""The aiosqlite private attributes the one-hop driver uses, pinned.

:mod:`repokit_sqlalchemy.sqlite_driver` hands work to aiosqlite's worker
thread itself (``_tx``: the queue of ``(future, function)`` pairs; ``_running``
and ``_connection``: whether the thread still serves) so that a cancellation
cannot cut a statement loose from the session (CONTRACT §12), and marks the
worker thread a daemon (``_thread``). An aiosqlite upgrade that changes any of
them fails here, not in a user's service.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import sqlite3
import threading

import aiosqlite
import pytest

from repokit_sqlalchemy.sqlite_driver import TESTED_AIOSQLITE, OneHopConnection


def test_the_installed_aiosqlite_is_a_tested_version() -> None:
    version = importlib.metadata.version("aiosqlite")
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    assert major_minor in TESTED_AIOSQLITE, (
        f"aiosqlite {version}: check the private attributes sqlite_driver uses, then add it"
    )


@pytest.mark.asyncio
async def test_the_private_attributes_exist_with_their_meaning() -> None:
    pending = aiosqlite.connect(":memory:")
    assert isinstance(pending._thread, threading.Thread)
    connection = await pending
    try:
        assert connection._running is True
        assert isinstance(connection._connection, sqlite3.Connection)
        # The queue takes (future, function) and the worker sets the future's result.
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        connection._tx.put_nowait((future, lambda: 41 + 1))
        assert await future == 42
    finally:
        await connection.close()
    assert connection._connection is None


@pytest.mark.asyncio
async def test_a_closed_connection_refuses_work_instead_of_hanging() -> None:
    connection = OneHopConnection(await aiosqlite.connect(":memory:"))
    await connection.close()
    with pytest.raises(ValueError, match="closed"):
        await connection.run(lambda sqlite: None)


@pytest.mark.asyncio
async def test_a_cancelled_hop_still_runs_to_its_end_before_the_cancellation() -> None:
    connection = OneHopConnection(await aiosqlite.connect(":memory:"))
    try:
        started = threading.Event()
        release = threading.Event()

        def slow(sqlite: sqlite3.Connection) -> str:
            started.set()
            release.wait(5)
            sqlite.execute("BEGIN")
            return "done"

        task = asyncio.create_task(connection.run(slow))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.01)
        assert not task.done()  # the hop is still running: the task waits for it
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert connection.in_transaction  # what the hop did is known
    finally:
        await connection.rollback()
        await connection.close()
