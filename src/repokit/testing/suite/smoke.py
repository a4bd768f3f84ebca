"""The suite's first test: a round trip through every standard operation."""

from __future__ import annotations

import uuid

import pytest

from repokit import Database, Repository
from repokit.testing.schema import Item, ItemId, TenantScope, items

__all__ = ["TestSmoke"]


class TestSmoke:
    @pytest.mark.asyncio
    async def test_create_then_get_returns_the_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo: Repository[Item, ItemId] = Repository(repokit_db, items)
        item = Item(ItemId(uuid.uuid4()), repokit_tenant, "first")
        created = await repo.create(item, scope=TenantScope(repokit_tenant))
        assert created == item
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item
