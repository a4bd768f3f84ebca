"""What a semi-join costs (CONTRACT §25): 10k items, 1k memberships, on every backend.

Times a count and a 50-item page of ``exists(members, on={"item_id": items.c.id},
where=members.c.role == role)`` against the same question asked with a
precomputed ``items.c.id.in_(ids)`` (what a team did before: two round trips).
MongoDB resolves the semi-join in the session (one read of the matching
memberships, then ``$in``); SQL runs one correlated ``EXISTS``.

    uv run python benchmarks/semijoin.py [url ...]   # default: memory, sqlite, mongodb
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from repokit import Database, OffsetPagination, Repository, exists
from repokit.testing.schema import Item, ItemId, Member, TenantScope, items, members
from repokit.testing.servers import mongodb_server

ITEMS, MEMBERS, ROUNDS = 10_000, 1_000, 20


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    await call()  # warm
    start = time.perf_counter()
    for _ in range(ROUNDS):
        await call()
    return (time.perf_counter() - start) / ROUNDS * 1000


async def run(url: str) -> None:
    db = await Database.connect(url)
    try:
        await db.create_tables(items, members)
        tenant = f"bench-{uuid.uuid4().hex[:6]}"
        made = [Item(ItemId(uuid.uuid4()), tenant, f"n{i}") for i in range(ITEMS)]
        repo = Repository(db, items)
        for start in range(0, ITEMS, 1000):
            await repo.batch_create(made[start : start + 1000])
        links = [Member(i, tenant, made[i * 7].id, "r" if i % 2 else "s") for i in range(MEMBERS)]
        await Repository(db, members).batch_create(links)
        scope = TenantScope(tenant)
        joined = exists(members, on={"item_id": items.c.id}, where=members.c.role == "r")
        ids = [m.item_id for m in links if m.role == "r"]

        async def listed() -> Any:
            found = await Repository(db, members).search(conditions=[members.c.role == "r"])
            return await repo.count(conditions=[items.c.id.in_([m.item_id for m in found.items])])

        page = OffsetPagination(limit=50)
        results = {
            "count exists": await _timed(lambda: repo.count(conditions=[joined], scope=scope)),
            "count in_(ids)": await _timed(
                lambda: repo.count(conditions=[items.c.id.in_(ids)], scope=scope)
            ),
            "count 2 round trips": await _timed(listed),
            "page exists": await _timed(
                lambda: repo.search(conditions=[joined], scope=scope, pagination=page)
            ),
            "page not exists": await _timed(
                lambda: repo.search(conditions=[~joined], scope=scope, pagination=page)
            ),
        }
        print(url.split("://")[0], " ".join(f"{k}={v:.2f}ms" for k, v in results.items()))
    finally:
        await db.close()


async def main(urls: list[str]) -> None:
    for url in urls:
        await run(url)


if __name__ == "__main__":
    with contextlib.ExitStack() as stack:
        urls = sys.argv[1:]
        if not urls:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            urls = ["memory://", f"sqlite+aiosqlite:///{folder}/b.db"]
            urls.append(stack.enter_context(mongodb_server()))
        asyncio.run(main(urls))
