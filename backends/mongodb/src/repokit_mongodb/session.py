"""One repokit session on MongoDB: a client session, in a transaction when the server has them.

Every write of a session runs inside its transaction, so a batch is
all-or-nothing (CONTRACT §9); reads in the same transaction share one
snapshot (``readConcern: snapshot``), which keeps a page and its count
consistent. On a server without transactions (a standalone ``mongod``, which
the backend declares with ``Capabilities(transactions=False)``) each write is
atomic per document only; an insert of several documents that fails part-way
then deletes what it inserted before raising, so it never half-applies
silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bson import Int64
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from repokit.backend import BackendSession, Select
from repokit.conditions import Condition
from repokit.errors import BackendUnavailable, RepositoryError, UnsupportedOperation
from repokit.tables import Row, Table
from repokit_mongodb.codec import Codec
from repokit_mongodb.errors import map_errors, translate
from repokit_mongodb.query import to_query, to_sort

if TYPE_CHECKING:
    from repokit_mongodb.backend import MongoBackend

__all__ = ["MongoSession"]

Collection = AsyncCollection[dict[str, Any]]

#: How often a commit whose outcome is unknown is retried before giving up.
_COMMIT_ATTEMPTS = 3


class MongoSession(BackendSession):
    """A MongoDB client session, begun; ended by :meth:`commit` or :meth:`rollback`."""

    def __init__(
        self,
        backend: MongoBackend,
        session: AsyncClientSession,
        *,
        read_only: bool,
        leave: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(read_only=read_only)
        self._backend = backend
        self._session = session
        self._open = True
        self._leave = leave  # gives back the session's slot in the backend's fair gate

    # -- helpers ----------------------------------------------------------------------------

    def _collection(self, table: Table[Any], *, write: bool = False) -> tuple[Collection, Codec]:
        if write and self.read_only:
            raise UnsupportedOperation("a read-only session refuses writes")
        if not self._open:
            raise RepositoryError("the session has ended; open a new one")
        return self._backend.collection(table), self._backend.codec(table)

    @property
    def _transactional(self) -> bool:
        return self._session.in_transaction

    # -- reads ------------------------------------------------------------------------------

    async def select(self, query: Select) -> list[Row]:
        collection, codec = self._collection(query.table)
        if query.limit == 0:
            return []
        with map_errors(query.table):
            cursor = collection.find(
                to_query(query.where, codec),
                sort=to_sort(query.orders, codec) or None,
                skip=query.offset,
                limit=query.limit or 0,
                session=self._session,
            )
            documents = await cursor.to_list()
        return [codec.from_document(document) for document in documents]

    async def count(self, table: Table[Any], where: Condition) -> int:
        collection, codec = self._collection(table)
        with map_errors(table):
            return await collection.count_documents(to_query(where, codec), session=self._session)

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        """The page, and its count without a second round trip when the page settles it."""
        rows = await self.select(query)
        if not with_count:
            return rows, None
        last_page = query.limit is None or len(rows) < query.limit
        if last_page and (rows or query.offset == 0):
            return rows, query.offset + len(rows)
        # Same transaction, so the same snapshot as the page.
        return rows, await self.count(query.table, query.where)

    # -- writes -----------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        collection, codec = self._collection(table, write=True)
        documents = [codec.to_document(row) for row in rows]
        size = self._backend.max_write_batch_size
        inserted: list[Any] = []
        try:
            for start in range(0, len(documents), size):
                chunk = documents[start : start + size]
                await collection.insert_many(chunk, ordered=True, session=self._session)
                inserted.extend(document["_id"] for document in chunk)
        except PyMongoError as exc:
            if not self._transactional:
                if isinstance(exc, BulkWriteError):
                    done = exc.details.get("nInserted", 0)
                    inserted.extend(document["_id"] for document in chunk[:done])
                await self._undo_insert(collection, inserted)
            raise translate(exc, table) from exc

    async def _undo_insert(self, collection: Collection, keys: list[Any]) -> None:
        """Without a transaction, remove what a failed multi-document insert wrote."""
        if keys:
            with contextlib.suppress(PyMongoError):
                await collection.delete_many({"_id": {"$in": keys}}, session=self._session)

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        collection, codec = self._collection(table, write=True)
        change: dict[str, Any] = {}
        if values:
            change["$set"] = codec.to_document(values)
        if increment:
            change["$inc"] = {codec.key(field): Int64(1) for field in increment}
        if not change:
            return await self.count(table, where)
        with map_errors(table):
            result = await collection.update_many(
                to_query(where, codec), change, session=self._session
            )
        return result.matched_count

    async def delete(self, table: Table[Any], where: Condition) -> int:
        collection, codec = self._collection(table, write=True)
        with map_errors(table):
            result = await collection.delete_many(to_query(where, codec), session=self._session)
        return result.deleted_count

    # -- ending -----------------------------------------------------------------------------

    async def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            if self._transactional:
                await self._commit_transaction()
        finally:
            try:
                await self._session.end_session()
            finally:
                self._leave()

    async def _commit_transaction(self) -> None:
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                await self._session.commit_transaction()
                return
            except PyMongoError as exc:
                # Committing again is safe: the server answers a repeated commit
                # with the first one's outcome.
                unknown = exc.has_error_label("UnknownTransactionCommitResult")
                if unknown and attempt < _COMMIT_ATTEMPTS:
                    continue
                if unknown:
                    # Not a conflict: re-running the transaction could apply it twice.
                    raise BackendUnavailable(
                        f"the outcome of the commit is unknown after {attempt} attempts: {exc}"
                    ) from exc
                raise translate(exc) from exc

    async def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            if self._transactional:
                with contextlib.suppress(PyMongoError):
                    await self._session.abort_transaction()
        finally:
            try:
                with contextlib.suppress(PyMongoError):
                    await self._session.end_session()
            finally:
                self._leave()
