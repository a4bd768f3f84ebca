"""Contract tests: CONTRACT §9 transactions.

Any error inside a session aborts it and nothing of it is visible afterwards,
even when the caller swallowed the error; a read-only session refuses every
write; the transaction runner returns the work's result and commits; several
repositories can share one outer session and roll back together.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import pytest

from repokit import (
    TRUE,
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    Repository,
    Session,
    TransactionAborted,
    UnsupportedOperation,
)
from repokit.testing.plugin import requires
from repokit.testing.schema import Item, ItemId, TenantScope, notes
from repokit.testing.suite._entities import item_repository, new_item
from repokit.testing.suite._writes import item_names, new_note, note_repository

__all__ = ["TestReadOnlySessions", "TestSessions", "TestTransactionRunner"]

Write = Callable[[Repository[Item, ItemId], Item, Session], Awaitable[object]]

#: Every write, applied inside a given session to an existing live item.
_WRITES: dict[str, Write] = {
    "create": lambda repo, item, s: repo.create(new_item(item.tenant), session=s),
    "batch_create": lambda repo, item, s: repo.batch_create([new_item(item.tenant)], session=s),
    "update": lambda repo, item, s: repo.update(item.id, {"score": 7}, session=s),
    "batch_update": lambda repo, item, s: repo.batch_update(
        {"score": 7}, conditions=[TRUE], scope=TenantScope(item.tenant), session=s
    ),
    "delete": lambda repo, item, s: repo.delete(item.id, session=s),
    "batch_delete": lambda repo, item, s: repo.batch_delete(ids=[item.id], session=s),
    "restore": lambda repo, item, s: repo.restore(item.id, session=s),
    "purge": lambda repo, item, s: repo.purge(item.id, session=s),
    "batch_purge": lambda repo, item, s: repo.batch_purge(ids=[item.id], session=s),
}


class _Abandon(Exception):
    """Raised by a test to leave a session by an exception of its own."""


async def _in_session(
    db: Database, work: Callable[[Session], Awaitable[object]], *, read_only: bool = False
) -> None:
    """Run *work* in one session of its own, opened with ``async with``."""
    opened = db.begin_readonly_session() if read_only else db.begin_session()
    async with opened as session:
        await work(session)


async def _absent(repo: Repository[Item, ItemId], item: Item) -> bool:
    try:
        await repo.get(item.id, scope=TenantScope(item.tenant), deleted=Deleted.INCLUDE)
    except EntityNotFound:
        return True
    return False


class TestSessions:
    """A session commits when its block ends normally and aborts on any error."""

    @pytest.mark.asyncio
    async def test_a_session_commits_its_writes_when_the_block_ends_normally(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first, second = new_item(repokit_tenant), new_item(repokit_tenant)
        async with repokit_db.begin_session() as session:
            await repo.create(first, session=session)
            await repo.create(second, session=session)
        assert await item_names(repokit_db, repokit_tenant) == sorted([first.name, second.name])

    @pytest.mark.asyncio
    async def test_a_session_reads_its_own_writes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant)
        async with repokit_db.begin_session() as session:
            await repo.create(item, session=session)
            assert (
                await repo.get(item.id, scope=TenantScope(repokit_tenant), session=session) == item
            )

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_failed_operation_aborts_the_session_and_its_earlier_writes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first = new_item(repokit_tenant)

        async def work(session: Session) -> None:
            await repo.create(first, session=session)
            await repo.create(first, session=session)

        with pytest.raises(EntityAlreadyExists):
            await _in_session(repokit_db, work)
        assert await _absent(repo, first)

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_an_exception_of_the_caller_rolls_the_session_back(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant, score=1))

        async def work(session: Session) -> None:
            await repo.update(item.id, {"score": 2}, session=session)
            await repo.create(new_item(repokit_tenant), session=session)
            raise _Abandon

        with pytest.raises(_Abandon):
            await _in_session(repokit_db, work)
        assert await item_names(repokit_db, repokit_tenant) == [item.name]
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_a_swallowed_backend_error_still_prevents_the_commit(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))

        async def work(session: Session) -> None:
            with contextlib.suppress(EntityAlreadyExists):
                await repo.create(item, session=session)

        with pytest.raises(TransactionAborted) as raised:
            await _in_session(repokit_db, work)
        assert isinstance(raised.value.__cause__, EntityAlreadyExists)

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_a_swallowed_backend_error_discards_the_earlier_writes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        first = new_item(repokit_tenant)

        async def work(session: Session) -> None:
            await repo.create(first, session=session)
            with contextlib.suppress(EntityAlreadyExists):
                await repo.create(first, session=session)

        with pytest.raises(TransactionAborted):
            await _in_session(repokit_db, work)
        assert await _absent(repo, first)

    @pytest.mark.asyncio
    async def test_every_operation_after_a_failed_one_raises_transaction_aborted(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        after_failure: list[str] = []

        async def work(session: Session) -> None:
            with contextlib.suppress(EntityAlreadyExists):
                await repo.create(item, session=session)
            after_failure.append("reached")
            await repo.get(item.id, scope=TenantScope(repokit_tenant), session=session)

        with pytest.raises(TransactionAborted):
            await _in_session(repokit_db, work)
        assert after_failure == ["reached"]

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_repositories_sharing_an_outer_session_roll_back_together(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        items_repo, notes_repo = item_repository(repokit_db), note_repository(repokit_db)
        item, note = new_item(repokit_tenant), new_note(repokit_tenant)

        async def work(session: Session) -> None:
            await items_repo.create(item, session=session)
            await notes_repo.create(note, session=session)
            raise _Abandon

        with pytest.raises(_Abandon):
            await _in_session(repokit_db, work)
        assert await _absent(items_repo, item)
        scope = TenantScope(repokit_tenant, notes)
        assert await notes_repo.count(scope=scope, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_repositories_sharing_an_outer_session_commit_together(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        items_repo, notes_repo = item_repository(repokit_db), note_repository(repokit_db)
        item, note = new_item(repokit_tenant), new_note(repokit_tenant)
        async with repokit_db.begin_session() as session:
            await items_repo.create(item, session=session)
            await notes_repo.create(note, session=session)
        assert await items_repo.get(item.id, scope=TenantScope(repokit_tenant)) == item
        assert await notes_repo.get(note.id, scope=TenantScope(repokit_tenant, notes)) == note


class TestReadOnlySessions:
    """A read-only session reads, and refuses every write before writing anything."""

    @pytest.mark.asyncio
    async def test_a_read_only_session_reads(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        async with repokit_db.begin_readonly_session() as session:
            assert (
                await repo.get(item.id, scope=TenantScope(repokit_tenant), session=session) == item
            )
            assert await repo.count(scope=TenantScope(repokit_tenant), session=session) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_WRITES))
    async def test_a_read_only_session_refuses_every_write_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        write = _WRITES[operation]
        with pytest.raises(UnsupportedOperation):
            await _in_session(repokit_db, lambda s: write(repo, item, s), read_only=True)
        assert await item_names(repokit_db, repokit_tenant, Deleted.INCLUDE) == [item.name]
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_a_read_only_transaction_refuses_writes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant)
        with pytest.raises(UnsupportedOperation):
            await repokit_db.run_in_transaction(
                lambda session: repo.create(item, session=session), read_only=True
            )
        assert await _absent(repo, item)


class TestTransactionRunner:
    """``Database.run_in_transaction`` commits the work and returns its result."""

    @pytest.mark.asyncio
    async def test_the_runner_returns_the_result_of_the_work_and_commits(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant)

        async def work(session: Session) -> str:
            await repo.create(item, session=session)
            return "done"

        assert await repokit_db.run_in_transaction(work) == "done"
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    @requires("transactions")
    async def test_the_runner_rolls_back_work_that_raises(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = new_item(repokit_tenant)

        async def work(session: Session) -> None:
            await repo.create(item, session=session)
            raise _Abandon

        with pytest.raises(_Abandon):
            await repokit_db.run_in_transaction(work)
        assert await _absent(repo, item)
