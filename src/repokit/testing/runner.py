"""Running the suite's synchronous (hypothesis) tests against async backends.

Property and stateful tests are plain functions driven by hypothesis; each
owns an :class:`asyncio.Runner` for its whole run and executes coroutines on
it, so every example reuses one connection to the backend under test and one
to the reference backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from repokit.database import Database
from repokit.testing.harness import Harness
from repokit.testing.schema import ALL_TABLES, REFERENCE_TABLES

__all__ = ["SuiteRunner", "prepare_tables"]

T = TypeVar("T")

#: The harnesses whose tables this process has prepared, by id. They are kept alive
#: here: an id is unique only among live objects, and a harness collected and another
#: made at its address (a fixture's harness per test) would pass for prepared.
_prepared: dict[int, Harness] = {}


async def prepare_tables(harness: Harness, db: Database) -> None:
    """Create the suite's tables: once per session on a persistent backend, else per database."""
    if db.capabilities.persistent:
        if _prepared.get(id(harness)) is harness:
            return
        await db.drop_tables(*ALL_TABLES, *REFERENCE_TABLES)
        _prepared[id(harness)] = harness
    await db.create_tables(*ALL_TABLES, *REFERENCE_TABLES)


class SuiteRunner:
    """The backend under test and the reference backend, on one private event loop."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self._runner = asyncio.Runner()
        self.db: Database
        self.oracle: Database

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run *coro* to completion on this runner's loop."""
        return self._runner.run(coro)

    def __enter__(self) -> Self:
        self.db = self.run(self.harness.open())
        self.run(prepare_tables(self.harness, self.db))
        self.oracle = self.run(Database.connect("memory://"))
        self.run(self.oracle.create_tables(*ALL_TABLES, *REFERENCE_TABLES))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.run(self.db.close())
            self.run(self.oracle.close())
        finally:
            self._runner.close()
