"""What every measured layer implements: one method per workload.

A subject owns its connection(s). The runner calls :meth:`reset` (an empty
table) before W1 and then the workloads in :data:`RUN_ORDER`; W3–W9 read what
W1 and W2 wrote. Each method does the whole workload and returns a number the
runner checks (rows seen or changed), so a subject that silently does less
fails.

W9 is concurrent: :data:`~benchmarks.model.W9_TASKS` tasks share the layer's
pool of :data:`~benchmarks.model.W9_CONNECTIONS` connections and run the
seeded mix of :attr:`Workload.mix`. :meth:`start_concurrent` (untimed) opens
and warms what they share; the ``w9_*`` methods are one operation each.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod

from benchmarks.model import W9_CONNECTIONS, W9_SCORE_BASE, W9_TASKS, Item, Operation, Workload

__all__ = ["CONCURRENT", "RUN_ORDER", "WORKLOADS", "Subject"]

#: The sequential workloads (the geometric mean is over these), in display order.
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
#: The concurrent workload: reported beside W1–W8, never in their geometric mean.
CONCURRENT = {
    "W9": f"concurrent mix ×N, {W9_TASKS} tasks",
}
#: The order a run goes through them: W9 right after the read-only W3–W4b, so it
#: reads the table as the loads left it.
RUN_ORDER = ("W1", "W2", "W3", "W4a", "W4b", "W9", "W5", "W6", "W7", "W8")


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

    # -- W9: one operation each, from many tasks at once ---------------------------------------

    async def start_concurrent(self) -> None:  # noqa: B027 - most layers share their own pool
        """Untimed, before W9: open the pool W9's tasks share (default: the subject's own)."""

    async def stop_concurrent(self) -> None:  # noqa: B027
        """Untimed, after W9: close what :meth:`start_concurrent` opened."""

    async def w9_get(self, key: uuid.UUID) -> object:
        return await self.get(key)

    async def w9_update(self, key: uuid.UUID, score: int) -> object:
        return await self.update(key, score)

    async def w9_search(self, offset: int) -> int:
        return await self.search(offset)

    async def _w9_task(self, ops: list[Operation]) -> int:
        done = 0
        for op in ops:
            if op[0] == "get":
                await self.w9_get(op[1])  # type: ignore[arg-type]
            elif op[0] == "update":
                await self.w9_update(op[1], op[2])  # type: ignore[arg-type, misc]
            elif await self.w9_search(op[1]) <= 0:  # type: ignore[arg-type]
                raise AssertionError("W9: a search page found no rows")
            done += 1
        return done

    async def concurrent(self, mix: list[list[Operation]]) -> int:
        """One task per list of *mix*, all at once; the number of operations done."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._w9_task(ops)) for ops in mix]
        return sum(task.result() for task in tasks)

    async def before(self, wid: str, data: Workload) -> None:
        """Untimed set-up of workload *wid*: W9 opens its pool and warms it."""
        if wid == "W9":
            await self.start_concurrent()
            # Every connection opened and its statements prepared, as in a running
            # service: one task per operation, each kind on every connection.
            ops = [op for task in data.mix for op in task]
            warm: list[list[Operation]] = []
            for kind in ("get", "update", "search"):
                of_kind = [op for op in ops if op[0] == kind][: 2 * W9_CONNECTIONS]
                if kind == "update":  # other scores than W9's own (never a no-op there)
                    of_kind = [
                        (k, key, W9_SCORE_BASE - 1 - i) for i, (k, key, _) in enumerate(of_kind)
                    ]  # type: ignore[misc]
                warm += [[op] for op in of_kind]
            await self.concurrent(warm)

    async def after(self, wid: str) -> None:
        """Untimed clean-up of workload *wid*."""
        if wid == "W9":
            await self.stop_concurrent()

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
        if wid == "W9":
            return await self.concurrent(data.mix)
        raise ValueError(wid)
