"""What a reference between tables costs (CONTRACT §23), beside raw drivers doing the same.

``uv run python -m benchmarks.references --backends sqlite,postgres,mongodb [--n 1000] [--runs 3]``

Two tables: parents (string keys) and children (UUID keys, ``parent``
referencing a parent, ``ON DELETE CASCADE``). Per backend and layer:

* **R1**: create N children one call each, each naming one of N/10 parents.
  repokit: ``Repository.create`` (core holds the parent, then inserts, in one
  transaction); raw: one ``INSERT`` against the same FOREIGN KEY (the
  database checks it), or on MongoDB the emulation by hand: a transaction
  that adds 1 to the parent's hidden field, then inserts the child.
* **R2**: purge N/10 parents one call each, each with its 10 children
  (cascade). repokit: ``Repository.purge`` (core reads the keys, purges the
  children, then the parent); raw: one ``DELETE`` of the parent (the foreign
  key cascades), or on MongoDB a transaction deleting the children, then
  the parent.
* **R0**: R1 on the same child table without a reference (repokit's own
  insert cost, without any check): the check's own cost is R1 / R0.

Timed as the toolkit's workloads (interleaved runs, median, ratio to raw in
the same run), on fresh tables per run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from benchmarks.runner import backend_kind, server_for
from benchmarks.toolkit import _repokit_url
from repokit import Database, OnPurge, Reference, Repository, Table

__all__ = ["main", "measure"]


@dataclass(frozen=True)
class Parent:
    id: str


@dataclass(frozen=True)
class Child:
    id: uuid.UUID
    parent: str


_parents = Table(Parent, "bench_ref_parents", primary_key="id")
_children = Table(
    Child,
    "bench_ref_children",
    primary_key="id",
    indexes=[("parent",)],
    references=[Reference(("parent",), _parents, on_purge=OnPurge.CASCADE)],
)
_loose = Table(Child, "bench_ref_loose", primary_key="id")  # R0: no reference


def _plan(n: int) -> tuple[list[str], list[Child]]:
    parents = [f"p{i:06d}" for i in range(max(1, n // 10))]
    children = [Child(uuid.uuid4(), parents[i % len(parents)]) for i in range(n)]
    return parents, children


class Layer:
    name: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def reset(self, parents: list[str]) -> None: ...
    async def create(self, child: Child) -> None: ...
    async def create_loose(self, child: Child) -> None: ...
    async def purge(self, parent: str) -> None: ...


class Repokit(Layer):
    name = "repokit"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        self.db = await Database.connect(self.url)
        self.parents = Repository(self.db, _parents)
        self.children = Repository(self.db, _children)
        self.loose = Repository(self.db, _loose)

    async def close(self) -> None:
        await self.db.close()

    async def reset(self, parents: list[str]) -> None:
        await self.db.drop_tables(_parents, _children, _loose)
        await self.db.create_tables(_parents, _children, _loose)
        await self.parents.batch_create([Parent(p) for p in parents])

    async def create(self, child: Child) -> None:
        await self.children.create(child)

    async def create_loose(self, child: Child) -> None:
        await self.loose.create(child)

    async def purge(self, parent: str) -> None:
        await self.parents.purge(parent)


class RawSQL(Layer):
    """asyncpg or aiosqlite on tables of their own with the same FOREIGN KEY."""

    name = "raw"

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url

    async def open(self) -> None:
        if self.kind == "postgres":
            import asyncpg

            self.pg: Any = await asyncpg.connect(
                self.url.replace("postgresql+asyncpg://", "postgresql://")
            )
        else:
            import aiosqlite

            self.lite: Any = await aiosqlite.connect(self.url, isolation_level=None)
            await self.lite.execute_fetchall("PRAGMA foreign_keys = ON")
            await self.lite.execute_fetchall("PRAGMA journal_mode = WAL")

    async def close(self) -> None:
        await (self.pg if self.kind == "postgres" else self.lite).close()

    async def _run(self, sql: str, *args: Any) -> None:
        if self.kind == "postgres":
            await self.pg.execute(sql.replace("?", "$1", 1).replace("?", "$2", 1), *args)
        else:
            await self.lite.execute_fetchall(sql, args)  # fetched: no statement left open

    async def reset(self, parents: list[str]) -> None:
        key = "UUID" if self.kind == "postgres" else "TEXT"
        for sql in (
            "DROP TABLE IF EXISTS raw_ref_children",
            "DROP TABLE IF EXISTS raw_ref_loose",
            "DROP TABLE IF EXISTS raw_ref_parents",
            "CREATE TABLE raw_ref_parents (id TEXT PRIMARY KEY)",
            f"CREATE TABLE raw_ref_children (id {key} PRIMARY KEY, parent TEXT NOT NULL "
            "REFERENCES raw_ref_parents (id) ON DELETE CASCADE)",
            f"CREATE TABLE raw_ref_loose (id {key} PRIMARY KEY, parent TEXT NOT NULL)",
            # Both layers' cascades find children by an index on the referencing column.
            "CREATE INDEX raw_ref_children_parent ON raw_ref_children (parent)",
        ):
            await self._run(sql)
        for parent in parents:
            await self._run("INSERT INTO raw_ref_parents (id) VALUES (?)", parent)

    def _key(self, child: Child) -> Any:
        return child.id if self.kind == "postgres" else child.id.hex

    async def create(self, child: Child) -> None:
        sql = "INSERT INTO raw_ref_children (id, parent) VALUES (?, ?)"
        await self._run(sql, self._key(child), child.parent)

    async def create_loose(self, child: Child) -> None:
        sql = "INSERT INTO raw_ref_loose (id, parent) VALUES (?, ?)"
        await self._run(sql, self._key(child), child.parent)

    async def purge(self, parent: str) -> None:
        await self._run("DELETE FROM raw_ref_parents WHERE id = ?", parent)


class RawMongo(Layer):
    """PyMongo doing repokit's emulation by hand, in a transaction per call."""

    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        from pymongo import AsyncMongoClient

        self.client: Any = AsyncMongoClient(self.url, uuidRepresentation="standard")
        self.database = self.client.get_default_database("repokit_bench")

    async def close(self) -> None:
        await self.client.close()

    async def reset(self, parents: list[str]) -> None:
        for name in ("raw_ref_parents", "raw_ref_children", "raw_ref_loose"):
            await self.database.drop_collection(name)
            await self.database.create_collection(name)
        await self.database.raw_ref_children.create_index("parent")
        await self.database.raw_ref_parents.insert_many([{"_id": p} for p in parents])

    async def create(self, child: Child) -> None:
        async with self.client.start_session() as session, await session.start_transaction():
            held = await self.database.raw_ref_parents.update_one(
                {"_id": child.parent}, {"$inc": {"_rk_held": 1}}, session=session
            )
            assert held.matched_count == 1
            await self.database.raw_ref_children.insert_one(
                {"_id": child.id, "parent": child.parent}, session=session
            )

    async def create_loose(self, child: Child) -> None:
        await self.database.raw_ref_loose.insert_one({"_id": child.id, "parent": child.parent})

    async def purge(self, parent: str) -> None:
        async with self.client.start_session() as session, await session.start_transaction():
            await self.database.raw_ref_children.delete_many({"parent": parent}, session=session)
            await self.database.raw_ref_parents.delete_one({"_id": parent}, session=session)


