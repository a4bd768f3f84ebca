"""The reference backend's state: rows, their history for open snapshots, unique indexes.

One :class:`TableData` per table holds its *newest* rows (the committed ones
plus the writes of the open write session, if any) in one ``dict`` that the
write session changes in place, and a *history*: for every row a write
session changed, the value it had before (or :data:`ABSENT`), tagged with
that session's sequence number. A session sees the table as of its snapshot
``seq`` through :meth:`TableData.at` / :meth:`TableData.visible`.

Invariants (every method below keeps them; ``tests/unit/test_memory_scale.py``
checks what they promise):

* **Snapshots.** Sessions are numbered: write session *n* commits as
  ``Store.committed = n``; a read-only session's snapshot is the
  ``committed`` of its opening, the open write session's is ``committed + 1``
  (it sees its own writes). The first time session *n* changes the row under
  key *k*, ``(n, previous value)`` is appended to ``history[k]``, before the
  row changes. The state as of snapshot *s* is, for every key, the previous
  value of its first history entry newer than *s*, or else the newest row.
  A write adds history for what it changes, so the state as of every open
  snapshot is the same before and after it: a read-only session sees the
  state committed when it opened for its whole life, whatever commits
  meanwhile, and never a write that is not committed. Nobody holds a copy of
  a table; a snapshot with no history newer than itself (``current``) reads
  the newest rows directly.
* **Pruning.** An entry is dropped only once no open read-only session's
  snapshot is older than it (:meth:`Store.prune`), at the latest when the
  last such session ends (a session never ended keeps its history alive).
  The open write session's entries are its undo log, replayed by
  :meth:`TableData.undo` on rollback; after a commit with no older reader
  open, nothing is kept.
* **Stored rows are never mutated**: a changed row is a new ``dict``, so the
  newest rows, the history and any cached order share row objects safely.
* **Unique indexes** (:class:`UniqueIndex`) map each unique key to the
  primary key of the one newest row that holds it; a row takes part unless
  its key has a ``None`` or it fails the key's ``where``. They are exact for
  the newest rows after every SPI call, and collision-free; only the write
  session and current snapshots use them.
* **Caches** (sorted orders) are of the newest rows as they are: dropped at
  every change, used by current snapshots only.

Without orders, rows come in the newest rows' ``dict`` order (a rollback puts
a deleted row back at the end): unspecified, as on every backend, since core
always orders by the primary key at least.

Every SPI method of the backend runs to its end without awaiting, so each is
atomic with respect to the other sessions on the event loop.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from repokit.conditions import Order
from repokit.errors import EntityAlreadyExists, excerpt
from repokit.evaluate import predicate, sort_rows
from repokit.tables import Row, Table, Unique

__all__ = [
    "ABSENT",
    "Absent",
    "MemoryStats",
    "Ordered",
    "Predicate",
    "Store",
    "TableData",
    "UniqueIndex",
    "build_index",
    "null_key",
]


class Absent:
    """The value of a key without a row (before an insert, after a delete)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


#: No row under this key.
ABSENT: Final = Absent()

Version = Row | Absent
Orders = tuple[Order, ...]
#: A compiled condition (:func:`repokit.evaluate.predicate`).
Predicate = Callable[[Mapping[str, Any]], bool]


@dataclass
class MemoryStats:
    """What a memory backend did, in rows: for tests of its cost, never timings.

    Attributes:
        rows_tested: rows a query's condition was evaluated on.
        keys_computed: rows whose unique keys were computed (checks, index builds).
        rows_sorted: rows put through a full sort (cached orders, unlimited selects).
    """

    rows_tested: int = 0
    keys_computed: int = 0
    rows_sorted: int = 0


class UniqueIndex:
    """One unique key over a table's newest rows: key tuple -> primary key."""

    __slots__ = ("_nulls_equal", "_where", "built_in", "entries", "fields", "unique")

    def __init__(self, unique: Unique, built_in: int) -> None:
        self.unique = unique
        self.fields = unique.fields
        self._nulls_equal = unique.nulls_equal
        self._where: Predicate | None = None if unique.where is None else predicate(unique.where)
        self.entries: dict[tuple[Any, ...], Any] = {}
        #: The sequence number of the write session that built it (dropped on its rollback).
        self.built_in = built_in

    def key(self, row: Row) -> tuple[Any, ...] | None:
        """*row*'s key, or ``None`` if the row takes no part (a ``None`` in it, or ``where``)."""
        key = tuple(row.get(f) for f in self.fields)
        if None in key and not self._nulls_equal:  # CONTRACT §8, §22
            return None
        if self._where is not None and not self._where(row):
            return None
        return key

    def add(self, row: Row, pk: Any) -> None:
        key = self.key(row)
        if key is not None:
            self.entries[key] = pk

    def discard(self, row: Row, pk: Any) -> None:
        """Forget *row*'s key if *pk* still holds it (a row written earlier may have taken it)."""
        key = self.key(row)
        if key is not None and self.entries.get(key, ABSENT) == pk:
            del self.entries[key]

    def collision(self, table: Table[Any], key: tuple[Any, ...]) -> EntityAlreadyExists:
        return EntityAlreadyExists(table.entity_name, self.fields, f"key {excerpt(key)}")


