"""The benchmark's entity, its repokit table and the deterministic data set.

``items(id, tenant, project, name unique per tenant, status, score,
created_at)`` with indexes on (tenant, status) and (tenant, name), as in
``BASELINE.md``. W1 writes tenant ``t1``, W2 tenant ``t2``; a third of each
tenant's rows are ``active``. W9's operations are drawn once per seed, so every
layer runs the same sequence.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from repokit import Table

__all__ = [
    "PAGE",
    "STATUSES",
    "W9_CONNECTIONS",
    "W9_SCORE_BASE",
    "W9_TASKS",
    "Item",
    "Operation",
    "Workload",
    "items",
    "make_items",
    "mixed_operations",
]

#: Page size of W4a / W4b.
PAGE = 50
STATUSES = ("active", "archived", "draft")
_T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: W9: concurrent tasks sharing one database (or pool), and the pool's size.
W9_TASKS = 32
W9_CONNECTIONS = 10
#: W9's mix: get by id, update one by id, search page (the W4a filter), cumulative shares.
_W9_MIX = (("get", 0.70), ("update", 0.90), ("search", 1.0))
#: W9's updates write scores from here on, one per operation: never a no-op, never W5's.
W9_SCORE_BASE = 2_000_000


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


#: One W9 operation: ``("get", id)``, ``("update", id, score)`` or ``("search", offset)``.
Operation = tuple[str, uuid.UUID] | tuple[str, uuid.UUID, int] | tuple[str, int]


def mixed_operations(
    ids: list[uuid.UUID], offsets: int, total: int, seed: int
) -> list[list[Operation]]:
    """W9's operations, one list per task: *total* // W9_TASKS each (at least one).

    *ids* are the rows present after the loads; searches start at an offset
    below *offsets* (W4a's range).
    """
    rng = random.Random(seed)
    per_task = max(1, total // W9_TASKS)
    tasks: list[list[Operation]] = []
    number = 0
    for _ in range(W9_TASKS):
        ops: list[Operation] = []
        for _ in range(per_task):
            draw = rng.random()
            kind = next(name for name, upto in _W9_MIX if draw < upto)
            if kind == "get":
                ops.append(("get", rng.choice(ids)))
            elif kind == "update":
                ops.append(("update", rng.choice(ids), W9_SCORE_BASE + number))
            else:
                ops.append(("search", rng.randrange(offsets)))
            number += 1
        tasks.append(ops)
    return tasks


@dataclass(frozen=True)
class Workload:
    """The inputs of one run: the same for every subject."""

    n: int
    one: list[Item]  # W1, tenant t1
    batch: list[Item]  # W2, tenant t2
    offsets: list[int]  # W4a
    updates: list[uuid.UUID]  # W5
    purge_ids: list[uuid.UUID]  # W7
    mix: list[list[Operation]]  # W9, one list per task

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
        # Its own generator: W1-W8's inputs stay what they were.
        loaded = ids + [item.id for item in batch]
        mix = mixed_operations(loaded, max(1, active - PAGE), n, seed * 1000 + 9)
        return cls(n, one, batch, offsets, updates, purge_ids, mix)
