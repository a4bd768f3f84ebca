"""Querier (get by key) and BatchQuerier (search with pagination, count)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from repokit.backend import Select
from repokit.conditions import TRUE, And, Condition, Op, Order, and_, not_
from repokit.cursors import fingerprint, keyset_after, reverse, sort_values
from repokit.database import Database, Session
from repokit.errors import EntityNotFound, InvalidQuery, excerpt
from repokit.pagination import (
    MAX_PAGE_SIZE,
    CursorPagination,
    OffsetPagination,
    Page,
    Pagination,
)
from repokit.planning import AND, COMPARE, Plan, plan, plan_into
from repokit.projections import Projection, projection
from repokit.scope import ScopeArg
from repokit.tables import Row, Table
from repokit.utilities.base import Deleted, Utility

__all__ = ["DEFAULT_CHUNK_SIZE", "BatchQuerier", "Found", "Querier"]

T = TypeVar("T")
P = TypeVar("P")
K = TypeVar("K")

#: The chunk a stream reads per statement unless told otherwise (CONTRACT §19).
DEFAULT_CHUNK_SIZE = 1_000


@dataclass(frozen=True, slots=True)
class Found(Generic[T, K]):
    """What :meth:`Querier.get_many` found (CONTRACT §19).

    Attributes:
        entities: the entities found, by the key the caller gave, in the order
            of the keys given (each key once).
        missing: the keys given that found nothing (missing, outside the scope
            or excluded by the soft-delete view: these are not told apart), in
            the order given, each once.
    """

    entities: dict[K, T]
    missing: list[K]


def _reader(table: Table[Any], into: Projection[Any] | None) -> Callable[[Row], Any]:
    return table.from_row if into is None else into.from_row


def check_chunk_size(chunk_size: object) -> int:
    """*chunk_size* if it is an int from 1 to :data:`~repokit.pagination.MAX_PAGE_SIZE`.

    Raises:
        InvalidQuery: naming the argument and its value.
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise InvalidQuery(f"stream: chunk_size must be an integer >= 1, got {excerpt(chunk_size)}")
    if chunk_size > MAX_PAGE_SIZE:
        raise InvalidQuery(
            f"stream: chunk_size must be at most {MAX_PAGE_SIZE} (MAX_PAGE_SIZE), "
            f"got {excerpt(chunk_size)}"
        )
    return chunk_size


