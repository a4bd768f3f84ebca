"""The raw drivers: aiosqlite and asyncpg on one held connection (W9: a pool of them).

Same table (created by repokit, so the same columns, storage forms and
indexes), same results, and the transaction semantics repokit promises:
single statements autocommit (each is atomic), batches run inside one
explicit transaction. Like a hand-written DAO, each subject converts
parameters to the stored forms (SQLite keeps UUIDs as 32-hex text and
datetimes as epoch milliseconds) and turns the rows it reads back into
``Item`` s, as repokit does: the same work, from the same driver.

W9 (concurrent tasks) runs on the drivers' own pooling: asyncpg's
``create_pool(min_size=10, max_size=10)`` as it comes (it resets a connection
on release), and on SQLite — aiosqlite has no pool — the hand-written
equivalent: ten aiosqlite connections in an ``asyncio.Queue``, writers taking
turns on one ``asyncio.Lock`` taken before a connection (as repokit's writers
do), readers never waiting for writers (WAL).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.model import PAGE, W9_CONNECTIONS, Item
from benchmarks.subject import Subject

__all__ = ["RawPostgres", "RawSQLite"]

_COLUMNS = "id, tenant, project, name, status, score, created_at"
_T = "bench_items"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
#: ``PRAGMA synchronous`` answers with the level's number.
_SYNCHRONOUS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // _MS


def _sqlite_item(row: Any) -> Item:
    key, tenant, project, name, status, score, created = row
    return Item(uuid.UUID(key), tenant, project, name, status, score, _EPOCH + created * _MS)


def _pg_item(row: Any) -> Item:
    return Item(*row)


class RawSQLite(Subject):
    """aiosqlite, autocommit, ``BEGIN IMMEDIATE`` around batches; WAL, *synchronous* as given."""

    name = "raw"

    def __init__(
        self, path: str, synchronous: str = "FULL", connections: int = W9_CONNECTIONS
    ) -> None:
        self.path = path
        self.synchronous = synchronous
        self.connections = connections
        self.idle: asyncio.Queue[Any] = asyncio.Queue()
        self.turn = asyncio.Lock()
        self.pool: list[Any] = []

    async def _connect(self) -> Any:
        import aiosqlite

        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA busy_timeout = 30000")
        await conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        rows = list(await conn.execute_fetchall("PRAGMA synchronous"))
        if rows[0][0] != _SYNCHRONOUS[self.synchronous]:
            raise AssertionError(f"raw SQLite: synchronous is {rows[0][0]}, not {self.synchronous}")
        return conn

    async def open(self) -> None:
        self.conn = await self._connect()

    async def close(self) -> None:
        await self.stop_concurrent()
        await self.conn.close()

    async def start_concurrent(self) -> None:
        self.pool = [await self._connect() for _ in range(self.connections)]
        for conn in self.pool:
            self.idle.put_nowait(conn)

    async def stop_concurrent(self) -> None:
        pool, self.pool = self.pool, []
        self.idle = asyncio.Queue()
        for conn in pool:
            await conn.close()

    async def w9_get(self, key: uuid.UUID) -> object:
        conn = await self.idle.get()
        try:
            return await self._get(conn, key)
        finally:
            self.idle.put_nowait(conn)

    async def w9_update(self, key: uuid.UUID, score: int) -> object:
        async with self.turn:
            conn = await self.idle.get()
            try:
                return await self._update(conn, key, score)
            finally:
                self.idle.put_nowait(conn)

    async def w9_search(self, offset: int) -> int:
        conn = await self.idle.get()
        try:
            return await self._search(conn, offset)
        finally:
            self.idle.put_nowait(conn)

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
        return await self._get(self.conn, key)

    @staticmethod
    async def _get(conn: Any, key: uuid.UUID) -> object:
        rows = await conn.execute_fetchall(f"SELECT {_COLUMNS} FROM {_T} WHERE id = ?", (key.hex,))
        return _sqlite_item(next(iter(rows)))

    async def search(self, offset: int) -> int:
        return await self._search(self.conn, offset)

    @staticmethod
    async def _search(conn: Any, offset: int) -> int:
        rows = await conn.execute_fetchall(
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
        return await self._update(self.conn, key, score)

    @staticmethod
    async def _update(conn: Any, key: uuid.UUID, score: int) -> object:
        rows = await conn.execute_fetchall(
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
        self.pool: Any = None

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.dsn)

    async def close(self) -> None:
        await self.stop_concurrent()
        await self.conn.close()

    async def start_concurrent(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=W9_CONNECTIONS, max_size=W9_CONNECTIONS
        )

    async def stop_concurrent(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    async def w9_get(self, key: uuid.UUID) -> object:
        async with self.pool.acquire() as conn:
            return await self._get(conn, key)

    async def w9_update(self, key: uuid.UUID, score: int) -> object:
        async with self.pool.acquire() as conn:
            return await self._update(conn, key, score)

    async def w9_search(self, offset: int) -> int:
        async with self.pool.acquire() as conn:
            return await self._search(conn, offset)

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
        return await self._get(self.conn, key)

    @staticmethod
    async def _get(conn: Any, key: uuid.UUID) -> object:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {_T} WHERE id = $1", key)
        assert row is not None
        return _pg_item(row)

    async def search(self, offset: int) -> int:
        return await self._search(self.conn, offset)

    @staticmethod
    async def _search(conn: Any, offset: int) -> int:
        rows = await conn.fetch(
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
        return await self._update(self.conn, key, score)

    @staticmethod
    async def _update(conn: Any, key: uuid.UUID, score: int) -> object:
        row = await conn.fetchrow(
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
