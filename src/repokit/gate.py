"""A fair admission gate for backend sessions.

Connection pools (SQLAlchemy's QueuePool, PyMongo's pool) let a task that
just released a connection take it straight back before a waiting task
wakes, so under more concurrent sessions than pooled connections one waiter
can starve until the pool's timeout (measured by tests/reliability: 32
clients on a 2-connection pool). A gate sized to the pool admits sessions
first come, first served; its wait is bounded by the pool's own timeout and
ends in :class:`~repokit.errors.BackendUnavailable`. Backends hold one slot
per open session.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from repokit.errors import BackendUnavailable

__all__ = ["FairGate"]


class FairGate:
    """At most *capacity* holders at once, admitted in arrival order.

    Args:
        capacity: how many sessions may hold a slot; ``None`` admits everyone.
        timeout: the longest wait in seconds; ``None`` waits forever.
        what: names the pool in the timeout message.
    """

    def __init__(self, capacity: int | None, timeout: float | None, what: str) -> None:
        self.capacity = capacity
        self.timeout = timeout
        self.what = what
        # asyncio primitives belong to one event loop; keep one per loop.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slots] = (
            weakref.WeakKeyDictionary()
        )

    def held(self) -> int:
        """How many slots are held in the running event loop (diagnostics and tests)."""
        slots = self._gates.get(asyncio.get_running_loop())
        return 0 if slots is None else slots.held

    async def enter(self) -> Callable[[], None]:
        """Wait for a slot; return the function that gives it back."""
        if self.capacity is None:
            return _nothing
        loop = asyncio.get_running_loop()
        slots = self._gates.get(loop)
        if slots is None:
            slots = self._gates[loop] = _Slots(self.capacity)
        gate = slots.semaphore
        if not gate.locked():
            await gate.acquire()  # a free slot and nobody waiting: no suspension, no timer
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    await gate.acquire()
            except TimeoutError:
                raise BackendUnavailable(
                    f"no free connection in the {self.what} pool of {self.capacity} "
                    f"within {self.timeout} s"
                ) from None
        slots.held += 1
        return slots.leave


class _Slots:
    """One event loop's semaphore and how many of its slots are held."""

    __slots__ = ("held", "semaphore")

    def __init__(self, capacity: int) -> None:
        self.semaphore = asyncio.Semaphore(capacity)
        self.held = 0

    def leave(self) -> None:
        self.held -= 1
        self.semaphore.release()


def _nothing() -> None:
    pass
