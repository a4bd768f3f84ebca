"""What observability costs a point read: µs per get by key, per configuration.

``uv run python -m benchmarks.observability [--n 5000] [--runs 3] [--backends memory,sqlite]``

Each get is one read-only session and one ``Querier.get`` (as
``Repository.get`` does; W3 of :mod:`benchmarks.runner`), over 1,000 stored
items, after a warm-up.

==========  =================================================================
off         the default: loggers at WARNING, OpenTelemetry not imported
log-debug   ``repokit`` at DEBUG into a handler that formats each record and
            drops it (no I/O)
log-values  the same, on a ``Database(log_values=True)``
otel-api    ``opentelemetry.trace`` imported, no tracer provider set
otel-sdk    the SDK's ``TracerProvider`` (``Database(tracer_provider=...)``)
            with a ``SimpleSpanProcessor`` into an ``InMemorySpanExporter``
            (cleared, untimed, after every chunk)
==========  =================================================================

Configurations that can share a process share one, on one backend (several
``Database`` objects over it), and take turns chunk by chunk (250 gets), so
that whatever else runs on the machine disturbs them alike: ``off`` and the
two logging ones in a process that never imports OpenTelemetry, the two
OpenTelemetry ones in another (once imported, it stays imported). A
configuration's figure is its fastest chunk, the median of ``--runs`` runs.
Each process also times, on its own, the check a backend call makes before
it runs (``Telemetry.watching()``): with OpenTelemetry not imported, and
imported with no provider set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from typing import Any

from benchmarks.model import items, make_items
from repokit import Creator, Database, Querier

__all__ = ["CONFIGURATIONS", "GROUPS", "main", "measure", "table"]

#: The configurations each process measures, taking turns.
GROUPS = {"plain": ("off", "log-debug", "log-values"), "otel": ("otel-api", "otel-sdk")}
CONFIGURATIONS = (*GROUPS["plain"], *GROUPS["otel"])
#: Items stored; the gets cycle through them.
STORED = 1_000
WARM_UP = 300
#: Gets per timed chunk.
CHUNK = 250
CHECK_LOOPS = 200_000

Result = dict[str, dict[str, float]]


class _Drop(logging.Handler):
    """Formats every record (what a real handler pays before its I/O) and keeps none."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


async def measure(group: str, backend: str, n: int) -> Result:
    """``{configuration: {"us_per_get", "cpu_us_per_get"}, "check": {…}}`` for *group*."""
    folder = tempfile.mkdtemp(prefix="repokit-bench-observe-")
    url = "memory://" if backend == "memory" else f"sqlite+aiosqlite:///{folder}/observe.db"
    logger = logging.getLogger("repokit")
    handler = _Drop()
    logger.addHandler(handler)
    try:
        db = await Database.connect(url)
        try:
            return await _measure(group, db, n)
        finally:
            await db.close()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        shutil.rmtree(folder, ignore_errors=True)


