"""BulkWriter: writes of many entities that succeed or fail one by one, each with its outcome.

The platform's two kinds of multi-entity writes, side by side:

* ``batch_*`` (:class:`~repokit.utilities.BatchUpdater`, …): **atomic**. Every
  entity is written or none is; the answer is a count (or the entities).
* ``bulk_*`` (this module): **per item**. Each item is atomic on its own,
  one failing does not stop the others, and the answer lists, in input
  order, each item's :class:`Outcome`: the stored entity, or the repokit
  error it met.

The errors an item may meet are :data:`ITEM_ERRORS` (missing, taken key,
stale version, out of scope, a bad value, a broken reference), and the domain
exception a key declares for a collision (CONTRACT §21), which fails its item
as the ``EntityAlreadyExists`` it is chained to would; any other
error (the server gone, a conflict the transaction runner gave up on) stops
the whole call and propagates. Values are validated before any I/O, and an
item whose values fail validation fails alone, without a round trip.

Inside a session, each item runs in a savepoint (``Session.savepoint()``):
an item that fails rolls back to it and the session goes on. That needs the
``savepoints`` capability; :class:`~repokit.Repository`'s ``bulk_*`` methods
without ``session=`` run chunks of items in transactions of their own where
the backend has savepoints, and each item in a transaction of its own where
it has not (MongoDB: an error inside a MongoDB transaction aborts it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from repokit.database import Session
from repokit.errors import (
    ConcurrentModification,
    EntityAlreadyExists,
    EntityNotFound,
    IntegrityViolation,
    InvalidValue,
    RepositoryError,
    ScopeViolation,
    UnsupportedOperation,
)
from repokit.integrity import reference_errors
from repokit.scope import ScopeArg
from repokit.tables import Table
from repokit.utilities.base import Utility
from repokit.utilities.creator import Creator
from repokit.utilities.deleter import Deleter
from repokit.utilities.purger import Purger
from repokit.utilities.updater import UpdateArg, Updater, spec_values

__all__ = ["ITEM_ERRORS", "BulkWriter", "Outcome", "item_error"]

T = TypeVar("T")
E = TypeVar("E")

#: The errors one item of a bulk operation may meet without stopping the others.
ITEM_ERRORS: tuple[type[RepositoryError], ...] = (
    EntityNotFound,
    EntityAlreadyExists,
    ConcurrentModification,
    ScopeViolation,
    InvalidValue,
    IntegrityViolation,
)


@dataclass(frozen=True, slots=True)
class Outcome(Generic[E]):
    """What one item of a bulk operation came to.

    Attributes:
        key: the item's primary key (as given; for a create, the entity's).
        entity: the entity as stored after the item (for a delete: marked
            deleted); ``None`` if the item failed, and for a purge.
        error: the error the item met, exactly what the single-entity
            operation would raise: a repokit error, or the domain exception
            its key declares (CONTRACT §21, ``__cause__`` the
            ``EntityAlreadyExists``); ``None`` if it succeeded.
    """

    key: Any
    entity: E | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None


def item_error(error: Exception, table: Table[Any]) -> bool:
    """Whether *error* fails only its item: an item error, or a declared key's exception.

    A domain exception counts only as the one core raised for a collision
    (chained to the ``EntityAlreadyExists``, CONTRACT §21), not as any
    exception of its class.
    """
    if isinstance(error, ITEM_ERRORS):
        return True
    if isinstance(error, table.key_errors) and isinstance(error.__cause__, EntityAlreadyExists):
        return True
    # A reference's declared exception, chained to core's IntegrityViolation (CONTRACT §23).
    declared = reference_errors(table)
    return bool(declared) and (
        isinstance(error, declared) and isinstance(error.__cause__, IntegrityViolation)
    )


#: One item's work in a session, and its check before any I/O (raises an item error).
Item = tuple[Any, Callable[[], None], Callable[[Session], Awaitable[Any]]]


class BulkWriter(Utility[T]):
    """Per-item creates, updates, deletes and purges of one table, inside one session."""

    __slots__ = ("_creator", "_deleter", "_purger", "_updater")

    def __init__(self, table: Any, *, scope_required: bool = False) -> None:
        super().__init__(table, scope_required=scope_required)
        required = self.scope_required
        self._creator: Creator[T] = Creator(table, scope_required=required)
        self._updater: Updater[T] = Updater(table, scope_required=required)
        self._deleter: Deleter[T] = Deleter(table, scope_required=required)
        self._purger: Purger[T] = Purger(table, scope_required=required)

    # -- the items of each operation (also what Repository runs without a session) ---------

    def create_items(self, entities: Iterable[T], *, scope: ScopeArg = None) -> list[Item]:
        """The items of :meth:`bulk_create`."""
        creator, key_of = self._creator, self.table.key_of_entity
        self.scope(scope, "bulk_create")  # the call's scope, refused whole before any item

        def item(entity: T) -> Item:
            def check() -> None:
                creator._rows((entity,), scope, "bulk_create")

            async def work(session: Session) -> T:
                return await creator.create(session, entity, scope=scope)

            return _entity_key(key_of, entity), check, work

        return [item(entity) for entity in entities]

    def update_items(
        self, updates: Mapping[Any, UpdateArg], *, scope: ScopeArg = None
    ) -> list[Item]:
        """The items of :meth:`bulk_update`."""
        if not isinstance(updates, Mapping):
            raise TypeError(f"bulk_update takes a mapping of keys to updates, got {updates!r}")
        updater = self._updater
        self.scope(scope, "bulk_update")

        def item(key: Any, spec: UpdateArg) -> Item:
            def check() -> None:
                updater.key(key)
                spec_values(updater, spec)

            async def work(session: Session) -> T:
                return await updater.update(session, key, spec, scope=scope)

            return key, check, work

        return [item(key, spec) for key, spec in updates.items()]

    def delete_items(self, keys: Iterable[Any], *, scope: ScopeArg = None) -> list[Item]:
        """The items of :meth:`bulk_delete` (each outcome holds the entity as deleted)."""
        deleter = self._deleter
        self.scope(scope, "bulk_delete")

        def item(key: Any) -> Item:
            def check() -> None:
                deleter.key(key)

            async def work(session: Session) -> T:
                return await deleter.delete_returning(session, key, scope=scope)

            return key, check, work

        if self.table.soft_delete is None:
            raise UnsupportedOperation(f"{self.table.entity_name} has no soft-delete marker")
        return [item(key) for key in keys]

    def purge_items(self, keys: Iterable[Any], *, scope: ScopeArg = None) -> list[Item]:
        """The items of :meth:`bulk_purge` (outcomes hold no entity)."""
        purger = self._purger
        self.scope(scope, "bulk_purge")

        def item(key: Any) -> Item:
            def check() -> None:
                purger.key(key)

            async def work(session: Session) -> None:
                await purger.purge(session, key, scope=scope)

            return key, check, work

        return [item(key) for key in keys]

    # -- inside one session ----------------------------------------------------------------

    async def bulk_create(
        self, session: Session, entities: Iterable[T], *, scope: ScopeArg = None
    ) -> list[Outcome[T]]:
        """Create each entity on its own; the outcomes in input order."""
        return await run_items(session, self.create_items(entities, scope=scope), self.table)

    async def bulk_update(
        self, session: Session, updates: Mapping[Any, UpdateArg], *, scope: ScopeArg = None
    ) -> list[Outcome[T]]:
        """Apply each key's update on its own (``{key: spec}``); the outcomes in input order."""
        return await run_items(session, self.update_items(updates, scope=scope), self.table)

    async def bulk_delete(
        self, session: Session, keys: Iterable[Any], *, scope: ScopeArg = None
    ) -> list[Outcome[T]]:
        """Soft-delete each key on its own; the outcomes in input order."""
        return await run_items(session, self.delete_items(keys, scope=scope), self.table)

    async def bulk_purge(
        self, session: Session, keys: Iterable[Any], *, scope: ScopeArg = None
    ) -> list[Outcome[T]]:
        """Purge each key on its own; the outcomes in input order."""
        return await run_items(session, self.purge_items(keys, scope=scope), self.table)


