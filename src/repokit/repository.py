"""Repository[T, ID]: the six standard operations and the batch ones, wired.

A ready-made domain repository over one table. Each method runs in its own
transaction (through the transaction runner, so transient conflicts are
retried) unless the caller passes ``session=`` to share an outer transaction
between several repositories::

    async for attempt in db.transaction():
        async with attempt as session:
            project = await projects.create(new_project, session=session)
            await members.create(owner, session=session)

Domain repositories can subclass it, or compose the base utilities
(:mod:`repokit.utilities`) directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, overload

from repokit.conditions import Condition, Order
from repokit.database import Database, Session
from repokit.pagination import Page, Pagination
from repokit.scope import ScopeArg, requirements
from repokit.tables import Table
from repokit.utilities import (
    BatchPurger,
    BatchQuerier,
    BatchUpdater,
    Creator,
    Deleted,
    Deleter,
    Purger,
    Querier,
    Updater,
)
from repokit.utilities.bulk import BulkWriter, Item, Outcome, checked, item_error, run_items
from repokit.utilities.querier import DEFAULT_CHUNK_SIZE, Found
from repokit.utilities.updater import UpdateArg
from repokit.utilities.upserter import KeyArg, Upserted, Upserter

__all__ = ["Repository"]

T = TypeVar("T")
ID = TypeVar("ID")
R = TypeVar("R")
#: A projection class (CONTRACT §19).
P = TypeVar("P")

Conditions = Condition | Iterable[Condition] | None


class Repository(Generic[T, ID]):
    """The standard operations plus batch_update, batch_delete and batch_purge, on one table.

    Args:
        database: where the entities live.
        table: the entity's table. A table declared with ``key_type=`` carries
            its key type: ``Repository(db, projects)`` is then a
            ``Repository[Project, UUID]``, and annotating it
            ``Repository[Project, int]`` is a type error.
        scope_required: every operation needs an explicit ``scope=``
            (``GlobalScope()`` for unscoped access): ``scope=None`` raises
            ``InvalidQuery`` before any I/O (CONTRACT §24). A table declared
            ``scope_required=True`` requires it whatever is said here.
    """

    def __init__(
        self, database: Database, table: Table[T, ID], *, scope_required: bool = False
    ) -> None:
        self.database: Database = database
        self.table: Table[T, ID] = table
        self.creator: Creator[T] = Creator(table, scope_required=scope_required)
        self.upserter: Upserter[T] = Upserter(table, scope_required=scope_required)
        self.querier: Querier[T] = Querier(table, scope_required=scope_required)
        self.batch_querier: BatchQuerier[T] = BatchQuerier(table, scope_required=scope_required)
        self.updater: Updater[T] = Updater(table, scope_required=scope_required)
        self.batch_updater: BatchUpdater[T] = BatchUpdater(table, scope_required=scope_required)
        self.deleter: Deleter[T] = Deleter(table, scope_required=scope_required)
        self.purger: Purger[T] = Purger(table, scope_required=scope_required)
        self.batch_purger: BatchPurger[T] = BatchPurger(table, scope_required=scope_required)
        self.bulk_writer: BulkWriter[T] = BulkWriter(table, scope_required=scope_required)
        #: Whether every operation needs an explicit scope (CONTRACT §24).
        self.scope_required: bool = self.creator.scope_required

    async def _write(
        self,
        session: Session | None,
        work: Callable[[Session], Awaitable[R]],
        *,
        single: bool = False,
    ) -> R:
        """Run a write in *session*, or in a transaction of its own.

        *single*: the work is one write statement on its successful path (a
        write of one entity); outside a session the backend may then run it
        without BEGIN and COMMIT (:meth:`BackendSession.single_statement`).
        """
        if session is not None:
            return await work(session)
        table = self.table
        if single and (table.references or table.referenced_by):
            single = False  # the reference checks and their effects are more statements (§23)
        return await self.database._run(work, single=single)

    async def _read(self, session: Session | None, work: Callable[[Session], Awaitable[R]]) -> R:
        if session is not None:
            return await work(session)
        return await self.database.run_in_transaction(work, read_only=True)

    # -- the six standard operations --------------------------------------------------------

    async def create(
        self, entity: T, *, scope: ScopeArg = None, session: Session | None = None
    ) -> T:
        """Store a new entity (see :meth:`Creator.create`)."""
        return await self._write(
            session,
            lambda s: self.creator.create(s, entity, scope=scope),
            single=_single(scope, self.database),
        )

    async def upsert(
        self,
        entity: T,
        *,
        on: KeyArg,
        update: UpdateArg | None = None,
        scope: ScopeArg = None,
        expected_version: int | None = None,
        session: Session | None = None,
    ) -> Upserted[T]:
        """Insert *entity*, or update the one holding its key *on* (see :meth:`Upserter.upsert`).

        Returns the entity as stored and whether it was inserted.
        """
        return await self._write(
            session,
            lambda s: self.upserter.upsert(
                s, entity, on=on, update=update, scope=scope, expected_version=expected_version
            ),
            single=_single(scope),
        )

    @overload
    async def get(
        self,
        key: ID,
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        session: Session | None = ...,
        into: None = ...,
    ) -> T: ...

    @overload
    async def get(
        self,
        key: ID,
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        session: Session | None = ...,
        into: type[P],
    ) -> P: ...

    async def get(
        self,
        key: ID,
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        session: Session | None = None,
        into: Any = None,
    ) -> Any:
        """The entity with primary key *key*, or its projection *into* (see :meth:`Querier.get`)."""
        return await self._read(
            session, lambda s: self.querier.get(s, key, scope=scope, deleted=deleted, into=into)
        )

    @overload
    async def search(
        self,
        *,
        conditions: Conditions = ...,
        orders: Iterable[Order] = ...,
        pagination: Pagination | None = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        total_count: bool = ...,
        session: Session | None = ...,
        into: None = ...,
    ) -> Page[T]: ...

    @overload
    async def search(
        self,
        *,
        conditions: Conditions = ...,
        orders: Iterable[Order] = ...,
        pagination: Pagination | None = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        total_count: bool = ...,
        session: Session | None = ...,
        into: type[P],
    ) -> Page[P]: ...

    async def search(
        self,
        *,
        conditions: Conditions = None,
        orders: Iterable[Order] = (),
        pagination: Pagination | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        total_count: bool = False,
        session: Session | None = None,
        into: Any = None,
    ) -> Page[Any]:
        """A page of matching entities, or of projections (see :meth:`BatchQuerier.search`)."""
        orders = tuple(orders)
        conditions = _conditions(conditions)
        return await self._read(
            session,
            lambda s: self.batch_querier.search(
                s,
                conditions=conditions,
                orders=orders,
                pagination=pagination,
                scope=scope,
                deleted=deleted,
                total_count=total_count,
                into=into,
            ),
        )

    async def count(
        self,
        *,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        session: Session | None = None,
    ) -> int:
        """The number of matching entities (see :meth:`BatchQuerier.count`)."""
        conditions = _conditions(conditions)
        return await self._read(
            session,
            lambda s: self.batch_querier.count(
                s, conditions=conditions, scope=scope, deleted=deleted
            ),
        )

    # -- streaming and the small reads (CONTRACT §19) ---------------------------------------

    async def exists(
        self,
        *,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        session: Session | None = None,
    ) -> bool:
        """Whether any entity matches, in one cheap statement (see :meth:`BatchQuerier.exists`)."""
        conditions = _conditions(conditions)
        return await self._read(
            session,
            lambda s: self.batch_querier.exists(
                s, conditions=conditions, scope=scope, deleted=deleted
            ),
        )

    @overload
    async def get_many(
        self,
        keys: Iterable[ID],
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        session: Session | None = ...,
        into: None = ...,
    ) -> Found[T, ID]: ...

    @overload
    async def get_many(
        self,
        keys: Iterable[ID],
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        session: Session | None = ...,
        into: type[P],
    ) -> Found[P, ID]: ...

    async def get_many(
        self,
        keys: Iterable[ID],
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        session: Session | None = None,
        into: Any = None,
    ) -> Found[Any, ID]:
        """The entities with primary keys *keys*, and the keys missing (``Querier.get_many``)."""
        materialised = _materialise(keys)
        return await self._read(
            session,
            lambda s: self.querier.get_many(
                s, materialised or (), scope=scope, deleted=deleted, into=into
            ),
        )

    @overload
    def stream(
        self,
        *,
        conditions: Conditions = ...,
        orders: Iterable[Order] = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        chunk_size: int = ...,
        session: Session | None = ...,
        into: None = ...,
    ) -> AsyncIterator[T]: ...

    @overload
    def stream(
        self,
        *,
        conditions: Conditions = ...,
        orders: Iterable[Order] = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        chunk_size: int = ...,
        session: Session | None = ...,
        into: type[P],
    ) -> AsyncIterator[P]: ...

    def stream(
        self,
        *,
        conditions: Conditions = None,
        orders: Iterable[Order] = (),
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        session: Session | None = None,
        into: Any = None,
    ) -> AsyncIterator[Any]:
        """Every matching entity, in order, one chunk at a time (see :meth:`BatchQuerier.stream`).

        ``async for project in projects.stream(scope=...):`` — not awaited.
        Without *session* each chunk is read in a read-only session of its
        own; nothing is held between chunks, so breaking out of the loop (or
        a cancellation) leaves nothing to release.

        Raises:
            InvalidQuery: bad conditions, orders, chunk size or projection, raised here.
        """
        return self.batch_querier.stream(
            self.database if session is None else session,
            conditions=_conditions(conditions),
            orders=tuple(orders),
            scope=scope,
            deleted=deleted,
            chunk_size=chunk_size,
            into=into,
        )

    async def update(
        self,
        key: ID,
        spec: UpdateArg,
        *,
        scope: ScopeArg = None,
        expected_version: int | None = None,
        session: Session | None = None,
    ) -> T:
        """Update one entity (see :meth:`Updater.update`)."""
        return await self._write(
            session,
            lambda s: self.updater.update(
                s, key, spec, scope=scope, expected_version=expected_version
            ),
            single=_single(scope, self.database),
        )

    async def delete(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> None:
        """Soft-delete one entity (see :meth:`Deleter.delete`)."""
        await self._write(
            session,
            lambda s: self.deleter.delete(s, key, scope=scope),
            single=_single(scope, self.database),
        )

    async def delete_returning(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> T:
        """Soft-delete one entity and return it as stored (see :meth:`Deleter.delete_returning`)."""
        return await self._write(
            session,
            lambda s: self.deleter.delete_returning(s, key, scope=scope),
            single=_single(scope, self.database),
        )

    async def restore(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> T:
        """Restore a soft-deleted entity (see :meth:`Deleter.restore`)."""
        return await self._write(
            session,
            lambda s: self.deleter.restore(s, key, scope=scope),
            single=_single(scope, self.database),
        )

    async def purge(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> None:
        """Remove one entity for good (see :meth:`Purger.purge`)."""
        await self._write(
            session,
            lambda s: self.purger.purge(s, key, scope=scope),
            single=_single(scope, self.database),
        )

    async def purge_returning(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> T:
        """Remove one entity for good and return it (see :meth:`Purger.purge_returning`)."""
        return await self._write(
            session,
            lambda s: self.purger.purge_returning(s, key, scope=scope),
            single=_single(scope, self.database),
        )

    # -- batch operations -------------------------------------------------------------------

    async def batch_create(
        self, entities: Iterable[T], *, scope: ScopeArg = None, session: Session | None = None
    ) -> list[T]:
        """Store many new entities, all or none (see :meth:`Creator.batch_create`)."""
        entities = list(entities)
        return await self._write(
            session, lambda s: self.creator.batch_create(s, entities, scope=scope)
        )

    async def batch_upsert(
        self,
        entities: Iterable[T],
        *,
        on: KeyArg,
        update: UpdateArg | None = None,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> list[Upserted[T]]:
        """Upsert many entities, all or none, in input order (see :meth:`Upserter.batch_upsert`)."""
        entities = list(entities)
        return await self._write(
            session,
            lambda s: self.upserter.batch_upsert(s, entities, on=on, update=update, scope=scope),
        )

    async def batch_update(
        self,
        spec: UpdateArg,
        *,
        ids: Iterable[ID] | None = None,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> int:
        """Update many entities, all or none (see :meth:`BatchUpdater.batch_update`)."""
        keys = _materialise(ids)
        conditions = _conditions(conditions)
        return await self._write(
            session,
            lambda s: self.batch_updater.batch_update(
                s, spec, ids=keys, conditions=conditions, scope=scope
            ),
        )

    async def batch_delete(
        self,
        *,
        ids: Iterable[ID] | None = None,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> int:
        """Soft-delete many entities, all or none (see :meth:`Deleter.batch_delete`)."""
        keys = _materialise(ids)
        conditions = _conditions(conditions)
        return await self._write(
            session,
            lambda s: self.deleter.batch_delete(s, ids=keys, conditions=conditions, scope=scope),
        )

    async def batch_purge(
        self,
        *,
        ids: Iterable[ID] | None = None,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> int:
        """Remove many entities for good, all or none (see :meth:`BatchPurger.batch_purge`)."""
        keys = _materialise(ids)
        conditions = _conditions(conditions)
        return await self._write(
            session,
            lambda s: self.batch_purger.batch_purge(
                s, ids=keys, conditions=conditions, scope=scope
            ),
        )

    async def batch_purge_returning(
        self,
        *,
        ids: Iterable[ID] | None = None,
        conditions: Conditions = None,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> list[T]:
        """:meth:`batch_purge`, returning the entities removed by primary key ascending.

        See :meth:`BatchPurger.batch_purge_returning`.
        """
        keys = _materialise(ids)
        conditions = _conditions(conditions)
        return await self._write(
            session,
            lambda s: self.batch_purger.batch_purge_returning(
                s, ids=keys, conditions=conditions, scope=scope
            ),
        )

    # -- per-item bulk operations ------------------------------------------------------------

    async def bulk_create(
        self, entities: Iterable[T], *, scope: ScopeArg = None, session: Session | None = None
    ) -> list[Outcome[T]]:
        """Create each entity on its own: one failing does not stop the others.

        Unlike :meth:`batch_create` (all or nothing) the answer is an
        :class:`~repokit.utilities.bulk.Outcome` per entity, in input order:
        the stored entity, or the error it met (:data:`~repokit.utilities.bulk.ITEM_ERRORS`).
        """
        items = self.bulk_writer.create_items(list(entities), scope=scope)
        return await self._bulk(items, session, scope)

    async def bulk_update(
        self,
        updates: Mapping[ID, UpdateArg],
        *,
        scope: ScopeArg = None,
        session: Session | None = None,
    ) -> list[Outcome[T]]:
        """Apply each key's own update (``{key: spec}``) on its own; an outcome per key."""
        return await self._bulk(self.bulk_writer.update_items(updates, scope=scope), session, scope)

    async def bulk_delete(
        self, keys: Iterable[ID], *, scope: ScopeArg = None, session: Session | None = None
    ) -> list[Outcome[T]]:
        """Soft-delete each key on its own; an outcome per key."""
        return await self._bulk(
            self.bulk_writer.delete_items(list(keys), scope=scope), session, scope
        )

    async def bulk_purge(
        self, keys: Iterable[ID], *, scope: ScopeArg = None, session: Session | None = None
    ) -> list[Outcome[T]]:
        """Purge each key on its own; an outcome per key."""
        return await self._bulk(
            self.bulk_writer.purge_items(list(keys), scope=scope), session, scope
        )

    async def _bulk(
        self, items: list[Item], session: Session | None, scope: ScopeArg
    ) -> list[Outcome[T]]:
        """Run bulk *items*: in *session*, in chunked transactions, or one transaction each.

        Without a session, a backend with savepoints runs :data:`BULK_CHUNK` items
        per transaction, each in a savepoint (a chunk whose transaction conflicts
        is re-run whole by the transaction runner); one without runs each item in
        a transaction of its own, as the single-entity methods do. An error that
        is not an item's stops the call; the items of earlier chunks stay written.
        """
        table = self.table
        if session is not None:
            return await run_items(session, items, table)
        database = self.database
        outcomes: list[Outcome[T]] = []
        if database.capabilities.savepoints:
            for start in range(0, len(items), BULK_CHUNK):
                chunk = items[start : start + BULK_CHUNK]

                async def run_chunk(
                    session: Session, chunk: list[Item] = chunk
                ) -> list[Outcome[T]]:
                    return await run_items(session, chunk, table)

                outcomes.extend(await database._run(run_chunk))
            return outcomes
        single = _single(scope, database)
        for (key, _, item), failed in zip(items, checked(items), strict=True):
            if failed is not None:
                outcomes.append(failed)
                continue
            try:
                entity = await database._run(item, single=single)
            except Exception as exc:
                if not item_error(exc, table):
                    raise
                outcomes.append(Outcome(key, error=exc))
            else:
                outcomes.append(Outcome(key, entity))
        return outcomes


#: How many items of a bulk operation share one transaction (on backends with savepoints).
BULK_CHUNK = 100


def _single(scope: ScopeArg, database: Database | None = None) -> bool:
    """Whether the write of one entity under *scope* is one statement (see ``Repository._write``).

    Under a scope that requires targets, only where the targets ride in the
    write's own statement (*database*'s ``native_semijoins``, CONTRACT §24);
    elsewhere (and for an upsert, which checks them first: no *database*)
    their check reads first, and must read in the write's own transaction.
    """
    if scope is None or not requirements(scope):
        return True
    return database is not None and database.capabilities.native_semijoins


def _materialise(ids: Iterable[Any] | None) -> list[Any] | None:
    # A generator would be exhausted by the first attempt of a retried transaction.
    if ids is None or isinstance(ids, str | bytes):
        return ids  # type: ignore[return-value]
    return list(ids)


def _conditions(conditions: Conditions) -> Conditions:
    # The same for conditions: an exhausted generator would turn into an empty list,
    # which filters nothing in a read and is refused by a batch write.
    if conditions is None or isinstance(conditions, Condition):
        return conditions
    return tuple(conditions)
