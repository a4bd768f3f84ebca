"""Reads on a replica set's secondaries: the client's read preference routes them.

SecantusDB, the test server, is a one-member replica set: these tests show
what PyMongo is asked to do (the ``$readPreference`` each command carries,
seen through command monitoring); that a secondary really serves those
reads needs a replica set with secondaries (docs/scale-out.md).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from repokit import Database, Repository, Table, UnsupportedOperation

from .conftest import Commands, Thing


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest_asyncio.fixture
async def secondary_reads(
    mongodb_url: str, things: Table[Thing]
) -> AsyncIterator[tuple[Database, Commands]]:
    """A database whose URL prefers secondaries for reads."""
    commands = Commands()
    url = _with_query(mongodb_url, "readPreference=secondaryPreferred")
    database = await Database.connect(url, event_listeners=[commands])
    await database.create_tables(things)
    try:
        yield database, commands
    finally:
        await database.drop_tables(things)
        await database.close()


def _modes(commands: Commands, name: str) -> list[Any]:
    return [
        body.get("$readPreference", {}).get("mode", "primary")
        for sent, body in commands.sent
        if sent == name
    ]


@pytest.mark.asyncio
async def test_read_only_sessions_follow_the_urls_read_preference(
    secondary_reads: tuple[Database, Commands],
    things: Table[Thing],
    new_thing: Callable[..., Thing],
) -> None:
    db, commands = secondary_reads
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing())
    with commands.record():
        assert await repo.get(thing.id) == thing
    assert _modes(commands, "find") == ["secondaryPreferred"]


@pytest.mark.asyncio
async def test_transactions_and_primary_reads_read_the_primary(
    secondary_reads: tuple[Database, Commands],
    things: Table[Thing],
    new_thing: Callable[..., Thing],
) -> None:
    db, commands = secondary_reads
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing())
    with commands.record():
        async with db.begin_session() as session:
            assert await repo.get(thing.id, session=session) == thing
        async with db.begin_readonly_session(primary=True) as session:
            assert await repo.get(thing.id, session=session) == thing
        with db.reading_primary():
            assert await repo.get(thing.id) == thing
    assert _modes(commands, "find") == ["primary", "primary", "primary"]
    # Outside the block, reads follow the URL again.
    with commands.record():
        assert await repo.get(thing.id) == thing
    assert _modes(commands, "find") == ["secondaryPreferred"]


@pytest.mark.asyncio
async def test_mongodb_refuses_a_list_of_replicas(mongodb_url: str) -> None:
    with pytest.raises(UnsupportedOperation, match="read preference"):
        await Database.connect(mongodb_url, replicas=[mongodb_url])
