"""The toolkit's workloads beside the raw drivers: upsert, batch upsert, bulk update, stream.

``uv run python -m benchmarks.toolkit --backends sqlite,sqlite-normal,postgres,mongodb
[--n 2000] [--runs 3] [--stream-rows 1000000] [--mongodb-stream-rows 50000]``

On the benchmarks' ``bench_items`` table (N items of tenant t1 loaded first):

* **U1**: upsert one entity by its unique key (tenant, name) ×N/10, half
  updating a held key (its score), half inserting. Raw: ``INSERT … ON
  CONFLICT (tenant, name) DO UPDATE … RETURNING``; MongoDB
  ``find_one_and_update(upsert=True)``.
* **U2**: batch upsert of N/10 entities in one all-or-nothing call (half held,
  half new), every field but the keys updated. Raw: the same statement per
  entity in one transaction; MongoDB ``bulk_write`` of ``UpdateOne(upsert=True)``
  in one transaction.
* **B1**: bulk update of N/5 keys, each its own score, each item on its own.
  Raw: a transaction of savepoints (``SAVEPOINT``, ``UPDATE … RETURNING``,
  ``RELEASE``) per 100 items; MongoDB ``update_one`` + ``find_one`` per item.
* **S1**: stream every row of the table in key order, in chunks of 1,000.
  Raw: the driver's own streaming (an asyncpg cursor in a transaction,
  aiosqlite iterating one cursor, a PyMongo cursor).

U1–B1 are timed like the runner's workloads (interleaved runs, median,
ratio to raw in the same run). S1 runs in a child process per layer, on
``--stream-rows`` rows, and reports rows/s and the child's peak resident
memory above what it held before streaming (``ru_maxrss``), so that memory
that grows with the result shows. Both layers turn rows into ``Item`` s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.model import Item, items, make_items
from benchmarks.runner import backend_kind, server_for, settle, sqlite_synchronous
from repokit import Database, Repository

__all__ = ["load", "main", "measure", "stream_once"]

_T = "bench_items"
_COLUMNS = "id, tenant, project, name, status, score, created_at"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
CHUNK = 1000
BULK_CHUNK = 100


def _repokit_url(backend: str, url: str) -> str:
    if backend_kind(backend) == "sqlite":
        return f"sqlite+aiosqlite:///{url}?synchronous={sqlite_synchronous(backend)}"
    return url


def _upserts(n: int, run: int) -> list[Item]:
    """N/5 entities of t1: half with the names of loaded items (updates), half new (inserts)."""
    held = make_items(n, "t1", 7)[: n // 10]
    new = make_items(n // 10, "t1", 1000 + run)
    new = [replace(item, name=f"t1-new-{run}-{i:07d}") for i, item in enumerate(new)]
    fresh = [replace(item, id=uuid.uuid4(), score=10_000 + run) for item in held]
    return [entity for pair in zip(fresh, new, strict=True) for entity in pair]


# -- the layers --------------------------------------------------------------------------------


class Layer:
    name: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def upsert(self, item: Item) -> bool: ...
    async def batch_upsert(self, batch: list[Item]) -> int: ...
    async def bulk_update(self, scores: dict[uuid.UUID, int]) -> int: ...
    async def stream(self) -> int: ...


class Repokit(Layer):
    name = "repokit"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        self.db = await Database.connect(self.url)
        await self.db.create_tables(items)
        self.repo: Repository[Item, uuid.UUID] = Repository(self.db, items)

    async def close(self) -> None:
        await self.db.close()

    async def upsert(self, item: Item) -> bool:
        done = await self.repo.upsert(item, on=("tenant", "name"), update={"score": item.score})
        return done.inserted

    async def batch_upsert(self, batch: list[Item]) -> int:
        # update=None: every field but the keys, as the raw layer's batch sets them.
        done = await self.repo.batch_upsert(batch, on=("tenant", "name"))
        return len(done)

    async def bulk_update(self, scores: dict[uuid.UUID, int]) -> int:
        outcomes = await self.repo.bulk_update({k: {"score": s} for k, s in scores.items()})
        return sum(1 for outcome in outcomes if outcome.ok)

    async def stream(self) -> int:
        count = 0
        async for _ in self.repo.stream(chunk_size=CHUNK):
            count += 1
        return count


def _sqlite_row(item: Item) -> tuple[Any, ...]:
    created = (item.created_at - _EPOCH) // _MS
    return (item.id.hex, item.tenant, item.project, item.name, item.status, item.score, created)


def _sqlite_item(row: Any) -> Item:
    key, tenant, project, name, status, score, created = row
    return Item(uuid.UUID(key), tenant, project, name, status, score, _EPOCH + created * _MS)


_UPSERT = (
    f"INSERT INTO {_T} ({_COLUMNS}) VALUES ({{marks}}) ON CONFLICT (tenant, name) "
    f"DO UPDATE SET {{sets}} RETURNING {_COLUMNS}"
)
#: U1 sets the score; U2 every field but the keys (repokit's update=None).
_SCORE = "score = excluded.score"
_ALL = ", ".join(f"{c} = excluded.{c}" for c in ("project", "status", "score", "created_at"))


class RawSQLite(Layer):
    name = "raw"

    def __init__(self, path: str, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        marks = ", ".join("?" * 7)
        self.sql = _UPSERT.format(marks=marks, sets=_SCORE)
        self.batch_sql = _UPSERT.format(marks=marks, sets=_ALL)

    async def open(self) -> None:
        import aiosqlite

        self.conn = await aiosqlite.connect(self.path, isolation_level=None)
        await self.conn.execute("PRAGMA journal_mode = WAL")
        await self.conn.execute(f"PRAGMA synchronous = {self.synchronous}")

    async def close(self) -> None:
        await self.conn.close()

    async def upsert(self, item: Item) -> bool:
        # The row comes back either way (as repokit returns the entity).
        rows = await self.conn.execute_fetchall(self.sql, _sqlite_row(item))
        return _sqlite_item(next(iter(rows))).id == item.id

    async def batch_upsert(self, batch: list[Item]) -> int:
        await self.conn.execute("BEGIN IMMEDIATE")
        try:
            for item in batch:
                rows = await self.conn.execute_fetchall(self.batch_sql, _sqlite_row(item))
                _sqlite_item(next(iter(rows)))
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")
        return len(batch)

    async def bulk_update(self, scores: dict[uuid.UUID, int]) -> int:
        sql = f"UPDATE {_T} SET score = ? WHERE id = ? RETURNING {_COLUMNS}"
        done = 0
        keys = list(scores)
        for start in range(0, len(keys), BULK_CHUNK):
            await self.conn.execute("BEGIN IMMEDIATE")
            for key in keys[start : start + BULK_CHUNK]:
                await self.conn.execute("SAVEPOINT item")
                rows = list(await self.conn.execute_fetchall(sql, (scores[key], key.hex)))
                await self.conn.execute("RELEASE SAVEPOINT item")
                done += len([_sqlite_item(row) for row in rows])
            await self.conn.execute("COMMIT")
        return done

    async def stream(self) -> int:
        count = 0
        async with self.conn.execute(f"SELECT {_COLUMNS} FROM {_T} ORDER BY id") as cursor:
            cursor.arraysize = CHUNK
            while rows := await cursor.fetchmany(CHUNK):
                count += len([_sqlite_item(row) for row in rows])
        return count


class RawPostgres(Layer):
    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        marks = ", ".join(f"${i}" for i in range(1, 8))
        self.sql = _UPSERT.format(marks=marks, sets=_SCORE)
        self.batch_sql = _UPSERT.format(marks=marks, sets=_ALL)

    async def open(self) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(self.url)

    async def close(self) -> None:
        await self.conn.close()

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

    async def upsert(self, item: Item) -> bool:
        row = await self.conn.fetchrow(self.sql, *self._params(item))
        return Item(*row).id == item.id

    async def batch_upsert(self, batch: list[Item]) -> int:
        async with self.conn.transaction():
            for item in batch:
                Item(*await self.conn.fetchrow(self.batch_sql, *self._params(item)))
        return len(batch)

    async def bulk_update(self, scores: dict[uuid.UUID, int]) -> int:
        sql = f"UPDATE {_T} SET score = $1 WHERE id = $2 RETURNING {_COLUMNS}"
        done = 0
        keys = list(scores)
        for start in range(0, len(keys), BULK_CHUNK):
            async with self.conn.transaction():
                for key in keys[start : start + BULK_CHUNK]:
                    async with self.conn.transaction():  # a savepoint
                        rows = await self.conn.fetch(sql, scores[key], key)
                    done += len([Item(*row) for row in rows])
        return done

    async def stream(self) -> int:
        count = 0
        async with self.conn.transaction():
            cursor = self.conn.cursor(f"SELECT {_COLUMNS} FROM {_T} ORDER BY id", prefetch=CHUNK)
            async for row in cursor:
                Item(*row)
                count += 1
        return count


class RawMongo(Layer):
    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        from pymongo import AsyncMongoClient

        from repokit_mongodb.backend import database_name_of

        self.client: Any = AsyncMongoClient(self.url, uuidRepresentation="standard")
        self.collection = self.client[database_name_of(self.url) or "repokit_bench"][_T]

    async def close(self) -> None:
        await self.client.close()

    @staticmethod
    def _insert(item: Item) -> dict[str, Any]:
        from bson import Int64

        return {
            "_id": item.id,
            "project": item.project,
            "status": item.status,
            "created_at": item.created_at,
            "score": Int64(item.score),
        }

    async def upsert(self, item: Item) -> bool:
        from bson import Int64
        from pymongo import ReturnDocument

        fields = self._insert(item)
        score = fields.pop("score")
        document = await self.collection.find_one_and_update(
            {"tenant": item.tenant, "name": item.name},
            {"$set": {"score": Int64(score)}, "$setOnInsert": fields},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return bool(document["_id"] == item.id)

    async def batch_upsert(self, batch: list[Item]) -> int:
        from pymongo import UpdateOne

        ops = []
        for item in batch:
            fields = self._insert(item)
            key = fields.pop("_id")
            ops.append(
                UpdateOne(
                    {"tenant": item.tenant, "name": item.name},
                    {"$set": fields, "$setOnInsert": {"_id": key}},
                    upsert=True,
                )
            )
        async with self.client.start_session() as session:
            await session.start_transaction()
            result = await self.collection.bulk_write(ops, session=session)
            await session.commit_transaction()
        return int(result.matched_count + result.upserted_count)

    async def bulk_update(self, scores: dict[uuid.UUID, int]) -> int:
        from bson import Int64

        done = 0
        for key, score in scores.items():
            result = await self.collection.update_one(
                {"_id": key}, {"$set": {"score": Int64(score)}}
            )
            if result.matched_count:
                document = await self.collection.find_one({"_id": key})
                done += document is not None
        return done

    async def stream(self) -> int:
        count = 0
        async for _ in self.collection.find({}, sort=[("_id", 1)], batch_size=CHUNK):
            count += 1
        return count


def _layers(backend: str, url: str) -> list[Layer]:
    kind = backend_kind(backend)
    repokit = Repokit(_repokit_url(backend, url))
    if kind == "sqlite":
        return [RawSQLite(url, sqlite_synchronous(backend)), repokit]
    if kind == "postgres":
        return [RawPostgres(url), repokit]
    return [RawMongo(url), repokit]


# -- running ------------------------------------------------------------------------------------


async def load(backend: str, url: str, rows: int) -> None:
    """An empty table, then *rows* items of t1 (repokit's batch create, in chunks)."""
    async with Database.connect(_repokit_url(backend, url)) as db:
        await db.create_tables(items)
    if backend_kind(backend) == "postgres":
        await settle(backend, url, truncate=True)
    async with Database.connect(_repokit_url(backend, url)) as db:
        repo: Repository[Item, uuid.UUID] = Repository(db, items)
        await repo.batch_purge(conditions=[items.c.tenant == "t1"])
        await repo.batch_purge(conditions=[items.c.tenant != "t1"])
        made = make_items(rows, "t1", 7)
        for start in range(0, rows, 10_000):
            await repo.batch_create(made[start : start + 10_000])


async def _timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def _run_layer(layer: Layer, n: int, run: int) -> dict[str, float]:
    """U1, U2 and B1 on *layer* (the table freshly loaded); seconds each."""
    upserts = _upserts(n, run)
    half = len(upserts) // 2
    batch = _upserts(n, run + 100)[half:]
    keys = [item.id for item in make_items(n, "t1", 7)][: max(1, n // 5)]
    scores = {key: 50_000 + run * n + i for i, key in enumerate(keys)}

    async def one() -> None:
        for item in upserts[:half]:
            await layer.upsert(item)

    await layer.open()
    try:
        return {
            "U1": await _timed(one),
            "U2": await _timed(lambda: layer.batch_upsert(batch)),
            "B1": await _timed(lambda: layer.bulk_update(scores)),
        }
    finally:
        await layer.close()


async def measure(backend: str, url: str, n: int, runs: int) -> dict[str, dict[str, float]]:
    """Median seconds of U1, U2 and B1 per layer, interleaved runs on *backend*."""
    times: dict[str, dict[str, list[float]]] = {}
    layers = _layers(backend, url)
    for run in range(runs):
        order = layers if run % 2 == 0 else list(reversed(layers))
        for layer in order:
            await load(backend, url, n)
            cells = times.setdefault(layer.name, {})
            for wid, seconds in (await _run_layer(layer, n, run)).items():
                cells.setdefault(wid, []).append(seconds)
            print(f"  {backend} run {run + 1}/{runs}: {layer.name} done", file=sys.stderr)
    return {
        layer: {wid: statistics.median(values) for wid, values in cells.items()}
        for layer, cells in times.items()
    }


def _stream_child(backend: str, url: str, layer: str) -> dict[str, float]:
    """Run S1 for *layer* in a child process: rows, seconds, peak memory above its start."""
    code = (
        "import asyncio, json, sys\n"
        "from benchmarks.toolkit import stream_once\n"
        f"print(json.dumps(asyncio.run(stream_once({backend!r}, {url!r}, {layer!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=3600
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def stream_once(backend: str, url: str, layer_name: str) -> dict[str, float]:
    layer = next(layer for layer in _layers(backend, url) if layer.name == layer_name)
    await layer.open()
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        rows = await layer.stream()
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    finally:
        await layer.close()
    return {"rows": rows, "seconds": seconds, "peak_mib": (peak - before) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--mongodb-stream-rows", type=int, default=50_000)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with server_for(backend) as url:
            timed = asyncio.run(measure(backend, url, args.n, args.runs))
            rows = (
                args.mongodb_stream_rows if backend_kind(backend) == "mongodb" else args.stream_rows
            )
            asyncio.run(load(backend, url, rows))
            streamed = {name: _stream_child(backend, url, name) for name in ("raw", "repokit")}
        print(f"\n### {backend} (N = {args.n:,}, median of {args.runs}; stream of {rows:,} rows)\n")
        print("| Workload | raw ms | repokit ×raw |")
        print("|---|---:|---:|")
        labels = {
            "U1": f"U1 upsert one by unique key ×{args.n // 10:,}",
            "U2": f"U2 batch upsert {args.n // 10:,}",
            "B1": f"B1 bulk update {args.n // 5:,} keys",
        }
        for wid, label in labels.items():
            raw = timed["raw"][wid]
            print(f"| {label} | {raw * 1000:,.1f} | {timed['repokit'][wid] / raw:.2f} |")
        print("\n| S1 stream | rows/s | × raw | peak MiB above start |")
        print("|---|---:|---:|---:|")
        for name in ("raw", "repokit"):
            cell = streamed[name]
            rate = cell["rows"] / cell["seconds"]
            raw_rate = streamed["raw"]["rows"] / streamed["raw"]["seconds"]
            print(f"| {name} | {rate:,.0f} | {rate / raw_rate:.2f} | {cell['peak_mib']:.1f} |")


if __name__ == "__main__":
    main()
