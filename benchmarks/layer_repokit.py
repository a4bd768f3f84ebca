"""repokit through its public API: one session per call, like a domain repository."""

from __future__ import annotations

import uuid
from typing import Any

from benchmarks.model import PAGE, Item, items
from benchmarks.subject import Subject
from repokit import (
    TRUE,
    BatchPurger,
    BatchQuerier,
    BatchUpdater,
    Creator,
    CursorPagination,
    Database,
    OffsetPagination,
    Purger,
    Querier,
    Updater,
)

__all__ = ["RepokitSubject"]

c = items.c
_FILTER = [c.tenant == "t2", c.status == "active"]
_ORDER = [c.created_at.asc()]


class RepokitSubject(Subject):
    name = "repokit"

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.options = options
        self.creator = Creator(items)
        self.querier = Querier(items)
        self.searcher = BatchQuerier(items)
        self.updater = Updater(items)
        self.batch_updater = BatchUpdater(items)
        self.purger = Purger(items)
        self.batch_purger = BatchPurger(items)

    async def open(self) -> None:
        self.db = await Database.connect(self.url, **self.options)
        await self.db.create_tables(items)

    async def close(self) -> None:
        await self.db.close()

    async def reset(self) -> None:
        await self.purge_all()

    async def create_one(self, item: Item) -> None:
        async with self.db.begin_session() as session:
            await self.creator.create(session, item)

    async def batch_create(self, batch: list[Item]) -> None:
        async with self.db.begin_session() as session:
            await self.creator.batch_create(session, batch)

    async def get(self, key: uuid.UUID) -> object:
        async with self.db.begin_readonly_session() as session:
            return await self.querier.get(session, key)

    async def search(self, offset: int) -> int:
        async with self.db.begin_readonly_session() as session:
            page = await self.searcher.search(
                session,
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
            async with self.db.begin_readonly_session() as session:
                page = await self.searcher.search(
                    session,
                    conditions=_FILTER,
                    orders=_ORDER,
                    pagination=CursorPagination(first=PAGE, after=after),
                )
            seen += len(page.items)
            if not page.has_next_page:
                return seen
            after = page.end_cursor

    async def update(self, key: uuid.UUID, score: int) -> object:
        async with self.db.begin_session() as session:
            return await self.updater.update(session, key, {"score": score})

    async def batch_update(self) -> int:
        async with self.db.begin_session() as session:
            return await self.batch_updater.batch_update(
                session, {"score": 7}, conditions=[c.tenant == "t2", c.status == "draft"]
            )

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        async with self.db.begin_session() as session:
            return await self.batch_purger.batch_purge(session, ids=keys)

    async def purge_all(self) -> int:
        async with self.db.begin_session() as session:
            return await self.batch_purger.batch_purge(session, conditions=[TRUE])
