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
* ``Match`` uses an anchored regular expression built from the escaped,
  literal operand (CONTRACT §4). ``^`` (no multiline flag) anchors the
  start; ``$`` would also match before a final newline, so ends are anchored
  with ``\\z``, PCRE's absolute end.

User values only ever appear as operands of these operators, never as keys or
operators; field names come from the table definition. ``$where`` and
``$expr`` are never used.
"""

from __future__ import annotations

from typing import Any

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    In,
    IsNull,
    Match,
    MatchKind,
    Not,
    Op,
    Or,
    Order,
)
from repokit_mongodb.codec import Codec

__all__ = ["MATCH_NOTHING", "literal_regex", "to_query", "to_sort"]

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
    return escaped


def to_query(condition: Condition, codec: Codec) -> dict[str, Any]:
    """Translate *condition* (on the codec's table) into a query document."""
    if isinstance(condition, Const):
        return {} if condition.value else MATCH_NOTHING
    if isinstance(condition, Compare):
        value = codec.encode(condition.field, condition.value)
        return {codec.key(condition.field): {_OPERATORS[condition.op]: value}}
    if isinstance(condition, In):
        values = [codec.encode(condition.field, value) for value in condition.values]
        return {codec.key(condition.field): {"$in": values}}
    if isinstance(condition, IsNull):
        return {codec.key(condition.field): codec.null_test(condition.field)}
    if isinstance(condition, Match):
        # A string operand; $regex never matches null, missing or non-strings.
        pattern = literal_regex(condition.pattern, condition.kind)
        return {codec.key(condition.field): {"$regex": pattern}}
    if isinstance(condition, And):
        return {"$and": [to_query(item, codec) for item in condition.items]}
    if isinstance(condition, Or):
        return {"$or": [to_query(item, codec) for item in condition.items]}
    if isinstance(condition, Not):
        return {"$nor": [to_query(condition.item, codec)]}
    raise TypeError(f"unknown condition node {condition!r}")


def to_sort(orders: tuple[Order, ...], codec: Codec) -> list[tuple[str, int]]:
    """A sort specification; MongoDB already sorts null and missing first ascending."""
    return [(codec.key(order.field), -1 if order.descending else 1) for order in orders]
