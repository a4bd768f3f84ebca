"""Purger (hard-delete one entity by key) and BatchPurger (by ids or conditions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from repokit.conditions import Condition, and_
from repokit.database import Session
from repokit.errors import EntityNotFound
from repokit.evaluate import sort_rows
from repokit.scope import ScopeArg
from repokit.tables import Row
from repokit.utilities.base import Deleted, Utility

__all__ = ["BatchPurger", "Purger"]

T = TypeVar("T")


class Purger(Utility[T]):
    """Removes single entities for good, live or soft-deleted."""

    __slots__ = ()

    async def purge(self, session: Session, key: Any, *, scope: ScopeArg = None) -> None:
        """Remove the entity *key* (live or soft-deleted).

        Raises:
            EntityNotFound: missing or outside *scope*.
        """
        normal = self.key(key)
        session.require_writable("purge")
        scope_cond = self.scope(scope, "purge")
        where = self.key_condition(normal)
        if scope_cond is not None:
            where = and_(where, scope_cond)
        guard = await self.scope_guard(session, scope)
        count = await session.delete(self.table, and_(where, guard))
        if count == 0:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)

    async def purge_returning(self, session: Session, key: Any, *, scope: ScopeArg = None) -> T:
        """Remove the entity *key* (live or soft-deleted) and return it as it was.

        One statement where the backend can (``DELETE … RETURNING``, CONTRACT §19).

        Raises:
            EntityNotFound: missing or outside *scope*.
        """
        normal = self.key(key)
        session.require_writable("purge_returning")
        scope_cond = self.scope(scope, "purge_returning")
        where = self.key_condition(normal)
        if scope_cond is not None:
            where = and_(where, scope_cond)
        guard = await self.scope_guard(session, scope)
        rows = await session.delete_returning(self.table, and_(where, guard))
        if not rows:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)
        return self.table.from_row(rows[0])


class BatchPurger(Utility[T]):
    """Removes many entities for good, selected by ids or conditions, all or none."""

    __slots__ = ()

    async def batch_purge(
        self,
        session: Session,
        *,
        ids: Iterable[Any] | None = None,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.INCLUDE,
    ) -> int:
        """Remove every entity selected by *ids* and/or *conditions*; return how many.

        Like :meth:`Purger.purge` it reaches soft-deleted entities too unless
        *deleted* says otherwise. Refuses to run with neither ids nor conditions,
        or with an empty list of conditions (say ``conditions=[TRUE]`` to purge
        every entity in the scope).

        Raises:
            InvalidQuery: neither ids nor conditions, an empty list of conditions.
        """
        keys, base = self._target(ids, conditions, scope, deleted, "batch_purge")
        session.require_writable("batch_purge")
        guard = await self.scope_guard(session, scope)
        base = and_(base, guard)
        total = 0
        for chunk in self.chunks(session, keys):
            where = and_(base, chunk)
            total += await session.delete(self.table, where)
        if not total:
            await self.scope_missing(session, scope, guard)
        return total

    async def batch_purge_returning(
        self,
        session: Session,
        *,
        ids: Iterable[Any] | None = None,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.INCLUDE,
    ) -> list[T]:
        """:meth:`batch_purge`, returning the entities removed, by primary key ascending.

        One statement per chunk where the backend can (``DELETE … RETURNING``,
        CONTRACT §19); the same target rules as :meth:`batch_purge`.

        Raises:
            InvalidQuery: neither ids nor conditions, an empty list of conditions.
        """
        keys, base = self._target(ids, conditions, scope, deleted, "batch_purge_returning")
        session.require_writable("batch_purge_returning")
        guard = await self.scope_guard(session, scope)
        base = and_(base, guard)
        rows: list[Row] = []
        for chunk in self.chunks(session, keys):
            rows += await session.delete_returning(self.table, and_(base, chunk))
        if not rows:
            await self.scope_missing(session, scope, guard)
        # The backends return deleted rows in no particular order: one order for all.
        ordered = sort_rows(rows, tuple(self.table.c[f].asc() for f in self.table.key_fields))
        return [self.table.from_row(row) for row in ordered]

    def _target(
        self,
        ids: Iterable[Any] | None,
        conditions: Condition | Iterable[Condition] | None,
        scope: ScopeArg,
        deleted: Deleted,
        what: str,
    ) -> tuple[list[Any] | None, Condition]:
        keys, filters = self.selection(ids=ids, conditions=conditions, what=what)
        scope_cond = self.scope(scope, what)
        base = and_(filters, self.visibility(deleted))
        if scope_cond is not None:
            base = and_(base, scope_cond)
        return keys, base
