"""Upserter: insert an entity, or update the one that holds its key (CONTRACT §18).

An upsert names the key that decides (``on=``: the primary key or one
declared unique key). When no stored entity holds the entity's value of that
key, the entity is inserted as given; when a live one in the caller's scope
holds it, that one is updated with the upsert's values (by default every
field but the primary key, the key's own fields and the version field) and
keeps its primary key. Every rule is folded into one guard the backend
applies in its native upsert (:meth:`repokit.backend.BackendSession.upsert`);
when the guard leaves the stored entity as it is, a read says why, exactly as
:class:`~repokit.utilities.updater.Updater` finds out why its guarded write
matched nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from repokit.backend import Select, Upsert
from repokit.conditions import FALSE, Condition, and_, crosses
from repokit.database import Session
from repokit.errors import (
    ConcurrentModification,
    EntityAlreadyExists,
    InvalidQuery,
    InvalidValue,
    ScopeViolation,
    TransactionConflict,
    excerpt,
)
from repokit.evaluate import evaluate, predicate, substitute
from repokit.scope import ScopeArg
from repokit.tables import Row, Unique
from repokit.utilities.base import Utility
from repokit.utilities.updater import UpdateArg, changed_condition, spec_values

__all__ = ["KeyArg", "Upserted", "Upserter"]

T = TypeVar("T")

#: What ``on=`` takes: a field name (a one-field key) or the tuple of a key's fields.
KeyArg = str | Sequence[str]

#: How often one upsert is tried when the entity holding its key changes or vanishes
#: between the write and the read that explains it (only under concurrent writers).
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Upserted(Generic[T]):
    """What an upsert did to one entity.

    Attributes:
        entity: the entity as stored: the one inserted, or the stored one as
            updated (with its own primary key), or as it was when the update
            changed nothing.
        inserted: whether the entity was inserted (``False``: an entity that
            held the key was updated or left as it was).
    """

    entity: T
    inserted: bool


@dataclass(frozen=True, slots=True)
class _Shape:
    """What an upsert call says for every entity it writes, checked once."""

    key: Unique | None
    fields: tuple[str, ...]
    #: The update's values, or ``None``: every field but the fixed ones, per entity.
    values: Row | None
    #: What an update with ``update=None`` never sets.
    fixed: frozenset[str]
    scope: Condition | None
    #: The version test of ``expected_version`` (``None`` without one).
    version: Condition | None
    expected_version: int | None


class Upserter(Utility[T]):
    """Upserts entities of one table: insert, or update the entity that holds the key."""

    __slots__ = ()

    def deciding_key(self, on: KeyArg) -> Unique | None:
        """The key ``on=`` names: a declared unique key, or ``None`` for the primary key.

        The fields may come in any order; a single field name is a one-field key.

        Raises:
            InvalidQuery: *on* names neither the primary key nor a declared
                unique key (before any I/O).
        """
        table = self.table
        fields = (on,) if isinstance(on, str) else on
        if not isinstance(fields, Sequence) or not all(isinstance(f, str) for f in fields):
            raise InvalidQuery(
                f"upsert on {table.entity_name}: on= takes a field name or a tuple of "
                f"field names, got {excerpt(on)}"
            )
        wanted = set(fields)
        if wanted == set(table.key_fields):
            return None
        for unique in table.unique:
            if wanted == set(unique.fields):
                return unique
        keys = [table.key_fields, *(unique.fields for unique in table.unique)]
        raise InvalidQuery(
            f"upsert on {table.entity_name}: on={tuple(fields)!r} is neither its primary key "
            f"nor one of its unique keys; it may be one of {', '.join(map(repr, keys))}"
        )

    def _shape(
        self,
        on: KeyArg,
        update: UpdateArg | None,
        scope: ScopeArg,
        expected_version: int | None,
        what: str,
    ) -> _Shape:
        table = self.table
        key = self.deciding_key(on)
        fields = table.key_fields if key is None else key.fields
        fixed = {*table.key_fields, *fields}
        fixed.update(table.shadows[f] for f in fields if f in table.shadows)
        if table.version is not None:
            fixed.add(table.version)
        fixed.update(table.maintained)  # set by repokit, on the update only if it changes
        values = None
        if update is not None:
            values = spec_values(self, update)
            for field in values:
                if field in fields:
                    raise InvalidQuery(
                        f"{table.entity_name}.{field}: a field of the upsert's key "
                        f"({', '.join(fields)}) cannot be updated by it"
                    )
        version = None
        if expected_version is not None:
            if table.version is None:
                raise InvalidQuery(f"{table.entity_name} has no version field for expected_version")
            version = table.c[table.version].eq(expected_version)
        return _Shape(
            key,
            fields,
            values,
            frozenset(fixed),
            self.scope(scope, what),
            version,
            expected_version,
        )

    def _upsert(self, shape: _Shape, entity: T, now: datetime | None) -> Upsert:
        """The entity's upsert: its row, scope and key checked, its guard built (no I/O).

        *now* is what the maintained timestamps get (CONTRACT §21): both on an
        insert, the updated one on an update that changes the stored entity.
        """
        table = self.table
        row = table.to_row(entity, now)
        scope = shape.scope
        # A scope with a semi-join needs the database: checked by check_across.
        if scope is not None and not crosses(scope) and not predicate(scope)(row):
            raise ScopeViolation(table.entity_name, table.key_of(row))
        for field in () if shape.key is not None and shape.key.nulls_equal else shape.fields:
            # Where nulls are equal a None holds the key like any value (CONTRACT §22).
            if row[field] is None:
                raise InvalidValue(
                    table.entity_name,
                    field,
                    None,
                    "a null never holds a unique key (CONTRACT §8), so it cannot decide an upsert",
                )
        if shape.values is None:
            values = {f: v for f, v in row.items() if f not in shape.fixed}
        else:
            values = shape.values
        # The stored entity is updated only if it is live, in scope, at the expected
        # version, stays in scope and actually changes (CONTRACT §18).
        changed = changed_condition(table, values)
        guard: Condition
        if changed is None:
            # Nothing to set, or JSON (which SQL cannot compare): core settles the update.
            guard = FALSE
        else:
            parts = [table.live_condition(), changed]
            if scope is not None:
                parts += (scope, substitute(scope, values))
            if shape.version is not None:
                parts.append(shape.version)
            guard = and_(*parts)
        if values and table.stamped is not None:
            # After the guard, which compares the caller's values only: an update that
            # changes nothing leaves the updated timestamp as it is.
            assert now is not None
            values = table.stamp(values, now)
        return Upsert(table, row, shape.key, values, guard, table.increments)

    async def upsert(
        self,
        session: Session,
        entity: T,
        *,
        on: KeyArg,
        update: UpdateArg | None = None,
        scope: ScopeArg = None,
        expected_version: int | None = None,
    ) -> Upserted[T]:
        """Insert *entity*, or update the stored entity that holds its key *on*.

        Args:
            session: a read-write session.
            entity: the entity to insert when no stored entity holds its key.
            on: the deciding key: the primary key or a declared unique key, by
                its field names (``"id"``, ``("tenant", "name")``).
            update: what to set on the entity that holds the key: an
                ``UpdaterSpec`` or a mapping, as for an update; ``None`` sets
                every field of *entity* but the primary key, the fields of *on*
                and the version field.
            scope: the caller's scope: the entity must lie in it, and only an
                entity in it is updated.
            expected_version: with a version field: an entity holding the key
                is updated only at this version.

        Returns:
            The entity as stored, and whether it was inserted.

        Raises:
            InvalidQuery: *on* names no key; *update* names the primary key,
                the version field, a field of *on* or an unknown field (before
                any I/O).
            InvalidValue: a value breaks the value rules, or a field of *on* is
                null (before any I/O).
            ScopeViolation: *entity* lies outside *scope*, or the update would
                move the stored entity out of it; nothing is written.
            EntityAlreadyExists: the key is held by an entity the upsert may not
                update (soft-deleted, or outside *scope*), or the entity
                collides on another key.
            ConcurrentModification: the entity holding the key is not at
                *expected_version*.
        """
        shape = self._shape(on, update, scope, expected_version, "upsert")
        upsert = self._upsert(shape, entity, self._now(session))
        session.require_writable("upsert")
        self.check_indexed_text(session, (upsert.row, dict(upsert.values)))
        await self.check_scope(session, scope)
        await self.check_across(session, shape.scope, (upsert.row,))
        return await self._run(session, shape, upsert)

    async def batch_upsert(
        self,
        session: Session,
        entities: Iterable[T],
        *,
        on: KeyArg,
        update: UpdateArg | None = None,
        scope: ScopeArg = None,
    ) -> list[Upserted[T]]:
        """Upsert many entities, all or none, in input order (see :meth:`upsert`).

        Every entity is validated and scope-checked before anything is
        written. The entities are upserted one after the other, so a later
        entity with the key of an earlier one updates it. An error after part
        of the batch was written aborts the transaction (CONTRACT §18).

        Returns:
            One :class:`Upserted` per entity, in input order.
        """
        shape = self._shape(on, update, scope, None, "batch_upsert")
        now = self._now(session)
        upserts = [self._upsert(shape, entity, now) for entity in entities]
        session.require_writable("batch_upsert")
        self.check_indexed_text(session, (row for u in upserts for row in (u.row, dict(u.values))))
        await self.check_scope(session, scope)
        await self.check_across(session, shape.scope, (u.row for u in upserts))
        results: list[Upserted[T]] = []
        try:
            for upsert in upserts:
                results.append(await self._run(session, shape, upsert))
        except Exception as exc:
            if results:
                session.fail(exc)  # part of the batch is written: none of it may commit
            raise
        return results

    async def _run(self, session: Session, shape: _Shape, upsert: Upsert) -> Upserted[T]:
        table = self.table
        key = upsert.key
        if key is not None and key.where is not None and not evaluate(key.where, upsert.row):
            # A soft-deleted entity never holds a key among live entities (§7), so
            # this one can collide with nobody on it: inserting it is all there is
            # to do, and any collision is on another key, as for a create (§18).
            await session.insert(table, (upsert.row,))
            return Upserted(table.from_row(upsert.row), True)
        for _ in range(_ATTEMPTS):
            result = await session.upsert(upsert)
            if result.row is not None:
                return Upserted(table.from_row(result.row), result.inserted)
            # A stored entity holds the key and was left as it is: find out why.
            found = await session.select(Select(table, upsert.holds(), limit=1))
            if found:
                settled = await self._settle(session, shape, upsert, found[0])
                if settled is not None:
                    return settled
            # It vanished or changed in between (concurrent writers): try again.
        raise TransactionConflict(
            f"{table.entity_name}: the entity holding the key ({', '.join(upsert.fields)}) "
            "of an upsert kept changing"
        )

    async def _settle(
        self, session: Session, shape: _Shape, upsert: Upsert, holder: Row
    ) -> Upserted[T] | None:
        """Why *holder* was not updated: raise, return it unchanged, or update it now.

        ``None``: it changed again before the write (the caller tries once more).
        """
        table = self.table
        scope = shape.scope
        key = table.key_of(holder)
        live = table.live_condition()
        if not evaluate(live, holder) or (
            scope is not None and not await self.within(session, scope, holder)
        ):
            # As a create of the entity would: the key is taken, by an entity this
            # upsert may not touch. Nothing of it is revealed (CONTRACT §18).
            sent = tuple(upsert.row[field] for field in upsert.fields)
            error = EntityAlreadyExists(table.entity_name, upsert.fields, f"key {excerpt(sent)}")
            domain = table.domain_error(error)  # the key's own exception (CONTRACT §21)
            if domain is not None:
                raise domain from error
            raise error
        if shape.expected_version is not None:
            assert table.version is not None
            stored = holder.get(table.version)
            if stored != shape.expected_version:
                raise ConcurrentModification(
                    table.entity_name,
                    key,
                    expected_version=shape.expected_version,
                    actual_version=stored,
                )
        values = upsert.values
        stamp = table.stamped
        if all(holder.get(f) == v for f, v in values.items() if f != stamp):
            return Upserted(table.from_row(holder), False)  # changes nothing: writes nothing
        if scope is not None and not await self.within(session, scope, {**holder, **values}):
            raise ScopeViolation(table.entity_name, key)
        # The guard could not say whether the values change anything (JSON), or the
        # entity changed since: write every value, under the rules that do not depend on it.
        guard = and_(table.key_condition(key), live)
        if scope is not None:
            guard = and_(guard, scope)
        if shape.version is not None:
            guard = and_(guard, shape.version)
        row = await session.update_one(table, guard, values, increment=upsert.increment)
        return None if row is None else Upserted(table.from_row(row), False)
