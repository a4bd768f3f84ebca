"""Statements that take a different shape for large inputs: long IN lists, big batches."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from repokit import Database, Repository, Table

MANY = 40_000  # more than SQLite's default limit of 32766 bound variables


def _repo(db: Database, things: Table[Any]) -> Repository[Any, uuid.UUID]:
    return Repository(db, things)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("id", lambda i: uuid.UUID(int=i)),
        ("count", lambda i: i),
        ("name", lambda i: f"n{i}"),
        ("price", lambda i: Decimal(i).scaleb(-4)),
        ("at", lambda i: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(milliseconds=i)),
    ],
)
async def test_a_long_in_list_matches_exactly_its_members(
    db: Database,
    things: Table[Any],
    new_thing: Callable[..., Any],
    field: str,
    make: Callable[[int], Any],
) -> None:
    repo = _repo(db, things)
    await repo.batch_create(
        [dataclasses.replace(new_thing(), **{field: make(i)}) for i in range(5)]
    )
    wanted = [make(i) for i in range(3, MANY)]  # members 3 and 4, and many strangers
    column = things.c[field]
    found = await repo.search(conditions=[column.in_(wanted)], orders=[column.asc()])
    assert [getattr(t, field) for t in found.items] == [make(3), make(4)]
    assert await repo.count(conditions=[column.not_in(wanted)]) == 3


@pytest.mark.asyncio
async def test_a_large_batch_is_created_and_purged_whole(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    batch = [new_thing(count=i) for i in range(25_000)]
    await repo.batch_create(batch)
    assert await repo.count() == 25_000
    assert await repo.batch_purge(ids=[t.id for t in batch]) == 25_000
    assert await repo.count() == 0
