"""Creator: create one entity, or many in one all-or-nothing batch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from repokit.conditions import TRUE, Condition, crosses
from repokit.database import Session
from repokit.errors import ScopeViolation
from repokit.evaluate import predicate
from repokit.scope import ScopeArg
from repokit.tables import Row
from repokit.utilities.base import Utility

__all__ = ["Creator"]

T = TypeVar("T")


class Creator(Utility[T]):
    """Creates entities of one table."""

    __slots__ = ()

    def _rows(
        self, entities: Iterable[T], scope: ScopeArg, what: str, now: datetime | None = None
    ) -> tuple[list[Row], Condition | None]:
        # The maintained timestamps hold *now*, one time for the whole batch (CONTRACT §21).
        to_row = self.table.to_row
        rows = [to_row(entity, now) for entity in entities]
        condition = self.scope(scope, what)
        # A scope with a semi-join needs the database: checked by check_across.
        if condition is not None and not crosses(condition):
            within = predicate(condition)
            for row in rows:
                if not within(row):
                    raise ScopeViolation(self.table.entity_name, self.table.key_of(row))
        return rows, condition

    async def create(self, session: Session, entity: T, *, scope: ScopeArg = None) -> T:
        """Store a new entity and return it as stored (values normalised).

        Raises:
            InvalidValue: a value breaks the value rules (before any I/O).
            ScopeViolation: the entity lies outside *scope*; nothing is written.
            EntityAlreadyExists: its primary key or a unique key is taken (or
                the domain exception the key declares, chained to it).
            EntityNotFound: a target *scope* requires is missing (CONTRACT §24).
        """
        session.require_writable("create")
        rows, condition = self._rows((entity,), scope, "create", self._now(session))
        self.check_indexed_text(session, rows)
        guard = await self.scope_guard(session, scope)
        await self.check_across(session, condition, rows)
        if guard is TRUE:
            await session.insert(self.table, rows)
        elif not await session.insert_if(self.table, rows[0], guard):
            await self.scope_missing(session, scope, guard)
            # Every target is there after all (created meanwhile): written as without one.
            await session.insert(self.table, rows)
        return self.table.from_row(rows[0])

    async def batch_create(
        self, session: Session, entities: Iterable[T], *, scope: ScopeArg = None
    ) -> list[T]:
        """Store many new entities, all or none, and return them as stored.

        Every entity is validated and scope-checked before anything is
        written; the backend splits the insert into chunks within the one
        transaction.
        """
        session.require_writable("batch_create")
        rows, condition = self._rows(entities, scope, "batch_create", self._now(session))
        self.check_indexed_text(session, rows)
        await self.check_scope(session, scope)
        await self.check_across(session, condition, rows)
        if rows:
            await session.insert(self.table, rows)
        from_row = self.table.from_row
        return [from_row(row) for row in rows]
