"""repokit through its public API: a ``Repository`` (the generic domain repository), each call
its own transaction, as the independent measurement in BASELINE.md used it.

A write of one entity outside a session is then one statement (no BEGIN / COMMIT
round trips: CONTRACT §9); the utilities inside ``begin_session()`` blocks, the other
way a domain repository is written, pay those round trips.

The runner opens the ``Database`` with a pool of
:data:`~benchmarks.model.W9_CONNECTIONS` (SQL: ``pool_size=10, max_overflow=0``;
MongoDB: ``maxPoolSize=10``); W1–W8 use one connection of it at a time. W9's
tasks share a second ``Database`` opened alike before W9 and closed after it,
as the raw layer's W9 runs on a pool of its own beside its one connection: so
W5–W8 run on the connection W1–W4b warmed, not on one W9 left on top of the
pool (a PostgreSQL connection's first DELETE … = ANY prepares and plans it
anew: ≈7 ms, three times raw's whole W7).
"""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks.model import PAGE, Item, items
from benchmarks.subject import Subject
from repokit import TRUE, CursorPagination, Database, OffsetPagination, Repository

__all__ = ["RepokitSubject"]

c = items.c
_FILTER = [c.tenant == "t2", c.status == "active"]
_ORDER = [c.created_at.asc()]


class RepokitSubject(Subject):
    name = "repokit"

    def __init__(self, url: str, *, sqlite_synchronous: str | None = None, **options: Any) -> None:
        self.url = url
        self.options = options
        #: Checked once the database is open (SQLite: the pragma every connection runs).
        self.sqlite_synchronous = sqlite_synchronous

    async def open(self) -> None:
        self.db = await Database.connect(self.url, **self.options)
        await self.db.create_tables(items)
        self.repo: Repository[Item, uuid.UUID] = Repository(self.db, items)
        if self.sqlite_synchronous is not None:
            await self._check_synchronous(self.sqlite_synchronous)

    async def _check_synchronous(self, expected: str) -> None:
        """Untimed: what a pooled connection's ``PRAGMA synchronous`` says (the engine's own)."""
        engine = getattr(self.db.backend, "engine", None)
        assert engine is not None, "repokit's SQLite backend has no engine to check"
        async with engine.connect() as connection:
            level = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
        levels = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}
        if level != levels[expected]:
            raise AssertionError(f"repokit SQLite: synchronous is {level}, not {expected}")

    async def close(self) -> None:
        await self.stop_concurrent()
        await self.db.close()

    async def start_concurrent(self) -> None:
        self.w9_db: Database | None = await Database.connect(self.url, **self.options)
        self.w9_repo: Repository[Item, uuid.UUID] = Repository(self.w9_db, items)

    async def stop_concurrent(self) -> None:
        database, self.w9_db = getattr(self, "w9_db", None), None
        if database is not None:
            await database.close()

    async def w9_get(self, key: uuid.UUID) -> object:
        return await self.w9_repo.get(key)

    async def w9_update(self, key: uuid.UUID, score: int) -> object:
        return await self.w9_repo.update(key, {"score": score})

    async def w9_search(self, offset: int) -> int:
        return await self._search(self.w9_repo, offset)

    async def reset(self) -> None:
        await self.purge_all()

    async def create_one(self, item: Item) -> None:
        await self.repo.create(item)

    async def batch_create(self, batch: list[Item]) -> None:
        await self.repo.batch_create(batch)

    async def get(self, key: uuid.UUID) -> object:
        return await self.repo.get(key)

    async def search(self, offset: int) -> int:
        return await self._search(self.repo, offset)

    @staticmethod
    async def _search(repo: Repository[Item, uuid.UUID], offset: int) -> int:
        page = await repo.search(
            conditions=_FILTER,
            orders=_ORDER,
            pagination=OffsetPagination(limit=PAGE, offset=offset),
            total_count=True,
        )
        assert page.total_count is not None
        return page.total_count

    async def walk(self) -> int:
        seen = 0
        after = None
        while True:
            page = await self.repo.search(
                conditions=_FILTER,
                orders=_ORDER,
                pagination=CursorPagination(first=PAGE, after=after),
            )
            seen += len(page.items)
            if not page.has_next_page:
                return seen
            after = page.end_cursor

    async def update(self, key: uuid.UUID, score: int) -> object:
        return await self.repo.update(key, {"score": score})

    async def batch_update(self) -> int:
        return await self.repo.batch_update(
            {"score": 7}, conditions=[c.tenant == "t2", c.status == "draft"]
        )

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        return await self.repo.batch_purge(ids=keys)

    async def purge_all(self) -> int:
        return await self.repo.batch_purge(conditions=[TRUE])
