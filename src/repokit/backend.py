"""The backend SPI: the small, primitive interface every backend implements.

Everything above this line is policy and lives in core, once: value rules,
scopes, soft delete, versions, keyset pagination and cursors are already
folded into normalised rows and condition trees when they reach a backend.
A backend only translates :mod:`repokit.conditions` into its native query,
maps types, runs I/O and maps its errors onto :mod:`repokit.errors`.

Rows are ``dict`` s of storage-normal values keyed by field name
(:mod:`repokit.values`), including casefolded shadow fields. A backend must
return the same normal forms it was given (aware UTC datetimes, quantised
``Decimal`` s, ``uuid.UUID`` s, enum *values*).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from repokit.capabilities import Capabilities
from repokit.conditions import TRUE, Compare, Condition, Const, IsNull, Op, Order, and_
from repokit.drift import SchemaChange
from repokit.errors import EntityAlreadyExists, TransactionConflict, UnsupportedOperation
from repokit.observability import Endpoint
from repokit.planning import Plan
from repokit.tables import Row, Table, Unique

__all__ = [
    "Backend",
    "BackendSession",
    "Select",
    "Upsert",
    "UpsertResult",
    "Window",
    "applied",
]

#: Keys per statement in the default :meth:`BackendSession.delete_returning` (the
#: smallest ``Capabilities.max_ids_per_statement`` of the first-party backends).
_DEFAULT_CHUNK = 1_000


def applied(row: Row, values: Mapping[str, Any], increment: Sequence[str] = ()) -> Row:
    """*row* after an update: *values* set, 1 added to each *increment* field.

    What every backend's update does to a row, in one place (the reference
    backend stores it; the others return it as the row written).
    """
    new = {**row, **values}
    for field in increment:
        new[field] = row[field] + 1
    return new


@dataclass(frozen=True, slots=True)
class Select:
    """A read: rows of ``table`` matching ``where``, sorted, optionally sliced.

    ``orders`` is total (core appends the primary key). ``limit`` ``None``
    means no limit.

    ``plan`` is optional: core may pass ``where`` already planned
    (:func:`repokit.planning.plan`, slots from 0), so that a backend that
    compiles per plan key need not plan it again. A backend that does not
    use plans ignores it; ``where`` is always the whole condition.

    ``columns`` names the fields to fetch (a projection, CONTRACT §19): the
    primary key is always among them. ``None`` fetches every field. A backend
    should fetch only those (a SQL select list, a MongoDB projection) and
    key anything it caches on them; one that ignores them and returns whole
    rows is still correct, since core reads only the fields it asked for.
    """

    table: Table[Any]
    where: Condition
    orders: tuple[Order, ...] = ()
    limit: int | None = None
    offset: int = 0
    plan: Plan | None = dataclasses.field(default=None, compare=False, repr=False)
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """What :meth:`BackendSession.select_window` read: a page and what surrounds it.

    Attributes:
        rows: the page.
        total: the number of rows matching the ``count`` condition, if one was given.
        probed: whether any row matches one of the ``probes`` (``False`` without any).
    """

    rows: list[Row]
    total: int | None = None
    probed: bool = False


# -- upsert --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upsert:
    """An upsert of one row, as core hands it to :meth:`BackendSession.upsert` (CONTRACT §18).

    Core has checked everything before: the row's values and scope, that
    *key* is the primary key or a declared unique key, that the row's values
    of the key are not null. The row *holds the key* of a stored row when
    they agree on every field of the key and, for a unique key among live
    entities, the stored row is live (:meth:`holds`): exactly when inserting
    the row would collide on that key. For such a key core hands over live
    rows only: a soft-deleted row holds nothing there, and core inserts it.

    Attributes:
        table: the table.
        row: the complete row (shadows included) to insert when no stored row
            holds its key.
        key: the deciding key: one of ``table.unique``, or ``None`` for the
            primary key.
        values: what to set on the stored row that holds the key, when
            *guard* holds for it.
        guard: what that stored row must satisfy to be updated (core folds
            the live marker, the scope, the expected version and "changes
            something" into it); :data:`~repokit.conditions.FALSE` when core
            settles the update itself (:attr:`updates` is then false).
        increment: the fields an update adds 1 to (the version field).
    """

    table: Table[Any]
    row: Row
    key: Unique | None
    values: Mapping[str, Any]
    guard: Condition
    increment: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields of the deciding key."""
        return self.table.key_fields if self.key is None else self.key.fields

    @property
    def updates(self) -> bool:
        """Whether a stored row holding the key may be updated (else it is left as it is)."""
        guard = self.guard
        return not (isinstance(guard, Const) and not guard.value)

    def holds(self) -> Condition:
        """Matches the stored row that holds the row's key (there is at most one)."""
        name, row = self.table.name, self.row
        where = TRUE if self.key is None or self.key.where is None else self.key.where
        return and_(
            *(
                IsNull(name, field)
                if row[field] is None
                else Compare(name, field, Op.EQ, row[field])
                for field in self.fields
            ),
            where,
        )

    def collided(self, error: EntityAlreadyExists) -> bool:
        """Whether *error* is a collision on the deciding key (not on another key)."""
        return set(error.fields) == set(self.fields)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What :meth:`BackendSession.upsert` did.

    Attributes:
        row: the row as stored after the write: the row inserted, or the
            stored row updated; ``None`` when a stored row holds the key and
            was left as it is (the guard rejected it, or nothing updates).
        inserted: whether the row was inserted.
    """

    row: Row | None
    inserted: bool


class BackendSession(ABC):
    """One transaction on a backend: read-write, or read-only.

    Sessions are opened by :meth:`Backend.open_session` already begun and are
    ended by exactly one call to :meth:`commit` or :meth:`rollback`, which
    also releases their connection. Errors are raised as
    :mod:`repokit.errors` exceptions, chained to the driver's.
    """

    def __init__(self, *, read_only: bool) -> None:
        self.read_only = read_only

    def single_statement(self) -> None:  # noqa: B027 - an optional hint
        """A hint, given before the first statement: the work is one write statement.

        Core gives it for a repository call outside a session whose work is a
        single write on its successful path (create, update, delete, restore
        or purge of one entity). A backend may then run that statement as its
        own transaction (no BEGIN, no COMMIT: one round trip), and must then
        let it run to its end whatever cancellation arrives, as it would a
        COMMIT (CONTRACT §12). Statements after the first one (an update
        finding out why its guarded write matched nothing) are then each
        atomic on their own, as under READ COMMITTED. Ignoring the hint is
        always correct.
        """

    @abstractmethod
    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        """Insert complete rows; raise ``EntityAlreadyExists`` on a key collision."""

    async def insert_if(self, table: Table[Any], row: Row, guard: Condition) -> bool:
        """Insert the complete *row* if *guard* holds; whether it did.

        *guard* is the same for every row of *table*: uncorrelated semi-joins
        (a scope's targets, :func:`repokit.scope.requirement_guard`), asked
        as the row is written, in one statement where the backend can (SQL
        ``INSERT … SELECT … WHERE``). ``False``: nothing was written. A key
        collision raises as :meth:`insert` does. The default asks first, in
        this session, and then inserts.
        """
        from repokit.semijoins import settle  # repokit.semijoins imports this module

        if await settle(guard, self.exists) != TRUE:
            return False
        await self.insert(table, (row,))
        return True

    @abstractmethod
    async def select(self, query: Select) -> list[Row]:
        """Return the matching rows in order."""

    async def select_each(self, queries: Sequence[Select]) -> list[list[Row]]:
        """The rows of each of *queries* (selects of whole tables by a condition), in order.

        What core reads when the queries go together (a scope's targets in
        several tables, CONTRACT §24): one round trip where the backend can
        read several tables at once (MongoDB's ``$unionWith``). The queries
        carry neither orders, a limit nor an offset. The default runs them
        one after the other.
        """
        return [await self.select(query) for query in queries]

    @abstractmethod
    async def count(self, table: Table[Any], where: Condition) -> int:
        """Count the matching rows."""

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        """A page and, if asked, the count of all rows matching ``query.where``.

        Both come from the same transaction. Backends may override this to
        fetch both in fewer round trips.
        """
        rows = await self.select(query)
        total = await self.count(query.table, query.where) if with_count else None
        return rows, total

    async def select_window(
        self, query: Select, *, count: Condition | None, probes: Sequence[Condition] = ()
    ) -> Window:
        """A page, the count of rows matching *count*, and whether any row matches a probe.

        A keyset page needs all three: the page beyond the cursor, the total of
        the whole filtered set, and whether anything lies before the cursor.
        *probes* are tried in order and the first that finds a row settles it:
        core puts a cheap, usually sufficient probe (a key lookup) before an
        exhaustive one. All come from the same transaction; backends may
        override this to read them in one statement (one snapshot, one round
        trip).
        """
        rows = await self.select(query)
        total = None if count is None else await self.count(query.table, count)
        probed = False
        for probe in probes:
            if await self.select(Select(query.table, probe, limit=1)):
                probed = True
                break
        return Window(rows, total, probed)

    @abstractmethod
    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        """Set ``values`` (and add 1 to each ``increment`` field) on matching rows.

        Returns the number of matched rows. Raises ``EntityAlreadyExists`` on
        a unique key collision.
        """

    async def update_one(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> Row | None:
        """Update the one row *where* selects (it names a primary key); return it as stored.

        Returns ``None`` when no row matches. Backends may override this to
        write and read back in one statement (``UPDATE … RETURNING``).
        """
        found = await self.select(Select(table, where, limit=1))
        if not found:
            return None
        row = found[0]
        pk = table.key_condition(table.key_of(row))
        if await self.update(table, and_(where, pk), values, increment=increment) == 0:
            return None
        return applied(row, values, increment)

    # -- upsert --

    async def upsert(self, upsert: Upsert) -> UpsertResult:
        """Insert ``upsert.row``, or update the stored row that holds its key (CONTRACT §18).

        Without a stored row holding the key (:meth:`Upsert.holds`), insert the
        row: ``UpsertResult(row, inserted=True)``; it may still collide on
        another key (``EntityAlreadyExists``). With one, set ``upsert.values``
        on it (and add 1 to each ``upsert.increment`` field) if it matches
        ``upsert.guard``, and return it as stored: ``UpsertResult(row,
        inserted=False)``; if it does not match, or nothing updates, write
        nothing: ``UpsertResult(None, inserted=False)``.

        Concurrent upserts of one key must end in one insert, the others
        finding the inserted row: never an ``EntityAlreadyExists`` on the
        deciding key. The default reads the holder, then inserts or updates
        it, in the session's transaction: right where a transaction keeps
        other writers out between the two (the reference backend, SQLite's
        single writer); where it does not, a collision on the deciding key
        after the read found none is a :class:`~repokit.errors.TransactionConflict`,
        which the transaction runner retries. Backends override it with
        their native upsert (``INSERT … ON CONFLICT``).
        """
        table = upsert.table
        found = await self.select(Select(table, upsert.holds(), limit=1))
        if not found:
            try:
                await self.insert(table, [upsert.row])
            except EntityAlreadyExists as exc:
                if not upsert.collided(exc):
                    raise
                raise TransactionConflict(
                    f"{table.entity_name}: a concurrent write took the key "
                    f"({', '.join(upsert.fields)}) of an upsert"
                ) from exc
            return UpsertResult(dict(upsert.row), True)
        if not upsert.updates:
            return UpsertResult(None, False)
        key = table.key_of(found[0])
        where = and_(table.key_condition(key), upsert.guard)
        row = await self.update_one(table, where, upsert.values, increment=upsert.increment)
        return UpsertResult(row, False)

    @abstractmethod
    async def delete(self, table: Table[Any], where: Condition) -> int:
        """Remove the matching rows; return how many."""

    # -- reads --
    # The small reads (CONTRACT §19): each has a default built on the methods above,
    # so a backend that does not override them stays correct.

    async def exists(self, table: Table[Any], where: Condition) -> bool:
        """Whether any row matches *where*: one cheap statement where the backend can.

        The default selects at most one row's primary key. Backends may
        override it (SQL ``SELECT EXISTS (…)``).
        """
        probe = Select(table, where, limit=1, columns=table.key_fields)
        return bool(await self.select(probe))

    async def hold(self, table: Table[Any], where: Condition) -> int:
        """Count the rows matching *where*, keeping them from being purged meanwhile.

        What a write referencing parents runs (CONTRACT §23): until the
        session ends, a concurrent purge of a counted row must wait for it or
        fail, so that the child never outlives its parent. The default counts:
        right where the database enforces the reference itself (a SQL foreign
        key) or writers take turns (the reference backend, SQLite). A backend
        that emulates references under snapshot isolation overrides it to
        *write* the rows (MongoDB), so that the purge write-conflicts with it.
        """
        return await self.count(table, where)

    async def delete_returning(self, table: Table[Any], where: Condition) -> list[Row]:
        """Remove the matching rows and return them as they were, in no particular order.

        The default reads the rows, then deletes exactly those (*where* and
        their keys), in the session's transaction. Backends may override it
        to do both in one statement (``DELETE … RETURNING``).
        """
        rows = await self.select(Select(table, where))
        if not rows:
            return []
        keys = [table.key_of(row) for row in rows]
        size = max(1, _DEFAULT_CHUNK // len(table.key_fields))  # bound values (CONTRACT §22)
        for start in range(0, len(keys), size):
            chunk = table.keys_condition(keys[start : start + size])
            await self.delete(table, and_(where, chunk))
        return rows

    # -- savepoints --------------------------------------------------------------------------

    async def begin_savepoint(self) -> object:
        """Mark the session's state; return what names the mark.

        Only for backends whose capabilities say ``savepoints``; the default raises.
        """
        raise UnsupportedOperation(f"{type(self).__name__} has no savepoints")

    async def release_savepoint(self, mark: object) -> None:
        """Forget *mark*: what was done since it stays part of the transaction."""
        raise UnsupportedOperation(f"{type(self).__name__} has no savepoints")

    async def rollback_to_savepoint(self, mark: object) -> None:
        """Undo everything since *mark* (and forget it); the transaction goes on.

        Called after a failed statement too: the session must be usable again.
        """
        raise UnsupportedOperation(f"{type(self).__name__} has no savepoints")

    @abstractmethod
    async def commit(self) -> None:
        """Make the session's writes visible and release it."""

    @abstractmethod
    async def rollback(self) -> None:
        """Discard the session's writes and release it; never raises for a dead connection."""


class Backend(ABC):
    """A database a :class:`~repokit.Database` runs on.

    A backend registers its URL schemes in the ``repokit.backends``
    entry-point group (``scheme = "package.module:BackendClass"``) and is
    built from a URL by :meth:`connect`.
    """

    capabilities: Capabilities = Capabilities()
    #: The database this backend reaches, as logs and spans name it (:mod:`repokit.observability`).
    endpoint: Endpoint = Endpoint()
    #: Whether the backend sends reads to replicas itself (MongoDB's read preference):
    #: a :class:`~repokit.Database` then refuses ``replicas=`` (see :meth:`open_primary_read`).
    routes_reads: bool = False

    @classmethod
    @abstractmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        """Build a backend for *url*; raise ``BackendUnavailable`` if unreachable."""

    @abstractmethod
    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        """Create the tables with their indexes and constraints (existing ones are kept)."""

    @abstractmethod
    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        """Drop the tables and everything in them (missing ones are ignored)."""

    async def schema_changes(self, tables: Sequence[Table[Any]]) -> list[SchemaChange]:
        """How the stored schema differs from *tables*' declarations; changes nothing.

        Every difference is one :class:`~repokit.drift.SchemaChange` with the
        remedy this backend offers: ``CREATE`` for what :meth:`create_tables`
        creates (a missing table), ``RECONCILE`` for what
        :meth:`reconcile_tables` applies, ``MIGRATION`` for what it cannot.
        Only indexes repokit owns are compared (:mod:`repokit.drift`).
        ``Database.create_tables`` calls this first and raises ``SchemaDrift``
        for what it may not apply. The default reports nothing: a backend that
        cannot look at its stored schema keeps the old behaviour (existing
        tables are left as they are).
        """
        return []

    async def reconcile_tables(
        self, tables: Sequence[Table[Any]], changes: Sequence[SchemaChange]
    ) -> None:
        """Apply *changes*, the ``RECONCILE`` ones :meth:`schema_changes` reported for *tables*.

        Runs before :meth:`create_tables`, which then creates whatever is
        missing (so replacing an index may drop it here and leave its
        re-creation to :meth:`create_tables`).

        Raises:
            UnsupportedOperation: the default, for a backend that reports no
                ``RECONCILE`` changes (it should never be asked).
        """
        if changes:
            raise UnsupportedOperation(
                f"{type(self).__name__} cannot apply schema changes: {changes[0]}"
            )

    @abstractmethod
    async def open_session(self, *, read_only: bool) -> BackendSession:
        """Begin a transaction; read-only sessions refuse writes."""

    async def open_primary_read(self) -> BackendSession:
        """A read-only session that reads the primary's latest writes (read-your-writes).

        For a backend that routes reads itself (MongoDB with a read preference
        in its URL); the default is :meth:`open_session`, which reads where
        every session does.
        """
        return await self.open_session(read_only=True)

    async def replica_lag(self) -> float | None:
        """How many seconds this server's data is behind its primary's, as it measures it.

        ``0.0`` for a replica that has replayed everything it received, and for
        a server that is no replica (a promoted one). ``None``: this backend
        cannot tell (the default), which :class:`repokit.replicas.Replicas`
        takes as caught up.

        Raises:
            BackendUnavailable: the server cannot be reached.
        """
        return None

    @abstractmethod
    async def close(self) -> None:
        """Release every connection; the backend is unusable afterwards."""
