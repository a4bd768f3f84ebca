"""Tables for one test: created when the test asks, dropped before its fixtures tear down.

``await with_tables(db, *tables)`` drops whatever an earlier, interrupted run
left of *tables*, creates them, and remembers the event loop it ran on. The
pytest plugin drops them again at the very start of the test's teardown,
before any fixture's teardown: a fixture that opened *db* (and closes it
when it tears down) and pytest-asyncio's event loop are both still there,
whichever fixture asked for ``with_tables`` first. The drop runs on the loop
the tables were created on, because a database's connections belong to the
loop that opened them; ``with_tables`` itself is a plain fixture with no
loop of its own, so it works with any pytest-asyncio loop scope.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from repokit.database import Database
from repokit.tables import Table

__all__ = ["WithTables", "WithTablesError"]


class WithTablesError(RuntimeError):
    """``with_tables`` could not drop the tables it created."""


@dataclass(frozen=True)
class _Created:
    db: Database
    tables: tuple[Table[Any], ...]
    loop: asyncio.AbstractEventLoop

    def names(self) -> str:
        return ", ".join(table.name for table in self.tables)


class WithTables:
    """The value of the ``with_tables`` fixture: ``await with_tables(db, *tables)``."""

    def __init__(self) -> None:
        self._created: list[_Created] = []

    async def __call__(self, db: Database, *tables: Table[Any]) -> None:
        """Create *tables* on *db*, empty, for the current test.

        Args:
            db: an open database; it must stay open until the test's
                teardown (close it in a fixture, not in the test).
            tables: the tables to create.
        """
        if not tables:
            raise TypeError("with_tables(db, *tables) needs at least one table")
        loop = asyncio.get_running_loop()
        # Registered first: a create that fails half-way still drops what it made.
        self._created.append(_Created(db, tables, loop))
        await db.drop_tables(*tables)
        await db.create_tables(*tables)

    def drop_all(self) -> None:
        """Drop every table created so far, newest first, each on the loop it was created on.

        Called by the plugin outside any running loop (at the start of the
        test's teardown). Every drop is attempted; the first failure is raised
        after the others ran.

        Raises:
            WithTablesError: the database was closed, or its loop is gone.
        """
        errors: list[Exception] = []
        while self._created:
            created = self._created.pop()
            try:
                _drop(created)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _drop(created: _Created) -> None:
    if created.db.closed:
        raise WithTablesError(
            f"with_tables could not drop {created.names()}: the database was closed during "
            "the test. Close it in a fixture's teardown instead: with_tables drops its "
            "tables before any fixture tears down."
        )
    loop = created.loop
    if loop.is_closed():
        raise WithTablesError(
            f"with_tables could not drop {created.names()}: the event loop they were created "
            "on is closed. Call with_tables from the async test or an async fixture, on the "
            "loop the database belongs to."
        )
    if loop.is_running():
        raise WithTablesError(
            f"with_tables could not drop {created.names()}: their event loop is still running"
        )
    try:
        loop.run_until_complete(created.db.drop_tables(*created.tables))
    except Exception as exc:
        raise WithTablesError(f"with_tables could not drop {created.names()}: {exc}") from exc
