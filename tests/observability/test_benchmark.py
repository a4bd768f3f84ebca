"""The observability benchmark still runs (timings are never asserted)."""

from __future__ import annotations

import pytest
from benchmarks.observability import CHUNK, CONFIGURATIONS, GROUPS, measure, table


@pytest.mark.asyncio
@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_the_point_read_benchmark_measures_each_configuration_of_a_group(
    group: str,
) -> None:
    result = await measure(group, "memory", CHUNK)
    assert set(result) == {"check", *GROUPS[group]}
    assert all(result[config]["us_per_get"] > 0 for config in GROUPS[group])
    assert all(ns > 0 for ns in result["check"].values())


def test_the_benchmark_table_shows_every_configuration() -> None:
    cell = {"us_per_get": 100.0, "cpu_us_per_get": 90.0}
    check = {"not_imported_ns": 150.0, "imported_no_provider_ns": 200.0}
    text = table({"memory": {"check": check, **dict.fromkeys(CONFIGURATIONS, cell)}}, 20, 1)
    assert all(f"| {config} |" in text for config in CONFIGURATIONS)
