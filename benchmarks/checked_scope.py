"""What a checked scope costs (CONTRACT §24): the same calls under a plain and a checked scope.

``uv run python -m benchmarks.checked_scope --backends sqlite,postgres,mongodb [--n 1000]``

One tenant table and one item table. The plain scope is "the tenant's
items"; the checked scope is the same condition plus ``requires()`` naming
the tenant, which must be stored and live. Per backend, repokit alone (the
check has no raw counterpart: the ratio is checked / plain in the same run):

* **K1** create N items one call each;
* **K2** get each of them by id;
* **K3** update each of them by id;
* **K4** search a page of 20 of the tenant's items, N / 10 times.

Timed as the other workloads (interleaved runs, median), on fresh tables
per run. Where the backend runs semi-joins in its statements the check rides
in each operation's statement, so the ratios should sit near 1.0; elsewhere
(MongoDB) each call pays one extra query.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from benchmarks.runner import backend_kind, server_for
from benchmarks.toolkit import _repokit_url
from repokit import Database, OffsetPagination, Repository, Requires, SearchScope, Table
from repokit.conditions import Condition

__all__ = ["main", "measure"]


@dataclass(frozen=True)
class Tenant:
    name: str


@dataclass(frozen=True)
class Item:
    id: uuid.UUID
    tenant: str
    score: int = 0


_tenants = Table(Tenant, "bench_chk_tenants", primary_key="name")
_items = Table(Item, "bench_chk_items", primary_key="id", indexes=[("tenant",)])
_TENANT = "acme"


@dataclass(frozen=True)
class Plain(SearchScope):
    def to_condition(self) -> Condition:
        return _items.c.tenant == _TENANT


@dataclass(frozen=True)
class Checked(Plain):
    def requires(self) -> Iterable[Requires]:
        return (Requires(_tenants, _TENANT),)


Workload = Callable[[Repository[Item, uuid.UUID], SearchScope, list[Item]], Awaitable[None]]


async def _k1(repo: Repository[Item, uuid.UUID], scope: SearchScope, rows: list[Item]) -> None:
    for item in rows:
        await repo.create(item, scope=scope)


async def _k2(repo: Repository[Item, uuid.UUID], scope: SearchScope, rows: list[Item]) -> None:
    for item in rows:
        await repo.get(item.id, scope=scope)


async def _k3(repo: Repository[Item, uuid.UUID], scope: SearchScope, rows: list[Item]) -> None:
    for item in rows:
        await repo.update(item.id, {"score": item.score + 1}, scope=scope)


async def _k4(repo: Repository[Item, uuid.UUID], scope: SearchScope, rows: list[Item]) -> None:
    page = OffsetPagination(limit=20)
    for _ in range(max(1, len(rows) // 10)):
        await repo.search(scope=scope, pagination=page)


WORKLOADS: dict[str, Workload] = {
    "K1 create": _k1,
    "K2 get": _k2,
    "K3 update": _k3,
    "K4 search page": _k4,
}


async def _run_once(url: str, n: int, scope: SearchScope) -> dict[str, float]:
    db = await Database.connect(url)
    try:
        await db.drop_tables(_tenants, _items)
        await db.create_tables(_tenants, _items)
        await Repository(db, _tenants).create(Tenant(_TENANT))
        repo: Repository[Item, uuid.UUID] = Repository(db, _items)
        rows = [Item(uuid.uuid4(), _TENANT) for _ in range(n)]
        times: dict[str, float] = {}
        for name, workload in WORKLOADS.items():
            started = time.perf_counter()
            await workload(repo, scope, rows)
            times[name] = time.perf_counter() - started
        await db.drop_tables(_tenants, _items)
        return times
    finally:
        await db.close()


async def measure(url: str, n: int, runs: int) -> dict[str, tuple[float, float]]:
    """Per workload: (plain seconds, checked seconds), medians over interleaved runs."""
    plain: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    checked: dict[str, list[float]] = {name: [] for name in WORKLOADS}
    for _ in range(runs):
        for scope, into in ((Plain(), plain), (Checked(), checked)):
            for name, seconds in (await _run_once(url, n, scope)).items():
                into[name].append(seconds)
    return {
        name: (statistics.median(plain[name]), statistics.median(checked[name]))
        for name in WORKLOADS
    }


def _report(kind: str, n: int, results: dict[str, tuple[float, float]]) -> None:
    print(f"\n### {kind} (N = {n:,})\n")
    print("| workload | plain µs/call | checked µs/call | checked / plain |")
    print("|---|---:|---:|---:|")
    for name, (plain, checked) in results.items():
        calls = n if not name.startswith("K4") else max(1, n // 10)
        print(
            f"| {name} | {plain / calls * 1e6:,.0f} | {checked / calls * 1e6:,.0f} "
            f"| {checked / plain:.2f} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--mongodb-n", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    async def run() -> None:
        for kind in args.backends.split(","):
            n = args.mongodb_n if backend_kind(kind) == "mongodb" else args.n
            with server_for(kind) as url:
                results = await measure(_repokit_url(kind, url), n, args.runs)
            _report(kind, n, results)

    asyncio.run(run())


if __name__ == "__main__":
    main()
