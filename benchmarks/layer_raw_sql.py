"""The raw drivers: aiosqlite and asyncpg on one held connection.

Same table (created by repokit, so the same columns, storage forms and
indexes), same results, and the transaction semantics repokit promises:
single statements autocommit (each is atomic), batches run inside one
explicit transaction. Like a hand-written DAO, each subject converts
parameters to the stored forms (SQLite keeps UUIDs as 32-hex text and
datetimes as epoch milliseconds) and turns the rows it reads back into
``Item`` s, as repokit does: the same work, from the same driver.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.model import PAGE, Item
from benchmarks.subject import Subject

__all__ = ["RawPostgres", "RawSQLite"]

_COLUMNS = "id, tenant, project, name, status, score, created_at"
_T = "bench_items"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // _MS


def _sqlite_item(row: Any) -> Item:
    key, tenant, project, name, status, score, created = row
    return Item(uuid.UUID(key), tenant, project, name, status, score, _EPOCH + created * _MS)


def _pg_item(row: Any) -> Item:
    return Item(*row)


class RawSQLite(Subject):
    """aiosqlite, autocommit, ``BEGIN IMMEDIATE`` around batches."""

    name = "raw"

    def __init__(self, path: str) -> None:
        self.path = path

    async def open(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self.conn.execute("PRAGMA journal_mode = WAL")
        await self.conn.execute("PRAGMA busy_timeout = 30000")

    async def close(self) -> None:
        await self.conn.close()

    async def reset(self) -> None:
        await self.conn.execute(f"DELETE FROM {_T}")

    @staticmethod
    def _params(item: Item) -> tuple[Any, ...]:
        return (
            item.id.hex,
            item.tenant,
            item.project,
            item.name,
            item.status,
            item.score,
            _ms(item.created_at),
        )

    async def create_one(self, item: Item) -> None:
        await self.conn.execute(
            f"INSERT INTO {_T} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", self._params(item)
        )

    async def _atomic(self, sql: str, params: Any, many: bool = False) -> int:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            if many:
                cursor = await self.conn.executemany(sql, params)
            else:
                cursor = await self.conn.execute(sql, params)
            count = cursor.rowcount
            await self.conn.execute("COMMIT")
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        return count

    async def batch_create(self, batch: list[Item]) -> None:
        params = [self._params(item) for item in batch]
        sql = f"INSERT INTO {_T} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        await self._atomic(sql, params, many=True)

    async def get(self, key: uuid.UUID) -> object:
        rows = await self.conn.execute_fetchall(
            f"SELECT {_COLUMNS} FROM {_T} WHERE id = ?", (key.hex,)
        )
        return _sqlite_item(next(iter(rows)))

    async def search(self, offset: int) -> int:
        rows = await self.conn.execute_fetchall(
            f"SELECT (SELECT count(*) FROM {_T} WHERE tenant = ?1 AND status = ?2), {_COLUMNS} "
            f"FROM {_T} WHERE tenant = ?1 AND status = ?2 ORDER BY created_at, id "
            "LIMIT ?3 OFFSET ?4",
            ("t2", "active", PAGE + 1, offset),
        )
        records = list(rows)
        page = [_sqlite_item(record[1:]) for record in records[:PAGE]]
        assert page
        return int(records[0][0])

    async def walk(self) -> int:
        seen = 0
        head = f"SELECT {_COLUMNS} FROM {_T} WHERE tenant = 't2' AND status = 'active'"
        tail = f" ORDER BY created_at, id LIMIT {PAGE + 1}"
        rows = list(await self.conn.execute_fetchall(head + tail))
        while True:
            seen += len([_sqlite_item(row) for row in rows[:PAGE]])
            if len(rows) <= PAGE:
                return seen
            last = rows[PAGE - 1]
            rows = list(
                await self.conn.execute_fetchall(
                    head + " AND (created_at > ?1 OR (created_at = ?1 AND id > ?2))" + tail,
                    (last[6], last[0]),
                )
            )

    async def update(self, key: uuid.UUID, score: int) -> object:
        rows = await self.conn.execute_fetchall(
            f"UPDATE {_T} SET score = ? WHERE id = ? RETURNING {_COLUMNS}", (score, key.hex)
        )
        return _sqlite_item(next(iter(rows)))

    async def batch_update(self) -> int:
        return await self._atomic(
            f"UPDATE {_T} SET score = 7 WHERE tenant = ? AND status = ?", ("t2", "draft")
        )

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        marks = ", ".join("?" * len(keys))
        return await self._atomic(
            f"DELETE FROM {_T} WHERE id IN ({marks})", [key.hex for key in keys]
        )

    async def purge_all(self) -> int:
        cursor = await self.conn.execute(f"DELETE FROM {_T}")
        return cursor.rowcount


class RawPostgres(Subject):
    """asyncpg on one connection: autocommit statements, a transaction around batches."""

    name = "raw"

    def __init__(self, url: str) -> None:
        self.dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)

    async def close(self) -> None:
        await self.conn.close()

    async def reset(self) -> None:
        await self.conn.execute(f"DELETE FROM {_T}")

    @staticmethod
    def _params(item: Item) -> tuple[Any, ...]:
        return (
            item.id,
            item.tenant,
            item.project,
            item.name,
            item.status,
            item.score,
            item.created_at,
        )

    async def create_one(self, item: Item) -> None:
        await self.conn.execute(
            f"INSERT INTO {_T} ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            *self._params(item),
        )

    async def batch_create(self, batch: list[Item]) -> None:
        params = [self._params(item) for item in batch]
        async with self.conn.transaction():
            await self.conn.executemany(
                f"INSERT INTO {_T} ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)", params
            )

    async def get(self, key: uuid.UUID) -> object:
        row = await self.conn.fetchrow(f"SELECT {_COLUMNS} FROM {_T} WHERE id = $1", key)
        assert row is not None
        return _pg_item(row)

    async def search(self, offset: int) -> int:
        rows = await self.conn.fetch(
            f"SELECT (SELECT count(*) FROM {_T} WHERE tenant = $1 AND status = $2), {_COLUMNS} "
            f"FROM {_T} WHERE tenant = $1 AND status = $2 ORDER BY created_at, id "
            "LIMIT $3 OFFSET $4",
            "t2",
            "active",
            PAGE + 1,
            offset,
        )
        page = [_pg_item(record[1:]) for record in rows[:PAGE]]
        assert page
        return int(rows[0][0])

    async def walk(self) -> int:
        seen = 0
        head = f"SELECT {_COLUMNS} FROM {_T} WHERE tenant = 't2' AND status = 'active'"
        tail = f" ORDER BY created_at, id LIMIT {PAGE + 1}"
        rows = await self.conn.fetch(head + tail)
        while True:
            seen += len([_pg_item(row) for row in rows[:PAGE]])
            if len(rows) <= PAGE:
                return seen
            last = rows[PAGE - 1]
            rows = await self.conn.fetch(
                head + " AND (created_at > $1 OR (created_at = $1 AND id > $2))" + tail,
                last[6],
                last[0],
            )

    async def update(self, key: uuid.UUID, score: int) -> object:
        row = await self.conn.fetchrow(
            f"UPDATE {_T} SET score = $1 WHERE id = $2 RETURNING {_COLUMNS}", score, key
        )
        assert row is not None
        return _pg_item(row)

    async def _count(self, status: str) -> int:
        return int(status.rsplit(" ", 1)[1])

    async def batch_update(self) -> int:
        async with self.conn.transaction():
            status = await self.conn.execute(
                f"UPDATE {_T} SET score = 7 WHERE tenant = $1 AND status = $2", "t2", "draft"
            )
        return await self._count(status)

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        async with self.conn.transaction():
            status = await self.conn.execute(f"DELETE FROM {_T} WHERE id = ANY($1::uuid[])", keys)
        return await self._count(status)

    async def purge_all(self) -> int:
        return await self._count(await self.conn.execute(f"DELETE FROM {_T}"))
