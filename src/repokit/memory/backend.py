"""The in-memory reference backend and its sessions.

A session reads the tables as of its snapshot (:mod:`repokit.memory.store`
keeps what older snapshots need); the one write session at a time changes
the newest rows in place, recording what it replaced, which its rollback
puts back. Every method runs without awaiting (atomic on the event loop).
Queries narrow their candidates first (:mod:`repokit.memory.queries`: a
pinned primary or unique key, a sorted order past a keyset bound) and then
test each candidate with :func:`~repokit.evaluate.predicate`, the reference
semantics (a semi-join reads the other table's rows as the session sees them,
once per query), so a shortcut can make a query cheaper but never change its
answer. Rows are copied on the way in and out: nobody outside aliases a
stored row, and stored rows are never mutated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from repokit.backend import Backend, BackendSession, Select, Upsert, UpsertResult, applied
from repokit.capabilities import Capabilities
from repokit.conditions import Condition
from repokit.drift import (
    IndexSpec,
    Remedy,
    SchemaChange,
    column_changes,
    index_changes,
    missing_table,
)
from repokit.errors import (
    EntityAlreadyExists,
    TableNotFound,
    TransactionConflict,
    UnsupportedOperation,
    excerpt,
)
from repokit.evaluate import predicate
from repokit.memory.queries import copy_row, page, pinned_primary, pinned_unique, start_of
from repokit.memory.store import (
    ABSENT,
    Absent,
    MemoryStats,
    Orders,
    Predicate,
    Store,
    TableData,
    Version,
    build_index,
)
from repokit.observability import Endpoint
from repokit.tables import Row, Table

__all__ = ["MemoryBackend", "MemorySession"]

#: How long a write session waits for the previous one to end.
WRITER_WAIT_SECONDS = 10.0


class MemoryBackend(Backend):
    """The reference backend; ``memory://`` gives a fresh, empty database."""

    capabilities: Capabilities = Capabilities(persistent=False, max_ids_per_statement=1_000)
    endpoint: Endpoint = Endpoint(system="memory")

    def __init__(self) -> None:
        self._store = Store()

    @property
    def stats(self) -> MemoryStats:
        """Counts of the rows this backend's queries and key checks touched (for tests)."""
        return self._store.stats

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        if options:
            raise TypeError(f"memory:// takes no options, got {sorted(options)}")
        return cls()

    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        async with self._store.writer:
            store = self._store
            for table in tables:
                stored = store.schemas.get(table.name)
                data = store.tables.setdefault(table.name, TableData())
                if stored is not None and stored is not table:
                    # A changed definition (Database.create_tables let it through): its
                    # unique keys must hold for the stored rows, as a new unique index would.
                    for unique in table.unique:
                        index = build_index(table, unique, data.rows, store.committed, store.stats)
                        data.indexes[unique] = index
                store.schemas[table.name] = table

    async def schema_changes(self, tables: Sequence[Table[Any]]) -> list[SchemaChange]:
        # The stored schema is the definition the table was created with: compared as
        # the other backends compare theirs, but everything but fields can be applied.
        changes: list[SchemaChange] = []
        for table in tables:
            stored = self._store.schemas.get(table.name)
            if stored is None:
                changes.append(missing_table(table.name))
                continue
            if stored is table:
                continue
            changes += column_changes(
                table.name, list(table.fields), list(stored.fields), remedy=Remedy.MIGRATION
            )
            changes += index_changes(
                table.name,
                _index_specs(table),
                _index_specs(stored),
                create=Remedy.CREATE,
                drop=Remedy.RECONCILE,
                replace=Remedy.RECONCILE,
            )
        return changes

    async def reconcile_tables(
        self, tables: Sequence[Table[Any]], changes: Sequence[SchemaChange]
    ) -> None:
        return None  # create_tables puts the new definitions in place

    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        async with self._store.writer:
            for table in tables:
                self._store.schemas.pop(table.name, None)
                self._store.tables.pop(table.name, None)

    async def open_session(self, *, read_only: bool) -> MemorySession:
        if not read_only:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
            # cancellation that races the lock, and the cancelled task would go on.
            try:
                async with asyncio.timeout(WRITER_WAIT_SECONDS):
                    await self._store.writer.acquire()
            except TimeoutError:
                # Most likely a second write session opened inside a first one in the
                # same task, which would otherwise wait forever.
                raise TransactionConflict(
                    f"no write session became free within {WRITER_WAIT_SECONDS} s "
                    "(write sessions run one at a time; is one open around this call?)"
                ) from None
        return MemorySession(self._store, read_only=read_only)

    async def close(self) -> None:
        self._store.tables.clear()