def build_index(
    table: Table[Any], unique: Unique, rows: Mapping[Any, Row], built_in: int, stats: MemoryStats
) -> UniqueIndex:
    """An index of *unique* over *rows*; raises ``EntityAlreadyExists`` if two collide."""
    index = UniqueIndex(unique, built_in)
    entries = index.entries
    stats.keys_computed += len(rows)
    for pk, row in rows.items():
        key = index.key(row)
        if key is None:
            continue
        if key in entries:
            raise index.collision(table, key)
        entries[key] = pk
    return index


@dataclass(slots=True)
class Ordered:
    """Every row of a table as it is, sorted by ``sort_rows``, and the first order's keys.

    ``first[i]`` is ``rows[i]``'s sort key for the first order, ``(not null,
    value)`` as :func:`~repokit.evaluate.sort_rows` computes it: ascending
    for an ascending order, descending for a descending one.
    """

    rows: list[Row]
    first: list[tuple[bool, Any]]


def null_key(value: Any) -> tuple[bool, Any]:
    """The sort key of one value: ``None`` below everything (as ``sort_rows`` has it)."""
    return (value is not None, value if value is not None else 0)


class TableData:
    """One table: its newest rows, their history, unique indexes and cached orders."""

    def __init__(self) -> None:
        #: Newest rows: committed, plus the open write session's writes.
        self.rows: dict[Any, Row] = {}
        #: Key -> [(session seq, the row before that session changed it)], oldest first.
        self.history: dict[Any, list[tuple[int, Version]]] = {}
        #: (session seq, key) for every history entry, oldest first (pruning, undo).
        self.log: deque[tuple[int, Any]] = deque()
        #: The seq of the last session that changed a row: snapshots at or after it
        #: read ``rows`` as they are.
        self.last_change = 0
        self.indexes: dict[Unique, UniqueIndex] = {}
        self.ordered: dict[Orders, Ordered] = {}
        #: Orders a limited select asked for since the last change (the next one builds).
        self.asked: set[Orders] = set()
        #: While the write session has a savepoint open: (table, key, row before) for
        #: every change, so that rolling back to the savepoint can put each row back.
        self.journal: list[tuple[TableData, Any, Version]] | None = None

    # -- reading at a snapshot ------------------------------------------------------------

    def current(self, seq: int) -> bool:
        """Whether the newest rows are the state as of snapshot *seq*."""
        return self.last_change <= seq

    def at(self, pk: Any, seq: int) -> Version:
        """The row under *pk* as of snapshot *seq*, or :data:`ABSENT`."""
        for changed_in, before in self.history.get(pk, ()):
            if changed_in > seq:
                return before
        return self.rows.get(pk, ABSENT)

    def visible(self, seq: int) -> Iterator[Row]:
        """Every row as of snapshot *seq* (newest rows' order, then rows deleted since)."""
        if self.current(seq):
            yield from self.rows.values()
            return
        history = self.history
        for pk, row in self.rows.items():
            if pk in history:
                past = self.at(pk, seq)
                if isinstance(past, Absent):
                    continue
                row = past
            yield row
        for pk in history:
            if pk not in self.rows:
                past = self.at(pk, seq)
                if not isinstance(past, Absent):
                    yield past

    def sorted_by(self, orders: Orders, stats: MemoryStats) -> Ordered:
        """The newest rows in *orders* (``sort_rows``' order), built once between changes."""
        ordered = self.ordered.get(orders)
        if ordered is None:
            rows = sort_rows(list(self.rows.values()), orders)
            stats.rows_sorted += len(rows)
            field = orders[0].field
            ordered = self.ordered[orders] = Ordered(rows, [null_key(r.get(field)) for r in rows])
        return ordered

    # -- writing (the open write session only) ---------------------------------------------

    def put(self, pk: Any, row: Version, seq: int) -> None:
        """Store *row* under *pk* (:data:`ABSENT` deletes) for write session *seq*.

        The first change of *pk* in the session records the previous value.
        Unique keys must have been checked: the indexes follow without checks.
        """
        history = self.history.setdefault(pk, [])
        if not history or history[-1][0] != seq:
            history.append((seq, self.rows.get(pk, ABSENT)))
            self.log.append((seq, pk))
        if self.journal is not None:
            self.journal.append((self, pk, self.rows.get(pk, ABSENT)))
        self.last_change = seq
        self._set(pk, row)

    def restore(self, pk: Any, row: Version) -> None:
        """Put *row* back under *pk* (rolling back to a savepoint; the history stays)."""
        self._set(pk, row)

    def undo(self, seq: int, last_change: int) -> None:
        """Put back every row write session *seq* changed; drop the indexes it built."""
        while self.log and self.log[-1][0] == seq:
            _, pk = self.log.pop()
            history = self.history[pk]
            _, before = history.pop()
            if not history:
                del self.history[pk]
            self._set(pk, before)
        for unique in [u for u, index in self.indexes.items() if index.built_in == seq]:
            del self.indexes[unique]
        self.last_change = last_change

    def _set(self, pk: Any, row: Version) -> None:
        old = self.rows.get(pk)
        for index in self.indexes.values():
            if old is not None:
                index.discard(old, pk)
            if not isinstance(row, Absent):
                index.add(row, pk)
        if isinstance(row, Absent):
            self.rows.pop(pk, None)
        else:
            self.rows[pk] = row
        if self.ordered or self.asked:  # they were of the rows before this change
            self.ordered.clear()
            self.asked.clear()

    def forget(self, horizon: int) -> None:
        """Drop history no snapshot at or after *horizon* reads."""
        log, history = self.log, self.history
        while log and log[0][0] <= horizon:
            _, pk = log.popleft()
            entries = history[pk]
            del entries[0]
            if not entries:
                del history[pk]

    # -- unique keys ------------------------------------------------------------------------

    def check_unique(
        self, table: Table[Any], written: Iterable[Row], seq: int, stats: MemoryStats
    ) -> None:
        """Raise ``EntityAlreadyExists`` if storing *written* breaks one of *table*'s keys.

        Each of *written* replaces the newest row under its primary key (or is
        new); the rows it replaces no longer hold their keys. Costs one key per
        written row and unique key, plus a one-off index build for a key not yet
        indexed (which raises if the stored rows themselves collide). The error
        names the first written row's colliding key, per key in *table*'s order.
        Indexes for keys *table* does not declare are dropped: nothing checks
        them, so nothing would keep them collision-free.
        """
        written = list(written)
        declared = set(table.unique)
        for unique in [u for u in self.indexes if u not in declared]:
            del self.indexes[unique]
        key_of = table.key_of
        replaced = {key_of(row) for row in written}
        for unique in table.unique:
            index = self.indexes.get(unique)
            if index is None:
                index = build_index(table, unique, self.rows, seq, stats)
                self.indexes[unique] = index
            stats.keys_computed += len(written)
            seen: set[tuple[Any, ...]] = set()
            for row in written:
                key = index.key(row)
                if key is None:
                    continue
                holder = index.entries.get(key, ABSENT)
                if key in seen or (holder is not ABSENT and holder not in replaced):
                    raise index.collision(table, key)
                seen.add(key)


class Store:
    """The database: tables, the writer lock, session numbers and open snapshots."""

    def __init__(self) -> None:
        self.tables: dict[str, TableData] = {}
        self.schemas: dict[str, Table[Any]] = {}
        self.writer: asyncio.Lock = asyncio.Lock()
        #: The seq of the last committed write session.
        self.committed = 0
        #: Open read-only sessions by snapshot seq.
        self.readers: Counter[int] = Counter()
        self.stats = MemoryStats()

    def open_reader(self) -> int:
        seq = self.committed
        self.readers[seq] += 1
        return seq

    def close_reader(self, seq: int) -> None:
        self.readers[seq] -= 1
        if not self.readers[seq]:
            del self.readers[seq]
        self.prune()

    def prune(self) -> None:
        """Drop the history every open snapshot is past (the open writer's is newer)."""
        horizon = min(self.readers, default=self.committed)
        for data in self.tables.values():
            data.forget(horizon)
