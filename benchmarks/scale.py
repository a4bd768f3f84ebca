"""Scale checks: keyset page latency deep in a walk, batch create cost, walk memory.

``uv run python -m benchmarks.scale [--backends sqlite,postgres] [--rows 100000]``

* keyset page latency at page 1 vs page 1,000 (page size 50) of one
  tenant's rows ordered by name (served by the (tenant, name) unique index):
  keyset pages cost the same anywhere;
* batch create of 1k / 10k / 100k rows, µs per row: it should stay flat (linear total);
* peak Python memory (tracemalloc) of a full keyset walk over 10k and 100k
  rows: it should stay flat, a walk holds one page at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.model import PAGE, items, make_items
from benchmarks.runner import server_for
from repokit import TRUE, BatchPurger, BatchQuerier, Creator, CursorPagination, Database

__all__ = ["ScaleResult", "main", "run_scale"]

c = items.c


@dataclass
class ScaleResult:
    backend: str
    create_us_per_row: dict[int, float] = field(default_factory=dict)
    page_ms: dict[int, float] = field(default_factory=dict)
    walk_peak_kib: dict[int, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"#### {self.backend}", "", "| Check | Value |", "|---|---:|"]
        for n, us in self.create_us_per_row.items():
            out.append(f"| batch create {n:,} rows | {us:.1f} µs/row |")
        for number, ms in self.page_ms.items():
            out.append(f"| keyset page {number:,} | {ms:.2f} ms |")
        for n, kib in self.walk_peak_kib.items():
            out.append(f"| full keyset walk over {n:,} rows, peak memory | {kib:,.0f} KiB |")
        return [*out, ""]


def _url(backend: str, target: str) -> str:
    return f"sqlite+aiosqlite:///{target}" if backend == "sqlite" else target


async def _purge(db: Database) -> None:
    async with db.begin_session() as session:
        await BatchPurger(items).batch_purge(session, conditions=[TRUE])


async def _walk(db: Database, on_page: Callable[[int, float], None] | None = None) -> int:
    querier = BatchQuerier(items)
    after, number, seen = None, 0, 0
    while True:
        t0 = time.perf_counter()
        async with db.begin_readonly_session() as session:
            page = await querier.search(
                session,
                conditions=[c.tenant == "t2"],
                orders=[c.name.asc()],
                pagination=CursorPagination(first=PAGE, after=after),
            )
        number += 1
        seen += len(page.items)
        if on_page is not None:
            on_page(number, time.perf_counter() - t0)
        if not page.has_next_page:
            return seen
        after = page.end_cursor


async def run_scale(backend: str, target: str, rows: int) -> ScaleResult:
    result = ScaleResult(backend)
    db = await Database.connect(_url(backend, target))
    creator = Creator(items)
    try:
        await db.create_tables(items)
        sizes = sorted({max(1, rows // 100), max(1, rows // 10), rows})
        for n in sizes:
            await _purge(db)
            batch = make_items(n, "t2", seed=n)
            t0 = time.perf_counter()
            async with db.begin_session() as session:
                await creator.batch_create(session, batch)
            result.create_us_per_row[n] = (time.perf_counter() - t0) / n * 1e6
            del batch
            # Memory of a full walk, then page latencies from an untraced walk.
            tracemalloc.start()
            seen = await _walk(db)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert seen == n, (seen, n)
            result.walk_peak_kib[n] = peak / 1024
        samples: dict[int, list[float]] = {}
        deep = min(1000, rows // PAGE)
        for _ in range(3):
            await _walk(
                db,
                lambda number, seconds: (
                    samples.setdefault(number, []).append(seconds) if number in (1, deep) else None
                ),
            )
        for number in sorted(samples):
            result.page_ms[number] = statistics.median(samples[number]) * 1000
        await _purge(db)
    finally:
        await db.close()
    return result


async def _main(args: argparse.Namespace) -> list[ScaleResult]:
    results = []
    for backend in args.backends.split(","):
        with server_for(backend) as target:
            print(f"{backend}: scale checks up to {args.rows:,} rows", flush=True)
            results.append(await run_scale(backend, target, args.rows))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    for result in asyncio.run(_main(args)):
        print("\n".join(result.lines()))


if __name__ == "__main__":
    main()
