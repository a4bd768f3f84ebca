"""The in-memory reference backend and its sessions."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Self

from repokit.backend import Backend, BackendSession, Select
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
from repokit.evaluate import evaluate, predicate, sort_rows
from repokit.observability import Endpoint
from repokit.tables import Row, Table

__all__ = ["MemoryBackend", "MemorySession"]

Rows = dict[Any, Row]  # primary key -> row

#: How long a write session waits for the previous one to end.
WRITER_WAIT_SECONDS = 10.0


class _Store:
    """The committed state: table name -> (primary key -> row). Published copies only."""

    def __init__(self) -> None:
        self.tables: dict[str, Rows] = {}
        self.schemas: dict[str, Table[Any]] = {}
        self.writer: asyncio.Lock = asyncio.Lock()


class MemoryBackend(Backend):
    """The reference backend; ``memory://`` gives a fresh, empty database."""

    capabilities: Capabilities = Capabilities(persistent=False, max_ids_per_statement=1_000)
    endpoint: Endpoint = Endpoint(system="memory")

    def __init__(self) -> None:
        self._store = _Store()

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        if options:
            raise TypeError(f"memory:// takes no options, got {sorted(options)}")
        return cls()

    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        async with self._store.writer:
            for table in tables:
                stored = self._store.schemas.get(table.name)
                rows = self._store.tables.setdefault(table.name, {})
                if stored is not None and stored is not table:
                    # A changed definition (Database.create_tables let it through): its
                    # unique keys must hold for the stored rows, as a new unique index would.
                    MemorySession._check_keys(table, rows.values())
                self._store.schemas[table.name] = table

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
    """A snapshot for reads; private copies of touched tables for writes."""

    def __init__(self, store: _Store, *, read_only: bool) -> None:
        super().__init__(read_only=read_only)
        self._store = store
        self._snapshot = dict(store.tables)
        self._copied: set[str] = set()
        self._open = True

    # -- state ------------------------------------------------------------------------------

    def _rows(self, table: Table[Any]) -> Rows:
        try:
            return self._snapshot[table.name]
        except KeyError:
            raise TableNotFound(table.name) from None

    def _writable(self, table: Table[Any]) -> Rows:
        if self.read_only:
            raise UnsupportedOperation("a read-only session refuses writes")
        rows = self._rows(table)
        if table.name not in self._copied:
            rows = self._snapshot[table.name] = dict(rows)
            self._copied.add(table.name)
        return rows

    @staticmethod
    def _check_keys(table: Table[Any], rows: Iterable[Row]) -> None:
        """Raise EntityAlreadyExists if two of *rows* collide on a unique key."""
        rows = list(rows)
        for unique in table.unique:
            seen: set[tuple[Any, ...]] = set()
            for row in rows:
                key = tuple(row.get(f) for f in unique.fields)
                if any(v is None for v in key):
                    continue
                if unique.where is not None and not evaluate(unique.where, row):
                    continue
                if key in seen:
                    raise EntityAlreadyExists(
                        table.entity_name, unique.fields, f"key {excerpt(key)}"
                    )
                seen.add(key)

    # -- SPI --------------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        stored = self._writable(table)
        pk = table.primary_key
        new: list[Row] = []
        keys: set[Any] = set()
        for row in rows:
            key = row[pk]
            if key in stored or key in keys:
                raise EntityAlreadyExists(table.entity_name, (pk,), f"key {excerpt(key)}")
            keys.add(key)
            new.append(copy.deepcopy(row))
        self._check_keys(table, [*stored.values(), *new])
        for row in new:
            stored[row[pk]] = row

    async def select(self, query: Select) -> list[Row]:
        matches = predicate(query.where)
        matched = [r for r in self._rows(query.table).values() if matches(r)]
        ordered = sort_rows(matched, query.orders)
        end = None if query.limit is None else query.offset + query.limit
        return [copy.deepcopy(row) for row in ordered[query.offset : end]]

    async def count(self, table: Table[Any], where: Condition) -> int:
        matches = predicate(where)
        return sum(1 for row in self._rows(table).values() if matches(row))

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        stored = self._writable(table)
        changed: list[Row] = []
        matches = predicate(where)
        for row in stored.values():
            if matches(row):
                new = {**row, **copy.deepcopy(dict(values))}
                for field in increment:
                    new[field] = row[field] + 1
                changed.append(new)
        merged = dict(stored)
        merged.update((row[table.primary_key], row) for row in changed)
        self._check_keys(table, merged.values())
        stored.update((row[table.primary_key], row) for row in changed)
        return len(changed)

    async def delete(self, table: Table[Any], where: Condition) -> int:
        stored = self._writable(table)
        matches = predicate(where)
        doomed = [key for key, row in stored.items() if matches(row)]
        for key in doomed:
            del stored[key]
        return len(doomed)

    async def commit(self) -> None:
        if not self._open:
            return
        self._open = False
        if not self.read_only:
            for name in self._copied:
                if name in self._store.tables:
                    self._store.tables[name] = self._snapshot[name]
            self._store.writer.release()

    async def rollback(self) -> None:
        if not self._open:
            return
        self._open = False
        if not self.read_only:
            self._store.writer.release()
