"""Every interpreter of the condition tree handles every member of the ``Condition`` union.

``mypy --strict`` already names an interpreter that misses a node class (each
ends with ``raise unknown_node(node)``); these tests fail without mypy too. A
new node class goes into ``SAMPLES``: then every interpreter below must take
it (CONTRIBUTING.md, "Adding a predicate").
"""

from __future__ import annotations

import asyncio
import typing
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from repokit import conditions
from repokit.conditions import (
    FALSE,
    TRUE,
    And,
    Compare,
    Condition,
    Exists,
    In,
    IsNull,
    Match,
    MatchKind,
    Node,
    Not,
    Op,
    Or,
)
from repokit.errors import InvalidTableDefinition
from repokit.evaluate import _MATCH, evaluate, predicate, substitute
from repokit.observability import render_condition
from repokit.planning import plan, plan_into
from repokit.semijoins import resolve
from repokit.testing.schema import Status, items, labels
from repokit_mongodb import query as mongo_query
from repokit_mongodb.codec import Codec
from repokit_mongodb.schema import _clauses
from repokit_sqlalchemy import conditions as sql_conditions
from repokit_sqlalchemy.conditions import Binder, _Compiler
from repokit_sqlalchemy.postgres import PostgresDialect
from repokit_sqlalchemy.schema import sql_table
from repokit_sqlalchemy.sqlite import SQLiteDialect

T = items.name

#: One instance of every node class, and every operator and match kind.
SAMPLES: list[Condition] = [
    TRUE,
    FALSE,
    *(Compare(T, "score", op, 3) for op in Op),
    Compare(T, "status", Op.NE, Status.DELETED.value),
    In(T, "score", (1, 2)),
    In(T, "code", tuple(f"c{i}" for i in range(40))),  # SQLite's JSON-array spelling
    IsNull(T, "code"),
    IsNull(T, "data"),  # MongoDB's JSON null test
    *(Match(T, "name", kind, "a%_") for kind in MatchKind),
    Match(T, "name", MatchKind.CONTAINS, ""),
    And((Compare(T, "score", Op.GT, 1), IsNull(T, "code"))),
    Or((Compare(T, "score", Op.LT, 1), Match(T, "code", MatchKind.STARTSWITH, "x"))),
    Not(In(T, "score", (1,))),
    # CONTRACT §25: a semi-join on another table, one with two pairs, an uncorrelated one.
    Exists(T, labels, (("color", "code"),), Compare(labels.name, "weight", Op.GT, 0)),
    Exists(T, labels, (("color", "code"), ("tenant", "name")), IsNull(labels.name, "color")),
    Exists(T, labels, (), Compare(labels.name, "weight", Op.EQ, 7)),
]

#: The rows of rk_labels the semi-join samples read.
LABEL_ROWS: list[dict[str, Any]] = [
    {"key": "k1", "tenant": "xa%_y", "color": "c1", "weight": 1},
    {"key": "k2", "tenant": "t", "color": "x", "weight": 0},
    {"key": "k3", "tenant": "t", "color": None, "weight": 7},
]


def _rows_of(table: Any) -> list[dict[str, Any]]:
    assert table is labels
    return LABEL_ROWS


ROWS: list[dict[str, Any]] = [
    {"score": None, "code": None, "name": None, "data": None, "status": "active"},
    {"score": 3, "code": "c1", "name": "xa%_y", "data": {"a": 1}, "status": "deleted"},
    {"score": 1, "code": "x", "name": "a%_", "data": None, "status": "active"},
]

DIALECTS = [
    pytest.param(SQLiteDialect(), sqlite.dialect(), id="sqlite"),
    pytest.param(PostgresDialect(), postgresql.dialect(), id="postgresql"),
]


class Strange(Node):
    """A node outside the union."""

    __slots__ = ()


def _members() -> set[type]:
    return set(typing.get_args(Condition))


def _ids(condition: Condition) -> str:
    return repr(condition)


# -- the union --------------------------------------------------------------------------------


def test_the_samples_cover_every_member_of_the_union() -> None:
    assert {type(sample) for sample in SAMPLES} == _members()


def test_every_node_class_of_the_module_is_in_the_union() -> None:
    # The module's own classes (dataclass(slots=True) replaces each class it decorates).
    defined = {
        cls
        for cls in Node.__subclasses__()
        if cls.__module__ == conditions.__name__ and getattr(conditions, cls.__name__) is cls
    }
    assert defined == _members()


def test_every_member_lists_the_fields_it_reads() -> None:
    for member in _members():
        assert "fields" in vars(member), member  # no inherited default reads nothing


# -- every interpreter takes every member ------------------------------------------------------


