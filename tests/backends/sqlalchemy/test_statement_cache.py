"""Statements are compiled once per shape and reused with new operands, never wrongly.

Every kind of condition node, every IN spelling (long float lists too), every match kind, negations,
paging with and without offsets and counts, updates and deletes: each is run
twice with different operands. The second run must compile nothing new, no
shape may fail the cache's self-check, and both runs must return what the
operands select.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from repokit import (
    CursorPagination,
    Database,
    EntityNotFound,
    OffsetPagination,
    Repository,
    Table,
    exists,
    not_,
)
from repokit_sqlalchemy import SQLAlchemyBackend


async def _workout(repo: Repository[Any, uuid.UUID], things: Table[Any], n: int) -> list[Any]:
    """Run every statement shape with operands that depend on *n*; return what came back."""
    c = things.c
    seen: list[Any] = []
    many = list(range(n, n + 100))  # long enough for SQLite's JSON-array IN
    conditions = [
        c.count == n,
        c.count != n,
        c.count < n,
        c.count >= n,
        c.count.in_([n, n + 1]),
        c.count.in_(many),
        c.count.not_in(many),
        c.code.in_([f"c{n}", None]),
        c.ratio.is_null(),
        c.name.contains(f"%_{n}"),
        c.name.startswith(f"n{n}"),
        c.name.endswith(f"_{n}"),
        c.name.eq(f"N{n}_{n}", ignore_case=True),
        c.name.contains("", ignore_case=True),
        not_(c.count.in_([n]) | c.code.startswith("c")),
        c.price > Decimal(n),
        c.ratio.in_([float(i) for i in range(n, n + 70)]),  # floats: bound one by one
        # CONTRACT §25: semi-joins (here on the table itself), their operands in slots too.
        exists(things, on={"code": c.code}, where=c.count > n),
        not_(exists(things, on={"code": c.code, "name": c.name}, where=c.count.in_([n, n + 1]))),
    ]
    for condition in conditions:
        seen.append(sorted(t.count for t in (await repo.search(conditions=[condition])).items))
        seen.append(await repo.count(conditions=[condition]))
    order = [c.count.desc()]
    for offset in (0, n):
        page = await repo.search(
            conditions=[c.count >= 0],
            orders=order,
            pagination=OffsetPagination(limit=2, offset=offset),
            total_count=True,
        )
        seen.append(([t.count for t in page.items], page.total_count))
    first = await repo.search(orders=order, pagination=CursorPagination(first=2))
    after = await repo.search(
        orders=order, pagination=CursorPagination(first=2, after=first.end_cursor)
    )
    empty = await repo.search(
        conditions=[c.count > 1000], pagination=OffsetPagination(limit=2), total_count=True
    )
    seen.append(([t.count for t in after.items], after.has_previous_page, empty.total_count))
    thing = first.items[0]
    seen.append((await repo.update(thing.id, {"ratio": float(n)})).ratio)
    seen.append(await repo.batch_update({"flag": n % 2 == 0}, conditions=[c.count < n]))
    seen.append(await repo.batch_update({"flag": True}, ids=[thing.id]))
    joined = exists(things, on={"name": c.name}, where=c.count == n)
    seen.append(await repo.batch_update({"flag": False}, conditions=[joined]))
    await repo.delete(thing.id)
    await repo.restore(thing.id)
    seen.append(await repo.batch_purge(conditions=[c.count == 1000 + n]))
    # CONTRACT §19: exists, projections (the select list is part of the key), streams,
    # the writes that return what they removed.
    seen.append(await repo.exists(conditions=[c.count == n]))
    summary = await repo.search(
        orders=order, pagination=CursorPagination(first=2), total_count=True, into=_Counted
    )
    seen.append(([t.count for t in summary.items], summary.total_count))
    seen.append((await repo.get(thing.id, into=_Counted)).count)
    found = await repo.get_many([thing.id, uuid.UUID(int=n)], into=_Counted)
    seen.append(([t.count for t in found.entities.values()], len(found.missing)))
    seen.append([t.count async for t in repo.stream(orders=order, chunk_size=3, into=_Counted)])
    seen.append(await repo.batch_purge_returning(conditions=[c.count == 1000 + n]))
    with contextlib.suppress(EntityNotFound):
        await repo.purge_returning(uuid.UUID(int=10_000 + n))
    return seen


@dataclass(frozen=True)
class _Counted:
    id: uuid.UUID
    count: int


@pytest.mark.asyncio
async def test_each_statement_shape_is_compiled_once_and_reused_exactly(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    await repo.batch_create(
        [
            new_thing(
                name=f"n{i}_{i}",
                count=i,
                code=f"c{i}" if i % 2 else None,
                ratio=None if i % 3 else 0.5,
                price=Decimal(i) + Decimal("0.5"),
            )
            for i in range(8)
        ]
    )
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    first = await _workout(repo, things, 3)
    compiled = len(backend.statements._compiled)
    second = await _workout(repo, things, 5)
    assert len(backend.statements._compiled) == compiled  # nothing new to compile
    assert backend.statements.uncached == 0

    # The reused statements answered for their own operands.
    # (the search results of conditions 0, 4, 5 and 12: ==, short IN, long IN, ignore case)
    assert [first[i] for i in (0, 8, 10, 24)] == [[3], [3, 4], [3, 4, 5, 6, 7], [3]]
    assert [second[i] for i in (0, 8, 10, 24)] == [[5], [5, 6], [5, 6, 7], [5]]
    assert first != second
