"""Contract tests: CONTRACT §16 a table that was never created.

Every operation on a table that does not exist (never created, or dropped)
raises :class:`~repokit.TableNotFound`, an ``InvalidQuery`` advising
``Database.create_tables``, on every backend: the SQL databases report it
themselves; a document store that would create a collection on the first
write and read a missing one as empty checks first.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from repokit import TRUE, Database, InvalidQuery, Repository, Table, TableNotFound
from repokit.testing.schema import Item, ItemId
from repokit.testing.suite._entities import new_item

__all__ = ["TestMissingTables"]

Operation = Callable[[Repository[Item, ItemId], str], Awaitable[object]]

_OPERATIONS: dict[str, Operation] = {
    "get": lambda repo, tenant: repo.get(ItemId(uuid.uuid4())),
    "search": lambda repo, tenant: repo.search(),
    "count": lambda repo, tenant: repo.count(),
    "create": lambda repo, tenant: repo.create(new_item(tenant)),
    "batch_create": lambda repo, tenant: repo.batch_create([new_item(tenant), new_item(tenant)]),
    "update": lambda repo, tenant: repo.update(ItemId(uuid.uuid4()), {"score": 1}),
    "purge": lambda repo, tenant: repo.purge(ItemId(uuid.uuid4())),
    "batch_update": lambda repo, tenant: repo.batch_update({"score": 1}, conditions=[TRUE]),
    "batch_purge": lambda repo, tenant: repo.batch_purge(conditions=[TRUE]),
}


def _uncreated() -> Table[Item]:
    """A table of items under a name no test creates."""
    return Table(Item, f"rk_missing_{uuid.uuid4().hex[:12]}", primary_key="id")


class TestMissingTables:
    """A table that does not exist raises TableNotFound, whatever the operation."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_OPERATIONS))
    async def test_an_operation_on_a_table_never_created_raises_table_not_found(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        table = _uncreated()
        with pytest.raises(TableNotFound) as caught:
            await _OPERATIONS[operation](Repository(repokit_db, table), repokit_tenant)
        assert isinstance(caught.value, InvalidQuery)
        assert caught.value.table == table.name
        assert table.name in str(caught.value)
        assert "create_tables" in str(caught.value)

    @pytest.mark.asyncio
    async def test_a_create_on_a_table_never_created_creates_no_table(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        table = _uncreated()
        repo: Repository[Item, ItemId] = Repository(repokit_db, table)
        with pytest.raises(TableNotFound):
            await repo.create(new_item(repokit_tenant))
        with pytest.raises(TableNotFound):
            await repo.count()

    @pytest.mark.asyncio
    async def test_a_dropped_table_raises_table_not_found(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        table = _uncreated()
        repo: Repository[Item, ItemId] = Repository(repokit_db, table)
        await repokit_db.create_tables(table)
        try:
            created = await repo.create(new_item(repokit_tenant))
            assert await repo.get(created.id) == created
        finally:
            await repokit_db.drop_tables(table)
        with pytest.raises(TableNotFound):
            await repo.get(created.id)
        with pytest.raises(TableNotFound):
            await repo.create(new_item(repokit_tenant))
