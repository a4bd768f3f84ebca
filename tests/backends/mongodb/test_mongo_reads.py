"""How reads run: flat query documents, snapshot sessions, pages with their count, point reads.

The translation tests look at query documents only; the others run on the
test server and watch the commands PyMongo sends (command monitoring), since
the promise is about round trips: a read-only session starts no transaction,
a page with its total count is one command unless an index serves its order,
and a condition that pins the primary key reads one document by ``_id``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from bson import Int64

from repokit import Database, OffsetPagination, Repository, Table, and_
from repokit.conditions import And, Compare, Op
from repokit_mongodb import MongoBackend
from repokit_mongodb.backend import supports_snapshot_reads
from repokit_mongodb.codec import Codec
from repokit_mongodb.query import pinned_key, sort_is_indexed, to_query

from .conftest import Commands, Thing

# -- query documents -----------------------------------------------------------------------


def test_a_conjunction_is_one_flat_document_with_bare_equalities(things: Table[Thing]) -> None:
    c, codec = things.c, Codec(things)
    where = and_(c.tenant == "acme", c.count > 3, c.code == None)  # noqa: E711
    assert to_query(where, codec) == {"tenant": "acme", "count": {"$gt": Int64(3)}, "code": None}


def test_clashing_parts_go_to_and_and_repeated_ones_are_dropped(things: Table[Thing]) -> None:
    c, codec = things.c, Codec(things)
    ranged = to_query(and_(c.count > 1, c.count < 5), codec)
    assert ranged == {"count": {"$gt": Int64(1)}, "$and": [{"count": {"$lt": Int64(5)}}]}
    repeated = And((c.tenant == "acme", c.tenant == "acme", c.tenant == "other"))
    assert to_query(repeated, codec) == {"tenant": "acme", "$and": [{"tenant": "other"}]}


def test_equality_with_a_document_keeps_eq(things: Table[Thing]) -> None:
    # Core never compares JSON fields; if a node ever carried a document, a bare
    # one would be read as operators (or as an exact sub-document).
    node = Compare(things.name, "data", Op.EQ, {"$gt": 1})
    assert to_query(node, Codec(things)) == {"data": {"$eq": {"$gt": 1}}}


def test_a_key_is_pinned_only_by_a_top_level_equality(things: Table[Thing]) -> None:
    c, key = things.c, uuid.uuid4()
    assert pinned_key(c.id == key, things) == (True, key)
    assert pinned_key(and_(c.tenant == "acme", c.id == key), things) == (True, key)
    assert pinned_key(c.id.in_([key]) | (c.id == key), things) == (False, None)
    assert pinned_key(c.tenant == "acme", things) == (False, None)


@pytest.mark.parametrize(
    ("query", "sort", "indexed"),
    [
        ({"tenant": "a"}, [("_id", 1)], True),  # the _id index
        ({"tenant": "a"}, [("count", 1), ("_id", 1)], False),  # (tenant, count) lacks _id
        ({"tenant": "a"}, [("count", 1)], True),
        ({"tenant": {"$gt": "a"}}, [("count", 1)], False),  # a range pins nothing
        ({"tenant": "a", "count": 3}, [("count", -1), ("_id", 1)], True),  # then by _id
        ({}, [("tenant", 1), ("count", -1)], False),  # mixed directions
        ({"tenant": "a", "count": 3}, [("count", 1)], True),  # sorted by a pinned field
    ],
)
def test_an_index_serves_a_sort_after_its_pinned_fields(
    query: dict[str, Any], sort: list[tuple[str, int]], indexed: bool
) -> None:
    assert sort_is_indexed(query, sort, [("_id",), ("tenant", "count")]) is indexed


@pytest.mark.parametrize(
    ("hello", "expected"),
    [
        ({"setName": "rs0", "logicalSessionTimeoutMinutes": 30, "maxWireVersion": 13}, True),
        ({"setName": "rs0", "logicalSessionTimeoutMinutes": 30, "maxWireVersion": 9}, False),
        ({"logicalSessionTimeoutMinutes": 30, "maxWireVersion": 21}, False),  # standalone
    ],
)
def test_snapshot_reads_need_mongodb_5_and_transactions(
    hello: dict[str, Any], expected: bool
) -> None:
    assert supports_snapshot_reads(hello) is expected


# -- commands on the server ----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_read_only_session_is_a_snapshot_session_without_a_transaction(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing())
    backend = db.backend
    assert isinstance(backend, MongoBackend)
    assert backend.snapshot_reads  # SecantusDB: a replica set speaking MongoDB 8
    with commands.record():
        assert await repo.get(thing.id) == thing
        assert await repo.count() == 1
    assert commands.names == ["find", "aggregate"]
    for _, body in commands.sent:
        assert body["readConcern"]["level"] == "snapshot"
        assert "startTransaction" not in body


@pytest.mark.asyncio
async def test_a_page_and_its_count_are_one_command_unless_an_index_serves_the_order(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    created = await repo.batch_create([new_thing(count=i % 4) for i in range(9)])
    await repo.create(new_thing(tenant="other"))
    c = things.c
    by_count = sorted(created, key=lambda t: (t.count, t.id.bytes))
    by_id = sorted(created, key=lambda t: t.id.bytes)
    page = OffsetPagination(limit=3, offset=4)
    with commands.record():
        result = await repo.search(
            conditions=[c.tenant == "acme"],
            orders=[c.count.asc()],
            pagination=page,
            total_count=True,
        )
    assert commands.names == ["aggregate"]  # $facet: the server sorts every match anyway
    assert (result.items, result.total_count) == (by_count[4:7], 9)
    with commands.record():
        result = await repo.search(
            conditions=[c.tenant == "acme"], pagination=page, total_count=True
        )
    assert commands.names == ["find", "aggregate"]  # the _id index returns the order
    assert (result.items, result.total_count) == (by_id[4:7], 9)


@pytest.mark.asyncio
async def test_a_page_past_the_end_still_counts_everything(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    await repo.batch_create([new_thing(count=i) for i in range(5)])
    result = await repo.search(
        orders=[things.c.count.asc()],
        pagination=OffsetPagination(limit=3, offset=10),
        total_count=True,
    )
    assert (result.items, result.total_count, result.has_previous_page) == ([], 5, True)
    none = await repo.search(
        conditions=[things.c.tenant == "nobody"],
        orders=[things.c.count.asc()],
        pagination=OffsetPagination(limit=3, offset=3),
        total_count=True,
    )
    assert (none.items, none.total_count) == ([], 0)


@pytest.mark.asyncio
async def test_a_pinned_key_is_read_by_id_and_the_rest_tested_in_process(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing(count=1))
    c = things.c
    with commands.record():
        updated = await repo.update(thing.id, {"count": 2})
        assert await repo.count(conditions=[c.id == thing.id, c.count == 2]) == 1
        assert await repo.count(conditions=[c.id == thing.id, c.count == 3]) == 0
    assert updated.count == 2
    filters = [body["filter"] for name, body in commands.sent if name == "find"]
    assert filters == [{"_id": thing.id}] * 3
    updates = [body["updates"][0]["q"] for name, body in commands.sent if name == "update"]
    assert updates == [{"_id": thing.id}]
    assert commands.names == ["find", "update", "commitTransaction", "find", "find"]


# -- CONTRACT §19: projections, exists, purge returning ------------------------------------


@dataclasses.dataclass(frozen=True)
class _Named:
    name: str


@pytest.mark.asyncio
async def test_a_projection_is_sent_as_a_projection_of_its_fields_and_the_sort_keys(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    created = await repo.batch_create([new_thing(count=i) for i in range(5)])
    c = things.c
    with commands.record():
        page = await repo.search(orders=[c.count.desc()], into=_Named)
        faceted = await repo.search(
            orders=[c.count.desc()],
            pagination=OffsetPagination(limit=2),
            total_count=True,
            into=_Named,
        )
    find, aggregate = commands.sent
    assert find[1]["projection"] == {"_id": 1, "name": 1, "count": 1}
    stages = aggregate[1]["pipeline"][1]["$facet"]["page"]
    assert stages[-1] == {"$project": {"_id": 1, "name": 1, "count": 1}}
    by_count = sorted(created, key=lambda t: -t.count)
    assert page.items == [_Named(t.name) for t in by_count]
    assert faceted.items == page.items[:2]
    assert faceted.total_count == 5


@pytest.mark.asyncio
async def test_exists_is_one_find_of_one_id_and_purge_returning_reads_then_deletes(
    watched: tuple[Database, Commands], things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    db, commands = watched
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing(count=2))
    with commands.record():
        assert await repo.exists(conditions=[things.c.count == 2])
    ((name, body),) = commands.sent
    assert name == "find"
    assert body["projection"] == {"_id": 1}
    assert body["limit"] == 1
    with commands.record():
        assert await repo.purge_returning(thing.id) == thing
    assert [n for n in commands.names if n != "commitTransaction"] == ["find", "delete"]
