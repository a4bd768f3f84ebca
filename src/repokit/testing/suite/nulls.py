"""Contract tests: CONTRACT §2 null.

``None`` and a missing field are one state, whatever the kind; a field takes
``None`` only if its annotation admits it.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from repokit import Database, InvalidValue, UpdaterSpec
from repokit.states import TriState
from repokit.testing.schema import Level, Status, TenantScope, items
from repokit.testing.suite._entities import (
    count_items,
    item_repository,
    new_item,
    stored_item,
)
from repokit.utilities import Deleted

__all__ = ["TestNullState", "TestNullableFields"]

#: Every nullable field of rk_items, with a non-null value of its kind.
_NULLABLE = {
    "code": "c",
    "score": 7,
    "ratio": 0.25,
    "price": Decimal("3.50"),
    "flag": False,
    "level": Level.LOW,
    "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    "day": date(2024, 1, 2),
    "ref": uuid.UUID(int=1),
    "data": {"k": "v"},
}


@dataclass(frozen=True)
class _ScoreUpdate(UpdaterSpec):
    score: TriState[int]


class TestNullState:
    @pytest.mark.asyncio
    async def test_omitted_field_reads_back_as_none(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant)
        assert all(getattr(got, field) is None for field in _NULLABLE)

    @pytest.mark.asyncio
    async def test_explicit_none_and_an_omitted_field_are_the_same_state(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        omitted = await stored_item(repokit_db, repokit_tenant, name="omitted")
        explicit = await stored_item(
            repokit_db, repokit_tenant, name="explicit", **dict.fromkeys(_NULLABLE)
        )
        for field in _NULLABLE:
            assert getattr(omitted, field) is getattr(explicit, field) is None
        assert (
            await count_items(
                repokit_db, repokit_tenant, *(items.c[field].is_null() for field in _NULLABLE)
            )
            == 2
        )

    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", sorted(_NULLABLE))
    async def test_null_field_matches_eq_none_and_not_a_value(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        await stored_item(repokit_db, repokit_tenant, name="null")
        await stored_item(repokit_db, repokit_tenant, name="set", **{field: _NULLABLE[field]})
        column = items.c[field]
        assert await count_items(repokit_db, repokit_tenant, column == None) == 1  # noqa: E711
        assert await count_items(repokit_db, repokit_tenant, column != None) == 1  # noqa: E711
        assert await count_items(repokit_db, repokit_tenant, column.is_null()) == 1
        assert await count_items(repokit_db, repokit_tenant, column.is_not_null()) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", sorted(_NULLABLE))
    async def test_update_to_none_makes_the_field_null(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        item = await stored_item(repokit_db, repokit_tenant, **{field: _NULLABLE[field]})
        repo = item_repository(repokit_db)
        updated = await repo.update(item.id, {field: None}, scope=TenantScope(repokit_tenant))
        assert getattr(updated, field) is None
        assert getattr(await repo.get(item.id, scope=TenantScope(repokit_tenant)), field) is None
        assert await count_items(repokit_db, repokit_tenant, items.c[field].is_null()) == 1

    @pytest.mark.asyncio
    async def test_tri_state_nullify_makes_the_field_null(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        item = await stored_item(repokit_db, repokit_tenant, score=3)
        repo = item_repository(repokit_db)
        spec = _ScoreUpdate(score=TriState.nullify())
        await repo.update(item.id, spec, scope=TenantScope(repokit_tenant))
        assert (await repo.get(item.id, scope=TenantScope(repokit_tenant))).score is None
        assert await count_items(repokit_db, repokit_tenant, items.c.score == None) == 1  # noqa: E711

    @pytest.mark.asyncio
    async def test_null_and_not_null_partition_every_entity(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        for score in (None, 0, None, -1):
            await stored_item(repokit_db, repokit_tenant, score=score)
        nulls = await count_items(repokit_db, repokit_tenant, items.c.score.is_null())
        others = await count_items(repokit_db, repokit_tenant, items.c.score.is_not_null())
        assert (nulls, others) == (2, 2)


class TestNullableFields:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", ["name", "tenant", "status", "version"])
    async def test_field_whose_annotation_excludes_none_refuses_none_on_create(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        nothing: dict[str, Any] = {field: None}
        entity = dataclasses.replace(new_item(repokit_tenant), **nothing)
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidValue) as caught:
            await repo.create(entity, scope=TenantScope(repokit_tenant))
        assert (caught.value.entity, caught.value.field) == (items.entity_name, field)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    @pytest.mark.parametrize("field", ["name", "status"])
    async def test_field_whose_annotation_excludes_none_refuses_none_on_update(
        self, repokit_db: Database, repokit_tenant: str, field: str
    ) -> None:
        item = await stored_item(repokit_db, repokit_tenant)
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidValue) as caught:
            await repo.update(item.id, {field: None}, scope=TenantScope(repokit_tenant))
        assert caught.value.field == field
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_field_whose_annotation_admits_none_accepts_none(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, **dict.fromkeys(_NULLABLE))
        assert got.status is Status.ACTIVE
        assert all(items.fields[field].type.nullable for field in _NULLABLE)
        assert not any(items.fields[f].type.nullable for f in ("id", "tenant", "name", "status"))
