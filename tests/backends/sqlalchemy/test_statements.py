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


# -- CONTRACT §19: what the small reads send -------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Named:
    name: str


def _statements(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "repokit.sqlalchemy"]


@pytest.mark.asyncio
async def test_a_projection_selects_only_its_columns_and_the_key(
    db: Database,
    things: Table[Any],
    new_thing: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing(count=3))
    with caplog.at_level("DEBUG", logger="repokit.sqlalchemy"):
        assert await repo.get(thing.id, into=_Named) == _Named(thing.name)
        page = await repo.search(orders=[things.c.count.desc()], into=_Named)
    get_sql, search_sql = _statements(caplog)
    for sql in (get_sql, search_sql):
        selected = sql.split(" FROM ")[0]
        assert "name" in selected
        assert "ratio" not in selected
        assert "data" not in selected
    assert "count" in search_sql.split(" FROM ")[0]  # the sort key, for the cursors
    assert page.items == [_Named(thing.name)]


@pytest.mark.asyncio
async def test_exists_is_one_select_exists_and_purge_returning_one_delete_returning(
    db: Database,
    things: Table[Any],
    new_thing: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    repo = _repo(db, things)
    thing = await repo.create(new_thing())
    with caplog.at_level("DEBUG", logger="repokit.sqlalchemy"):
        assert await repo.exists(conditions=[things.c.count == 0])
        assert await repo.purge_returning(thing.id) == thing
    exists_sql, purge_sql = _statements(caplog)
    assert "EXISTS" in exists_sql.upper()
    assert purge_sql.upper().startswith("DELETE")
    assert "RETURNING" in purge_sql.upper()
