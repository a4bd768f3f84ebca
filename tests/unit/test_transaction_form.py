"""Database.transaction(): a multi-statement block re-run on transient conflicts."""

from __future__ import annotations

import contextlib

import pytest
import pytest_asyncio

from repokit import Database, Repository, TransactionAborted, TransactionConflict
from repokit.testing.schema import Label, labels


@pytest_asyncio.fixture
async def db() -> Database:
    database = await Database.connect("memory://")
    await database.create_tables(labels)
    return database


@pytest.mark.asyncio
async def test_a_block_that_succeeds_runs_once_and_commits(db: Database) -> None:
    repo: Repository[Label, str] = Repository(db, labels)
    runs = 0
    async for attempt in db.transaction():
        async with attempt as session:
            runs += 1
            await repo.create(Label("a", "t"), session=session)
    assert runs == 1
    assert (await repo.get("a")).tenant == "t"


@pytest.mark.asyncio
async def test_a_conflict_rolls_back_and_runs_the_block_again(db: Database) -> None:
    repo: Repository[Label, str] = Repository(db, labels)
    runs = 0
    async for attempt in db.transaction():
        async with attempt as session:
            runs += 1
            await repo.create(Label(f"k{runs}", "t"), session=session)
            if runs < 3:
                raise TransactionConflict("simulated serialisation failure")
    assert runs == 3
    assert [label.key for label in (await repo.search()).items] == ["k3"]


@pytest.mark.asyncio
async def test_the_last_conflict_propagates(db: Database) -> None:
    runs = 0

    async def block() -> None:
        nonlocal runs
        async for attempt in db.transaction(attempts=2):
            async with attempt:
                runs += 1
                raise TransactionConflict("always")

    with pytest.raises(TransactionConflict):
        await block()
    assert runs == 2


@pytest.mark.asyncio
async def test_other_errors_propagate_at_once(db: Database) -> None:
    runs = 0

    async def block() -> None:
        nonlocal runs
        async for attempt in db.transaction():
            async with attempt:
                runs += 1
                raise KeyError("not transient")

    with pytest.raises(KeyError):
        await block()
    assert runs == 1


@pytest.mark.asyncio
async def test_a_conflict_the_block_caught_propagates_even_through_return(db: Database) -> None:
    """The block left normally (here by return) but its transaction is aborted: never lost."""
    repo: Repository[Label, str] = Repository(db, labels)

    async def conflict(_: object) -> None:
        raise TransactionConflict("inside")

    async def block() -> str:
        async for attempt in db.transaction():
            async with attempt as session:
                await repo.create(Label("lost", "t"), session=session)
                # Swallowed by the block: the session is aborted all the same.
                with contextlib.suppress(TransactionConflict):
                    await session.run(conflict)
                return "reported as done"
        return "unreachable"

    with pytest.raises(TransactionAborted):
        await block()
    assert (await repo.search()).items == []


@pytest.mark.asyncio
async def test_attempts_must_be_positive(db: Database) -> None:
    with pytest.raises(ValueError, match="attempts"):
        db.transaction(attempts=0)
