"""One repokit session on MongoDB: a client session, in a transaction when it writes.

A read-write session runs in a transaction (``readConcern: snapshot``) when
the server has them, so a batch is all-or-nothing (CONTRACT §9). On a server
without transactions (a standalone ``mongod``, which the backend declares
with ``Capabilities(transactions=False)``) each write is atomic per document
only; an insert of several documents that fails part-way then deletes what
it inserted before raising, so it never half-applies silently.

A read-only session starts no transaction: its end would cost one more round
trip (``abortTransaction``) for nothing. Where the server has snapshot reads
(MongoDB 5.0+ replica sets and sharded clusters) it is a *snapshot session*:
every read runs at the point in time of its first one, so the session still
reads one snapshot, across getMores and operations. Elsewhere each command
reads at its own point in time (CONTRACT §10/§11 ask no more).

A page with its total count (CONTRACT §10: one snapshot) outside a
transaction is one ``aggregate`` with a ``$facet`` (page and count in one
command) unless an index returns the page in order: the facet fetches every
matching document, which costs nothing extra when the server must sort them
all anyway, but much more than a ``find`` plus an index-only count when an
index serves the order. Inside a transaction, or in a snapshot session with
an indexed order, it is a ``find`` then, if the page does not settle it, a
count in the same snapshot.

A condition that pins the primary key (``id == k`` at its top level: get,
update, delete or purge by key, the keyset probe of a cursor's own entity)
reads that one document by ``_id`` and tests the rest of the condition in
process, with the contract's reference semantics (:mod:`repokit.evaluate`);
inside a transaction a write then names the document by ``_id`` alone
(:meth:`MongoSession._target` says why that is safe). Every planner serves
``{_id: k}`` from the ``_id`` index, not every one serves ``{_id: k, …}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pymongo
from bson import Int64
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DocumentTooLarge, OperationFailure, PyMongoError

from repokit.backend import BackendSession, Select, Upsert, UpsertResult, applied
from repokit.conditions import Condition, and_, crosses
from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    RepositoryError,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit.evaluate import evaluate
from repokit.semijoins import resolve
from repokit.shielding import in_own_task
from repokit.tables import Row, Table
from repokit_mongodb.codec import Codec
from repokit_mongodb.errors import map_errors, translate
from repokit_mongodb.query import pinned_key, sort_is_indexed, to_query, to_sort

if TYPE_CHECKING:
    from repokit_mongodb.backend import MongoBackend

__all__ = ["MongoSession"]

Collection = AsyncCollection[dict[str, Any]]

#: How often a commit whose outcome is unknown is retried before giving up.
_COMMIT_ATTEMPTS = 3
#: Seconds a rollback waits for ``abortTransaction`` (see :meth:`MongoSession.rollback`).
ABORT_TIMEOUT = 2.0
#: How often a lone upsert tries again when the holder of its key changes hands.
_UPSERT_ATTEMPTS = 10
#: The hidden field :meth:`MongoSession.hold` writes on parents (never read back).
HELD_FIELD = "_rk_held"
#: A ``$facet`` result over the document size (16 MiB) or the stage's memory limit.
_FACET_TOO_LARGE = frozenset({10334, 4031700})


class MongoSession(BackendSession):
    """A MongoDB client session, begun; ended by :meth:`commit` or :meth:`rollback`."""

    def __init__(
        self,
        backend: MongoBackend,
        session: AsyncClientSession,
        *,
        read_only: bool,
        primary: bool = True,
        leave: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(read_only=read_only)
        self._backend = backend
        self._primary = primary  # reads go to the primary, whatever the read preference
        self._session = session
        self._open = True
        self._leave = leave  # gives back the session's slot in the backend's fair gate
        self._single = False  # the work is one write (see single_statement)

    # -- helpers ----------------------------------------------------------------------------

    async def _collection(
        self, table: Table[Any], *, write: bool = False, alone: bool = False
    ) -> tuple[Collection, Codec]:
        """The table's collection and codec, for an operation about to run.

        *alone*: the operation is one atomic command, so as the session's only
        work (:meth:`single_statement`) it runs outside the transaction.
        """
        if write and self.read_only:
            raise UnsupportedOperation("a read-only session refuses writes")
        if not self._open:
            raise RepositoryError("the session has ended; open a new one")
        if self._single:
            self._single = False
            if alone and self._transactional:
                # No command has run, so the server never saw the transaction: the
                # driver ends it without a round trip, and the commit sends none.
                await self._session.abort_transaction()
        await self._backend.require_table(table)  # a set lookup once the table is known
        return self._backend.collection(table, primary=self._primary), self._backend.codec(table)

    def single_statement(self) -> None:
        """Run an insert of the session's only work outside the transaction.

        Inserting one document is atomic on its own: this saves the
        ``commitTransaction`` round trip. Updates and deletes keep the
        transaction: inside it they settle the condition with a point read
        and write by ``_id`` alone (:meth:`_target`), where outside one the
        write must repeat the whole condition, which simpler planners
        (SecantusDB's) serve with a collection scan.
        """
        self._single = True

    @property
    def _transactional(self) -> bool:
        return self._session.in_transaction

    async def _resolved(self, where: Condition) -> Condition:
        """*where* with its semi-joins resolved in this session (CONTRACT §25).

        MongoDB has no correlated subquery in a filter: each semi-join's
        matching inner documents are read first (their paired fields only),
        through :meth:`select`, in this session, and the semi-join becomes an
        ``$in`` of their values on the outer field
        (:func:`repokit.semijoins.resolve`). In a transaction the read and the
        operation share its snapshot.
        """
        return await resolve(where, self.select) if crosses(where) else where

    async def _resolved_query(self, query: Select) -> Select:
        if not crosses(query.where):
            return query
        return dataclasses.replace(query, where=await self._resolved(query.where), plan=None)

    # -- reads ------------------------------------------------------------------------------

    async def select(self, query: Select) -> list[Row]:
        collection, codec = await self._collection(query.table)
        query = await self._resolved_query(query)
        if query.limit == 0:
            return []
        pinned, key = pinned_key(query.where, query.table)
        if pinned:
            rows = await self._by_key(collection, codec, query.where, key)
            end = None if query.limit is None else query.offset + query.limit
            return rows[query.offset : end]
        with map_errors(query.table):
            documents = await self._find(collection, query, codec)
        return [codec.from_document(document) for document in documents]

    async def _find(self, collection: Collection, query: Select, codec: Codec) -> list[Any]:
        cursor = collection.find(
            to_query(query.where, codec),
            projection=_projection(codec, query.columns),
            sort=to_sort(query.orders, codec) or None,
            skip=query.offset,
            limit=query.limit or 0,
            session=self._session,
        )
        return await cursor.to_list()

    async def _by_key(
        self, collection: Collection, codec: Codec, where: Condition, key: Any
    ) -> list[Row]:
        """The rows matching *where*, which pins the primary key to *key*: none or one.

        Reads the document by ``_id`` alone and tests the rest of *where* with
        the contract's reference semantics (:func:`repokit.evaluate.evaluate`),
        so the read is a point lookup whatever else the condition says (scope,
        soft delete, version, "changes something"). MongoDB's planner finds the
        ``_id`` index either way, but simpler planners (SecantusDB's) serve only
        a bare ``{_id: v}`` from it and scan the collection for anything more.
        """
        with map_errors(codec.table):
            document = await collection.find_one(
                {"_id": codec.encode_key(key)}, session=self._session
            )
        if document is None:
            return []
        row = codec.from_document(document)
        return [row] if evaluate(where, row) else []

    async def select_each(self, queries: Sequence[Select]) -> list[list[Row]]:
        # One aggregate: the first collection's match, each other collection's by
        # $unionWith, every document tagged with the index of its query.
        if len(queries) < 2:
            return await super().select_each(queries)
        parts: list[tuple[Collection, list[dict[str, Any]], Codec]] = []
        for index, query in enumerate(queries):
            collection, codec = await self._collection(query.table)
            query = await self._resolved_query(query)
            stages: list[dict[str, Any]] = [{"$match": to_query(query.where, codec)}]
            projection = _projection(codec, query.columns)
            if projection is not None:
                stages.append({"$project": projection})
            stages.append({"$addFields": {_PART: index}})
            parts.append((collection, stages, codec))
        first, pipeline, _ = parts[0]
        for collection, stages, _ in parts[1:]:
            pipeline = [*pipeline, {"$unionWith": {"coll": collection.name, "pipeline": stages}}]
        with map_errors(queries[0].table):
            cursor = await first.aggregate(pipeline, session=self._session)
            documents = await cursor.to_list()
        found: list[list[Row]] = [[] for _ in queries]
        for document in documents:
            index = document.pop(_PART)
            found[index].append(parts[index][2].from_document(document))
        return found

    async def count(self, table: Table[Any], where: Condition) -> int:
        collection, codec = await self._collection(table)
        where = await self._resolved(where)
        pinned, key = pinned_key(where, table)
        if pinned:
            return len(await self._by_key(collection, codec, where, key))
        with map_errors(table):
            return await collection.count_documents(to_query(where, codec), session=self._session)

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        """The page and, if asked, its count, from one snapshot (see the module docs)."""
        query = await self._resolved_query(query)
        if with_count and query.limit and not self._transactional:
            collection, codec = await self._collection(query.table)
            where, sort = to_query(query.where, codec), to_sort(query.orders, codec)
            snapshot = self._session.options.snapshot
            if not (snapshot and sort_is_indexed(where, sort, codec.indexes)):
                with map_errors(query.table):
                    faceted = await self._faceted(collection, codec, query, where, sort)
                if faceted is not None:
                    documents, total = faceted
                    return [codec.from_document(document) for document in documents], total
        rows = await self.select(query)
        if not with_count:
            return rows, None
        last_page = query.limit is None or len(rows) < query.limit
        if last_page and (rows or query.offset == 0):
            return rows, query.offset + len(rows)
        # The same transaction or snapshot session: the same snapshot as the page.
        return rows, await self.count(query.table, query.where)

    async def _faceted(
        self,
        collection: Collection,
        codec: Codec,
        query: Select,
        where: dict[str, Any],
        sort: list[tuple[str, int]],
    ) -> tuple[list[Any], int] | None:
        """Page and count in one command; ``None`` if the result outgrows a document."""
        assert query.limit is not None
        page: list[dict[str, Any]] = [{"$sort": dict(sort)}] if sort else []
        if query.offset:
            page.append({"$skip": query.offset})
        page.append({"$limit": query.limit})
        projected = _projection(codec, query.columns)
        if projected is not None:
            page.append({"$project": projected})
        facet = {"page": page, "total": [{"$count": "n"}]}
        try:
            cursor = await collection.aggregate(
                [{"$match": where}, {"$facet": facet}], session=self._session
            )
            (result,) = await cursor.to_list()
        except OperationFailure as exc:
            # Not in a transaction (the caller checks), so the session survives the error.
            if exc.code in _FACET_TOO_LARGE:
                return None
            raise
        counted = result["total"]
        return result["page"], int(counted[0]["n"]) if counted else 0

    # -- reads --

    async def exists(self, table: Table[Any], where: Condition) -> bool:
        # One find of at most one document, projected to its _id (CONTRACT §19).
        collection, codec = await self._collection(table)
        where = await self._resolved(where)
        pinned, key = pinned_key(where, table)
        if pinned:
            return bool(await self._by_key(collection, codec, where, key))
        with map_errors(table):
            found = await collection.find_one(
                to_query(where, codec), projection={"_id": 1}, session=self._session
            )
        return found is not None

    async def delete_returning(self, table: Table[Any], where: Condition) -> list[Row]:
        """Delete and return the matching rows.

        In a transaction, the rows are read and then deleted by ``_id`` in the
        same snapshot (a concurrent change is a write conflict, retried by the
        runner). Outside one (a server without transactions), a condition
        pinning the key is one atomic ``findOneAndDelete``; anything else is
        the SPI's default, atomic per document only (CONTRACT §9).
        """
        collection, codec = await self._collection(table, write=True)
        where = await self._resolved(where)
        pinned, key = pinned_key(where, table)
        if not self._transactional:
            if not pinned:
                return await super().delete_returning(table, where)
            with map_errors(table):
                document = await collection.find_one_and_delete(
                    to_query(where, codec), session=self._session
                )
            return [] if document is None else [codec.from_document(document)]
        if pinned:
            rows = await self._by_key(collection, codec, where, key)
        else:
            with map_errors(table):
                found = collection.find(to_query(where, codec), session=self._session)
                rows = [codec.from_document(document) for document in await found.to_list()]
        if rows:
            ids = [codec.encode_key(table.key_of(row)) for row in rows]
            with map_errors(table):
                await collection.delete_many({"_id": {"$in": ids}}, session=self._session)
        return rows

    # -- writes -----------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        collection, codec = await self._collection(table, write=True, alone=len(rows) == 1)
        documents = [codec.to_document(row) for row in rows]
        size = self._backend.max_write_batch_size
        inserted: list[Any] = []
        try:
            for start in range(0, len(documents), size):
                chunk = documents[start : start + size]
                await collection.insert_many(chunk, ordered=True, session=self._session)
                inserted.extend(document["_id"] for document in chunk)
        except (PyMongoError, DocumentTooLarge) as exc:  # the latter: raised while encoding
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
        collection, codec = await self._collection(table, write=True)
        where = await self._resolved(where)
        change = _change(codec, values, increment)
        if not change:
            return await self.count(table, where)
        target = await self._target(collection, codec, where)
        if target is None:
            return 0
        with map_errors(table):
            result = await collection.update_many(target, change, session=self._session)
        return result.matched_count

    async def _target(
        self, collection: Collection, codec: Codec, where: Condition
    ) -> dict[str, Any] | None:
        """The filter a write runs with; ``None`` when it would match nothing.

        Inside a transaction a condition that pins the primary key is settled by
        a point read (:meth:`_by_key`) and the write then names the document by
        ``_id`` alone. That is as safe as repeating the condition: the read and
        the write share the transaction's snapshot, and a concurrent change to
        the document makes the write fail with a write conflict (which the
        transaction runner retries). Outside a transaction the write repeats
        the condition, so it stays one atomic step.
        """
        pinned, key = pinned_key(where, codec.table)
        if not (pinned and self._transactional):
            return to_query(where, codec)
        if not await self._by_key(collection, codec, where, key):
            return None
        return {"_id": codec.encode_key(key)}

    async def update_one(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> Row | None:
        """Read the row by key, test *where*, write it by key: two point commands.

        Safe inside a transaction for the reasons :meth:`_target` gives;
        elsewhere, or when *where* does not pin the key, this is the SPI's
        default (a read, then a write repeating *where*). ``findOneAndUpdate``
        would be one command, but SecantusDB, the test server, runs its write
        through a filter no index serves (a collection scan per update: 40 ms
        at 4,000 documents, against 2 ms for these two).
        """
        collection, codec = await self._collection(table, write=True)
        where = await self._resolved(where)
        change = _change(codec, values, increment)
        if change and not self._transactional:
            # One atomic command, which returns the document as this very write left it.
            with map_errors(table):
                document = await collection.find_one_and_update(
                    to_query(where, codec),
                    change,
                    return_document=ReturnDocument.AFTER,
                    session=self._session,
                )
            return None if document is None else codec.from_document(document)
        pinned, key = pinned_key(where, table)
        if not (pinned and self._transactional):
            return await super().update_one(table, where, values, increment=increment)
        found = await self._by_key(collection, codec, where, key)
        if not found:
            return None
        row = found[0]
        if change:
            with map_errors(table):
                result = await collection.update_one(
                    {"_id": codec.encode_key(key)}, change, session=self._session
                )
            if result.matched_count == 0:  # pragma: no cover - the snapshot still holds it
                return None
        return applied(row, values, increment)

    async def delete(self, table: Table[Any], where: Condition) -> int:
        collection, codec = await self._collection(table, write=True)
        where = await self._resolved(where)
        target = await self._target(collection, codec, where)
        if target is None:
            return 0
        with map_errors(table):
            result = await collection.delete_many(target, session=self._session)
        return result.deleted_count

    async def hold(self, table: Table[Any], where: Condition) -> int:
        """Count the parents a child write references by *writing* them (CONTRACT §23).

        Under snapshot isolation a read does not conflict with a concurrent
        delete: the purge of a parent would commit and the child inserted next
        to it would be an orphan. Adding 1 to the hidden field ``_rk_held`` of
        every parent makes that purge and this transaction write the same
        documents, so one of them fails with a write conflict (which the
        transaction runner retries, and the retry sees the other's work).
        """
        collection, codec = await self._collection(table, write=True)
        with map_errors(table):
            result = await collection.update_many(
                to_query(where, codec), {"$inc": {HELD_FIELD: 1}}, session=self._session
            )
        return result.matched_count

    # -- upsert --

    async def upsert(self, upsert: Upsert) -> UpsertResult:
        """In a transaction, the SPI's default; outside one, update-else-insert (CONTRACT §18).

        The default reads the holder of the key in the transaction's snapshot,
        then inserts or updates by ``_id``; a concurrent transaction taking the
        key meanwhile is a write conflict or a collision on the key, both a
        ``TransactionConflict`` the runner retries. Outside a transaction (a
        lone upsert: :meth:`single_statement`, or a server without them) the
        unique index settles races: an atomic ``findOneAndUpdate`` of the
        holder, else an insert, and a collision on the key means another
        writer inserted first, so the holder is updated instead.
        """
        table = upsert.table
        collection, codec = await self._collection(table, write=True, alone=True)
        if crosses(upsert.guard):
            upsert = dataclasses.replace(upsert, guard=await self._resolved(upsert.guard))
        if self._transactional:
            return await super().upsert(upsert)
        change = _change(codec, upsert.values, upsert.increment) if upsert.updates else {}
        holds = upsert.holds()
        guarded = to_query(and_(holds, upsert.guard), codec) if change else None
        for _ in range(_UPSERT_ATTEMPTS):
            if guarded is not None:
                with map_errors(table):
                    after = await collection.find_one_and_update(
                        guarded, change, return_document=ReturnDocument.AFTER, session=self._session
                    )
                if after is not None:
                    return UpsertResult(codec.from_document(after), False)
            try:
                await collection.insert_one(codec.to_document(upsert.row), session=self._session)
            except (PyMongoError, DocumentTooLarge) as exc:
                error = translate(exc, table)
                if not isinstance(error, EntityAlreadyExists):
                    raise error from exc
            else:
                return UpsertResult(dict(upsert.row), True)
            # A collision: on the deciding key if a document holds it (the server may
            # name another key the row collides on too), else on another key.
            with map_errors(table):
                document = await collection.find_one(to_query(holds, codec), session=self._session)
            if document is None:
                if upsert.collided(error):
                    continue  # its holder is gone again: insert once more
                raise error
            if guarded is None or not evaluate(upsert.guard, codec.from_document(document)):
                return UpsertResult(None, False)
            # Another writer inserted it first: update it.
        raise TransactionConflict(
            f"{table.entity_name}: the key ({', '.join(upsert.fields)}) of an upsert kept "
            "changing hands"
        )

    # -- ending -----------------------------------------------------------------------------

    async def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            # In a task of its own: the session's end runs shielded from the caller's
            # cancellation, and PyMongo bounds its waits with asyncio timeouts, which
            # must cancel the driver's work rather than be held with the caller's.
            await in_own_task(self._end(commit=True))
        finally:
            self._leave()

    async def _end(self, *, commit: bool) -> None:
        try:
            if not self._transactional:
                pass
            elif commit:
                await self._commit_transaction()
            else:
                with contextlib.suppress(PyMongoError), pymongo.timeout(ABORT_TIMEOUT):
                    await self._session.abort_transaction()
        finally:
            with contextlib.suppress(PyMongoError):
                await self._session.end_session()

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
        """Abort the transaction, waiting at most :data:`ABORT_TIMEOUT` seconds for it.

        The abort waits for the server to finish any command of this session
        still running there, and one runs on only when the client gave up on
        it: its connection was lost (the command then failed with
        ``BackendUnavailable`` at once) or its task was cancelled. A 30,000
        document insert whose connection SecantusDB closed kept the abort,
        and so the caller's ``BackendUnavailable``, waiting 17 s. Past the
        bound the abort is given up (the driver ignores its errors anyway);
        the server ends that transaction itself after its lifetime limit
        (mongod's ``transactionLifetimeLimitSeconds``, 60 s by default), and
        until then writes to the same documents conflict.
        """
        if not self._open:
            return
        self._open = False
        try:
            await in_own_task(self._end(commit=False))
        finally:
            self._leave()


#: The field select_each tags each document of its union with (its query's index).
_PART = "_rk_part"


def _projection(codec: Codec, columns: tuple[str, ...] | None) -> dict[str, int] | None:
    """The projection of a read of *columns* (``None``: whole documents); ``_id`` comes anyway."""
    if columns is None:
        return None
    return {codec.key(field): 1 for field in columns}


def _change(codec: Codec, values: Mapping[str, Any], increment: Sequence[str]) -> dict[str, Any]:
    """The update document: ``$set`` the values, ``$inc`` the increments."""
    change: dict[str, Any] = {}
    if values:
        change["$set"] = codec.to_document(values)
    if increment:
        change["$inc"] = {codec.key(field): Int64(1) for field in increment}
    return change
