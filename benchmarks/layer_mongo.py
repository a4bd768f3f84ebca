"""The raw driver on MongoDB: PyMongo's async client, one client held.

Single-document writes are atomic on their own; batches run in one
transaction (as repokit's are), reads run without one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from benchmarks.model import PAGE, Item
from benchmarks.subject import Subject

__all__ = ["RawMongo"]

_FILTER = {"tenant": "t2", "status": "active"}
_SORT = [("created_at", 1), ("_id", 1)]


def _document(item: Item) -> dict[str, Any]:
    document = asdict(item)
    document["_id"] = document.pop("id")
    return document


class RawMongo(Subject):
    name = "raw"

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        from pymongo import AsyncMongoClient

        self.client: Any = AsyncMongoClient(self.url, uuidRepresentation="standard", tz_aware=True)
        self.items = self.client.get_default_database()["bench_items"]

    async def close(self) -> None:
        await self.client.close()

    async def reset(self) -> None:
        await self.items.delete_many({})

    async def _atomic(self, work: Any) -> Any:
        async with self.client.start_session() as session, await session.start_transaction():
            return await work(session)

    async def create_one(self, item: Item) -> None:
        await self.items.insert_one(_document(item))

    async def batch_create(self, batch: list[Item]) -> None:
        documents = [_document(item) for item in batch]
        await self._atomic(lambda s: self.items.insert_many(documents, session=s))

    async def get(self, key: uuid.UUID) -> object:
        document = await self.items.find_one({"_id": key})
        assert document is not None
        return document

    async def search(self, offset: int) -> int:
        page = await self.items.find(_FILTER).sort(_SORT).skip(offset).limit(PAGE + 1).to_list()
        assert page
        return int(await self.items.count_documents(_FILTER))

    async def walk(self) -> int:
        seen = 0
        query: dict[str, Any] = dict(_FILTER)
        while True:
            rows = await self.items.find(query).sort(_SORT).limit(PAGE + 1).to_list()
            seen += min(len(rows), PAGE)
            if len(rows) <= PAGE:
                return seen
            last = rows[PAGE - 1]
            query = {
                **_FILTER,
                "$or": [
                    {"created_at": {"$gt": last["created_at"]}},
                    {"created_at": last["created_at"], "_id": {"$gt": last["_id"]}},
                ],
            }

    async def update(self, key: uuid.UUID, score: int) -> object:
        from pymongo import ReturnDocument

        document = await self.items.find_one_and_update(
            {"_id": key}, {"$set": {"score": score}}, return_document=ReturnDocument.AFTER
        )
        assert document is not None
        return document

    async def batch_update(self) -> int:
        result = await self._atomic(
            lambda s: self.items.update_many(
                {"tenant": "t2", "status": "draft"}, {"$set": {"score": 7}}, session=s
            )
        )
        return int(result.matched_count)

    async def batch_purge(self, keys: list[uuid.UUID]) -> int:
        result = await self._atomic(
            lambda s: self.items.delete_many({"_id": {"$in": keys}}, session=s)
        )
        return int(result.deleted_count)

    async def purge_all(self) -> int:
        return int((await self.items.delete_many({})).deleted_count)