@pytest.mark.parametrize("condition", SAMPLES, ids=_ids)
def test_the_reference_semantics_take_every_node(condition: Condition) -> None:
    test = predicate(condition, _rows_of)
    for row in ROWS:
        assert type(test(row)) is bool
        assert evaluate(condition, row, _rows_of) is test(row)
        assert evaluate(substitute(condition, row), row, _rows_of) is test(row)
    assert isinstance(substitute(condition, {}), Node)
    assert all(isinstance(part, str) for pair in condition.fields() for part in pair)


@pytest.mark.parametrize("condition", SAMPLES, ids=_ids)
def test_rendering_takes_every_node(condition: Condition) -> None:
    assert render_condition(condition)
    assert render_condition(condition, values=True)


@pytest.mark.parametrize(("dialect", "engine_dialect"), DIALECTS)
@pytest.mark.parametrize("negated", [False, True])
@pytest.mark.parametrize("condition", SAMPLES, ids=_ids)
def test_the_planner_and_the_sql_compiler_take_every_node_and_bind_every_slot(
    condition: Condition, negated: bool, dialect: Any, engine_dialect: sa.engine.Dialect
) -> None:
    planned = plan(Not(condition) if negated else condition)
    hash(planned.key)
    binder = Binder(planned.operands)
    clause = _Compiler(items, sql_table(items), dialect, binder).compile(planned.key, False)
    assert str(clause.compile(dialect=engine_dialect))
    # The statement cache relies on it: every operand the plan lifted is bound.
    assert {slot for slot, _ in binder.params.values()} == set(range(len(planned.operands)))


@pytest.mark.parametrize("condition", SAMPLES, ids=_ids)
def test_the_mongodb_query_builder_takes_every_node(condition: Condition) -> None:
    codec = Codec(items)
    if isinstance(condition, Exists):
        # The session resolves semi-joins first (repokit.semijoins.resolve).
        with pytest.raises(TypeError, match="unresolved"):
            mongo_query.to_query(condition, codec)

        async def read(query: Any) -> list[dict[str, Any]]:
            return [row for row in LABEL_ROWS if evaluate(query.where, row)]

        condition = asyncio.run(resolve(condition, read))
    assert isinstance(mongo_query.to_query(condition, codec), dict)
    assert mongo_query.pinned_key(condition, items) == (False, None)
    pinned = And((Compare(T, "id", Op.EQ, uuid.UUID(int=1)), condition))
    assert mongo_query.pinned_key(pinned, items) == (True, uuid.UUID(int=1))


@pytest.mark.parametrize("condition", SAMPLES, ids=_ids)
def test_mongodb_partial_filters_take_or_refuse_every_node(condition: Condition) -> None:
    # Partial indexes say only some predicates: the others are refused, never unknown.
    try:
        clauses = _clauses(condition, items, Codec(items))
    except InvalidTableDefinition:
        return
    assert isinstance(clauses, list)


# -- a node outside the union ------------------------------------------------------------------


def _sql_compile(node: Any) -> object:
    operands: list[Any] = []
    key = plan_into(node, operands)
    return _Compiler(items, sql_table(items), SQLiteDialect(), Binder(operands)).compile(key, False)


INTERPRETERS: dict[str, Callable[[Any], object]] = {
    "predicate": predicate,
    "substitute": lambda node: substitute(node, {}),
    "render_condition": render_condition,
    "sql compile": _sql_compile,
    "planner": lambda node: plan_into(node, []),
    "mongodb to_query": lambda node: mongo_query.to_query(node, Codec(items)),
    "mongodb partial filter": lambda node: _clauses(node, items, Codec(items)),
}


@pytest.mark.parametrize("name", list(INTERPRETERS))
def test_a_node_outside_the_union_is_a_type_error(name: str) -> None:
    with pytest.raises(TypeError, match="unknown condition node"):
        INTERPRETERS[name](Strange())


# -- enums dispatched through tables -----------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "members"),
    [
        pytest.param(sql_conditions._OPERATORS, set(Op), id="sql operators"),
        pytest.param(sql_conditions._COMPLEMENT, set(Op), id="sql complements"),
        pytest.param(mongo_query._OPERATORS, set(Op), id="mongodb operators"),
        pytest.param(_MATCH, set(MatchKind), id="reference match kinds"),
    ],
)
def test_every_enum_table_has_every_member(table: dict[Any, Any], members: set[Any]) -> None:
    assert set(table) == members


def test_complements_pair_every_operator_with_its_negation() -> None:
    complement = sql_conditions._COMPLEMENT
    assert all(complement[complement[op]] is op for op in Op)


@pytest.mark.parametrize("kind", list(MatchKind))
def test_every_match_kind_has_a_regex(kind: MatchKind) -> None:
    assert "a" in mongo_query.literal_regex("a", kind)
