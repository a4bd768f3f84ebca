"""The raw driver on MongoDB: PyMongo's async client, one client held.

A hand-written DAO with repokit's promises and nothing more:

* single-document writes and reads are atomic on their own, so they run
  without a session or transaction (W1, W3, W5);
* batches run in one transaction, all or nothing (W2, W6, W7, W8);
* a page and its total count come from one snapshot: one ``aggregate`` with
  a ``$facet`` (a single command reads one snapshot), the fastest of the
  ways measured on SecantusDB (a snapshot transaction and a snapshot session
  both cost two commands and were slower);
* reads return :class:`~benchmarks.model.Item` s, as repokit does.

W5 updates with ``update_one`` and reads the entity back with ``find_one``:
``find_one_and_update`` is the idiom, but SecantusDB runs it ~15× slower
than the two commands (~40 ms against ~2.3 ms), and the raw layer must not
be slowed down. Each command is atomic; the read-back returns the entity as
stored.

The client's pool holds at most ten connections (``maxPoolSize=10``, as
repokit's): W9's tasks share the one client.

Documents are those repokit stores (the collection's validator checks
them): the id as ``_id``, ``score`` as int64.
"""

from __future__ import annotations

import uuid
from typing import Any

from bson import Int64

from benchmarks.model import PAGE, W9_CONNECTIONS, Item
from benchmarks.subject import Subject

__all__ = ["RawMongo"]

_FILTER = {"tenant": "t2", "status": "active"}
_SORT = [("created_at", 1), ("_id", 1)]


def _document(item: Item) -> dict[str, Any]:
    return {
        "_id": item.id,
        "tenant": item.tenant,
        "project": item.project,
        "name": item.name,
        "status": item.status,
        "score": Int64(item.score),
        "created_at": item.created_at,
    }


def _item(document: dict[str, Any]) -> Item:
    return Item(
        id=document["_id"],
        tenant=document["tenant"],
        project=document["project"],
        name=document["name"],
        status=document["status"],
        score=int(document["score"]),
        created_at=document["created_at"],
    )


class RawMongo(Subject):
    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        from pymongo import AsyncMongoClient

        self.client: Any = AsyncMongoClient(
            self.url, uuidRepresentation="standard", tz_aware=True, maxPoolSize=W9_CONNECTIONS
        )
        self.items = self.client.get_default_database()["bench_items"]

    async def close(self) -> None:
        await self.client.close()

    async def reset(self) -> None:
        await self.items.delete_many({})

    async def _atomic(self, work: Any) -> Any:
        async with self.client.start_session() as session:
            await session.start_transaction()
            result = await work(session)
            await session.commit_transaction()
            return result

    async def create_one(self, item: Item) -> None:
        await self.items.insert_one(_document(item))

    async def batch_create(self, batch: list[Item]) -> None:
        documents = [_document(item) for item in batch]
        await self._atomic(lambda s: self.items.insert_many(documents, session=s))

    async def get(self, key: uuid.UUID) -> object:
        document = await self.items.find_one({"_id": key})
        assert document is not None
        return _item(document)

    async def search(self, offset: int) -> int:
        page = [{"$sort": dict(_SORT)}, {"$skip": offset}, {"$limit": PAGE + 1}]
        pipeline = [{"$match": _FILTER}, {"$facet": {"page": page, "total": [{"$count": "n"}]}}]
        cursor = await self.items.aggregate(pipeline)
        (result,) = await cursor.to_list()
        items = [_item(document) for document in result["page"]]
        assert items
        return int(result["total"][0]["n"])

    async def walk(self) -> int:
        seen = 0
        query: dict[str, Any] = dict(_FILTER)
        while True:
            rows = await self.items.find(query).sort(_SORT).limit(PAGE + 1).to_list()
            items = [_item(document) for document in rows[:PAGE]]
            seen += len(items)
            if len(rows) <= PAGE:
                return seen
            last = items[-1]
            query = {
                **_FILTER,
                "$or": [
                    {"created_at": {"$gt": last.created_at}},
                    {"created_at": last.created_at, "_id": {"$gt": last.id}},
                ],
            }

    async def update(self, key: uuid.UUID, score: int) -> object:
        result = await self.items.update_one({"_id": key}, {"$set": {"score": Int64(score)}})
        assert result.matched_count == 1
        document = await self.items.find_one({"_id": key})
        assert document is not None
        return _item(document)

    async def batch_update(self) -> int:
        result = await self._atomic(
            lambda s: self.items.update_many(
                {"tenant": "t2", "status": "draft"}, {"$set": {"score": Int64(7)}}, session=s
            )
        )
        return int(result.matched_count)

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        result = await self._atomic(
            lambda s: self.items.delete_many({"_id": {"$in": keys}}, session=s)
        )
        return int(result.deleted_count)

    async def purge_all(self) -> int:
        result = await self._atomic(lambda s: self.items.delete_many({}, session=s))
        return int(result.deleted_count)
