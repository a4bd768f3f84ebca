"""Awaiting cleanup to its end, whatever cancellations arrive meanwhile.

A session's end (COMMIT, ROLLBACK, giving its connection back) must not be
cut short by a cancellation (a request timeout, a ``TaskGroup`` cancelling
its siblings): an interrupted COMMIT leaves the caller not knowing whether
it happened, an interrupted ROLLBACK a connection with a transaction open,
a pool slot or a SQLite writer turn held for good (CONTRACT §12).

:func:`shielded` runs a coroutine *inside the calling task* and holds any
cancellation of that task back until the coroutine has finished; then it
raises the ``CancelledError``. ``asyncio.shield`` does the same with a new
task (about 15 µs per call, and two more turns of the event loop); here each
await of the coroutine costs one intermediate future instead, so a session
end that awaits nothing (a read-only SQL session giving back its idle
connection) costs nothing extra.

How: the coroutine is stepped by hand. Each future it waits on is handed to
the task behind a proxy future; cancelling the task cancels the proxy, not
the coroutine's own future, so the operation it is waiting for goes on and
the coroutine never sees the cancellation. Once it has returned, the held
``CancelledError`` is raised (an ``asyncio.timeout()`` around the caller
then turns it into ``TimeoutError``, as usual).

A timeout *inside* the work cancels the task too, and is held like any other
cancellation: it does not cut the work short (the future it interrupts runs to
its end), and it is not raised afterwards either, since the timeout took its
cancellation back on the way out. Work whose own timeouts must take effect
(a driver's connect timeout, say) runs in a task of its own:
:func:`in_own_task`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

__all__ = ["HeldCancellation", "in_own_task", "shielded"]

T = TypeVar("T")


async def shielded(
    work: Coroutine[Any, Any, T],
    *,
    undo: Callable[[T], Coroutine[Any, Any, object]] | None = None,
) -> T:
    """Await *work* to its end; a cancellation arriving meanwhile is raised afterwards.

    Args:
        work: the coroutine to finish.
        undo: if a cancellation arrived while *work* ran and *work* succeeded,
            ``undo(result)`` runs (shielded as well) before the cancellation
            is raised, so a resource *work* acquired is not lost.

    Returns:
        What *work* returned, if no cancellation arrived.

    Raises:
        Whatever *work* raised; else the held ``CancelledError``.
    """
    # The first step runs as a plain call: work that ends without waiting (a read-only
    # session giving back an idle connection) cannot be cancelled meanwhile, and needs
    # no runner. What it raises propagates as it is.
    try:
        first = work.send(None)
    except StopIteration as stop:
        done: T = stop.value
        return done
    task = asyncio.current_task()
    before = task.cancelling() if task is not None else 0
    runner: _Runner[T] = _Runner(work, first)
    try:
        result = await runner
    except BaseException:
        if (
            runner.cancelled is not None
            and _still_cancelled(task, before)
            and not isinstance(runner.error, asyncio.CancelledError)
        ):
            # The caller was cancelled: that wins over what the work raised meanwhile
            # (kept as the cancellation's context).
            raise runner.cancelled from runner.error
        raise
    if runner.cancelled is None or not _still_cancelled(task, before):
        return result
    if undo is not None:
        await shielded(undo(result))
    raise runner.cancelled


async def in_own_task(work: Coroutine[Any, Any, T]) -> T:
    """Await *work* run as a task of its own.

    Under :func:`shielded`, a cancellation of the caller leaves that task
    alone, while the timeouts inside *work* cancel that task and so take
    effect. Outside it, a cancellation of the caller cancels the task too, as
    awaiting *work* directly would. A task costs about 15 µs and one more turn
    of the event loop: it is for driver calls that bound themselves with
    ``asyncio`` timeouts (PyMongo's connect and pool waits), not for every await.
    """
    return await asyncio.get_running_loop().create_task(work)


def _still_cancelled(task: asyncio.Task[Any] | None, before: int) -> bool:
    """Whether a cancellation of *task* from outside the work is still pending.

    Every ``Task.cancel()`` counts one in ``Task.cancelling()``. A timeout
    *inside* the work (``asyncio.timeout()``, or ``asyncio.wait_for()``, which
    cancels the calling task since Python 3.12 — drivers use it) counts one
    too, and takes it back (``uncancel()``) when its block ends: a held
    cancellation that was such a timeout's leaves the count where it was.
    """
    return task is None or task.cancelling() > before


class HeldCancellation(asyncio.Future[Any]):
    """A future that a cancellation of the task awaiting it cannot cancel.

    ``Task.cancel()`` first tries to cancel the future the task waits for;
    refused, it marks the task instead, and the ``CancelledError`` is thrown
    into the task once this future has its result. A backend completes such a
    future when work it handed to another thread (or process) has ended, so a
    cancellation never separates the caller from work still running — at no
    cost when no cancellation comes (``asyncio.shield`` would take one more
    turn of the event loop per await).
    """

    def cancel(self, msg: Any = None) -> bool:
        return False


class _Runner(Generic[T]):
    """Steps a coroutine in the awaiting task, shielding each future it waits on."""

    __slots__ = ("cancelled", "error", "first", "work")

    def __init__(self, work: Coroutine[Any, Any, T], first: Any) -> None:
        self.work = work
        #: What the work's first step waits on (it has run already).
        self.first = first
        #: The cancellation held back, if one arrived.
        self.cancelled: asyncio.CancelledError | None = None
        #: What the work raised, if anything.
        self.error: BaseException | None = None

    def __await__(self) -> Generator[Any, None, T]:
        work = self.work
        waited, self.first = self.first, None
        while True:
            if waited is None:  # a bare yield (asyncio.sleep(0)): one turn of the loop
                try:
                    yield None
                except asyncio.CancelledError as exc:
                    self.cancelled = exc
            elif type(waited) is HeldCancellation:
                # It refuses cancellation itself: the task's cancellation lands here
                # once it is done, with no proxy (and no extra turn of the loop).
                try:
                    yield waited
                except asyncio.CancelledError as exc:
                    self.cancelled = exc
            else:
                # The task protocol: a future that the coroutine blocks on.
                waited._asyncio_future_blocking = False
                while not waited.done():
                    proxy = _proxy(waited)
                    try:
                        yield proxy
                    except asyncio.CancelledError as exc:
                        self.cancelled = exc
            # The coroutine's own await reads the result (or the exception) itself.
            try:
                waited = work.send(None)
            except StopIteration as stop:
                result: T = stop.value
                return result
            except BaseException as exc:
                self.error = exc
                raise


def _proxy(inner: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """A future that completes when *inner* does; cancelling it leaves *inner* alone."""
    outer: asyncio.Future[Any] = inner.get_loop().create_future()

    def done(_: asyncio.Future[Any]) -> None:
        if not outer.done():
            outer.set_result(None)

    inner.add_done_callback(done)

    def forget(_: asyncio.Future[Any]) -> None:
        if outer.cancelled():
            inner.remove_done_callback(done)

    outer.add_done_callback(forget)
    outer._asyncio_future_blocking = True
    return outer