def checked(items: Sequence[Item]) -> list[Outcome[Any] | None]:
    """Each item's check, before any I/O: its failure, or ``None`` for an item to run."""
    results: list[Outcome[Any] | None] = []
    for key, check, _ in items:
        try:
            check()
        except ITEM_ERRORS as exc:
            results.append(Outcome(key, error=exc))
        else:
            results.append(None)
    return results


async def run_items(
    session: Session, items: Sequence[Item], table: Table[Any]
) -> list[Outcome[Any]]:
    """Run *items* of *table* in *session*, each in a savepoint; the outcomes in input order."""
    session.require_writable("bulk write")
    if items and not session.database.capabilities.savepoints:
        raise UnsupportedOperation(
            "a bulk operation inside a session runs each item in a savepoint, which this "
            "backend has not; call it without session= (each item then runs on its own)"
        )
    outcomes = checked(items)
    for index, (key, _, work) in enumerate(items):
        if outcomes[index] is not None:
            continue
        try:
            async with session.savepoint():
                entity = await work(session)
        except Exception as exc:
            if not item_error(exc, table):
                raise
            outcomes[index] = Outcome(key, error=exc)
        else:
            outcomes[index] = Outcome(key, entity)
    return [outcome for outcome in outcomes if outcome is not None]


def _entity_key(key_of: Callable[[Any], Any], entity: Any) -> Any:
    """The primary key of *entity* as given (``None`` for what is not an entity)."""
    try:
        return key_of(entity)
    except AttributeError:
        return None