class Querier(Utility[T]):
    """Reads single entities by primary key.

    A get is planned once per Querier and soft-delete view (:mod:`repokit.planning`):
    the condition "key AND visible" always has the same shape key, and its
    only varying operand is the key, in slot 0. Each get then reuses that key
    (and, on a backend that compiles per key, the compiled statement) with
    its own key as the operand; a scope's condition, when given, is planned
    after it on each call.
    """

    __slots__ = ("_prepared",)

    def __init__(self, table: Table[T], *, scope_required: bool = False) -> None:
        super().__init__(table, scope_required=scope_required)
        #: Per soft-delete view: the view's condition, and its key items and operands.
        self._prepared: dict[Deleted, _PreparedGet] = {}

    def _prepare(self, deleted: Deleted) -> _PreparedGet:
        visible = self.visibility(deleted)
        operands: list[Any] = [None]  # slot 0: the key, given by each call
        key = plan_into(visible, operands)
        if key is True:
            items: tuple[Hashable, ...] = ()
        elif key is False:
            items = (False,)
        elif isinstance(visible, And):  # and_() flattens it into the get's condition
            items = key[1]  # type: ignore[index]
        else:
            items = (key,)
        prepared = self._prepared[deleted] = (visible, items, tuple(operands[1:]))
        return prepared

    @overload
    async def get(
        self,
        session: Session,
        key: Any,
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        into: None = ...,
    ) -> T: ...

    @overload
    async def get(
        self,
        session: Session,
        key: Any,
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        into: type[P],
    ) -> P: ...

    async def get(
        self,
        session: Session,
        key: Any,
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        into: type[Any] | None = None,
    ) -> Any:
        """The entity with primary key *key* (or its projection *into*, CONTRACT §19).

        Raises:
            EntityNotFound: missing, outside *scope*, or excluded by *deleted*.
            InvalidQuery: *into* is not a projection of the entity.
        """
        projected = projection(self.table, into)
        normal = self.key(key)
        prepared = self._prepared.get(deleted)
        if prepared is None:
            prepared = self._prepare(deleted)
        visible, items, rest = prepared
        pk = self.table.key_condition(normal)
        scope_cond = self.scope(scope, "get")
        if self.table.composite_key:
            # A conjunction per key (CONTRACT §22): planned whole, not by the shortcut below.
            where = and_(pk, visible, *_opt(scope_cond))
            planned = plan(where)
        elif scope_cond is None:
            planned_pk = (COMPARE, self.table.primary_key, Op.EQ, 0)
            if not items:
                where, planned = pk, Plan(planned_pk, (normal,))
            elif items[0] is False:
                where, planned = and_(pk, visible), _NOTHING
            else:
                where = and_(pk, visible)
                planned = Plan((AND, (planned_pk, *items)), (normal, *rest))
        else:
            planned_pk = (COMPARE, self.table.primary_key, Op.EQ, 0)
            where = and_(pk, visible, scope_cond)
            operands = [normal, *rest]
            scoped = plan_into(scope_cond, operands)
            if scoped is True:
                scoped_items: tuple[Hashable, ...] = ()
            elif isinstance(scope_cond, And):
                scoped_items = scoped[1]  # type: ignore[index]
            else:
                scoped_items = (scoped,)
            planned = Plan(_conjunction(planned_pk, (*items, *scoped_items)), tuple(operands))
        if planned.key is False:
            planned = _NOTHING
        columns = None if projected is None else projected.columns()
        guard = await self.scope_guard(session, scope)
        if guard is not TRUE:
            where = and_(where, guard)
            planned = plan(where)
        query = Select(self.table, where, limit=1, plan=planned, columns=columns)
        rows = await session.select(query)
        if not rows:
            await self.scope_missing(session, scope, guard)
            raise EntityNotFound(self.table.entity_name, key)
        return _reader(self.table, projected)(rows[0])

    @overload
    async def get_many(
        self,
        session: Session,
        keys: Iterable[K],
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        into: None = ...,
    ) -> Found[T, K]: ...

    @overload
    async def get_many(
        self,
        session: Session,
        keys: Iterable[K],
        *,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        into: type[P],
    ) -> Found[P, K]: ...

    async def get_many(
        self,
        session: Session,
        keys: Iterable[Any],
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        into: type[Any] | None = None,
    ) -> Found[Any, Any]:
        """The entities with the primary keys *keys*, and the keys that found none.

        One statement per chunk of ``Capabilities.max_ids_per_statement``
        keys. Keys are normalised like :meth:`get`'s; keys that normalise to
        the same key count once (the first one given names it). An entity
        outside *scope*, or excluded by *deleted*, is reported missing, as if
        it did not exist (CONTRACT §6, §19).

        Raises:
            InvalidValue: a key breaks the primary key's value rules.
            InvalidQuery: *keys* is a string, or *into* is not a projection.
        """
        if isinstance(keys, str | bytes):
            raise InvalidQuery("get_many: keys must be a collection of keys, not a string")
        projected = projection(self.table, into)
        given: dict[Any, Any] = {}  # normal key -> the first key given for it
        for key in keys:
            given.setdefault(self.key(key), key)
        base = and_(self.visibility(deleted), *_opt(self.scope(scope, "get_many")))
        columns = None if projected is None else projected.columns()
        key_of = self.table.key_of
        normals = list(given)
        rows: dict[Any, Row] = {}
        guard = await self.scope_guard(session, scope)
        base = and_(base, guard)
        for chunk in self.chunks(session, normals):
            query = Select(self.table, and_(chunk, base), columns=columns)
            for row in await session.select(query):
                rows[key_of(row)] = row
        if not rows:
            await self.scope_missing(session, scope, guard)
        read = _reader(self.table, projected)
        entities: dict[Any, Any] = {}
        missing: list[Any] = []
        for normal, key in given.items():
            hit = rows.get(normal)
            if hit is None:
                missing.append(key)
            else:
                entities[key] = read(hit)
        return Found(entities, missing)


#: A get's soft-delete view: its condition, its plan's AND items after the key's, their operands.
_PreparedGet = tuple[Condition, tuple[Hashable, ...], tuple[Any, ...]]


#: The plan of FALSE: no operands.
_NOTHING = Plan(False, ())


def _conjunction(first: Hashable, items: tuple[Hashable, ...]) -> Hashable:
    """The plan key of ``and_(first, *items)``, as :func:`~repokit.planning.plan` makes it."""
    if False in items:
        return False
    return (AND, (first, *items)) if items else first