async def _timed(calls: list[Any]) -> float:
    started = time.perf_counter()
    for call in calls:
        await call
    return time.perf_counter() - started


async def _run_layer(layer: Layer, n: int) -> dict[str, float]:
    parents, children = _plan(n)
    await layer.reset(parents)
    r0 = await _timed([layer.create_loose(c) for c in children])
    r1 = await _timed([layer.create(c) for c in children])
    r2 = await _timed([layer.purge(p) for p in parents])
    return {"R0": r0, "R1": r1, "R2": r2}


def _layers(backend: str, url: str) -> list[Layer]:
    kind = backend_kind(backend)
    raw: Layer = RawMongo(url) if kind == "mongodb" else RawSQL(kind, url)
    return [raw, Repokit(_repokit_url(backend, url))]


async def measure(backend: str, url: str, n: int, runs: int) -> dict[str, dict[str, float]]:
    """The median seconds of each workload per layer, layers interleaved run by run."""
    layers = _layers(backend, url)
    for layer in layers:
        await layer.open()
    samples: dict[str, dict[str, list[float]]] = {layer.name: {} for layer in layers}
    try:
        for run in range(runs):
            order = layers if run % 2 == 0 else layers[::-1]
            for layer in order:
                for wid, seconds in (await _run_layer(layer, n)).items():
                    samples[layer.name].setdefault(wid, []).append(seconds)
    finally:
        for layer in layers:
            await layer.close()
    return {
        name: {wid: statistics.median(values) for wid, values in found.items()}
        for name, found in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with server_for(backend) as url:
            timed = asyncio.run(measure(backend, url, args.n, args.runs))
        raw, rk = timed["raw"], timed["repokit"]
        print(f"\n### {backend} (N = {args.n:,}, median of {args.runs})\n")
        print("| Workload | raw ms | repokit ms | repokit ×raw |")
        print("|---|---:|---:|---:|")
        labels = {
            "R0": f"R0 create ×{args.n:,}, no reference",
            "R1": f"R1 create ×{args.n:,}, referencing a parent",
            "R2": f"R2 purge ×{max(1, args.n // 10):,} parents, 10 children each (cascade)",
        }
        for wid, label in labels.items():
            print(
                f"| {label} | {raw[wid] * 1000:,.1f} | {rk[wid] * 1000:,.1f} "
                f"| {rk[wid] / raw[wid]:.2f} |"
            )
        print(f"\nrepokit R1 / R0 (the reference check's own cost): {rk['R1'] / rk['R0']:.2f}")
        print(f"raw R1 / R0 (the database's FK check): {raw['R1'] / raw['R0']:.2f}")


if __name__ == "__main__":
    main()
