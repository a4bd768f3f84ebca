"""prepare_tables: every new harness gets its tables, however ids are reused."""

from __future__ import annotations

import gc
import uuid
from pathlib import Path

import pytest

from repokit import Repository
from repokit.testing.harness import Harness
from repokit.testing.runner import prepare_tables
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant


@pytest.mark.asyncio
async def test_a_harness_made_where_a_collected_one_was_is_prepared(tmp_path: Path) -> None:
    """A fixture making a harness per test, each on a fresh SQLite file.

    CPython reuses a collected object's address for the next object of its
    size, so ``id()`` of each new harness is often the last one's: a set of
    ids took the new file for prepared and left it without tables.
    """
    for n in range(20):
        harness = Harness(url=f"sqlite+aiosqlite:///{tmp_path / f'db{n}.db'}")
        db = await harness.open()
        try:
            await prepare_tables(harness, db)
            tenant = new_tenant()
            repo: Repository[Item, ItemId] = Repository(db, items)
            await repo.create(Item(ItemId(uuid.uuid4()), tenant, "x"), scope=TenantScope(tenant))
        finally:
            await db.close()
        del harness, db
        gc.collect()
