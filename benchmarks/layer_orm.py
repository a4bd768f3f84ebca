"""SQLAlchemy ORM: one ``AsyncSession`` per call, mapped onto repokit's own table definition.

The mapped table is the one repokit creates (:func:`repokit_sqlalchemy.schema.sql_table`),
so the ORM stores exactly the same forms through the same column types.
The engine's pool is ``pool_size=10, max_overflow=0``, as repokit's (W9's
tasks share it); on SQLite every connection runs the run's ``PRAGMA
synchronous`` (the file is in WAL already).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import registry

from benchmarks.model import PAGE, W9_CONNECTIONS, Item, items
from benchmarks.subject import Subject
from repokit_sqlalchemy.schema import sql_table

__all__ = ["OrmSubject"]


class ItemRow:
    """The ORM's mutable mapped class."""

    id: uuid.UUID
    score: int
    created_at: datetime

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


_table = sql_table(items)
registry().map_imperatively(ItemRow, _table)
_c = _table.c
_FILTER = (_c.tenant == "t2", _c.status == "active")


class OrmSubject(Subject):
    name = "orm"

    def __init__(self, url: str, *, sqlite_synchronous: str | None = None) -> None:
        self.url = url
        self.sqlite_synchronous = sqlite_synchronous

    async def open(self) -> None:
        self.engine = create_async_engine(self.url, pool_size=W9_CONNECTIONS, max_overflow=0)
        if self.sqlite_synchronous is not None:
            pragma = f"PRAGMA synchronous = {self.sqlite_synchronous}"

            def on_connect(dbapi_connection: Any, record: Any) -> None:
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute(pragma)
                finally:
                    cursor.close()

            event.listen(self.engine.sync_engine, "connect", on_connect)
            async with self.engine.connect() as connection:
                level = (await connection.exec_driver_sql("PRAGMA synchronous")).scalar()
            if level != {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}[self.sqlite_synchronous]:
                raise AssertionError(f"ORM SQLite: synchronous is {level}")
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def close(self) -> None:
        await self.engine.dispose()

    async def reset(self) -> None:
        await self.purge_all()

    async def create_one(self, item: Item) -> None:
        async with self.sessions() as session, session.begin():
            session.add(ItemRow(**asdict(item)))

    async def batch_create(self, batch: list[Item]) -> None:
        async with self.sessions() as session, session.begin():
            session.add_all([ItemRow(**asdict(item)) for item in batch])

    async def get(self, key: uuid.UUID) -> object:
        async with self.sessions() as session:
            row = await session.get(ItemRow, key)
        assert row is not None
        return row

    async def search(self, offset: int) -> int:
        async with self.sessions() as session:
            page = await session.scalars(
                sa.select(ItemRow)
                .where(*_FILTER)
                .order_by(_c.created_at, _c.id)
                .limit(PAGE + 1)
                .offset(offset)
            )
            list(page)
            total = await session.scalar(sa.select(sa.func.count()).where(*_FILTER))
        return int(total or 0)

    async def walk(self) -> int:
        seen = 0
        query = sa.select(ItemRow).where(*_FILTER).order_by(_c.created_at, _c.id).limit(PAGE + 1)
        last: ItemRow | None = None
        while True:
            async with self.sessions() as session:
                step = query
                if last is not None:
                    step = step.where(
                        sa.or_(
                            _c.created_at > last.created_at,
                            sa.and_(_c.created_at == last.created_at, _c.id > last.id),
                        )
                    )
                rows = list(await session.scalars(step))
            seen += min(len(rows), PAGE)
            if len(rows) <= PAGE:
                return seen
            last = rows[PAGE - 1]

    async def update(self, key: uuid.UUID, score: int) -> object:
        async with self.sessions() as session, session.begin():
            row = await session.get(ItemRow, key)
            assert row is not None
            row.score = score
        return row

    async def _write(self, statement: Any) -> int:
        async with self.sessions() as session, session.begin():
            result = await session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def batch_update(self) -> int:
        return await self._write(
            sa.update(ItemRow)
            .where(_c.tenant == "t2", _c.status == "draft")
            .values(score=7)
            .execution_options(synchronize_session=False)
        )

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        return await self._write(
            sa.delete(ItemRow).where(_c.id.in_(keys)).execution_options(synchronize_session=False)
        )

    async def purge_all(self) -> int:
        return await self._write(sa.delete(ItemRow))
