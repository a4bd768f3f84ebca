"""Purger (hard-delete one entity by key) and BatchPurger (by ids or conditions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from repokit.conditions import Condition, and_
from repokit.database import Session
from repokit.errors import EntityNotFound
from repokit.scope import ScopeArg
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
        scope_cond = self.scope(scope)
        where = self.key_condition(normal)
        if scope_cond is not None:
            where = and_(where, scope_cond)
        count = await session.delete(self.table, where)
        if count == 0:
            raise EntityNotFound(self.table.entity_name, key)


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
        keys, filters = self.selection(ids=ids, conditions=conditions, what="batch_purge")
        session.require_writable("batch_purge")
        scope_cond = self.scope(scope)
        base = and_(filters, self.visibility(deleted))
        if scope_cond is not None:
            base = and_(base, scope_cond)
        total = 0
        for chunk in self.chunks(session, keys):
            where = and_(base, chunk)
            total += await session.delete(self.table, where)
        return total
