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

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

from repokit.conditions import Condition, Order
from repokit.database import Database, Session
from repokit.pagination import Page, Pagination
from repokit.scope import ScopeArg
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
from repokit.utilities.updater import UpdateArg

__all__ = ["Repository"]

T = TypeVar("T")
ID = TypeVar("ID")
R = TypeVar("R")

Conditions = Condition | Iterable[Condition] | None


class Repository(Generic[T, ID]):
    """The standard operations plus batch_update, batch_delete and batch_purge, on one table.

    Args:
        database: where the entities live.
        table: the entity's table. A table declared with ``key_type=`` carries
            its key type: ``Repository(db, projects)`` is then a
            ``Repository[Project, UUID]``, and annotating it
            ``Repository[Project, int]`` is a type error.
    """

    def __init__(self, database: Database, table: Table[T, ID]) -> None:
        self.database: Database = database
        self.table: Table[T, ID] = table
        self.creator: Creator[T] = Creator(table)
        self.querier: Querier[T] = Querier(table)
        self.batch_querier: BatchQuerier[T] = BatchQuerier(table)
        self.updater: Updater[T] = Updater(table)
        self.batch_updater: BatchUpdater[T] = BatchUpdater(table)
        self.deleter: Deleter[T] = Deleter(table)
        self.purger: Purger[T] = Purger(table)
        self.batch_purger: BatchPurger[T] = BatchPurger(table)

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
            session, lambda s: self.creator.create(s, entity, scope=scope), single=True
        )

    async def get(
        self,
        key: ID,
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        session: Session | None = None,
    ) -> T:
        """The entity with primary key *key* (see :meth:`Querier.get`)."""
        return await self._read(
            session, lambda s: self.querier.get(s, key, scope=scope, deleted=deleted)
        )

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
    ) -> Page[T]:
        """A page of matching entities (see :meth:`BatchQuerier.search`)."""
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
            single=True,
        )

    async def delete(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> None:
        """Soft-delete one entity (see :meth:`Deleter.delete`)."""
        await self._write(session, lambda s: self.deleter.delete(s, key, scope=scope), single=True)

    async def restore(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> T:
        """Restore a soft-deleted entity (see :meth:`Deleter.restore`)."""
        return await self._write(
            session, lambda s: self.deleter.restore(s, key, scope=scope), single=True
        )

    async def purge(
        self, key: ID, *, scope: ScopeArg = None, session: Session | None = None
    ) -> None:
        """Remove one entity for good (see :meth:`Purger.purge`)."""
        await self._write(session, lambda s: self.purger.purge(s, key, scope=scope), single=True)

    # -- batch operations -------------------------------------------------------------------

    async def batch_create(
        self, entities: Iterable[T], *, scope: ScopeArg = None, session: Session | None = None
    ) -> list[T]:
        """Store many new entities, all or none (see :meth:`Creator.batch_create`)."""
        entities = list(entities)
        return await self._write(
            session, lambda s: self.creator.batch_create(s, entities, scope=scope)
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
