"""What every measured layer implements: one method per workload.

A subject owns its connection(s). The runner calls :meth:`reset` (an empty
table) before W1 and then the workloads in order; W3–W8 read what W1 and W2
wrote. Each method does the whole workload and returns a number the runner
checks (rows seen or changed), so a subject that silently does less fails.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod

from benchmarks.model import Item, Workload

__all__ = ["WORKLOADS", "Subject"]

#: Workload ids and their descriptions, in run order.
WORKLOADS = {
    "W1": "create one per call ×N",
    "W2": "batch create N",
    "W3": "get by id ×N",
    "W4a": "search + total ×200",
    "W4b": "keyset walk",
    "W5": "update by id ×N/10",
    "W6": "batch update by condition",
    "W7": "batch purge 1,000 ids",
    "W8": "purge all",
}


class Subject(ABC):
    """One layer on one backend."""

    name: str

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def reset(self) -> None:
        """Leave an empty items table (schema created by repokit beforehand)."""

    @abstractmethod
    async def create_one(self, item: Item) -> None: ...

    @abstractmethod
    async def batch_create(self, batch: list[Item]) -> None: ...

    @abstractmethod
    async def get(self, key: uuid.UUID) -> object: ...

    @abstractmethod
    async def search(self, offset: int) -> int:
        """Page of 50 of tenant t2 / active, by created_at, id; return the total count."""

    @abstractmethod
    async def walk(self) -> int:
        """Keyset walk over tenant t2 / active by created_at, id; return rows seen."""

    @abstractmethod
    async def update(self, key: uuid.UUID, score: int) -> object: ...

    @abstractmethod
    async def batch_update(self) -> int:
        """Set score 7 on tenant t2 / draft; return rows changed."""

    @abstractmethod
    async def batch_purge(self, keys: list[uuid.UUID]) -> int: ...

    @abstractmethod
    async def purge_all(self) -> int: ...

    # -- the workloads -----------------------------------------------------------------------

    async def run(self, wid: str, data: Workload) -> int:
        """Run workload *wid*; return its check number."""
        if wid == "W1":
            for item in data.one:
                await self.create_one(item)
            return len(data.one)
        if wid == "W2":
            await self.batch_create(data.batch)
            return len(data.batch)
        if wid == "W3":
            for item in data.one:
                await self.get(item.id)
            return len(data.one)
        if wid == "W4a":
            return sum([await self.search(offset) for offset in data.offsets])
        if wid == "W4b":
            return await self.walk()
        if wid == "W5":
            for i, key in enumerate(data.updates):
                await self.update(key, 1000 + i)
            return len(data.updates)
        if wid == "W6":
            return await self.batch_update()
        if wid == "W7":
            return await self.batch_purge(data.purge_ids)
        if wid == "W8":
            return await self.purge_all()
        raise ValueError(wid)
