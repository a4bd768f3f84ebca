"""shielded(): cleanup runs to its end whatever cancellations arrive meanwhile."""

from __future__ import annotations

import asyncio

import pytest

from repokit.shielding import HeldCancellation, in_own_task, shielded

pytestmark = pytest.mark.asyncio


async def _steps(log: list[str], n: int = 5, delay: float = 0.001) -> str:
    for i in range(n):
        await asyncio.sleep(delay)
        log.append(f"step {i}")
    await asyncio.sleep(0)  # a bare yield too
    log.append("done")
    return "result"


async def test_returns_the_result_without_cancellation() -> None:
    log: list[str] = []
    assert await shielded(_steps(log)) == "result"
    assert log[-1] == "done"


async def test_a_cancellation_waits_for_the_end_then_propagates() -> None:
    log: list[str] = []
    task = asyncio.create_task(shielded(_steps(log)))
    await asyncio.sleep(0.002)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log[-1] == "done"


async def test_repeated_cancellations_are_held_back_too() -> None:
    log: list[str] = []
    task = asyncio.create_task(shielded(_steps(log, n=20)))
    for _ in range(10):
        await asyncio.sleep(0.001)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log[-1] == "done"


async def test_a_timeout_around_it_becomes_timeout_error_after_the_end() -> None:
    log: list[str] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.002):
            await shielded(_steps(log, n=10))
    assert log[-1] == "done"


async def test_the_inner_future_is_not_cancelled() -> None:
    loop = asyncio.get_running_loop()
    inner: asyncio.Future[int] = loop.create_future()

    async def wait() -> int:
        return await inner

    task = asyncio.create_task(shielded(wait()))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert not inner.cancelled()
    inner.set_result(3)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_undo_runs_when_cancelled_after_success() -> None:
    undone: list[str] = []

    async def undo(result: str) -> None:
        await asyncio.sleep(0.001)
        undone.append(result)

    task = asyncio.create_task(shielded(_steps([]), undo=undo))
    await asyncio.sleep(0.002)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert undone == ["result"]


async def test_an_error_of_the_work_propagates() -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await shielded(fail())


async def test_cancellation_wins_over_an_error_of_the_work() -> None:
    async def fail() -> None:
        await asyncio.sleep(0.005)
        raise KeyError("x")

    task = asyncio.create_task(shielded(fail()))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    assert isinstance(caught.value.__cause__, KeyError)


async def test_works_with_awaited_tasks_and_taskgroup_cancellation() -> None:
    log: list[str] = []

    async def sibling() -> None:
        await asyncio.sleep(0.002)
        raise ValueError("boom")

    async def cleanup() -> None:
        inner = asyncio.create_task(_steps(log, n=5))
        await inner

    async def group() -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(sibling())
            tasks.create_task(shielded(cleanup()))

    with pytest.raises(ExceptionGroup):
        await group()
    assert log[-1] == "done"


@pytest.mark.asyncio
async def test_a_held_cancellation_future_is_awaited_without_a_proxy() -> None:
    loop = asyncio.get_running_loop()
    held = HeldCancellation(loop=loop)

    async def wait() -> int:
        return int(await held)

    task = asyncio.create_task(shielded(wait()))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert not held.cancelled()
    assert not task.done()
    held.set_result(5)
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_a_held_cancellation_future_holds_a_bare_await_too() -> None:
    loop = asyncio.get_running_loop()
    held = HeldCancellation(loop=loop)
    task = asyncio.create_task(_await(held))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    assert not task.done()
    held.set_result(1)
    with pytest.raises(asyncio.CancelledError):
        await task


async def _await(future: asyncio.Future[int]) -> int:
    return await future


async def _with_inner_timeout(log: list[str]) -> str:
    """Work bounding one of its waits with a timeout that fires (as drivers do)."""
    try:
        async with asyncio.timeout(0.005):
            await asyncio.sleep(0.05)
    except TimeoutError:  # not reached under shielded(): the timeout's cancel is held
        log.append("timed out")
    log.append("done")
    return "result"


async def test_a_timeout_inside_the_work_is_not_raised_afterwards() -> None:
    """A timeout inside the work cancels the task; that is not the caller's cancellation.

    Python 3.12's ``asyncio.wait_for`` (which PyMongo uses inside its calls)
    cancels the calling task on timeout: held, then raised after the work
    ended, it surfaced as a CancelledError nobody had asked for.
    """
    log: list[str] = []
    assert await shielded(_with_inner_timeout(log)) == "result"
    assert log[-1] == "done"
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0


async def test_an_outer_cancellation_still_lands_beside_an_inner_timeout() -> None:
    log: list[str] = []
    task = asyncio.create_task(shielded(_with_inner_timeout(log)))
    await asyncio.sleep(0.01)  # past the inner timeout, before the work's end
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log[-1] == "done"


async def test_in_own_task_lets_the_works_timeouts_take_effect_under_shielded() -> None:
    log: list[str] = []
    task = asyncio.create_task(shielded(in_own_task(_with_inner_timeout(log))))
    await asyncio.sleep(0)
    task.cancel()  # held: the work's own task goes on, and its timeout fires there
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["timed out", "done"]


async def test_in_own_task_outside_shielded_is_cancelled_with_the_caller() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(in_own_task(forever()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_work_that_never_waits_returns_or_raises_as_it_is() -> None:
    """The first step runs as a plain call: no runner, the same result and error."""

    async def at_once() -> str:
        return "now"

    async def fail_at_once() -> None:
        raise KeyError("first step")

    assert await shielded(at_once()) == "now"
    with pytest.raises(KeyError, match="first step"):
        await shielded(fail_at_once())


async def test_a_cancellation_after_a_first_step_that_waits_is_held() -> None:
    """Work whose first step waits goes on to its end; the cancellation comes afterwards."""
    log: list[str] = []
    task = asyncio.create_task(shielded(_steps(log, n=3, delay=0.01)))
    await asyncio.sleep(0)  # the first step has run and waits on its sleep
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log[-1] == "done"
