"""How single-entity writes run: the commands PyMongo sends for each (command monitoring).

A create outside a session is the session's only work and one atomic
command, so it runs outside a transaction: no ``commitTransaction`` round
trip (CONTRACT §9, "A write of one entity is one statement"). Updates and
deletes keep their transaction, where a point read settles the condition
and the write names the document by ``_id`` alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from repokit import Database, EntityAlreadyExists, OptionalState, Repository, Table, UpdaterSpec

from .conftest import Commands, Thing


@dataclass(frozen=True)
class CountUpdate(UpdaterSpec):
    count: OptionalState[int] = OptionalState.nop()


def _transactional(commands: Commands) -> list[bool]:
    return ["txnNumber" in body and "autocommit" in body for _, body in commands.sent]


@pytest.mark.asyncio
async def test_a_create_outside_a_session_is_one_insert_without_a_transaction(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = new_thing()
    with commands.record():
        assert await repo.create(thing) == thing
    assert commands.names == ["insert"]
    assert _transactional(commands) == [False]
    assert await repo.get(thing.id) == thing


@pytest.mark.asyncio
async def test_a_failed_create_outside_a_session_writes_nothing(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    first = await repo.create(new_thing())
    clash = new_thing(name=first.name)
    with commands.record(), pytest.raises(EntityAlreadyExists):
        await repo.create(clash)
    assert commands.names == ["insert"]
    assert await repo.count() == 1


@pytest.mark.asyncio
async def test_a_create_inside_a_session_stays_in_its_transaction(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    with commands.record():
        async with db.begin_session() as session:
            await repo.create(new_thing(), session=session)
            await repo.create(new_thing(), session=session)
    assert commands.names == ["insert", "insert", "commitTransaction"]
    assert all(_transactional(commands))


@pytest.mark.asyncio
async def test_an_update_outside_a_session_keeps_its_transaction_and_point_writes(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing())
    with commands.record():
        updated = await repo.update(thing.id, CountUpdate(count=OptionalState.update(5)))
    assert updated.count == 5
    assert commands.names == ["find", "update", "commitTransaction"]
    assert all(_transactional(commands))
    (_, update), *_ = (sent for sent in commands.sent if sent[0] == "update")
    assert set(update["updates"][0]["q"]) == {"_id"}