def _index_specs(table: Table[Any]) -> dict[str, IndexSpec]:
    specs = {index.name: IndexSpec(index.fields) for index in table.indexes}
    for unique in table.unique:
        specs[unique.name] = IndexSpec(unique.fields, unique=True, partial=unique.where)
    return specs


class MemorySession(BackendSession):
    """A snapshot of the committed tables for reads; the newest rows, with undo, for writes.

    A read-only session sees the state committed when it opened for its whole
    life. The write session (one at a time) sees the newest rows, its own
    writes included; the first change of each row records the row it
    replaced, so a rollback puts every row back and a commit only advances
    ``Store.committed``: neither costs more than the rows written.
    """

    def __init__(self, store: Store, *, read_only: bool) -> None:
        super().__init__(read_only=read_only)
        self._store = store
        self._tables = dict(store.tables)
        #: The snapshot: what this session reads (TableData.at / visible).
        self._seq = store.open_reader() if read_only else store.committed + 1
        #: Tables this write session may have changed -> their last_change before it.
        self._touched: dict[TableData, int] = {}
        self._open = True
        #: The open savepoints' journals, innermost last (TableData.journal).
        self._journals: list[list[tuple[TableData, Any, Version]]] = []

    # -- state ------------------------------------------------------------------------------

    def _data(self, table: Table[Any]) -> TableData:
        try:
            return self._tables[table.name]
        except KeyError:
            raise TableNotFound(table.name) from None

    def _rows_of(self, table: Table[Any]) -> Iterable[Row]:
        """The rows of *table* this session sees: what a semi-join reads (CONTRACT §25)."""
        return self._data(table).visible(self._seq)

    def _writable(self, table: Table[Any]) -> TableData:
        if self.read_only:
            raise UnsupportedOperation("a read-only session refuses writes")
        data = self._data(table)
        self._touched.setdefault(data, data.last_change)
        return data

    def _pinned(
        self, data: TableData, table: Table[Any], where: Condition
    ) -> list[tuple[Any, Row]] | None:
        """(key, row) for each row under a key *where* pins; ``None`` when none is pinned.

        Every row matching *where* is among them (``pinned_keys``, ``pinned_unique``).
        """
        keys = pinned_primary(where, table)
        if keys is None and data.current(self._seq):
            keys = _unique_pin(data, table, where)
        if keys is None:
            return None
        found: list[tuple[Any, Row]] = []
        try:
            for key in dict.fromkeys(keys):
                row = data.at(key, self._seq)
                if not isinstance(row, Absent):
                    found.append((key, row))
        except TypeError:  # an unhashable operand: no stored key equals it
            return None
        return found

    def _filter(
        self, rows: Iterable[Row], matches: Predicate, stop: int | None = None
    ) -> list[Row]:
        """The rows *matches* accepts, in order; at most *stop* of them."""
        hits: list[Row] = []
        if stop == 0:
            return hits
        tested = 0
        for row in rows:
            tested += 1
            if matches(row):
                hits.append(row)
                if len(hits) == stop:
                    break
        self._store.stats.rows_tested += tested
        return hits

    def _scan_from(
        self, rows: list[Row], start: int, matches: Predicate, stop: int | None
    ) -> list[Row]:
        """:meth:`_filter` over ``rows[start:]`` without copying the list."""
        return self._filter(map(rows.__getitem__, range(start, len(rows))), matches, stop)

    def _sorted(self, data: TableData, orders: Orders, limit: int | None) -> bool:
        """Whether to read through *data*'s cached sort by *orders* (building it if need be).

        A limited select builds it the second time the same orders are asked
        for with no change in between: a page after every write costs a scan
        and a partial selection, never a full sort, and a walk sorts once.
        """
        if not orders or not data.current(self._seq):
            return False
        if orders in data.ordered:
            return True
        if limit is None:
            return False
        if orders in data.asked:
            return True
        data.asked.add(orders)
        return False

    # -- SPI --------------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        data = self._writable(table)
        key_of = table.key_of
        new: list[Row] = []
        keys: set[Any] = set()
        for row in rows:
            key = key_of(row)
            if key in data.rows or key in keys:
                raise EntityAlreadyExists(
                    table.entity_name, table.key_fields, f"key {excerpt(key)}"
                )
            keys.add(key)
            new.append(copy_row(row))
        data.check_unique(table, new, self._seq, self._store.stats)
        for row in new:
            data.put(key_of(row), row, self._seq)

    async def select(self, query: Select) -> list[Row]:
        matches = predicate(query.where, self._rows_of)
        data = self._data(query.table)
        orders, offset, limit = query.orders, query.offset, query.limit
        stop = None if limit is None or orders else offset + limit
        pinned = self._pinned(data, query.table, query.where)
        if pinned is not None:
            hits = self._filter((row for _, row in pinned), matches)
            rows = page(hits, orders, offset, limit)
        elif self._sorted(data, orders, limit):
            ordered = data.sorted_by(orders, self._store.stats)
            start = start_of(ordered, query.where, orders[0])
            end = None if limit is None else offset + limit
            rows = self._scan_from(ordered.rows, start, matches, end)[offset:]
        else:
            hits = self._filter(data.visible(self._seq), matches, stop)
            if limit is None:
                self._store.stats.rows_sorted += len(hits)
            rows = page(hits, orders, offset, limit)
        columns = query.columns
        if columns is not None:  # a projection: only the fields asked for (CONTRACT §19)
            return [copy_row({name: row[name] for name in columns}) for row in rows]
        return [copy_row(row) for row in rows]

    async def count(self, table: Table[Any], where: Condition) -> int:
        matches = predicate(where, self._rows_of)
        data = self._data(table)
        pinned = self._pinned(data, table, where)
        rows = data.visible(self._seq) if pinned is None else (row for _, row in pinned)
        return len(self._filter(rows, matches))

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        data = self._writable(table)
        key_of = table.key_of
        matches = predicate(where, self._rows_of)
        pinned = self._pinned(data, table, where)
        rows = data.rows.values() if pinned is None else (row for _, row in pinned)
        # One copy for every row: stored rows are never mutated, and reads copy again.
        copied = copy_row(dict(values))
        changed = [applied(row, copied, increment) for row in self._filter(rows, matches)]
        data.check_unique(table, changed, self._seq, self._store.stats)
        for row in changed:
            data.put(key_of(row), row, self._seq)
        return len(changed)

    async def delete(self, table: Table[Any], where: Condition) -> int:
        data = self._writable(table)
        matches = predicate(where, self._rows_of)
        pinned = self._pinned(data, table, where)
        items = data.rows.items() if pinned is None else pinned
        doomed = [key for key, row in items if matches(row)]
        self._store.stats.rows_tested += len(data.rows) if pinned is None else len(pinned)
        for key in doomed:
            data.put(key, ABSENT, self._seq)
        return len(doomed)

    # -- upsert --

    async def upsert(self, upsert: Upsert) -> UpsertResult:
        # One step, without awaiting: no other write session runs meanwhile (CONTRACT §18).
        table = upsert.table
        data = self._writable(table)
        holds = upsert.holds()
        pinned = self._pinned(data, table, holds)
        rows = data.rows.values() if pinned is None else (row for _, row in pinned)
        found = self._filter(rows, predicate(holds, self._rows_of), 1)
        if not found:
            await self.insert(table, [upsert.row])  # checks the other keys
            return UpsertResult(copy_row(upsert.row), True)
        holder = found[0]
        if not upsert.updates or not predicate(upsert.guard, self._rows_of)(holder):
            return UpsertResult(None, False)
        new = applied(holder, copy_row(dict(upsert.values)), upsert.increment)
        data.check_unique(table, [new], self._seq, self._store.stats)
        data.put(table.key_of(new), new, self._seq)
        return UpsertResult(copy_row(new), False)

    # -- savepoints ---------------------------------------------------------------------------

    def _journal_to(self, journal: list[tuple[TableData, Any, Version]] | None) -> None:
        for data in self._tables.values():
            data.journal = journal

    def _end_savepoints(self) -> None:
        if self._journals:  # the session ends inside a savepoint
            self._journals.clear()
            self._journal_to(None)

    async def begin_savepoint(self) -> object:
        if self.read_only:
            raise UnsupportedOperation("savepoint: a read-only session refuses writes")
        journal: list[tuple[TableData, Any, Version]] = []
        self._journals.append(journal)
        self._journal_to(journal)
        return journal

    def _close_savepoint(self, mark: object) -> list[tuple[TableData, Any, Version]]:
        journal = self._journals.pop()
        assert journal is mark, "savepoints end innermost first"
        outer = self._journals[-1] if self._journals else None
        if outer is not None:
            outer.extend(journal)  # the enclosing savepoint undoes these changes too
        self._journal_to(outer)
        return journal

    async def release_savepoint(self, mark: object) -> None:
        self._close_savepoint(mark)

    async def rollback_to_savepoint(self, mark: object) -> None:
        journal = self._close_savepoint(mark)
        outer = self._journals[-1] if self._journals else None
        if outer is not None:
            del outer[len(outer) - len(journal) :]  # undone here: nothing for the outer one
        for data, pk, before in reversed(journal):
            data.restore(pk, before)

    # -- reads --

    async def delete_returning(self, table: Table[Any], where: Condition) -> list[Row]:
        # What delete removes, as it was: one step, like the DELETE … RETURNING it stands for.
        data = self._writable(table)
        matches = predicate(where, self._rows_of)
        pinned = self._pinned(data, table, where)
        items = data.rows.items() if pinned is None else pinned
        doomed = [(key, row) for key, row in items if matches(row)]
        self._store.stats.rows_tested += len(data.rows) if pinned is None else len(pinned)
        for key, _ in doomed:
            data.put(key, ABSENT, self._seq)
        return [copy_row(row) for _, row in doomed]

    async def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        self._end_savepoints()
        store = self._store
        if self.read_only:
            store.close_reader(self._seq)
            return
        try:
            store.committed = self._seq
            store.prune()
        finally:
            store.writer.release()

    async def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        self._end_savepoints()
        store = self._store
        if self.read_only:
            store.close_reader(self._seq)
            return
        try:
            for data, last_change in self._touched.items():
                data.undo(self._seq, last_change)
        finally:
            store.writer.release()


def _unique_pin(data: TableData, table: Table[Any], where: Condition) -> tuple[Any, ...] | None:
    """The primary key (or none) of the row a pinned unique key of *table* names.

    Only for a snapshot that reads the newest rows: indexes follow those.
    """
    for unique in table.unique:
        index = data.indexes.get(unique)
        key = None if index is None else pinned_unique(where, unique)
        if index is None or key is None:
            continue
        try:
            holder = index.entries.get(key, ABSENT)
        except TypeError:  # an unhashable operand: no stored key equals it
            return None
        return () if holder is ABSENT else (holder,)
    return None
