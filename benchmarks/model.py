"""The benchmark's entity, its repokit table and the deterministic data set.

``items(id, tenant, project, name unique per tenant, status, score,
created_at)`` with indexes on (tenant, status) and (tenant, name), as in
``BASELINE.md``. W1 writes tenant ``t1``, W2 tenant ``t2``; a third of each
tenant's rows are ``active``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from repokit import Table

__all__ = ["PAGE", "STATUSES", "Item", "Workload", "items", "make_items"]

#: Page size of W4a / W4b.
PAGE = 50
STATUSES = ("active", "archived", "draft")
_T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Item:
    id: uuid.UUID
    tenant: str
    project: str
    name: str
    status: str
    score: int
    created_at: datetime


items = Table(
    Item,
    "bench_items",
    primary_key="id",
    unique=[("tenant", "name")],
    indexes=[("tenant", "status")],
)


def make_items(n: int, tenant: str, seed: int) -> list[Item]:
    """*n* items of *tenant*; created_at values repeat so the order needs its tie-breaker."""
    rng = random.Random(seed)
    return [
        Item(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            tenant=tenant,
            project=f"p{i % 20}",
            name=f"{tenant}-item-{i:07d}",
            status=STATUSES[i % 3],
            score=rng.randrange(1000),
            created_at=_T0 + timedelta(milliseconds=(i // 2) * 1000),
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class Workload:
    """The inputs of one run: the same for every subject."""

    n: int
    one: list[Item]  # W1, tenant t1
    batch: list[Item]  # W2, tenant t2
    offsets: list[int]  # W4a
    updates: list[uuid.UUID]  # W5
    purge_ids: list[uuid.UUID]  # W7

    @classmethod
    def build(cls, n: int, seed: int = 7) -> Workload:
        rng = random.Random(seed)
        one = make_items(n, "t1", seed)
        batch = make_items(n, "t2", seed + 1)
        active = sum(1 for item in batch if item.status == "active")
        offsets = [rng.randrange(max(1, active - PAGE)) for _ in range(200)]
        ids = [item.id for item in one]
        updates = rng.sample(ids, max(1, n // 10))
        purge_ids = rng.sample(ids, min(1000, n))
        return cls(n, one, batch, offsets, updates, purge_ids)
