"""Querier (get by key) and BatchQuerier (search with pagination, count)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, TypeVar

from repokit.backend import Select
from repokit.conditions import And, Condition, Op, Order, and_, not_
from repokit.cursors import fingerprint, keyset_after, reverse
from repokit.database import Session
from repokit.errors import EntityNotFound, InvalidQuery, excerpt
from repokit.pagination import CursorPagination, OffsetPagination, Page, Pagination
from repokit.planning import AND, COMPARE, Plan, plan, plan_into
from repokit.scope import ScopeArg
from repokit.tables import Row, Table
from repokit.utilities.base import Deleted, Utility

__all__ = ["BatchQuerier", "Querier"]

T = TypeVar("T")


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

    def __init__(self, table: Table[T]) -> None:
        super().__init__(table)
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

    async def get(
        self,
        session: Session,
        key: Any,
        *,
        scope: ScopeArg = None,
        deleted: Deleted = Deleted.EXCLUDE,
    ) -> T:
        """The entity with primary key *key*.

        Raises:
            EntityNotFound: missing, outside *scope*, or excluded by *deleted*.
        """
        normal = self.key(key)
        prepared = self._prepared.get(deleted)
        if prepared is None:
            prepared = self._prepare(deleted)
        visible, items, rest = prepared
        pk = self.table.key_condition(normal)
        planned_pk = (COMPARE, self.table.primary_key, Op.EQ, 0)
        if scope is None:
            if not items:
                where, planned = pk, Plan(planned_pk, (normal,))
            elif items[0] is False:
                where, planned = and_(pk, visible), _NOTHING
            else:
                where = and_(pk, visible)
                planned = Plan((AND, (planned_pk, *items)), (normal, *rest))
        else:
            scope_cond = self.scope(scope)
            assert scope_cond is not None
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
        query = Select(self.table, where, limit=1, plan=planned)
        rows = await session.select(query)
        if not rows:
            raise EntityNotFound(self.table.entity_name, key)
        return self.table.from_row(rows[0])


#: A get's soft-delete view: its condition, its plan's AND items after the key's, their operands.
_PreparedGet = tuple[Condition, tuple[Hashable, ...], tuple[Any, ...]]


#: The plan of FALSE: no operands.
_NOTHING = Plan(False, ())


def _conjunction(first: Hashable, items: tuple[Hashable, ...]) -> Hashable:
    """The plan key of ``and_(first, *items)``, as :func:`~repokit.planning.plan` makes it."""
    if False in items:
        return False
    return (AND, (first, *items)) if items else first


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
    ) -> Condition:
        """The full filter of a search: conditions AND scope AND soft-delete view."""
        return and_(self.filters(conditions), self.visibility(deleted), *_opt(self.scope(scope)))

    def total_order(self, orders: Iterable[Order]) -> tuple[Order, ...]:
        """The caller's orders, checked, with the primary key as the final tie-breaker."""
        result: list[Order] = []
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
            if order.field == self.table.primary_key:
                return tuple(result)  # already total
        result.append(self.table.c[self.table.primary_key].asc())
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
        where = self.where(conditions, scope, deleted)
        return await session.count(self.table, where)

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
    ) -> Page[T]:
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

        Raises:
            InvalidQuery: bad conditions, orders or pagination.
            InvalidCursor: a cursor that is malformed or from another query.
        """
        where = self.where(conditions, scope, deleted)
        ordered = self.total_order(orders)
        # Planned once: for the cursors' fingerprint and for the backend.
        planned = plan(where)
        bound_to = fingerprint(self.table, where, ordered, planned=planned)
        if pagination is None or isinstance(pagination, OffsetPagination):
            rows, total, has_next, has_previous = await self._offset(
                session, where, planned, ordered, pagination, total_count
            )
        elif isinstance(pagination, CursorPagination):
            rows, total, has_next, has_previous = await self._keyset(
                session, where, planned, ordered, pagination, total_count, bound_to
            )
        else:
            raise InvalidQuery(f"unknown pagination {excerpt(pagination)}")
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

        return Page(
            items=[self.table.from_row(row) for row in rows],
            total_count=total,
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursor(rows[0]) if rows else None,
            end_cursor=cursor(rows[-1]) if rows else None,
        )

    async def _exists(self, session: Session, where: Condition) -> bool:
        query = Select(self.table, where, limit=1)
        return bool(await session.select(query))

    async def _offset(
        self,
        session: Session,
        where: Condition,
        planned: Plan,
        orders: Sequence[Order],
        pagination: OffsetPagination | None,
        with_count: bool,
    ) -> tuple[list[Row], int | None, bool, bool]:
        if pagination is None:
            query = Select(self.table, where, tuple(orders), plan=planned)
            rows, total = await session.select_page(query, with_count=with_count)
            return rows, total, False, False
        limit, offset = pagination.limit, pagination.offset
        query = Select(self.table, where, tuple(orders), limit + 1, offset, planned)
        rows, total = await session.select_page(query, with_count=with_count)
        has_next = len(rows) > limit
        if offset == 0:
            has_previous = False
        elif rows:
            has_previous = True
        elif total is not None:
            has_previous = total > 0
        else:
            has_previous = await self._exists(session, where)
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
            if values[-1] is not None:
                probes = (and_(behind, self.table.key_condition(values[-1])), behind)
        page_plan = planned if boundary is None else None  # where's plan is the first page's
        query = Select(self.table, page_where, walk, size + 1, plan=page_plan)
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
