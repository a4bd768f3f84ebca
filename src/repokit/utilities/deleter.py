"""Deleter: soft delete (one or many) and restore, on tables with a soft-delete marker."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from repokit.conditions import Condition, and_
from repokit.database import Session
from repokit.errors import EntityNotFound
from repokit.scope import ScopeArg
from repokit.tables import Row, TimestampMarker
from repokit.utilities.base import Utility

__all__ = ["Deleter"]

T = TypeVar("T")


class Deleter(Utility[T]):
    """Soft-deletes and restores entities (CONTRACT §7).

    A soft delete or restore counts as an update: it increments the version
    field, if the table has one, and sets its updated timestamp (CONTRACT §21).
    A table without a soft-delete marker raises ``UnsupportedOperation``.
    """

    __slots__ = ()

    def _deleted(self, session: Session) -> Row:
        """What marks an entity deleted, at the database's time; with the updated timestamp.

        A soft delete changes the entity, so it sets the updated timestamp as it
        increments the version (CONTRACT §21).
        """
        table = self.table
        if table.stamped is None and not isinstance(table.soft_delete, TimestampMarker):
            return table.deleted_values()  # reads no clock
        now = session.database.now()
        return table.stamp(table.deleted_values(now), now)

    def _where(self, key: Any, scope: ScopeArg, view: Condition, what: str) -> Condition:
        where = and_(self.key_condition(self.key(key)), view)
        scope_cond = self.scope(scope, what)
        return where if scope_cond is None else and_(where, scope_cond)

    async def delete(self, session: Session, key: Any, *, scope: ScopeArg = None) -> None:
        """Mark the live entity *key* deleted.

        Raises:
            UnsupportedOperation: the table has no soft-delete marker.
            EntityNotFound: missing, already deleted, or outside *scope*.
        """
        values = self._deleted(session)
        where = self._where(key, scope, self.table.live_condition(), "delete")
        session.require_writable("delete")
        guard = await self.scope_guard(session, scope)
        where = and_(where, guard)
        count = await session.update(self.table, where, values, increment=self.table.increments)
        if count == 0:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)

    async def delete_returning(self, session: Session, key: Any, *, scope: ScopeArg = None) -> T:
        """Mark the live entity *key* deleted and return it as stored, marked (CONTRACT §19).

        One statement where the backend can (``UPDATE … RETURNING``).

        Raises:
            UnsupportedOperation: the table has no soft-delete marker.
            EntityNotFound: missing, already deleted, or outside *scope*.
        """
        values = self._deleted(session)
        where = self._where(key, scope, self.table.live_condition(), "delete_returning")
        session.require_writable("delete_returning")
        guard = await self.scope_guard(session, scope)
        where = and_(where, guard)
        row = await session.update_one(self.table, where, values, increment=self.table.increments)
        if row is None:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)
        return self.table.from_row(row)

    async def batch_delete(
        self,
        session: Session,
        *,
        ids: Iterable[Any] | None = None,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
    ) -> int:
        """Mark every live entity selected by *ids* and/or *conditions* deleted; return how many.

        Refuses to run with neither ids nor conditions, or with an empty list
        of conditions (say ``conditions=[TRUE]`` to delete every live entity
        in the scope).

        Raises:
            UnsupportedOperation: the table has no soft-delete marker.
            InvalidQuery: neither ids nor conditions, an empty list of conditions.
        """
        values = self._deleted(session)
        keys, filters = self.selection(ids=ids, conditions=conditions, what="batch_delete")
        session.require_writable("batch_delete")
        base = and_(filters, self.table.live_condition())
        scope_cond = self.scope(scope, "batch_delete")
        if scope_cond is not None:
            base = and_(base, scope_cond)
        guard = await self.scope_guard(session, scope)
        base = and_(base, guard)
        total = 0
        for chunk in self.chunks(session, keys):
            where = and_(base, chunk)
            total += await session.update(
                self.table, where, values, increment=self.table.increments
            )
        if not total:
            await self.scope_missing(session, scope, guard)
        return total

    async def restore(self, session: Session, key: Any, *, scope: ScopeArg = None) -> T:
        """Unmark the soft-deleted entity *key* and return it.

        Raises:
            UnsupportedOperation: the table has no soft-delete marker.
            EntityNotFound: missing, not deleted, or outside *scope*.
            EntityAlreadyExists: a live entity now holds one of its unique keys.
        """
        values: Row = self.table.restored_values()
        if self.table.stamped is not None:
            values = self.table.stamp(values, session.database.now())
        where = self._where(key, scope, self.table.deleted_condition(), "restore")
        session.require_writable("restore")
        guard = await self.scope_guard(session, scope)
        where = and_(where, guard)
        # One statement where the backend can (UPDATE … RETURNING): the row as written.
        row = await session.update_one(self.table, where, values, increment=self.table.increments)
        if row is None:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)
        return self.table.from_row(row)
