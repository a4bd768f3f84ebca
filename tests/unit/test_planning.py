"""Query planning: one walk gives a shape key and the operands in slot order.

Equal keys must mean equal SQL on every dialect (the SQL backend compiles
from the key), and a statement compiled for one plan must run any other plan
of its key with that plan's own operands.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from repokit import TRUE, Querier
from repokit.backend import Select
from repokit.conditions import And, Condition, IsNull, Match, MatchKind, Not, Op, Or
from repokit.cursors import CursorCodec, fingerprint
from repokit.errors import InvalidCursor
from repokit.planning import EXACT_BELOW, MANY, plan, size_class
from repokit.testing.schema import items, notes
from repokit.testing.strategies import conditions
from repokit_sqlalchemy.conditions import Binder, compile_planned
from repokit_sqlalchemy.postgres import PostgresDialect
from repokit_sqlalchemy.schema import sql_table
from repokit_sqlalchemy.sqlite import SQLiteDialect
from repokit_sqlalchemy.statements import StatementCache

T = items.name
c = items.c

DIALECTS = [
    pytest.param(SQLiteDialect(), sqlite.dialect(), id="sqlite"),
    pytest.param(PostgresDialect(), PGDialect_asyncpg(), id="postgresql"),
]


def _statement(condition: Condition, spelling: Any, engine: sa.engine.Dialect) -> sa.Select[Any]:
    planned = plan(condition)
    bind = Binder(planned.operands)
    where = compile_planned(planned.key, items, sql_table(items), spelling, bind)
    return sa.select(sql_table(items)).where(where)


def _sql(condition: Condition, spelling: Any, engine: sa.engine.Dialect) -> str:
    return str(_statement(condition, spelling, engine).compile(dialect=engine))


def _run(cache: StatementCache, condition: Condition, spelling: Any) -> tuple[str, list[Any]]:
    planned = plan(condition)
    statement, params = cache.get(
        ("select", planned.key),
        planned.operands,
        lambda bind: sa.select(sql_table(items)).where(
            compile_planned(planned.key, items, sql_table(items), spelling, bind)
        ),
    )
    return statement.sql, list(params)


# -- operands in slot order ----------------------------------------------------------------------


def test_operands_come_out_in_slot_order() -> None:
    condition = (
        (c.score > 1) & ~(c.code.in_(["a", "b"]) | c.name.startswith("x")) & c.code.is_null()
    )
    planned = plan(condition)
    assert planned.operands == (1, ("a", "b"), "x")
    assert planned.key == (
        "and",
        (
            ("cmp", "score", Op.GT, 0),
            ("not", ("or", (("in", "code", 2, 1), ("match", "name", MatchKind.STARTSWITH, 2)))),
            ("null", "code"),
        ),
    )


@settings(max_examples=200)
@given(conditions())
def test_every_slot_the_key_names_is_its_operands_index(condition: Condition) -> None:
    planned = plan(condition)
    slots: list[int] = []

    def walk(key: Any) -> None:
        if isinstance(key, bool):
            return
        tag = key[0]
        if tag in ("and", "or"):
            for item in key[1]:
                walk(item)
        elif tag == "not":
            walk(key[1])
        elif tag != "null":
            slots.append(key[3])

    walk(planned.key)
    assert slots == list(range(len(planned.operands)))
    hash(planned.key)


def test_an_empty_pattern_is_planned_as_not_null() -> None:
    empty, not_null = plan(Match(T, "name", MatchKind.CONTAINS, "")), plan(Not(IsNull(T, "name")))
    assert (
        (empty.key, empty.operands)
        == (not_null.key, not_null.operands)
        == (
            ("not", ("null", "name")),
            (),
        )
    )


# -- size classes ----------------------------------------------------------------------------------


def test_short_lists_and_float_lists_are_counted_exactly_and_long_ones_are_many() -> None:
    assert size_class((1,)) == 1
    assert size_class(tuple(range(EXACT_BELOW - 1))) == EXACT_BELOW - 1
    assert size_class(tuple(range(EXACT_BELOW))) == MANY
    assert size_class(tuple(range(500))) == MANY
    assert size_class(tuple(float(i) for i in range(500))) == 500


# -- equal keys, equal SQL -------------------------------------------------------------------------

#: Pairs with the same key and different operands (and so the same SQL).
SAME_SHAPE: list[tuple[Condition, Condition]] = [
    (c.score == 1, c.score == 2),
    (c.score.in_([1, 2]), c.score.in_([3, 4])),
    (c.score.in_(range(100)), c.score.in_(range(5, 500))),  # one array parameter
    (c.ratio.in_([float(i) for i in range(70)]), c.ratio.in_([i + 0.5 for i in range(70)])),
    (c.name.startswith("a"), c.name.startswith("b%_/c")),
    (c.name.endswith("abc"), c.name.endswith("x")),
    (c.name.contains("a", ignore_case=True), c.name.contains("ZZ", ignore_case=True)),
    (~((c.score < 3) | c.code.is_null()), ~((c.score < 9) | c.code.is_null())),
]

#: Pairs whose keys differ (and whose SQL may).
OTHER_SHAPE: list[tuple[Condition, Condition]] = [
    (c.score == 1, c.score != 1),
    (c.score == 1, c.ratio == 1.0),
    (c.score.in_([1]), c.score.in_([1, 2])),
    (c.score.in_(range(63)), c.score.in_(range(64))),
    (c.ratio.in_([float(i) for i in range(70)]), c.ratio.in_([float(i) for i in range(71)])),
    (c.name.startswith("a"), c.name.endswith("a")),
    (c.name.contains("a"), c.name.contains("")),
    (c.score == 1, ~(c.score == 1)),
    (And((c.score == 1, c.code == "a")), Or((c.score == 1, c.code == "a"))),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("spelling", "engine"), DIALECTS)
@pytest.mark.parametrize(("first", "second"), SAME_SHAPE)
def test_equal_keys_compile_to_equal_sql_and_bind_their_own_operands(
    first: Condition, second: Condition, spelling: Any, engine: sa.engine.Dialect
) -> None:
    assert plan(first).key == plan(second).key
    assert plan(first).operands != plan(second).operands
    assert _sql(first, spelling, engine) == _sql(second, spelling, engine)
    # The statement compiled for the first runs the second with the second's values,
    # exactly as the second's own compilation would.
    shared = StatementCache(engine)
    _run(shared, first, spelling)
    reused = _run(shared, second, spelling)
    alone = StatementCache(engine)
    assert reused == _run(alone, second, spelling)
    assert len(shared._compiled) == 1
    assert shared.uncached == alone.uncached == 0


@pytest.mark.parametrize(("first", "second"), OTHER_SHAPE)
def test_a_change_of_shape_changes_the_key(first: Condition, second: Condition) -> None:
    assert plan(first).key != plan(second).key


_seen: dict[str, dict[Any, str]] = {"sqlite": {}, "postgresql": {}}


@settings(max_examples=300)
@given(conditions())
def test_the_sql_text_is_a_function_of_the_key_on_both_dialects(condition: Condition) -> None:
    key = plan(condition).key
    for spelling, engine in (
        (SQLiteDialect(), sqlite.dialect()),
        (PostgresDialect(), PGDialect_asyncpg()),
    ):
        text = _sql(condition, spelling, engine)
        assert _seen[spelling.name].setdefault(key, text) == text


# -- fingerprints ----------------------------------------------------------------------------------


def test_the_fingerprint_changes_with_table_value_scope_and_order() -> None:
    base = fingerprint(items, c.score == 1, [c.score.asc()])
    others = [
        fingerprint(notes, c.score == 1, [c.score.asc()]),
        fingerprint(items, c.score == 2, [c.score.asc()]),
        fingerprint(items, (c.score == 1) & (c.tenant == "t"), [c.score.asc()]),
        fingerprint(items, (c.score == 1) & (c.tenant == "u"), [c.score.asc()]),
        fingerprint(items, c.score == 1, [c.score.desc()]),
        fingerprint(items, c.score == 1, [c.name.asc()]),
        fingerprint(items, c.score.in_([1, 2]), [c.score.asc()]),
        fingerprint(items, c.score.in_([1, 3]), [c.score.asc()]),
    ]
    assert len({base, *others}) == len(others) + 1
    assert fingerprint(items, c.score == 1, [c.score.asc()], planned=plan(c.score == 1)) == base


_IN_ANOTHER_PROCESS = """
from decimal import Decimal
import uuid
from repokit.cursors import fingerprint
from repokit.testing.schema import items
c = items.c
where = (c.score > 1) & c.id.in_([uuid.UUID(int=7)]) & (c.price < Decimal("2.5"))
where = where & c.name.contains("x")
print(fingerprint(items, where, [c.at.desc(), c.id.asc()]).hex())
"""


def test_the_fingerprint_is_the_same_in_another_process() -> None:
    from decimal import Decimal

    where = (c.score > 1) & c.id.in_([uuid.UUID(int=7)]) & (c.price < Decimal("2.5"))
    where = where & c.name.contains("x")
    here = fingerprint(items, where, [c.at.desc(), c.id.asc()]).hex()
    there = subprocess.run(
        [sys.executable, "-c", _IN_ANOTHER_PROCESS], capture_output=True, text=True, check=True
    )
    assert there.stdout.strip() == here


def test_a_cursor_fingerprinted_the_old_way_belongs_to_another_query() -> None:
    import hashlib

    orders = (items.c.id.asc(),)
    old = hashlib.blake2b(repr((items.name, TRUE, orders)).encode(), digest_size=12).digest()
    codec = CursorCodec(b"k")
    row = {"id": uuid.UUID(int=1)}
    cursor = codec.encode(items, orders, old, row)
    with pytest.raises(InvalidCursor, match="another query"):
        codec.decode(cursor, items, orders, fingerprint(items, TRUE, orders))


# -- the precompiled get ---------------------------------------------------------------------------


class _Recorder:
    """Stands in for a Session: records the Select a get sends."""

    def __init__(self) -> None:
        self.queries: list[Select] = []

    async def select(self, query: Select) -> list[Any]:
        self.queries.append(query)
        return []


@pytest.mark.asyncio
@pytest.mark.parametrize("table", [items, notes])
async def test_a_gets_premade_plan_is_the_plan_of_its_condition(table: Any) -> None:
    from repokit import Deleted, EntityNotFound
    from repokit.testing.schema import TenantScope

    querier = Querier(table)
    session = _Recorder()
    for deleted in Deleted:
        one, other = TenantScope("t1", table), TenantScope("t2", table)
        for scope in (None, one, [one, other]):
            for key in (1, 2) if table is notes else (uuid.UUID(int=1), uuid.UUID(int=2)):
                with pytest.raises(EntityNotFound):
                    await querier.get(session, key, scope=scope, deleted=deleted)  # type: ignore[arg-type]
                query = session.queries[-1]
                assert query.plan is not None
                expected = plan(query.where)
                assert (query.plan.key, query.plan.operands) == (expected.key, expected.operands)
