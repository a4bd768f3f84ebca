"""Condition trees and orders as MongoDB query documents and sort specifications.

Two-valued logic (CONTRACT §3) maps onto MongoDB's own semantics, where a
missing field and ``null`` are alike:

* ``Compare`` ``==``/``<``/… use ``$eq``/``$lt``/…, which never match null
  (type bracketing keeps comparisons within the field's BSON type); ``!=``
  uses ``$ne``, which matches null and missing fields, as the contract wants;
* ``In`` uses ``$in`` (its values never include ``None``), ``IsNull`` uses
  ``{field: null}``, except on JSON fields: there ``null`` would also match
  an array *containing* null, so "not an object or array" is asked instead;
* ``Not`` uses ``$nor: [query]``: the exact complement of a two-valued query;
* ``And`` merges its parts into one document (``$and`` only for parts whose
  keys collide) and equality on a scalar is written bare (``{field: v}``
  rather than ``{field: {$eq: v}}``; the same predicate for anything but a
  document or array). MongoDB's planner treats both forms alike; simpler
  index planners (SecantusDB's) use a compound index only for a flat
  document of bare equalities, and skip every index under a top-level ``$``
  operator;
* ``Match`` uses an anchored regular expression built from the escaped,
  literal operand (CONTRACT §4). ``^`` (no multiline flag) anchors the
  start; ``$`` would also match before a final newline, so ends are anchored
  with ``\\z``, PCRE's absolute end.

User values only ever appear as operands of these operators, never as keys or
operators; field names come from the table definition. ``$where`` and
``$expr`` are never used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, assert_type

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    MatchKind,
    Not,
    Op,
    Or,
    Order,
    unknown_node,
)
from repokit.tables import Table
from repokit_mongodb.codec import Codec

__all__ = [
    "MATCH_NOTHING",
    "literal_regex",
    "pinned_key",
    "sort_is_indexed",
    "to_query",
    "to_sort",
]

#: A query no document satisfies.
MATCH_NOTHING: dict[str, Any] = {"_id": {"$in": []}}

_OPERATORS = {
    Op.EQ: "$eq",
    Op.NE: "$ne",
    Op.LT: "$lt",
    Op.LE: "$lte",
    Op.GT: "$gt",
    Op.GE: "$gte",
}

# Characters with a meaning in PCRE (and Python's re, SecantusDB's engine)
# outside character classes; everything else is literal as it stands.
_SPECIAL = frozenset("\\^$.|?*+()[]{}")


def literal_regex(text: str, kind: MatchKind) -> str:
    """A regular expression matching *text* literally, anchored for *kind*."""
    escaped = "".join("\\" + char if char in _SPECIAL else char for char in text)
    if kind is MatchKind.STARTSWITH:
        return "^" + escaped
    if kind is MatchKind.ENDSWITH:
        return escaped + "\\z"
    if TYPE_CHECKING:  # mypy: the one kind left; at run time, no test (this runs per query)
        assert_type(kind, Literal[MatchKind.CONTAINS])
    return escaped


def to_query(condition: Condition, codec: Codec) -> dict[str, Any]:
    """Translate *condition* (on the codec's table) into a query document."""
    # Runs for every query: isinstance, not match (see unknown_node).
    if isinstance(condition, Compare):
        value = codec.encode(condition.field, condition.value)
        if condition.op is Op.EQ and not isinstance(value, dict | list):
            return {codec.key(condition.field): value}
        return {codec.key(condition.field): {_OPERATORS[condition.op]: value}}
    if isinstance(condition, And):
        return _conjunction([to_query(item, codec) for item in condition.items])
    if isinstance(condition, In):
        values = [codec.encode(condition.field, value) for value in condition.values]
        return {codec.key(condition.field): {"$in": values}}
    if isinstance(condition, IsNull):
        return {codec.key(condition.field): codec.null_test(condition.field)}
    if isinstance(condition, Const):
        return {} if condition.value else MATCH_NOTHING
    if isinstance(condition, Match):
        # A string operand; $regex never matches null, missing or non-strings.
        pattern = literal_regex(condition.pattern, condition.kind)
        return {codec.key(condition.field): {"$regex": pattern}}
    if isinstance(condition, Or):
        ids = _key_documents(condition, codec)
        if ids is not None:
            return {"_id": {"$in": ids}}
        return {"$or": [to_query(item, codec) for item in condition.items]}
    if isinstance(condition, Not):
        return {"$nor": [to_query(condition.item, codec)]}
    if isinstance(condition, Exists):
        # The session resolves semi-joins before it asks (repokit.semijoins.resolve).
        raise TypeError(f"a semi-join reaches the query builder unresolved: {condition!r}")
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


def _key_documents(condition: Or, codec: Codec) -> list[Any] | None:
    """The ``_id`` documents of a disjunction of composite keys, else ``None`` (CONTRACT §22).

    :meth:`Table.keys_condition` makes one conjunction of equalities per key;
    ``{_id: {$in: [documents]}}`` finds them on the ``_id`` index, one seek each.
    """
    table = codec.table
    if not table.composite_key:
        return None
    fields = table.key_fields
    ids: list[Any] = []
    for item in condition.items:
        if not isinstance(item, And) or len(item.items) != len(fields):
            return None
        parts = item.items
        if not all(
            isinstance(p, Compare) and p.op is Op.EQ and p.field == f
            for p, f in zip(parts, fields, strict=True)
        ):
            return None
        ids.append(codec.encode_key(tuple(p.value for p in parts)))  # type: ignore[union-attr]
    return ids


def _conjunction(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts ANDed as one document: a document's keys are already ANDed."""
    merged: dict[str, Any] = {}
    clashing: list[dict[str, Any]] = []
    for part in parts:
        if merged.keys().isdisjoint(part):
            merged.update(part)
        elif any(key not in merged or merged[key] != value for key, value in part.items()):
            clashing.append(part)
        # else: every clause of the part is already there (a key repeated by core)
    if clashing:
        if "$and" in merged:
            merged["$and"] = [*merged["$and"], *clashing]
        else:
            merged["$and"] = clashing
    return merged


def to_sort(orders: tuple[Order, ...], codec: Codec) -> list[tuple[str, int]]:
    """A sort specification; MongoDB already sorts null and missing first ascending."""
    return [(codec.key(order.field), -1 if order.descending else 1) for order in orders]


def sort_is_indexed(
    query: dict[str, Any], sort: Sequence[tuple[str, int]], indexes: Sequence[tuple[str, ...]]
) -> bool:
    """Whether one of *indexes* (ascending key lists) can return *query* in *sort* order.

    It can if, after the index fields the query pins by bare equality, its
    next fields are the sort's unpinned fields, all in one direction. A
    planner's guess, used only to choose between two equally correct ways of
    reading a page with its count.
    """
    pinned = {key for key, value in query.items() if not key.startswith("$")}
    pinned = {key for key in pinned if not isinstance(query[key], dict | list)}
    wanted = [key for key, _ in sort if key not in pinned]
    if not wanted:
        return True
    if len({direction for key, direction in sort if key not in pinned}) > 1:
        return False
    for fields in indexes:
        rest = list(fields)
        while rest and rest[0] in pinned:
            rest.pop(0)
        if rest[: len(wanted)] == wanted:
            return True
    return False


def pinned_key(condition: Condition, table: Table[Any]) -> tuple[bool, Any]:
    """``(True, key)`` if *condition* requires the primary key to be *key*, else ``(False, None)``.

    Only top-level equalities (alone or among an ``And``'s items) count, one per
    key field (CONTRACT §22: a composite key is a tuple): then at most one
    document can match, and it can be read by ``_id`` alone.
    """
    # Not an interpreter: "pins nothing" is right for every other node, new ones included,
    # and one isinstance per item keeps this off the cost of every read.
    items = condition.items if isinstance(condition, And) else (condition,)
    if not table.composite_key:
        primary_key = table.primary_key
        for item in items:
            if isinstance(item, Compare) and item.op is Op.EQ and item.field == primary_key:
                return True, item.value
        return False, None
    equal: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Compare) and item.op is Op.EQ:
            equal.setdefault(item.field, item.value)
    if all(field in equal for field in table.key_fields):
        return True, tuple(equal[field] for field in table.key_fields)
    return False, None
