"""Cancelling an operation at an exact await point, for the contract suite's §12 tests.

:func:`run_cancelled` runs a coroutine in a task of its own and cancels that
task at its *k*-th suspension (the *k*-th time it waits for the event
loop), exactly as ``asyncio.timeout()`` or a ``TaskGroup`` would: the
``CancelledError`` lands on the future the operation then waits for. Run it
once with ``at=None`` to count the suspensions, then once per suspension.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["run_cancelled"]


class _CancelAt:
    """Steps *work* in the awaiting task; cancels that task at suspensions ``at .. at + storm``."""

    def __init__(self, work: Coroutine[Any, Any, Any], at: int | None, storm: int) -> None:
        self.work = work
        self.at = at
        self.storm = storm
        self.suspensions = 0

    def __await__(self) -> Generator[Any, None, Any]:
        send: Any = None
        error: BaseException | None = None
        while True:
            try:
                waited = self.work.send(send) if error is None else self.work.throw(error)
            except StopIteration as stop:
                return stop.value
            self.suspensions += 1
            if self.at is not None and self.at <= self.suspensions <= self.at + self.storm:
                # The task is running: the cancellation lands on the future it now waits for.
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
            send, error = None, None
            try:
                send = yield waited
            except BaseException as exc:
                error = exc


async def _drive(step: _CancelAt) -> Any:
    return await step


async def run_cancelled(
    work: Coroutine[Any, Any, Any], at: int | None, storm: int = 0
) -> tuple[bool, int]:
    """Run *work*, cancelled at suspension *at* (and the *storm* next ones); ``None``: never.

    Returns:
        Whether the work ended cancelled, and how many times it suspended.
    """
    step = _CancelAt(work, at, storm)
    task = asyncio.create_task(_drive(step))
    try:
        await task
    except asyncio.CancelledError:
        if not task.cancelled():  # pragma: no cover - the caller itself was cancelled
            raise
        return True, step.suspensions
    return False, step.suspensions