async def _measure(group: str, db: Database, n: int) -> Result:
    await db.create_tables(items)
    stored = make_items(STORED, "t1", seed=1)
    async with db.begin_session() as session:
        await Creator(items).batch_create(session, stored)
    keys = [item.id for item in stored]
    querier = Querier(items)
    logger = logging.getLogger("repokit")
    result: Result = {"check": {}}
    exporter: Any = None
    if group == "plain":
        result["check"]["not_imported_ns"] = _check_ns(db)
        values = Database(db.backend, log_values=True)
        setups: dict[str, tuple[Database, int]] = {
            "off": (db, logging.NOTSET),
            "log-debug": (db, logging.DEBUG),
            "log-values": (values, logging.DEBUG),
        }
    else:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        result["check"]["imported_no_provider_ns"] = _check_ns(db)
        traced = Database(db.backend, tracer_provider=provider)
        setups = {"otel-api": (db, logging.NOTSET), "otel-sdk": (traced, logging.NOTSET)}

    def getter(database: Database) -> Callable[[Any], Any]:
        async def get(key: Any) -> None:
            async with database.begin_readonly_session() as session:
                await querier.get(session, key)

        return get

    gets = {config: getter(database) for config, (database, _) in setups.items()}
    for config in setups:
        for key in keys[:WARM_UP]:
            await gets[config](key)
    walls: dict[str, list[float]] = {config: [] for config in setups}
    cpus: dict[str, list[float]] = {config: [] for config in setups}
    order = list(setups)
    done = 0
    for turn in range(max(1, n // CHUNK)):
        shift = turn % len(order)
        for config in order[shift:] + order[:shift]:
            get, level = gets[config], setups[config][1]
            logger.setLevel(level)
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(done, done + CHUNK):
                await get(keys[i % STORED])
            t1, c1 = time.perf_counter(), time.process_time()
            logger.setLevel(logging.NOTSET)
            walls[config].append((t1 - t0) / CHUNK * 1e6)
            cpus[config].append((c1 - c0) / CHUNK * 1e6)
            if exporter is not None:
                exporter.clear()  # untimed: an exporter sends its spans away
        done += CHUNK
    for config in setups:
        # The fastest chunk: the least disturbed by whatever else shares the machine.
        result[config] = {"us_per_get": min(walls[config]), "cpu_us_per_get": min(cpus[config])}
    return result


def _check_ns(db: Database) -> float:
    seconds = timeit.timeit(db.telemetry.watching, number=CHECK_LOOPS)
    return seconds / CHECK_LOOPS * 1e9


def _child(group: str, backend: str, n: int) -> Result:
    command = [sys.executable, "-m", "benchmarks.observability", "--child", group]
    command += ["--backends", backend, "--n", str(n)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: Result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(backends: list[str], n: int, runs: int) -> dict[str, Result]:
    """Medians of the runs, per backend: configuration (and ``check``) → figures."""
    medians: dict[str, Result] = {}
    for backend in backends:
        samples: list[Result] = []
        for number in range(runs):
            sample: Result = {}
            for group in GROUPS:
                for key, figures in _child(group, backend, n).items():
                    sample.setdefault(key, {}).update(figures)
            samples.append(sample)
            print(f"  {backend} run {number + 1}/{runs} done", file=sys.stderr, flush=True)
        medians[backend] = {
            key: {name: statistics.median(s[key][name] for s in samples) for name in figures}
            for key, figures in samples[0].items()
        }
    return medians


def table(medians: dict[str, Result], n: int, runs: int) -> str:
    """A markdown table: wall and CPU µs per get, and their difference to ``off``."""
    lines = [f"About {n:,} gets per configuration and run (fastest chunk of {CHUNK}),"]
    lines += [f"median of {runs} runs", ""]
    head = " | ".join(f"{b} µs/get | Δ off | {b} cpu µs | Δ off" for b in medians)
    lines.append(f"| Configuration | {head} |")
    lines.append("|---|" + "---:|---:|---:|---:|" * len(medians))
    for config in CONFIGURATIONS:
        cells = []
        for figures in medians.values():
            for key in ("us_per_get", "cpu_us_per_get"):
                us, base = figures[config][key], figures["off"][key]
                cells += [f"{us:.1f}", "—" if config == "off" else f"{us - base:+.1f}"]
        lines.append(f"| {config} | " + " | ".join(cells) + " |")
    lines.append("")
    for backend, figures in medians.items():
        check = figures["check"]
        lines.append(
            f"{backend}: the check before each backend call takes "
            f"{check['not_imported_ns']:.0f} ns with OpenTelemetry not imported, "
            f"{check['imported_no_provider_ns']:.0f} ns imported with no provider."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5_000, help="gets per configuration")
    parser.add_argument("--runs", type=int, default=3, help="runs (processes per group)")
    parser.add_argument("--backends", default="memory,sqlite", help="memory and/or sqlite")
    parser.add_argument("--child", choices=GROUPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child, args.backends, args.n))))
        return
    backends = args.backends.split(",")
    print(table(run(backends, args.n, args.runs), args.n, args.runs))


if __name__ == "__main__":
    main()
