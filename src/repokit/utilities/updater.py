"""Updater (update one entity by key) and BatchUpdater (by ids or conditions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from repokit.backend import Select
from repokit.conditions import Compare, Condition, IsNull, Op, and_, not_, or_
from repokit.database import Session
from repokit.errors import (
    ConcurrentModification,
    EntityNotFound,
    InvalidQuery,
    ScopeViolation,
    TransactionConflict,
    excerpt,
)
from repokit.evaluate import substitute
from repokit.scope import ScopeArg
from repokit.states import UpdaterSpec
from repokit.tables import Row, Table
from repokit.types import Kind
from repokit.utilities.base import Utility

__all__ = ["BatchUpdater", "Updater", "changed_condition", "spec_values", "stamped"]

T = TypeVar("T")

UpdateArg = UpdaterSpec | Mapping[str, Any]


def spec_values(utility: Utility[Any], spec: UpdateArg) -> Row:
    """Validate an update's values (spec or mapping) into a normalised row with shadows."""
    table = utility.table
    if isinstance(spec, UpdaterSpec):
        raw = spec.values()
    elif isinstance(spec, Mapping):
        raw = dict(spec)
    else:
        raise InvalidQuery(f"an update takes an UpdaterSpec or a mapping, got {excerpt(spec)}")
    for field in raw:
        if field not in table.declared:
            raise InvalidQuery(f"{table.entity_name} has no field {excerpt(field)}")
        if field in table.key_fields:
            raise InvalidQuery(f"{table.entity_name}.{field}: the primary key cannot be updated")
        if field == table.version:
            raise InvalidQuery(
                f"{table.entity_name}.{field}: the version field is maintained by repokit"
            )
        if field in table.maintained:
            raise InvalidQuery(
                f"{table.entity_name}.{field}: a timestamp maintained by repokit cannot be "
                "updated (CONTRACT §21)"
            )
    return table.normalize_values(raw)


def stamped(utility: Utility[Any], session: Session, values: Row) -> Row:
    """*values* of a write that changes entities, with the updated timestamp (CONTRACT §21)."""
    table = utility.table
    if table.stamped is None:
        return values
    return table.stamp(values, session.database.now())


def changed_condition(table: Table[Any], values: Row) -> Condition | None:
    """True for a stored row any of *values* would change; ``None`` when not expressible.

    ``None`` also for no values at all. Writes guarded by it write nothing for
    an update that changes nothing (CONTRACT §9); JSON fields can only be
    tested for null, so with one among *values* the caller compares in Python.
    """
    tests: list[Condition] = []
    for field, value in values.items():
        ftype = table.fields[field].type
        if ftype.kind is Kind.JSON:
            return None  # JSON fields can only be tested for null
        if table.fields[field].shadow_of is None:
            # Stored forms already (an enum's value, a floored datetime): build
            # the nodes directly rather than through the column's operand checks.
            if value is None:
                tests.append(not_(IsNull(table.name, field)))
            else:
                tests.append(Compare(table.name, field, Op.NE, value))
    return or_(*tests) if tests else None


