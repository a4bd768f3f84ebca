"""Every benchmark still runs: W1–W9 for every layer, and the scale checks, at a tiny N.

Timings are never asserted; each workload checks that it did its work.
"""

from __future__ import annotations

import pytest
from benchmarks.memory_scale import STEPS
from benchmarks.memory_scale import run as run_memory_scale
from benchmarks.model import W9_TASKS, Workload
from benchmarks.references import measure as measure_references
from benchmarks.replicas import measure as measure_replicas
from benchmarks.runner import run_backend, table
from benchmarks.scale import run_scale
from benchmarks.subject import RUN_ORDER, WORKLOADS
from benchmarks.toolkit import load as load_toolkit
from benchmarks.toolkit import measure as measure_toolkit
from benchmarks.toolkit import stream_once

from benchmarks import servers
from repokit.testing.replication import StreamingPair

N = 60


def _quiet(_: str) -> None:
    return None


@pytest.mark.asyncio
async def test_every_workload_runs_for_every_layer_on_sqlite() -> None:
    with servers.sqlite_path() as path:
        result = await run_backend("sqlite", path, N, runs=1, log=_quiet)
    assert set(result.wall) == {"raw", "repokit", "orm"}
    assert all(set(cells) == set(RUN_ORDER) for cells in result.wall.values())
    text = table([result])
    assert "geometric mean W1–W8" in text
    assert "W9 throughput" in text
    assert result.w9_ops == W9_TASKS  # one operation per task at this N
    assert result.throughput("raw") == 1.0


@pytest.mark.asyncio
async def test_sqlite_runs_with_synchronous_normal_on_every_layer() -> None:
    # Each layer checks its connections' PRAGMA synchronous as it opens.
    with servers.sqlite_path() as path:
        result = await run_backend("sqlite-normal", path, N, runs=1, log=_quiet)
    assert set(result.wall) == {"raw", "repokit", "orm"}
    assert "sqlite-normal" in table([result])


def test_the_w9_mix_is_seeded_and_spread_over_the_tasks() -> None:
    first, again = Workload.build(640), Workload.build(640)
    assert first.mix == again.mix
    assert len(first.mix) == W9_TASKS
    assert {len(ops) for ops in first.mix} == {640 // W9_TASKS}
    kinds = [op[0] for ops in first.mix for op in ops]
    assert kinds.count("get") > kinds.count("update") > kinds.count("search") > 0
    assert set(WORKLOADS) < set(RUN_ORDER)


@pytest.mark.asyncio
async def test_every_workload_runs_for_every_layer_on_postgres(postgres_url: str) -> None:
    result = await run_backend("postgres", postgres_url, N, runs=1, log=_quiet)
    assert set(result.wall) == {"raw", "repokit", "orm"}
    assert all(set(cells) == set(RUN_ORDER) for cells in result.wall.values())


@pytest.mark.asyncio
async def test_scale_checks_report_every_size_and_page() -> None:
    with servers.sqlite_path() as path:
        result = await run_scale("sqlite", path, rows=200)
    assert sorted(result.create_us_per_row) == [2, 20, 200]
    assert sorted(result.page_ms) == [1, 4]
    assert sorted(result.walk_peak_kib) == [2, 20, 200]


@pytest.mark.asyncio
async def test_the_memory_scale_checks_run_every_step() -> None:
    results = await run_memory_scale(rows=120, batch=50)
    assert len(results) == len(STEPS)
    assert all(done > 0 for _, _, done in results)


@pytest.mark.asyncio
async def test_every_workload_runs_for_every_layer_on_mongodb(mongodb_url: str) -> None:
    result = await run_backend("mongodb", mongodb_url, N, runs=1, log=_quiet)
    assert set(result.wall) == {"raw", "repokit"}
    assert all(set(cells) == set(RUN_ORDER) for cells in result.wall.values())


@pytest.mark.asyncio
async def test_the_replica_throughput_benchmark_runs_both_mixes(
    streaming_pair: StreamingPair,
) -> None:
    results = await measure_replicas(streaming_pair, n=64, runs=1)
    assert set(results) == {
        (mix, setup) for mix in ("W9", "R9") for setup in ("primary", "primary + replica")
    }
    assert all(rate > 0 for rates in results.values() for rate in rates)


@pytest.mark.asyncio
async def test_the_reference_workloads_run_on_raw_and_repokit() -> None:
    with servers.sqlite_path() as path:
        timed = await measure_references("sqlite", path, n=40, runs=1)
        assert set(timed) == {"raw", "repokit"}
        assert all(set(cells) == {"R0", "R1", "R2"} for cells in timed.values())


@pytest.mark.asyncio
async def test_the_toolkit_workloads_run_on_raw_and_repokit() -> None:
    with servers.sqlite_path() as path:
        timed = await measure_toolkit("sqlite", path, n=60, runs=1)
        assert set(timed) == {"raw", "repokit"}
        assert all(set(cells) == {"U1", "U2", "B1"} for cells in timed.values())
        await load_toolkit("sqlite", path, 300)
        for name in ("raw", "repokit"):
            assert (await stream_once("sqlite", path, name))["rows"] == 300
