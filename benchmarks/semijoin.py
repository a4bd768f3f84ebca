"""What a semi-join costs (CONTRACT §25): 10k items, 1k memberships, on every backend.

Times a count and a 50-item page of ``exists(members, on={"item_id": items.c.id},
where=members.c.role == role)`` against the same question asked with a
precomputed ``items.c.id.in_(ids)`` (what a team did before: two round trips).
MongoDB resolves the semi-join in the session (one read of the matching
memberships, then ``$in``); SQL runs one correlated ``EXISTS``.

    uv run python benchmarks/semijoin.py [--items N] [--members N] [--rounds N] [url ...]
    # default: memory, sqlite, mongodb (SecantusDB); 10,000 items, 1,000 members, 20 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from repokit import Database, OffsetPagination, Repository, exists
from repokit.testing.schema import Item, ItemId, Member, TenantScope, items, members
from repokit.testing.servers import mongodb_server

ITEMS, MEMBERS, ROUNDS = 10_000, 1_000, 20


async def _timed(call: Callable[[], Awaitable[Any]], rounds: int) -> float:
    await call()  # warm
    start = time.perf_counter()
    for _ in range(rounds):
        await call()
    return (time.perf_counter() - start) / rounds * 1000


async def run(
    url: str, n_items: int = ITEMS, n_members: int = MEMBERS, rounds: int = ROUNDS
) -> None:
    db = await Database.connect(url)
    try:
        await db.create_tables(items, members)
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        made = [Item(ItemId(uuid.uuid4()), tenant, f"n{i}") for i in range(n_items)]
        repo = Repository(db, items)
        for start in range(0, n_items, 1000):
            await repo.batch_create(made[start : start + 1000])
        step = max(1, n_items // n_members)
        links = [
            Member(i, tenant, made[(i * step) % n_items].id, "r" if i % 2 else "s")
            for i in range(n_members)
        ]
        await Repository(db, members).batch_create(links)
        scope = TenantScope(tenant)
        joined = exists(members, on={"item_id": items.c.id}, where=members.c.role == "r")
        ids = [m.item_id for m in links if m.role == "r"]

        async def listed() -> Any:
            found = await Repository(db, members).search(
                conditions=[members.c.role == "r"], scope=TenantScope(tenant, members)
            )
            chosen = [m.item_id for m in found.items]
            return await repo.count(conditions=[items.c.id.in_(chosen)], scope=scope)

        page = OffsetPagination(limit=50)
        results = {
            "count exists": await _timed(
                lambda: repo.count(conditions=[joined], scope=scope), rounds
            ),
            "count in_(ids)": await _timed(
                lambda: repo.count(conditions=[items.c.id.in_(ids)], scope=scope), rounds
            ),
            "count 2 round trips": await _timed(listed, rounds),
            "page exists": await _timed(
                lambda: repo.search(conditions=[joined], scope=scope, pagination=page), rounds
            ),
            "page not exists": await _timed(
                lambda: repo.search(conditions=[~joined], scope=scope, pagination=page), rounds
            ),
        }
        print(url.split("://")[0], " ".join(f"{k}={v:.2f}ms" for k, v in results.items()))
    finally:
        await db.close()


async def main(urls: list[str], n_items: int, n_members: int, rounds: int) -> None:
    for url in urls:
        await run(url, n_items, n_members, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=ITEMS)
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("urls", nargs="*")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        urls = list(args.urls)
        if not urls:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            urls = ["memory://", f"sqlite+aiosqlite:///{folder}/b.db"]
            urls.append(stack.enter_context(mongodb_server()))
        asyncio.run(main(urls, args.items, args.members, args.rounds))
