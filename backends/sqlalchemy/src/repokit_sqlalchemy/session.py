"""One session on a SQL database: the SPI's reads and writes as single statements.

Every SPI call is one statement, one round trip: multi-row inserts go out as
one executemany (asyncpg pipelines it, sqlite3 loops in C), updates and
deletes report matched rows from the statement itself, and a page with its
total count is a single statement joining the count to the page, so both
come from one snapshot whatever the isolation level.

Conditions are planned by core (:mod:`repokit.planning`: a shape key and the
operands, lifted in one walk); statements are built with SQLAlchemy Core once
per key and then run on the driver connection directly
(:mod:`repokit_sqlalchemy.statements`), bound with the plan's operands. A
read-write session begins its transaction with its first statement, in the
same round trip where the driver allows it (SQLite); a read-only session
opens none: each of its statements is atomic on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from repokit.backend import BackendSession, Select, Upsert, UpsertResult, Window
from repokit.conditions import Condition, Const
from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    RepositoryError,
    UnsupportedOperation,
)
from repokit.planning import plan_into
from repokit.shielding import shielded
from repokit.tables import Row, Table
from repokit_sqlalchemy.conditions import Binder, compile_orders, compile_planned
from repokit_sqlalchemy.errors import translate
from repokit_sqlalchemy.schema import sql_table, unique_predicate
from repokit_sqlalchemy.statements import Statement

if TYPE_CHECKING:
    from repokit_sqlalchemy.backend import Lease, SQLAlchemyBackend

__all__ = ["SQLAlchemySession"]

R = TypeVar("R")

#: The slots of a read's limit and offset, ``None`` for those it does not have.
_Slots = tuple[int | None, int | None]
#: A window's plan keys: page filter, count (if any), probes, and the page's slots.
_Window = tuple[Hashable, Hashable | None, tuple[Hashable, ...], _Slots]

_TOTAL = "repokit_total"
_INSERTED = "repokit_inserted"
_PROBED = "repokit_probed"

#: DEBUG: the SQL text of each statement, before it runs (never its parameters: they are
#: in ``repokit.statements`` records when the Database logs values). Statements run on the
#: driver, so SQLAlchemy's ``echo`` and execution events never see them.
_log = logging.getLogger("repokit.sqlalchemy")
_DEBUG = logging.DEBUG


#: How often a lone upsert runs again after losing a race on another unique key.
_UPSERT_ATTEMPTS = 3


class SQLAlchemySession(BackendSession):
    """A session on one leased connection (see :class:`repokit_sqlalchemy.backend.Lease`)."""

    __slots__ = (
        "_autocommit",
        "_backend",
        "_begin",
        "_broken",
        "_cache",
        "_dialect",
        "_lease",
        "_savepoints",
        "_skipped",
    )

    def __init__(self, backend: SQLAlchemyBackend, lease: Lease, *, read_only: bool) -> None:
        super().__init__(read_only=read_only)
        self._backend = backend
        self._dialect = backend.dialect
        self._cache = backend.statements
        self._lease: Lease | None = lease
        #: What the first statement must run before itself (the transaction's BEGIN).
        self._begin = lease.begins[read_only]
        #: Whether the connection failed (it must not be used again).
        self._broken = False
        #: Whether each statement is its own transaction (a single-statement write).
        self._autocommit = False
        #: The BEGIN a single-statement hint skipped, until the first statement runs.
        self._skipped: str | None = None
        #: How many savepoints the session has begun (their names are numbered).
        self._savepoints = 0

    def single_statement(self) -> None:
        # No BEGIN, no COMMIT: the one write commits itself, in one round trip (one hop to
        # SQLite's thread). Only before the first statement, and never for a read-only
        # session (which opens no transaction anyway).
        lease = self._lease
        if not self.read_only and self._begin is not None and lease is not None and lease.alone:
            self._skipped, self._begin = self._begin, None
            self._autocommit = True

    # -- plumbing ----------------------------------------------------------------------------

    def _live(self) -> Lease:
        if self._lease is None:
            raise RepositoryError("the session has ended")
        return self._lease

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise UnsupportedOperation(f"{what}: a read-only session refuses writes")

    def _error(self, exc: BaseException, table: Table[Any] | None) -> RepositoryError:
        mapped = translate(exc, self._dialect, table)
        if mapped is None and self._lease is not None and self._dialect.closed(self._lease.driver):
            mapped = BackendUnavailable(f"the {self._dialect.name} connection was lost: {exc}")
        if mapped is None:
            mapped = RepositoryError(f"{self._dialect.name} error: {exc}")
        if isinstance(mapped, BackendUnavailable):
            self._broken = True
        return mapped

    async def _call(
        self,
        table: Table[Any] | None,
        sql: str,
        call: Callable[[Any, str | None], Coroutine[Any, Any, R]],
    ) -> R:
        """Run *call(driver, begin)*, statement *sql*: the first carries the transaction's BEGIN."""
        driver = self._live().driver
        begin, self._begin = self._begin, None
        self._skipped = None
        if _log.isEnabledFor(_DEBUG):
            _log.debug(
                "%s%s",
                f"{begin}; " if begin else "",
                sql,
                extra={
                    "db_table": None if table is None else table.name,
                    "db_statement": sql,
                    "db_begin": begin,
                },
            )
        try:
            if self._autocommit:
                # The statement is its own COMMIT: once sent, it runs to its end, and a
                # cancellation is raised afterwards (CONTRACT §12). Never an executemany:
                # core hints single statements for writes of one entity, and one row is
                # inserted with execute (postgres._unless_lost wakes a stuck executemany
                # by cancelling its task, which shielded() would hold).
                return await shielded(call(driver, None))
            return await call(driver, begin)
        except Exception as exc:
            raise self._error(exc, table) from exc

    async def _fetch(
        self, table: Table[Any], statement: Statement, params: Sequence[Any]
    ) -> Sequence[Sequence[Any]]:
        fetch = self._dialect.fetch
        return await self._call(
            table, statement.sql, lambda driver, begin: fetch(driver, statement.sql, params, begin)
        )

    async def _execute(self, table: Table[Any], statement: Statement, params: Sequence[Any]) -> int:
        execute = self._dialect.execute
        return await self._call(
            table,
            statement.sql,
            lambda driver, begin: execute(driver, statement.sql, params, begin),
        )

    def _where(self, table: Table[Any], key: Hashable, bind: Binder) -> sa.ColumnElement[bool]:
        return compile_planned(key, table, sql_table(table), self._dialect, bind)

    @staticmethod
    def _planned(query: Select, values: list[Any]) -> Hashable:
        """The plan key of ``query.where``, its operands appended to *values*.

        A plan core made already (``query.plan``, slots from 0) is taken as it is
        when it comes first.
        """
        made = query.plan
        if made is None or values:
            return plan_into(query.where, values)
        values.extend(made.operands)
        return made.key

    # -- SPI ---------------------------------------------------------------------------------

    async def insert(self, table: Table[Any], rows: Sequence[Row]) -> None:
        self._writable("insert")
        if not rows:
            return
        sql = sql_table(table)
        names = sql.c.keys()
        first = [rows[0][name] for name in names]

        def build(bind: Binder) -> sa.Insert:
            return sa.insert(sql).values({n: bind(i, sql.c[n].type) for i, n in enumerate(names)})

        statement, params = self._cache.get(("insert", table), first, build)
        if len(rows) == 1:
            await self._execute(table, statement, params)
            return
        batch = [statement.params([row[name] for name in names]) for row in rows]
        executemany = self._dialect.executemany
        await self._call(
            table,
            statement.sql,
            lambda driver, begin: executemany(driver, statement.sql, batch, begin),
        )

    async def insert_if(self, table: Table[Any], row: Row, guard: Condition) -> bool:
        # INSERT … SELECT <the row> WHERE <guard>: the guard's semi-joins are asked as the
        # row is written, in the one statement (CONTRACT §24).
        self._writable("insert")
        sql = sql_table(table)
        names = sql.c.keys()
        values = [row[name] for name in names]
        planned = plan_into(guard, values)
        if planned is False:
            return False
        if planned is True:
            await self.insert(table, (row,))
            return True

        def build(bind: Binder) -> sa.Insert:
            selected = sa.select(*[bind(i, sql.c[n].type) for i, n in enumerate(names)])
            source = selected.where(self._where(table, planned, bind))
            return sa.insert(sql).from_select(names, source)

        statement, params = self._cache.get(("insert_if", table, planned), values, build)
        return await self._execute(table, statement, params) > 0

    def _select(
        self,
        query: Select,
        key: Hashable,
        slots: _Slots,
        bind: Binder,
        where: sa.ColumnElement[bool] | None = None,
    ) -> sa.Select[Any]:
        sql = sql_table(query.table)
        if where is None:
            where = self._where(query.table, key, bind)
        columns = query.columns
        # A projection's select list names only its columns (CONTRACT §19).
        selected = sa.select(sql) if columns is None else sa.select(*[sql.c[n] for n in columns])
        statement = selected.where(where)
        statement = statement.order_by(
            *compile_orders(query.orders, query.table, sql, self._dialect)
        )
        limit, offset = slots
        if limit is not None:
            statement = statement.limit(bind(limit, sa.Integer()))
        if offset is not None:
            statement = statement.offset(bind(offset, sa.Integer()))
        elif limit is not None and self._dialect.offset_with_limit:
            # SQLite's compiler would add an OFFSET parameter of its own (making the
            # statement uncacheable): a literal 0 instead.
            statement = statement.offset(sa.literal_column("0"))
        return statement

    @staticmethod
    def _slice(query: Select, values: list[Any]) -> _Slots:
        """Append the limit and the offset (when there are) to *values*; return their slots."""
        limit = offset = None
        if query.limit is not None:
            limit = len(values)
            values.append(query.limit)
        if query.offset:
            offset = len(values)
            values.append(query.offset)
        return limit, offset

    async def select(self, query: Select) -> list[Row]:
        values: list[Any] = []
        where = self._planned(query, values)
        slots = self._slice(query, values)
        key = ("select", query.table, where, query.orders, slots, query.columns)
        statement, params = self._cache.get(
            key, values, lambda bind: self._select(query, where, slots, bind)
        )
        records = await self._fetch(query.table, statement, params)
        return self._backend.reader(query.table, query.columns).rows(records)

    async def count(self, table: Table[Any], where: Condition) -> int:
        values: list[Any] = []
        planned = plan_into(where, values)
        key = ("count", table, planned)

        def build(bind: Binder) -> sa.Select[Any]:
            sql = sql_table(table)
            condition = self._where(table, planned, bind)
            return sa.select(sa.func.count()).select_from(sql).where(condition)

        statement, params = self._cache.get(key, values, build)
        records = await self._fetch(table, statement, params)
        return int(records[0][0])

    async def select_page(self, query: Select, *, with_count: bool) -> tuple[list[Row], int | None]:
        if not with_count:
            return await self.select(query), None
        window = await self._window(query, query.where)
        return window.rows, window.total

    async def select_window(
        self, query: Select, *, count: Condition | None, probes: Sequence[Condition] = ()
    ) -> Window:
        if count is None and not probes:
            return Window(await self.select(query))
        return await self._window(query, count, tuple(probes))

    async def _window(
        self, query: Select, count: Condition | None, probes: tuple[Condition, ...] = ()
    ) -> Window:
        # The page with the count and the probe as uncorrelated scalar subqueries:
        # one statement, one snapshot, each subquery evaluated once (SQLite plans a
        # scalar count several times faster than a join).
        table = query.table
        values: list[Any] = []
        # Planned into one list, in the order the statement binds them: page filter,
        # count, probes, limit, offset (each key names its own slots).
        where = self._planned(query, values)
        if count is None:
            counted = None
        elif count is query.where:
            counted = where  # the very same condition: the same operands, the same slots
        else:
            counted = plan_into(count, values)
        probed = tuple([plan_into(probe, values) for probe in probes])
        slots = self._slice(query, values)
        planned: _Window = (where, counted, probed, slots)
        key = ("window", table, planned, query.orders, query.columns)
        statement, params = self._cache.get(
            key, values, lambda bind: self._windowed(query, planned, bind)
        )
        records = await self._fetch(table, statement, params)
        reader = self._backend.reader(table, query.columns)
        if not records:
            # An empty page carries no count: fetch both again, still in one statement.
            statement, params = self._cache.get(
                ("window_empty", *key[1:]),
                values,
                lambda bind: self._windowed(query, planned, bind, outer=True),
            )
            records = await self._fetch(table, statement, params)
            pk = reader.names.index(table.key_fields[0])
            rows = [reader.row(record) for record in records if record[pk] is not None]
        else:
            rows = reader.rows(records)
        extra = records[0][reader.width :]
        total = None if count is None else int(extra[0])
        found = bool(extra[-1]) if probes else False
        return Window(rows, total, found)

    def _windowed(
        self, query: Select, planned: _Window, bind: Binder, *, outer: bool = False
    ) -> sa.Select[Any]:
        table = query.table
        sql = sql_table(table)
        where, counted, probed, slots = planned
        extras: list[sa.ColumnElement[Any]] = []
        if counted is not None:
            condition = self._where(table, counted, bind)
            total = sa.select(sa.func.count()).select_from(sql).where(condition)
            extras.append(total.scalar_subquery().label(_TOTAL))
        if probed:
            # EXISTS (…) OR EXISTS (…): evaluated left to right, the first found wins.
            found = [
                sa.select(sql.c[table.key_fields[0]])
                .where(self._where(table, probe, bind))
                .exists()
                for probe in probed
            ]
            extras.append(sa.or_(*found).label(_PROBED))
        page = self._select(query, where, slots, bind)
        if not outer:
            return page.add_columns(*extras)
        # The page LEFT JOIN'd to a single row: that row carries the extras even
        # when the page is empty (its columns are then null).
        inner = page.subquery("page")
        one = sa.select(sa.literal_column("1").label("one")).subquery("one")
        return (
            sa.select(*inner.c, *extras)
            .select_from(one.outerjoin(inner, sa.true()))
            .order_by(*compile_orders(query.orders, table, inner.c, self._dialect))
        )

    async def update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> int:
        self._writable("update")
        if not values and not increment:
            return await self.count(table, where)
        statement, params = self._update(table, where, values, increment, returning=False)
        return await self._execute(table, statement, params)

    async def update_one(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        *,
        increment: Sequence[str] = (),
    ) -> Row | None:
        self._writable("update")
        if not values and not increment:
            return await super().update_one(table, where, values, increment=increment)
        # UPDATE … RETURNING: the write and the row as stored, in one round trip.
        statement, params = self._update(table, where, values, increment, returning=True)
        records = await self._fetch(table, statement, params)
        return self._backend.reader(table).row(records[0]) if records else None

    def _update(
        self,
        table: Table[Any],
        where: Condition,
        values: Mapping[str, Any],
        increment: Sequence[str],
        *,
        returning: bool,
    ) -> tuple[Statement, Sequence[Any]]:
        # The new values take slots 0 … n-1; the condition's are planned after them.
        operands = list(values.values())
        condition = plan_into(where, operands)
        key = ("update", table, tuple(values), tuple(increment), condition, returning)

        def build(bind: Binder) -> sa.Update:
            sql = sql_table(table)
            assignments: dict[str, Any] = {f: bind(i, sql.c[f].type) for i, f in enumerate(values)}
            for field in increment:
                assignments[field] = sql.c[field] + sa.literal_column("1")
            restrict = self._where(table, condition, bind)
            statement = sa.update(sql).values(assignments).where(restrict)
            return statement.returning(*sql.c) if returning else statement

        return self._cache.get(key, operands, build)

    async def delete(self, table: Table[Any], where: Condition) -> int:
        self._writable("delete")
        # Everything: no WHERE at all, which SQLite runs as a truncate (~9× faster
        # than the same delete with WHERE 1 = 1 on 20k rows).
        everything = isinstance(where, Const) and where.value
        values: list[Any] = []
        planned = None if everything else plan_into(where, values)
        key = ("delete", table, planned)

        def build(bind: Binder) -> sa.Delete:
            statement = sa.delete(sql_table(table))
            if planned is None:
                return statement
            return statement.where(self._where(table, planned, bind))

        statement, params = self._cache.get(key, values, build)
        return await self._execute(table, statement, params)

    # -- upsert --

    async def upsert(self, upsert: Upsert) -> UpsertResult:
        # INSERT … ON CONFLICT (key) [WHERE partial-index predicate] DO UPDATE SET …
        # WHERE guard RETURNING …: one statement, race-free (CONTRACT §18).
        self._writable("upsert")
        table = upsert.table
        insert = self._dialect.upsert_insert(sql_table(table))
        key = upsert.key
        if key is not None and key.nulls_equal and self._dialect.name != "postgresql":
            # The emulated key's index is on expressions, which ON CONFLICT (fields)
            # cannot name: read the holder, then write, in one transaction (CONTRACT §22).
            insert = None
            self._undo_single_statement()
        if insert is None:
            return await super().upsert(upsert)
        tells = self._dialect.upsert_inserted()
        held = False
        if tells is None:
            # The row cannot say whether it was inserted: ask first, in the same
            # transaction (whose one writer nobody can overtake in between).
            self._undo_single_statement()
            held = await self.count(table, upsert.holds()) > 0
        statement, params = self._upsert(upsert, insert, tells)
        for attempt in range(1, _UPSERT_ATTEMPTS + 1):
            try:
                records = await self._fetch(table, statement, params)
                break
            except EntityAlreadyExists as exc:
                # ON CONFLICT covers the deciding key only: an insert racing one of the
                # same row can collide on another unique key first (PostgreSQL checks
                # those without waiting to take the update path). A statement that
                # commits itself changed nothing by failing: run it again, and it finds
                # the winner's row. (In a transaction the failure stands, as any other.)
                if not self._autocommit or upsert.collided(exc) or attempt == _UPSERT_ATTEMPTS:
                    raise
        if not records:
            return UpsertResult(None, False)  # held, and the guard left it as it is
        reader = self._backend.reader(table)
        record = records[0]
        inserted = bool(record[reader.width]) if tells is not None else not held
        return UpsertResult(reader.row(record), inserted)

    def _undo_single_statement(self) -> None:
        """Take back a single-statement hint before the first statement: begin a transaction."""
        if self._autocommit and self._skipped is not None:
            self._begin, self._skipped = self._skipped, None
            self._autocommit = False

    def _upsert(
        self, upsert: Upsert, insert: Any, tells: sa.ColumnElement[bool] | None
    ) -> tuple[Statement, Sequence[Any]]:
        table = upsert.table
        sql = sql_table(table)
        names = sql.c.keys()
        # The row takes slots 0 … n-1, the update's values the next ones, then the guard's.
        operands = [upsert.row[name] for name in names]
        updates = upsert.updates
        fields = tuple(upsert.values) if updates else ()
        operands += [upsert.values[field] for field in fields]
        guard = plan_into(upsert.guard, operands) if updates else None
        increment = tuple(upsert.increment) if updates else ()
        unique = None if upsert.key is None else upsert.key.name
        key = ("upsert", table, unique, fields, increment, guard, tells is not None)

        def build(bind: Binder) -> sa.ClauseElement:
            statement = insert.values({n: bind(i, sql.c[n].type) for i, n in enumerate(names)})
            target = [sql.c[field] for field in upsert.fields]
            partial = None
            if upsert.key is not None and upsert.key.where is not None:
                # The partial index's own predicate, literally: the database infers the
                # index from it (a bound parameter would not match).
                where = unique_predicate(table, upsert.key, self._dialect.name)
                text = where.compile(
                    dialect=self._cache.dialect,
                    compile_kwargs={"literal_binds": True, "include_table": False},
                )
                partial = sa.text(str(text))
            if guard is None:
                statement = statement.on_conflict_do_nothing(
                    index_elements=target, index_where=partial
                )
            else:
                start = len(names)
                assignments: dict[str, Any] = {
                    f: bind(start + i, sql.c[f].type) for i, f in enumerate(fields)
                }
                for field in increment:
                    assignments[field] = sql.c[field] + sa.literal_column("1")
                statement = statement.on_conflict_do_update(
                    index_elements=target,
                    index_where=partial,
                    set_=assignments,
                    where=self._where(table, guard, bind),
                )
            columns: list[Any] = [*sql.c]
            if tells is not None:
                columns.append(tells.label(_INSERTED))
            return statement.returning(*columns)  # type: ignore[no-any-return]

        return self._cache.get(key, operands, build)

    # -- savepoints --------------------------------------------------------------------------

    async def _plain(self, sql: str) -> None:
        """Run a statement without parameters (the transaction's BEGIN first, if not sent)."""
        fetch = self._dialect.fetch  # not execute: no row count to parse from the status
        await self._call(None, sql, lambda driver, begin: fetch(driver, sql, (), begin))

    async def begin_savepoint(self) -> object:
        self._writable("savepoint")
        self._savepoints += 1
        name = f"repokit_sp{self._savepoints}"
        await self._plain(f"SAVEPOINT {name}")
        return name

    async def release_savepoint(self, mark: object) -> None:
        await self._plain(f"RELEASE SAVEPOINT {mark}")

    async def rollback_to_savepoint(self, mark: object) -> None:
        # ROLLBACK TO keeps the savepoint; RELEASE then forgets it, as the SPI says.
        await self._plain(f"ROLLBACK TO SAVEPOINT {mark}")
        await self._plain(f"RELEASE SAVEPOINT {mark}")

    # -- reads --

    async def exists(self, table: Table[Any], where: Condition) -> bool:
        # SELECT EXISTS (SELECT 1 … WHERE …): the database stops at the first match.
        values: list[Any] = []
        planned = plan_into(where, values)
        key = ("exists", table, planned)

        def build(bind: Binder) -> sa.Select[Any]:
            condition = self._where(table, planned, bind)
            return sa.select(sa.exists().where(condition))

        statement, params = self._cache.get(key, values, build)
        records = await self._fetch(table, statement, params)
        return bool(records[0][0])

    async def delete_returning(self, table: Table[Any], where: Condition) -> list[Row]:
        # DELETE … RETURNING: the rows removed, as they were, in the same statement.
        self._writable("delete")
        values: list[Any] = []
        planned = plan_into(where, values)
        key = ("delete_returning", table, planned)

        def build(bind: Binder) -> sa.ClauseElement:
            sql = sql_table(table)
            condition = self._where(table, planned, bind)
            return sa.delete(sql).where(condition).returning(*sql.c)

        statement, params = self._cache.get(key, values, build)
        records = await self._fetch(table, statement, params)
        return self._backend.reader(table).rows(records)

    # -- ending ------------------------------------------------------------------------------

    async def commit(self) -> None:
        lease = self._live()
        if self._begin is None and not self.read_only and not self._autocommit:
            try:
                # (SQLite checks that the file is still the one prepared, in the same hop.)
                await self._dialect.end(lease.driver, commit=True)
            except Exception as exc:
                raise self._error(exc, None) from exc
        await self._release(lease)

    async def rollback(self) -> None:
        lease = self._lease
        if lease is None:
            return
        try:
            if self._begin is None and not (self.read_only or self._autocommit or self._broken):
                await self._dialect.end(lease.driver, commit=False)
        except BaseException as exc:
            # A dead or confused connection (or one whose ROLLBACK was cut short) must
            # not be used again; whatever happened, the lease goes back below.
            self._broken = True
            if not isinstance(exc, Exception):
                raise
        finally:
            await self._release(lease)

    async def _release(self, lease: Lease) -> None:
        self._lease = None
        await self._backend.release(lease, broken=self._broken)