class Updater(Utility[T]):
    """Updates single entities by primary key."""

    __slots__ = ()

    async def update(
        self,
        session: Session,
        key: Any,
        spec: UpdateArg,
        *,
        scope: ScopeArg = None,
        expected_version: int | None = None,
    ) -> T:
        """Apply *spec* to the live entity *key* and return it as stored.

        An update that changes nothing writes nothing and returns the current
        entity. With a version field every write increments it, and
        *expected_version* makes the write conditional on the stored version.

        Raises:
            InvalidValue / InvalidQuery: bad values or fields (before any I/O).
            EntityNotFound: missing, deleted or outside *scope*.
            ConcurrentModification: the stored version is not *expected_version*.
            ScopeViolation: the update would move the entity out of *scope*.
            EntityAlreadyExists: the new values collide with a unique key (or
                the domain exception the key declares, chained to it).
        """
        table = self.table
        values = spec_values(self, spec)
        normal = self.key(key)
        if expected_version is not None and table.version is None:
            raise InvalidQuery(f"{table.entity_name} has no version field for expected_version")
        session.require_writable("update")
        self.check_indexed_text(session, (values,))
        scope_cond = self.scope(scope, "update")
        found = and_(self.key_condition(normal), table.live_condition())
        if scope_cond is not None:
            found = and_(found, scope_cond)
        targets = await self.scope_guard(session, scope)
        found = and_(found, targets)  # the scope's targets ride in each statement (§24)
        changed = self._changed(values)
        if changed is not None:
            # One statement: write only if the entity is there, in scope, at the
            # expected version, stays in scope and actually changes. Only then is
            # its updated timestamp set (the guard compares the caller's values).
            written = stamped(self, session, values)
            guard = and_(found, changed)
            if expected_version is not None:
                assert table.version is not None
                guard = and_(guard, table.c[table.version].eq(expected_version))
            if scope_cond is not None:
                guard = and_(guard, substitute(scope_cond, written))
            increment = table.increments
            row = await session.update_one(table, guard, written, increment=increment)
            if row is not None:
                return table.from_row(row)
        # Nothing written: find out why (or, for values SQL cannot compare, read first).
        return await self._read_then_write(
            session, key, values, found, scope_cond, expected_version, (scope, targets)
        )

    def _changed(self, values: Row) -> Condition | None:
        """True when any of *values* differs from the stored one (None: not expressible)."""
        return changed_condition(self.table, values)

    async def _read_then_write(
        self,
        session: Session,
        key: Any,
        values: Row,
        found: Condition,
        scope_cond: Condition | None,
        expected_version: int | None,
        guarded: tuple[ScopeArg, Condition],
    ) -> T:
        table = self.table
        query = Select(table, found, limit=1)
        rows = await session.select(query)
        if not rows:
            await self.scope_missing(session, *guarded)
            raise EntityNotFound(table.entity_name, key)
        current = rows[0]
        stored_version = current.get(table.version) if table.version else None
        if expected_version is not None and stored_version != expected_version:
            raise ConcurrentModification(
                table.entity_name,
                key,
                expected_version=expected_version,
                actual_version=stored_version,
            )
        changed = {f: v for f, v in values.items() if current.get(f) != v}
        if not changed:
            return table.from_row(current)
        changed = stamped(self, session, changed)
        new = {**current, **changed}
        if scope_cond is not None and not await self.within(session, scope_cond, new):
            raise ScopeViolation(table.entity_name, key)
        guard = found
        increment: tuple[str, ...] = ()
        if table.version is not None:
            assert isinstance(stored_version, int)
            guard = and_(found, table.c[table.version].eq(stored_version))
            increment = (table.version,)
            new[table.version] = stored_version + 1
        count = await session.update(table, guard, changed, increment=increment)
        if count == 0:
            # The entity changed or vanished between our read and our write.
            if table.version is None:
                raise EntityNotFound(table.entity_name, key)
            if expected_version is not None:
                raise ConcurrentModification(
                    table.entity_name, key, expected_version=expected_version
                )
            raise TransactionConflict(
                f"{table.entity_name} {excerpt(key)} changed during the update"
            )
        return table.from_row(new)


class BatchUpdater(Utility[T]):
    """Updates many entities, selected by ids or by conditions, all or none."""

    __slots__ = ()

    async def batch_update(
        self,
        session: Session,
        spec: UpdateArg,
        *,
        ids: Iterable[Any] | None = None,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
    ) -> int:
        """Apply *spec* to every live entity selected by *ids* and/or *conditions*.

        Refuses to run with neither, or with an empty list of conditions (an
        update of the whole table must say ``conditions=[TRUE]``). Returns the
        number of matched entities.

        Raises:
            InvalidQuery: neither ids nor conditions, an empty list of
                conditions; bad fields.
            ScopeViolation: some matched entity would leave *scope*; nothing is written.
        """
        table = self.table
        values = spec_values(self, spec)
        keys, filters = self.selection(ids=ids, conditions=conditions, what="batch_update")
        session.require_writable("batch_update")
        self.check_indexed_text(session, (values,))
        scope_cond = self.scope(scope, "batch_update")
        base = and_(filters, table.live_condition())
        if scope_cond is not None:
            base = and_(base, scope_cond)
        guard = await self.scope_guard(session, scope)
        base = and_(base, guard)  # the scope's targets ride in each statement (§24)
        if not values:
            total = await self._count(session, keys, base)
            if not total:
                await self.scope_missing(session, scope, guard)
            return total
        # Every matched entity is written (and its version incremented), so every one
        # gets the updated timestamp too (CONTRACT §21).
        values = stamped(self, session, values)
        if scope_cond is not None:
            await self._check_scope(session, keys, base, scope_cond, values)
        increment = table.increments
        total = 0
        for chunk in self.chunks(session, keys):
            where = and_(base, chunk)
            total += await session.update(table, where, values, increment=increment)
        if not total:
            await self.scope_missing(session, scope, guard)
        return total

    async def _count(self, session: Session, keys: list[Any] | None, base: Condition) -> int:
        total = 0
        for chunk in self.chunks(session, keys):
            where = and_(base, chunk)
            total += await session.count(self.table, where)
        return total

    async def _check_scope(
        self,
        session: Session,
        keys: list[Any] | None,
        base: Condition,
        scope_cond: Condition,
        values: Row,
    ) -> None:
        # Matched entities satisfy the scope now; after the update they do unless
        # the scope reads an updated field. Fix those fields to their new values
        # and look for a matched entity the remaining condition rejects.
        updated = set(values)
        if not any(field in updated for _, field in scope_cond.fields()):
            return
        leaving = not_(substitute(scope_cond, values))
        for chunk in self.chunks(session, keys):
            query = Select(self.table, and_(base, chunk, leaving), limit=1)
            rows = await session.select(query)
            if rows:
                raise ScopeViolation(self.table.entity_name, self.table.key_of(rows[0]))
