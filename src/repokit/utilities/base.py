"""What every base utility shares: its table, scope and key handling, id chunking."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from repokit.conditions import TRUE, Condition, and_, crosses
from repokit.database import Session
from repokit.errors import InvalidQuery, InvalidValue, ScopeViolation, excerpt
from repokit.evaluate import evaluate, substitute
from repokit.scope import (
    ScopeArg,
    check_requirements,
    name_missing,
    requirement_guard,
    requirements,
    scope_condition,
)
from repokit.semijoins import settle
from repokit.tables import Row, Table

__all__ = ["Deleted", "Utility"]

T = TypeVar("T")


class Deleted(enum.Enum):
    """Which entities a read sees on a table with a soft-delete marker."""

    #: Live entities only (the default).
    EXCLUDE = "exclude"
    #: Live and soft-deleted entities.
    INCLUDE = "include"
    #: Soft-deleted entities only.
    ONLY = "only"


class Utility(Generic[T]):
    """Base of the utilities: bound to one table, stateless, reusable.

    Args:
        table: the entities' table.
        scope_required: refuse ``scope=None`` on every operation, as a table
            declared with ``scope_required=True`` does (CONTRACT §24).
    """

    __slots__ = ("scope_required", "table")

    def __init__(self, table: Table[T], *, scope_required: bool = False) -> None:
        if not isinstance(table, Table):
            raise TypeError(f"expected a Table, got {table!r}")
        if not isinstance(scope_required, bool):
            raise TypeError(f"scope_required must be True or False, got {scope_required!r}")
        self.table: Table[T] = table
        #: Whether every operation needs an explicit scope (the table's or the caller's say).
        self.scope_required: bool = scope_required or table.scope_required

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.table!r})"

    # -- building conditions ----------------------------------------------------------------

    def _now(self, session: Session) -> datetime | None:
        """The time a write stamps (the database's clock), or ``None`` without timestamps."""
        return None if self.table.timestamps is None else session.database.now()

    def key(self, key: Any) -> Any:
        """The normalised primary key (raises InvalidValue naming the field, CONTRACT §22)."""
        return self.table.normalize_key(key)

    def key_condition(self, key: Any) -> Condition:
        """The primary key equals *key* (normalised by :meth:`key`)."""
        return self.table.key_condition(key)

    def scope(self, scope: ScopeArg, what: str) -> Condition | None:
        """The condition of *scope* for the operation *what*; ``None`` when unscoped.

        Every operation resolves its scope here, before any I/O: the one place
        the required scope is enforced (CONTRACT §6, §24).

        Raises:
            InvalidQuery: ``scope=None`` where a scope is required (naming the
                entity and the operation), or a bad scope (:func:`scope_condition`).
        """
        if scope is None and self.scope_required:
            raise InvalidQuery(
                f"{what} on {self.table.entity_name} ({self.table.name!r}) needs an explicit "
                "scope: the table or repository is scope_required; pass scope=GlobalScope() "
                "for unscoped access"
            )
        return scope_condition(scope, self.table)

    async def within(self, session: Session, condition: Condition, row: Row) -> bool:
        """Whether the complete *row* satisfies *condition*, semi-joins included.

        Without a semi-join this is :func:`~repokit.evaluate.evaluate`, no
        I/O. A semi-join takes the row's values (:func:`~repokit.evaluate.substitute`)
        and is then asked of *session*: one ``exists`` on the other table, in
        the operation's own transaction (CONTRACT §6, §25).
        """
        if crosses(condition):
            condition = await settle(substitute(condition, row), session.exists)
        return evaluate(condition, row)

    async def check_across(
        self, session: Session, condition: Condition | None, rows: Iterable[Row]
    ) -> None:
        """Raise ScopeViolation for the first of *rows* outside a scope with a semi-join.

        The rows were checked without I/O already when *condition* has no
        semi-join (then this does nothing). Rows that agree on what the
        scope reads are asked about once.
        """
        if condition is None or not crosses(condition):
            return
        fields = sorted({field for _, field in condition.fields()})
        answers: dict[Condition, bool] = {}
        for row in rows:
            known = substitute(condition, {field: row.get(field) for field in fields})
            answer = answers.get(known)
            if answer is None:
                answer = answers[known] = await self.within(session, known, row)
            if not answer:
                raise ScopeViolation(self.table.entity_name, self.table.key_of(row))

    async def check_scope(self, session: Session, scope: ScopeArg) -> None:
        """The targets *scope* requires are stored and live, read in *session* (CONTRACT §24).

        Every operation awaits it once *scope* is resolved (:meth:`scope`) and
        its other arguments checked, before its first statement. No statement
        for a scope that requires nothing.

        Raises:
            InvalidQuery: a bad declaration, before any I/O (:func:`requirements`).
            EntityNotFound: a target is missing or soft-deleted, for the target.
        """
        if scope is None:
            return
        needed = requirements(scope)
        if needed:
            await check_requirements(session, needed)

    async def scope_guard(self, session: Session, scope: ScopeArg) -> Condition:
        """What the operation ANDs into its statements for *scope*'s targets (CONTRACT §24).

        ``TRUE`` for a scope that requires nothing. Where the backend runs
        semi-joins inside its statements (``Capabilities.native_semijoins``)
        the targets ride in the operation's own statement, no round trip of
        their own: an uncorrelated semi-join per target
        (:func:`~repokit.scope.requirement_guard`). An operation whose guarded
        statement matches nothing then calls :meth:`scope_missing`, which
        tells a missing target from an empty answer. Elsewhere the targets
        are checked now (:meth:`check_scope`) and ``TRUE`` is returned.

        Raises:
            InvalidQuery: a bad declaration, before any I/O.
            EntityNotFound: (checked now) a target is missing or soft-deleted.
        """
        if scope is None:
            return TRUE
        needed = requirements(scope)
        if not needed:
            return TRUE
        if session.database.capabilities.native_semijoins:
            return requirement_guard(self.table.name, needed)
        await check_requirements(session, needed)
        return TRUE

    async def scope_missing(self, session: Session, scope: ScopeArg, guard: Condition) -> None:
        """After a statement guarded by *guard* matched nothing: a missing target's error.

        Raises ``EntityNotFound`` for the first target of *scope* missing or
        soft-deleted (one select per target table, on this failure path only);
        returns when every target is there, or when *guard* is ``TRUE`` (the
        targets were checked before: :meth:`scope_guard`).
        """
        if guard is not TRUE:
            await name_missing(session, requirements(scope))

    def visibility(self, deleted: Deleted) -> Condition:
        if not isinstance(deleted, Deleted):
            raise InvalidQuery(f"deleted must be a Deleted member, got {excerpt(deleted)}")
        if deleted is Deleted.INCLUDE:
            return TRUE
        if deleted is Deleted.ONLY:
            # Without a marker nothing is ever soft-deleted: the condition is FALSE.
            return self.table.deleted_condition()
        return self.table.live_condition()

    def filters(self, conditions: Condition | Iterable[Condition] | None) -> Condition:
        """AND the caller's conditions after checking they read this table.

        ``None`` and an empty list filter nothing (``TRUE``): harmless for reads.
        Batch writes refuse an empty list before they get here (:meth:`selection`).
        """
        if conditions is None:
            return TRUE
        if isinstance(conditions, Condition):
            conditions = (conditions,)
        items = list(conditions)
        for item in items:
            if not isinstance(item, Condition):
                raise InvalidQuery(f"expected a condition, got {excerpt(item)}")
            self.table.check_condition(item)
        return and_(*items)

    def selection(
        self,
        *,
        ids: Iterable[Any] | None,
        conditions: Condition | Iterable[Condition] | None,
        what: str,
    ) -> tuple[list[Any] | None, Condition]:
        """Normalise a batch operation's target; refuse one with neither ids nor conditions.

        An empty list of conditions is refused as well (with or without ids),
        as an empty list of scopes is: a filter builder that found nothing to
        filter on must not turn a batch write into one over every entity.
        "Everything" is said explicitly, with ``conditions=[TRUE]``.
        """
        if ids is None and conditions is None:
            raise InvalidQuery(
                f"{what} on {self.table.entity_name} needs ids or conditions; "
                "to target every entity say so with conditions=[TRUE]"
            )
        if conditions is not None and not isinstance(conditions, Condition):
            conditions = list(conditions)
            if not conditions:
                raise InvalidQuery(
                    f"{what} on {self.table.name!r} ({self.table.entity_name}): an empty list "
                    "of conditions is refused (a write over every entity must say so); pass "
                    "conditions=[TRUE] to target every entity, or skip the call"
                )
        if isinstance(ids, str | bytes):
            raise InvalidQuery(f"{what}: ids must be a collection of keys, not a string")
        keys = None if ids is None else list(dict.fromkeys(self.key(k) for k in ids))
        return keys, self.filters(conditions)

    def check_indexed_text(self, session: Session, rows: Iterable[Row]) -> None:
        """Refuse, before any I/O, text longer than the backend can hold in an index."""
        limit = session.database.capabilities.max_indexed_text_bytes
        if limit is None or not self.table.indexed_text:
            return
        for row in rows:
            for field in self.table.indexed_text:
                value = row.get(field)
                # Four bytes per character at most: most values skip the encoding.
                if isinstance(value, str) and len(value) * 4 > limit:
                    size = len(value.encode())
                    if size > limit:
                        name = self.table.fields[field].shadow_of or field
                        raise InvalidValue(
                            self.table.entity_name,
                            name,
                            row.get(name, value),
                            f"{size} bytes in UTF-8: a key or index on this backend holds "
                            f"at most {limit}",
                        )

    def chunks(self, session: Session, keys: Sequence[Any] | None) -> Iterator[Condition]:
        """The id restriction in chunks that fit the backend (``TRUE`` when there are no ids)."""
        if keys is None:
            yield TRUE
            return
        # The limit counts bound values: a composite key binds one per field (CONTRACT §22).
        size = session.database.capabilities.max_ids_per_statement
        size = max(1, size // len(self.table.key_fields))
        for start in range(0, len(keys), size):
            yield self.table.keys_condition(keys[start : start + size])
