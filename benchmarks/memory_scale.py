"""The reference backend at scale: batch inserts, a search walked to the end, point reads.

``uv run python -m benchmarks.memory_scale [--rows 50000] [--batch 1000] [--steps insert,walk]
[--backend-file PATH]``

The workload of issue 12 (a 50,000-entity export) on ``memory://``:

* insert *rows* entities in batches of *batch*, one write session per batch
  (each write session used to copy the table and re-check every unique key);
* walk a keyset search of every entity (tenant ``t2``, ordered by
  ``created_at``, the primary key breaking ties) in pages of 50 to the end,
  one read-only session per page (each page used to scan and sort the table);
* the same search with offset pages and a total count, 20 pages;
* get by id and update by id, 1,000 of each (each used to scan the table).

``--backend-file`` loads ``MemoryBackend`` from another copy of
``repokit/memory/backend.py`` (e.g. ``git show HEAD:src/repokit/memory/backend.py``)
to measure the code before a change against the same core.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from benchmarks.model import PAGE, items, make_items
from repokit import (
    BatchQuerier,
    Creator,
    CursorPagination,
    Database,
    OffsetPagination,
    Querier,
    Updater,
)
from repokit.backend import Backend
from repokit.memory import MemoryBackend

__all__ = ["main", "run"]

c = items.c
_FILTER = [c.tenant == "t2"]
_ORDER = [c.created_at.asc()]


def _backend(path: str | None) -> Backend:
    if path is None:
        return MemoryBackend()
    spec = importlib.util.spec_from_file_location("_memory_backend_under_test", Path(path))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    backend: Backend = module.MemoryBackend()
    return backend


async def _timed(what: str, work: Callable[[], Awaitable[int]]) -> tuple[str, float, int]:
    t0 = time.perf_counter()
    done = await work()
    return what, time.perf_counter() - t0, done


#: The steps, in run order (each later one reads what ``insert`` wrote).
STEPS = ("insert", "walk", "offset", "get", "update")


async def run(
    rows: int, batch: int, backend_file: str | None = None, steps: tuple[str, ...] = STEPS
) -> list[tuple[str, float, int]]:
    """Run each of *steps* once; return (step, seconds, entities handled) per step."""
    db = Database(_backend(backend_file))
    await db.create_tables(items)
    data = make_items(rows, "t2", seed=rows)
    keys = [item.id for item in data[:: max(1, rows // 1000)]][:1000]

    async def insert() -> int:
        creator = Creator(items)
        for start in range(0, rows, batch):
            async with db.begin_session() as session:
                await creator.batch_create(session, data[start : start + batch])
        return rows

    async def walk() -> int:
        querier, after, seen = BatchQuerier(items), None, 0
        while True:
            async with db.begin_readonly_session() as session:
                page = await querier.search(
                    session,
                    conditions=_FILTER,
                    orders=_ORDER,
                    pagination=CursorPagination(first=PAGE, after=after),
                )
            seen += len(page.items)
            if not page.has_next_page:
                return seen
            after = page.end_cursor

    async def offset_pages() -> int:
        querier, seen = BatchQuerier(items), 0
        for number in range(20):
            async with db.begin_readonly_session() as session:
                page = await querier.search(
                    session,
                    conditions=_FILTER,
                    orders=_ORDER,
                    pagination=OffsetPagination(limit=PAGE, offset=number * (rows // 20)),
                    total_count=True,
                )
            seen += len(page.items)
        return seen

    async def gets() -> int:
        querier = Querier(items)
        for key in keys:
            async with db.begin_readonly_session() as session:
                await querier.get(session, key)
        return len(keys)

    async def updates() -> int:
        updater = Updater(items)
        for i, key in enumerate(keys):
            async with db.begin_session() as session:
                await updater.update(session, key, {"score": i})
        return len(keys)

    try:
        work = {
            "insert": ("insert in batches", insert),
            "walk": ("keyset walk to the end", walk),
            "offset": ("20 offset pages + total", offset_pages),
            "get": ("get by id", gets),
            "update": ("update by id", updates),
        }
        results = [await _timed(*work[step]) for step in STEPS if step in steps]
    finally:
        await db.close()
    for what, _, done in results:
        if what == work["walk"][0]:
            assert done == rows, (what, done, rows)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--backend-file", default=None)
    args = parser.parse_args(argv)
    steps = tuple(args.steps.split(","))
    if unknown := set(steps) - set(STEPS):
        parser.error(f"unknown steps {sorted(unknown)}; choose from {','.join(STEPS)}")
    results = asyncio.run(run(args.rows, args.batch, args.backend_file, steps))
    print(f"memory:// with {args.rows:,} rows, batches of {args.batch:,}")
    print("| Step | s | entities |")
    print("|---|---:|---:|")
    for what, seconds, done in results:
        print(f"| {what} | {seconds:.2f} | {done:,} |")
    print(f"| **total** | **{sum(s for _, s, _ in results):.2f}** | |")


if __name__ == "__main__":
    main()
