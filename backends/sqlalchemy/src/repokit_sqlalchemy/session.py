"""One transaction on a SQL database: the SPI's reads and writes as single Core statements.

Every SPI call is one statement, one round trip: multi-row inserts go out as
one executemany (asyncpg pipelines it, sqlite3 loops in C), updates and
deletes report matched rows from the statement itself, and a page with its
total count is a single statement joining the count to the page, so both
come from one snapshot whatever the isolation level.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from repokit.backend import BackendSession, Select
from repokit.conditions import Condition, Const
from repokit.errors import RepositoryError, UnsupportedOperation
from repokit.tables import Row, Table
from repokit_sqlalchemy.conditions import compile_condition, compile_orders
from repokit_sqlalchemy.errors import translate
from repokit_sqlalchemy.schema import sql_table

if TYPE_CHECKING:
    from repokit_sqlalchemy.backend import SQLAlchemyBackend

__all__ = ["SQLAlchemySession"]

_TOTAL = "repokit_total"


class Releasable(Protocol):
    """What a session gives back when it ends (a writer turn, a pool slot)."""

    def release(self) -> None: ...


class SQLAlchemySession(BackendSession):
    """A transaction on one pooled connection, begun by the backend."""

    def __init__(
        self,
        backend: SQLAlchemyBackend,
        connection: AsyncConnection,
        turn: Releasable | None,
        *,
        read_only: bool,
    ) -> None:
        super().__init__(read_only=read_only)
        self._backend = backend
        self._dialect = backend.dialect
        self._connection: AsyncConnection | None = connection
        self._turn = turn

    # -- plumbing ----------------------------------------------------------------------------

    def _live(self) -> AsyncConnection:
        if self._connection is None:
            raise RepositoryError("the session has ended")
        return self._connection

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise UnsupportedOperation(f"{what}: a read-only session refuses writes")

    async def _execute(
        self, table: Table[Any], statement: sa.Executable, params: Any = None
    ) -> sa.CursorResult[Any]:
        connection = self._live()
        try:
            return await connection.execute(statement, params)
        except Exception as exc:
            raise self._error(exc, table) from exc

    def _error(self, exc: BaseException, table: Table[Any] | None) -> RepositoryError:
        mapped = translate(exc, self._dialect, table)
        if mapped is not None:
            return mapped
        return RepositoryError(f"{self._dialect.name} error: {exc}")

    def _where(self, table: Table[Any], condition: Condition) -> sa.ColumnElement[bool]:
        return compile_condition(condition, table, sql_table(table), self._dialect)

    @staticmethod
    def _rows(table: sa.Table, result: sa.CursorResult[Any]) -> list[Row]:
        names = table.c.keys()
        return [dict(zip(names, row, strict=True)) for row in result]

    # -- SPI ---------------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        self._writable("insert")
        if not rows:
            return
        sql = sql_table(table)
        params: Any = dict(rows[0]) if len(rows) == 1 else [dict(row) for row in rows]
        await self._execute(table, sql.insert(), params)

    def _select(self, query: Select) -> sa.Select[Any]:
        sql = sql_table(query.table)
        statement = sa.select(sql).where(self._where(query.table, query.where))
        statement = statement.order_by(
            *compile_orders(query.orders, query.table, sql, self._dialect)
        )
        if query.limit is not None:
            statement = statement.limit(query.limit)
        if query.offset:
            statement = statement.offset(query.offset)
        return statement

    async def select(self, query: Select) -> list[Row]:
        result = await self._execute(query.table, self._select(query))
        return self._rows(sql_table(query.table), result)

    async def count(self, table: Table[Any], where: Condition) -> int:
        where_sql = self._where(table, where)
        statement = sa.select(sa.func.count()).select_from(sql_table(table)).where(where_sql)
        result = await self._execute(table, statement)
        return int(result.scalar_one())

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        if not with_count:
            return await self.select(query), None
        sql = sql_table(query.table)
        where = self._where(query.table, query.where)
        # The page with the count as an uncorrelated scalar subquery: one statement,
        # one snapshot, and the count evaluated once (SQLite plans it several times
        # faster than a join). An empty page carries no count: the statement below
        # fetches both again, still in one statement.
        counted = sa.select(sa.func.count()).select_from(sql).where(where).scalar_subquery()
        first = self._select(query).add_columns(counted.label(_TOTAL))
        result = await self._execute(query.table, first)
        width = len(sql.c)
        names = sql.c.keys()
        records = list(result)
        if records:
            rows = [dict(zip(names, record[:width], strict=True)) for record in records]
            return rows, int(records[0][width])
        return await self._page_with_count(query, sql, where)

    async def _page_with_count(
        self, query: Select, sql: sa.Table, where: sa.ColumnElement[bool]
    ) -> tuple[list[Row], int]:
        # The count LEFT JOIN the page: one statement, one snapshot, and a row
        # carrying the count even when the page is empty.
        page = self._select(query).subquery("page")
        total = (
            sa.select(sa.func.count().label(_TOTAL)).select_from(sql).where(where).subquery("total")
        )
        statement = (
            sa.select(total.c[_TOTAL], *page.c)
            .select_from(total.outerjoin(page, sa.true()))
            .order_by(*compile_orders(query.orders, query.table, page.c, self._dialect))
        )
        result = await self._execute(query.table, statement)
        names = sql.c.keys()
        pk = names.index(query.table.primary_key)
        rows: list[Row] = []
        count = 0
        for record in result:
            count = int(record[0])
            values = record[1:]
            if values[pk] is not None:
                rows.append(dict(zip(names, values, strict=True)))
        return rows, count

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        self._writable("update")
        sql = sql_table(table)
        assignments: dict[str, Any] = dict(values)
        for field in increment:
            assignments[field] = sql.c[field] + 1
        if not assignments:
            return await self.count(table, where)
        statement = sa.update(sql).where(self._where(table, where)).values(assignments)
        result = await self._execute(table, statement)
        return int(result.rowcount)

    async def delete(self, table: Table[Any], where: Condition) -> int:
        self._writable("delete")
        statement = sa.delete(sql_table(table))
        # Everything: no WHERE at all, which SQLite runs as a truncate (~9× faster
        # than the same delete with WHERE 1 = 1 on 20k rows).
        if not (isinstance(where, Const) and where.value):
            statement = statement.where(self._where(table, where))
        result = await self._execute(table, statement)
        return int(result.rowcount)

    # -- ending ------------------------------------------------------------------------------

    async def commit(self) -> None:
        connection = self._live()
        try:
            await self._dialect.commit(connection)
        except Exception as exc:
            raise self._error(exc, None) from exc
        await self._release(connection)

    async def rollback(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await self._dialect.rollback(connection)
        except Exception:
            # A dead or confused connection must not go back to the pool.
            with contextlib.suppress(Exception):
                await connection.invalidate()
        await self._release(connection)

    async def _release(self, connection: AsyncConnection) -> None:
        self._connection = None
        try:
            with contextlib.suppress(Exception):
                await connection.close()
        finally:
            turn, self._turn = self._turn, None
            if turn is not None:
                turn.release()
