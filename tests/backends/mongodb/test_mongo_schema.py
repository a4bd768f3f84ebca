"""Collections from tables: the validator, indexes and partial unique indexes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio

from repokit import (
    Database,
    EntityAlreadyExists,
    InvalidTableDefinition,
    Repository,
    Table,
    TimestampMarker,
    Unique,
)
from repokit.conditions import Op
from repokit_mongodb.codec import Codec
from repokit_mongodb.schema import partial_filter

from .conftest import Thing


@dataclass(frozen=True)
class Post:
    """Soft delete by timestamp, a slug unique among live posts."""

    id: int
    slug: str
    deleted_at: datetime | None = None


def _posts() -> Table[Post]:
    return Table(
        Post,
        f"mg_posts_{uuid.uuid4().hex[:8]}",
        primary_key="id",
        unique=[Unique(("slug",), among_live=True)],
        soft_delete=TimestampMarker("deleted_at"),
    )


@pytest_asyncio.fixture
async def posts_db(mongodb_url: str) -> AsyncIterator[tuple[Database, Table[Post]]]:
    posts = _posts()
    db = await Database.connect(mongodb_url)
    await db.create_tables(posts)
    try:
        yield db, posts
    finally:
        await db.drop_tables(posts)
        await db.close()


@pytest.mark.asyncio
async def test_a_timestamp_marker_key_among_live_ignores_deleted_entities(
    posts_db: tuple[Database, Table[Post]],
) -> None:
    db, posts = posts_db
    repo: Repository[Post, int] = Repository(db, posts)
    await repo.create(Post(1, "hello"))
    await repo.delete(1)
    await repo.create(Post(2, "hello"))
    with pytest.raises(EntityAlreadyExists) as caught:
        await repo.create(Post(3, "hello"))
    assert caught.value.fields == ("slug",)


def test_a_status_key_among_live_lists_every_live_status(things: Table[Thing]) -> None:
    among_live = things.unique[0]
    assert partial_filter(among_live, things, Codec(things)) == {"mood": {"$in": ["calm", "busy"]}}


def test_a_nullable_key_component_is_filtered_by_type(things: Table[Thing]) -> None:
    nullable = things.unique[1]
    assert partial_filter(nullable, things, Codec(things)) == {"code": {"$type": ["string"]}}


def test_a_predicate_partial_indexes_cannot_express_is_refused(things: Table[Thing]) -> None:
    from repokit.conditions import Compare

    odd = Unique(("tenant",), name="odd", where=Compare(things.name, "code", Op.NE, "x"))
    with pytest.raises(InvalidTableDefinition):
        partial_filter(odd, things, Codec(things))


@pytest.mark.asyncio
async def test_create_tables_builds_the_declared_indexes_and_keeps_existing_data(
    db: Database, raw: Any, things: Table[Thing]
) -> None:
    info = await raw.get_collection(things.name).index_information()
    assert info[things.unique[0].name]["unique"] is True
    assert things.indexes[0].name in info
    assert any(key == [(things.shadows["name"], 1)] for key in (i["key"] for i in info.values()))
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    await repo.create(Thing(uuid.uuid4(), "acme", "kept"))
    await db.create_tables(things)
    assert await repo.count() == 1