def _cursor_key(table: Table[Any], orders: Sequence[Order], values: Sequence[Any]) -> Any:
    """The primary key of a cursor's entity, read from its sort-key values; ``None`` if unknown.

    A total order holds every key field (:meth:`BatchQuerier.total_order`).
    """
    position = {order.field: i for i, order in enumerate(orders)}
    parts = []
    for field in table.key_fields:
        i = position.get(field)
        if i is None or values[i] is None:
            return None
        parts.append(values[i])
    return parts[0] if len(parts) == 1 else tuple(parts)


def _opt(condition: Condition | None) -> tuple[Condition, ...]:
    return () if condition is None else (condition,)


class BatchQuerier(Utility[T]):
    """Searches and counts entities of one table."""

    __slots__ = ()

    def where(
        self,
        conditions: Condition | Iterable[Condition] | None,
        scope: ScopeArg,
        deleted: Deleted,
        what: str = "search",
    ) -> Condition:
        """The full filter of a search: conditions AND scope AND soft-delete view."""
        scoped = _opt(self.scope(scope, what))
        return and_(self.filters(conditions), self.visibility(deleted), *scoped)

    def total_order(self, orders: Iterable[Order]) -> tuple[Order, ...]:
        """The caller's orders, checked, with the primary key as the final tie-breaker."""
        result: list[Order] = []
        missing = set(self.table.key_fields)
        for order in orders:
            if not isinstance(order, Order):
                raise InvalidQuery(
                    f"expected an order (c.field.asc() / .desc()), got {excerpt(order)}"
                )
            if order.table != self.table.name or order.field not in self.table.fields:
                raise InvalidQuery(
                    f"order on {order.table}.{order.field} used with {self.table.name}"
                )
            result.append(order)
            missing.discard(order.field)
            if not missing:
                return tuple(result)  # already total
        # Every key field the orders lack, in key order (CONTRACT §5, §22).
        result.extend(self.table.c[f].asc() for f in self.table.key_fields if f in missing)
        return tuple(result)

    async def count(
        self,
        session: Session,
        *,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
    ) -> int:
        """The number of entities matching *conditions* within *scope*.

        ``None`` or an empty list of conditions filter nothing (see :meth:`search`).
        """
        where = self.where(conditions, scope, deleted, "count")
        guard = await self.scope_guard(session, scope)
        total = await session.count(self.table, and_(where, guard))
        if not total:
            await self.scope_missing(session, scope, guard)
        return total

    async def exists(
        self,
        session: Session,
        *,
        conditions: Condition | Iterable[Condition] | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
    ) -> bool:
        """Whether any entity matches *conditions* within *scope*: one cheap statement.

        ``None`` or an empty list of conditions filter nothing (see :meth:`search`).
        """
        where = self.where(conditions, scope, deleted, "exists")
        guard = await self.scope_guard(session, scope)
        found = await session.exists(self.table, and_(where, guard))
        if not found:
            await self.scope_missing(session, scope, guard)
        return found

    @overload
    def stream(
        self,
        source: Session | Database,
        *,
        conditions: Condition | Iterable[Condition] | None = ...,
        orders: Iterable[Order] = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        chunk_size: int = ...,
        into: None = ...,
    ) -> AsyncIterator[T]: ...

    @overload
    def stream(
        self,
        source: Session | Database,
        *,
        conditions: Condition | Iterable[Condition] | None = ...,
        orders: Iterable[Order] = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        chunk_size: int = ...,
        into: type[P],
    ) -> AsyncIterator[P]: ...

    def stream(
        self,
        source: Session | Database,
        *,
        conditions: Condition | Iterable[Condition] | None = None,
        orders: Iterable[Order] = (),
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        into: type[Any] | None = None,
    ) -> AsyncIterator[Any]:
        """Every entity matching *conditions* within *scope*, in *orders*, chunk by chunk.

        An async iterator holding one chunk at a time, whatever the size of the
        result (CONTRACT §19). Each chunk is one keyset read of at most
        *chunk_size* entities after the last one yielded, in the total order
        (*orders*, then the primary key), with no cursor encoded.

        Args:
            source: a :class:`~repokit.Database`: each chunk is read in a
                read-only session of its own, opened and ended around that
                read, so nothing is held between chunks (no session, no
                transaction, no server cursor); or a :class:`~repokit.Session`:
                every chunk is read in it (the caller's transaction).
            conditions: as for :meth:`search`.
            orders: sort keys; the primary key is appended as the tie-breaker.
            scope: one scope, several (ORed) or ``None``.
            deleted: which soft-deleted entities to see.
            chunk_size: entities per read, 1 to :data:`~repokit.MAX_PAGE_SIZE`.
            into: a projection class to read into instead of the entity.

        Raises:
            InvalidQuery: bad conditions, orders, chunk size or projection,
                raised by this call (before any I/O), not by the iteration.
        """
        size = check_chunk_size(chunk_size)
        projected = projection(self.table, into)
        where = self.where(conditions, scope, deleted, "stream")
        ordered = self.total_order(orders)
        columns = None if projected is None else projected.columns(o.field for o in ordered)
        if not isinstance(source, Session | Database):
            raise InvalidQuery(f"stream: expected a Database or a Session, got {excerpt(source)}")
        read = _reader(self.table, projected)
        return self._chunks(source, where, ordered, size, columns, read, scope)

    async def _chunks(
        self,
        source: Session | Database,
        where: Condition,
        ordered: tuple[Order, ...],
        size: int,
        columns: tuple[str, ...] | None,
        read: Callable[[Row], Any],
        scope: ScopeArg,
    ) -> AsyncIterator[Any]:
        # The first chunk's filter is planned once here; later chunks add the keyset
        # boundary (whose values the backend lifts as operands: one shape for them all).
        query = Select(self.table, where, ordered, size, plan=plan(where), columns=columns)
        while True:
            # Each chunk's read checks the scope's targets too, in its own session:
            # a target deleted between two chunks ends the stream (CONTRACT §24).
            if isinstance(source, Session):
                rows = await self._checked(scope, query)(source)
            else:
                rows = await source.run_in_transaction(self._checked(scope, query), read_only=True)
            # The session (if it was ours) has ended: the caller's loop body runs
            # with nothing held, and breaking out leaves nothing to release.
            for row in rows:
                yield read(row)
            if len(rows) < size:
                return
            boundary = keyset_after(ordered, sort_values(rows[-1], ordered))
            del rows
            query = Select(self.table, and_(where, boundary), ordered, size, columns=columns)

    def _checked(self, scope: ScopeArg, query: Select) -> Callable[[Session], Awaitable[list[Row]]]:
        """The work of a session that reads a stream's chunk: *query*, the scope checked."""

        async def work(session: Session) -> list[Row]:
            guard = await self.scope_guard(session, scope)
            if guard is TRUE:
                return await session.select(query)
            where = and_(query.where, guard)
            rows = await session.select(dataclasses.replace(query, where=where, plan=None))
            if not rows:
                await self.scope_missing(session, scope, guard)
            return rows

        return work

    @overload
    async def search(
        self,
        session: Session,
        *,
        conditions: Condition | Iterable[Condition] | None = ...,
        orders: Iterable[Order] = ...,
        pagination: Pagination | None = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        total_count: bool = ...,
        into: None = ...,
    ) -> Page[T]: ...

    @overload
    async def search(
        self,
        session: Session,
        *,
        conditions: Condition | Iterable[Condition] | None = ...,
        orders: Iterable[Order] = ...,
        pagination: Pagination | None = ...,
        scope: ScopeArg = ...,
        deleted: Deleted = ...,
        total_count: bool = ...,
        into: type[P],
    ) -> Page[P]: ...

    async def search(
        self,
        session: Session,
        *,
        conditions: Condition | Iterable[Condition] | None = None,
        orders: Iterable[Order] = (),
        pagination: Pagination | None = None,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
        total_count: bool = False,
        into: type[Any] | None = None,
    ) -> Page[Any]:
        """A page of the entities matching *conditions* within *scope*, in *orders*.

        Args:
            conditions: conditions, ANDed; ``None`` or an empty list filter
                nothing. Unlike a batch write (which refuses an empty list),
                a read may take one: it never changes anything.
            orders: sort keys; the primary key is appended as the tie-breaker.
            pagination: :class:`OffsetPagination` or :class:`CursorPagination`;
                ``None`` returns every match.
            scope: one scope, several (ORed) or ``None``.
            deleted: which soft-deleted entities to see.
            total_count: also count the whole filtered, scoped set.
            into: a projection class to read into instead of the entity
                (CONTRACT §19); the sort keys are fetched for the cursors but
                only the projection's fields are returned.

        Raises:
            InvalidQuery: bad conditions, orders, pagination or projection.
            InvalidCursor: a cursor that is malformed or from another query.
        """
        projected = projection(self.table, into)
        where = self.where(conditions, scope, deleted)
        ordered = self.total_order(orders)
        columns = None if projected is None else projected.columns(o.field for o in ordered)
        if pagination is not None and not isinstance(pagination, Pagination):
            raise InvalidQuery(f"unknown pagination {excerpt(pagination)}")
        guard = await self.scope_guard(session, scope)
        # Planned once: for the cursors' fingerprint and for the backend.
        planned = plan(where)
        bound_to = fingerprint(self.table, where, ordered, planned=planned)
        if guard is not TRUE:
            # The scope's targets ride in every statement of the page (CONTRACT §24).
            where = and_(where, guard)
            planned = plan(where)
        if pagination is None or isinstance(pagination, OffsetPagination):
            rows, total, has_next, has_previous = await self._offset(
                session, where, planned, ordered, pagination, total_count, columns
            )
        elif isinstance(pagination, CursorPagination):
            rows, total, has_next, has_previous = await self._keyset(
                session, where, planned, ordered, pagination, total_count, bound_to, columns
            )
        else:
            raise InvalidQuery(f"unknown pagination {excerpt(pagination)}")
        if not rows:
            await self.scope_missing(session, scope, guard)
        codec = session.database.cursors
        keyset = isinstance(pagination, CursorPagination)

        def cursor(row: Row) -> str | None:
            try:
                return codec.encode(self.table, ordered, bound_to, row)
            except InvalidQuery:
                # Sort values too long for a cursor (MAX_CURSOR_LENGTH): a keyset walk
                # cannot go on without one, an offset page has no need of it (CONTRACT §13).
                if keyset:
                    raise
                return None

        read = _reader(self.table, projected)
        return Page(
            items=[read(row) for row in rows],
            total_count=total,
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursor(rows[0]) if rows else None,
            end_cursor=cursor(rows[-1]) if rows else None,
        )

    async def _offset(
        self,
        session: Session,
        where: Condition,
        planned: Plan,
        orders: Sequence[Order],
        pagination: OffsetPagination | None,
        with_count: bool,
        columns: tuple[str, ...] | None,
    ) -> tuple[list[Row], int | None, bool, bool]:
        if pagination is None:
            query = Select(self.table, where, tuple(orders), plan=planned, columns=columns)
            rows, total = await session.select_page(query, with_count=with_count)
            return rows, total, False, False
        limit, offset = pagination.limit, pagination.offset
        query = Select(self.table, where, tuple(orders), limit + 1, offset, planned, columns)
        rows, total = await session.select_page(query, with_count=with_count)
        has_next = len(rows) > limit
        if offset == 0:
            has_previous = False
        elif rows:
            has_previous = True
        elif total is not None:
            has_previous = total > 0
        else:
            has_previous = await session.exists(self.table, where)
        return rows[:limit], total, has_next, has_previous

    async def _keyset(
        self,
        session: Session,
        where: Condition,
        planned: Plan,
        orders: tuple[Order, ...],
        pagination: CursorPagination,
        with_count: bool,
        bound_to: bytes,
        columns: tuple[str, ...] | None,
    ) -> tuple[list[Row], int | None, bool, bool]:
        backward = pagination.backward
        size = pagination.last if backward else pagination.first
        assert size is not None
        cursor = pagination.before if backward else pagination.after
        walk = reverse(orders) if backward else orders
        boundary = None
        values = None
        if cursor is not None:
            values = session.database.cursors.decode(cursor, self.table, orders, bound_to)
            boundary = keyset_after(walk, values)
        page_where = where if boundary is None else and_(where, boundary)
        # Entities on the far side of the cursor (the cursor's own entity included):
        # the cursor's entity itself, by its key, settles it in one index lookup
        # unless it was deleted or changed meanwhile; then the whole far side is probed.
        probes: tuple[Condition, ...] = ()
        if boundary is not None and values is not None:
            behind = and_(where, not_(boundary))
            probes = (behind,)
            key = _cursor_key(self.table, orders, values)
            if key is not None:
                probes = (and_(behind, self.table.key_condition(key)), behind)
        page_plan = planned if boundary is None else None  # where's plan is the first page's
        query = Select(self.table, page_where, walk, size + 1, plan=page_plan, columns=columns)
        window = await session.select_window(
            query, count=where if with_count else None, probes=probes
        )
        rows = window.rows
        more = len(rows) > size
        rows = rows[:size]
        if backward:
            rows.reverse()
            return rows, window.total, window.probed, more
        return rows, window.total, more, window.probed
