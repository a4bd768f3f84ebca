"""Database.connect: awaited for a database, or an async context manager that closes it."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from repokit import BackendNotInstalled, Database, RepositoryError


@pytest.mark.asyncio
async def test_awaiting_connect_gives_an_open_database() -> None:
    db = await Database.connect("memory://")
    assert isinstance(db, Database)
    async with db.begin_readonly_session():
        pass
    await db.close()


@pytest.mark.asyncio
async def test_async_with_connect_gives_the_database_and_closes_it_on_exit() -> None:
    async with Database.connect("memory://") as db:
        assert isinstance(db, Database)
        async with db.begin_readonly_session():
            pass
    with pytest.raises(RepositoryError, match="closed"):
        async with db.begin_readonly_session():
            pass


@pytest.mark.asyncio
async def test_async_with_connect_closes_the_database_when_the_block_raises() -> None:
    with pytest.raises(KeyError):
        async with Database.connect("memory://") as db:
            raise KeyError("boom")
    with pytest.raises(RepositoryError, match="closed"):
        async with db.begin_readonly_session():
            pass


@pytest.mark.asyncio
async def test_async_with_await_connect_still_works() -> None:
    async with await Database.connect("memory://") as db:
        assert isinstance(db, Database)
    with pytest.raises(RepositoryError, match="closed"):
        async with db.begin_readonly_session():
            pass


@pytest.mark.asyncio
async def test_connect_runs_as_a_task() -> None:
    db = await asyncio.create_task(Database.connect("memory://"))
    assert isinstance(db, Database)
    await db.close()


def test_connect_runs_under_asyncio_run() -> None:
    db = asyncio.run(Database.connect("memory://"))
    assert isinstance(db, Database)


@pytest.mark.asyncio
async def test_a_subclass_connects_to_an_instance_of_itself() -> None:
    class AppDatabase(Database):
        pass

    async with AppDatabase.connect("memory://") as db:
        assert type(db) is AppDatabase


@pytest.mark.asyncio
async def test_errors_are_raised_on_await_not_on_the_call() -> None:
    pending = Database.connect("nosuchdb://host")
    with pytest.raises(BackendNotInstalled):
        await pending


@pytest.mark.asyncio
async def test_a_failed_connect_in_async_with_raises_and_runs_no_block() -> None:
    entered = False
    with pytest.raises(BackendNotInstalled):
        async with Database.connect("nosuchdb://host"):
            entered = True
    assert not entered


def test_connect_never_used_leaves_no_never_awaited_coroutine() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Database.connect("memory://")
        gc.collect()
