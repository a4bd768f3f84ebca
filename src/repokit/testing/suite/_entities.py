"""Helpers of the value, null, predicate, text and ordering tests (CONTRACT §1–§5).

Each helper stores or reads the suite's entities inside one tenant, through
the public :class:`~repokit.Repository`, so a test states only the values it
is about. Reads go through the backend (never the value ``create`` returns),
so a test sees what the backend really stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from repokit.conditions import Condition, Order
from repokit.database import Database
from repokit.errors import InvalidValue
from repokit.repository import Repository
from repokit.testing.schema import Item, ItemId, TenantScope, items
from repokit.utilities import Deleted

__all__ = [
    "assert_refused",
    "count_items",
    "item_repository",
    "matching_names",
    "new_item",
    "ordered_names",
    "store_items",
    "stored_item",
]


def item_repository(db: Database) -> Repository[Item, ItemId]:
    """A repository of the suite's ``rk_items`` table."""
    return Repository(db, items)


def new_item(tenant: str, name: str | None = None, **fields: Any) -> Item:
    """An item of *tenant* with a fresh id, a unique name unless given, and *fields*."""
    return Item(
        ItemId(uuid.uuid4()),
        tenant,
        name if name is not None else f"item-{uuid.uuid4().hex[:16]}",
        **fields,
    )


async def stored_item(db: Database, tenant: str, **fields: Any) -> Item:
    """Create an item with *fields* and read it back from the backend."""
    repo = item_repository(db)
    created = await repo.create(new_item(tenant, **fields), scope=TenantScope(tenant))
    return await repo.get(created.id, scope=TenantScope(tenant))


async def store_items(db: Database, tenant: str, rows: Iterable[Mapping[str, Any]]) -> list[Item]:
    """Create one item per mapping of field values (``name`` optional), all in one batch."""
    entities = [new_item(tenant, **dict(row)) for row in rows]
    return await item_repository(db).batch_create(entities, scope=TenantScope(tenant))


async def count_items(
    db: Database, tenant: str, *conditions: Condition, deleted: Deleted = Deleted.EXCLUDE
) -> int:
    """How many of *tenant*'s items match all of *conditions*."""
    return await item_repository(db).count(
        conditions=conditions, scope=TenantScope(tenant), deleted=deleted
    )


async def matching_names(db: Database, tenant: str, *conditions: Condition) -> set[str]:
    """The names of *tenant*'s items matching all of *conditions*."""
    page = await item_repository(db).search(conditions=conditions, scope=TenantScope(tenant))
    return {item.name for item in page.items}


async def ordered_names(
    db: Database, tenant: str, *orders: Order, conditions: Iterable[Condition] = ()
) -> list[str]:
    """The names of *tenant*'s items, in *orders*."""
    page = await item_repository(db).search(
        conditions=tuple(conditions), orders=orders, scope=TenantScope(tenant)
    )
    return [item.name for item in page.items]


async def assert_refused(db: Database, tenant: str, field: str, value: Any) -> InvalidValue:
    """Creating an item with *field* = *value* raises InvalidValue and writes nothing.

    Returns the error, checked to name the entity, the field and the value.
    """
    with pytest.raises(InvalidValue) as caught:
        await item_repository(db).create(
            new_item(tenant, **{field: value}), scope=TenantScope(tenant)
        )
    assert caught.value.entity == items.entity_name
    assert caught.value.field == field
    assert caught.value.value is value
    assert await count_items(db, tenant, deleted=Deleted.INCLUDE) == 0
    return caught.value
