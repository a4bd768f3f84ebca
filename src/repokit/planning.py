"""Query planning: a condition's shape key and its operands, lifted out in one walk.

As Ecto's planner does, core turns a condition tree into two things once
(DESIGN.md, "Planning"):

* a **shape key**: a hashable, plain-data picture of everything that decides
  a query's text (node kinds, fields, operators, match kinds, constants, the
  size class of each ``In`` list) with every operand replaced by the number
  of its **slot**;
* the **operands**, in slot order.

Two conditions with equal keys compile to the same statement on every
backend that compiles per key (the SQL backend compiles *from the key*, so
this holds by construction), and running that statement with a plan's
operands asks what its condition asks. A backend never walks a tree twice to
find operands, and no two walkers have to agree on a binding order: the key
names each operand's slot.

The key grammar (tuples, strings, ints, bools and :class:`~repokit.conditions.Op` /
:class:`~repokit.conditions.MatchKind` members; no ``hash()`` of anything, so
its ``repr`` is the same in every process, which cursors' fingerprints use)::

    True | False                          Const
    ("cmp", field, op, slot)              Compare: field <op> operand
    ("in", field, size, slot)             In: the operand is the tuple of values
    ("null", field)                       IsNull
    ("match", field, kind, slot)          Match with a non-empty pattern (the operand)
    ("and", (key, ...)) | ("or", (key, ...))
    ("not", key)
    ("exists", table, ((inner, outer), ...), key)
                                          Exists: a semi-join on the other table
                                          (the Table itself, whose repr names it),
                                          the pairs, the inner condition's key

A ``Match`` with an empty pattern is planned as ``("not", ("null", field))``:
every string contains, starts and ends with ``""``.

**Size classes** (:func:`size_class`). An ``In`` list's spelling may depend
on its length (PostgreSQL writes one value as ``=`` and several as
``= ANY(array)``; SQLite binds short lists value by value and long ones as
one JSON array), so the key carries a size class, dialect-neutral: the exact
number of values below :data:`EXACT_BELOW` (64), and :data:`MANY` from
there, except for lists of floats, which are always counted exactly (a float
has no exact text form to travel inside one array parameter). A dialect
decides its spelling from the size class alone: it may spell any exact size
its own way, and must spell :data:`MANY` one way whatever the length (one
array parameter).

A semi-join's inner condition plans into the same operand list as the
rest, so its operands take the next slots and its shape is part of the
outer key: two searches that differ only in an inner operand share a
statement.

Planning runs for every statement: the walk is an ``isinstance`` chain (see
:func:`~repokit.conditions.unknown_node`), and builds only tuples.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final, Literal, TypeAlias

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    Not,
    Or,
    unknown_node,
)

__all__ = [
    "AND",
    "COMPARE",
    "EXACT_BELOW",
    "EXISTS",
    "IN",
    "MANY",
    "MATCH",
    "NOT",
    "NULL",
    "OR",
    "Plan",
    "SizeClass",
    "plan",
    "plan_into",
    "size_class",
]

# The tags of the key's nodes.
COMPARE: Final = "cmp"
IN: Final = "in"
NULL: Final = "null"
MATCH: Final = "match"
AND: Final = "and"
OR: Final = "or"
NOT: Final = "not"
EXISTS: Final = "exists"

#: Below this many values an ``In`` list's size class is its exact length.
EXACT_BELOW: Final = 64
#: The size class of an ``In`` list of :data:`EXACT_BELOW` values or more (floats excepted).
MANY: Final = "many"
#: An ``In`` list's size class: its exact length, or :data:`MANY`.
SizeClass: TypeAlias = int | Literal["many"]


def size_class(values: tuple[Any, ...]) -> SizeClass:
    """The size class of an ``In`` node's *values* (non-empty, normalised).

    The exact length below :data:`EXACT_BELOW`, and for floats at any length
    (a FLOAT field's operands are always ``float`` once normalised); else
    :data:`MANY`.
    """
    count = len(values)
    if count < EXACT_BELOW or type(values[0]) is float:
        return count
    return MANY


class Plan:
    """A planned condition: its shape :attr:`key` and its :attr:`operands` in slot order.

    Immutable by convention (slots, no setters used after construction); cheap
    to build, since one is made for every statement.
    """

    __slots__ = ("key", "operands")

    def __init__(self, key: Hashable, operands: tuple[Any, ...]) -> None:
        #: The shape key (module docstring): equal keys, same statement.
        self.key: Hashable = key
        #: The operands, slot *i* at index *i*.
        self.operands: tuple[Any, ...] = operands

    def __repr__(self) -> str:
        return f"Plan({self.key!r}, {self.operands!r})"


def plan(condition: Condition) -> Plan:
    """Plan *condition*: its shape key, and its operands numbered from slot 0."""
    operands: list[Any] = []
    key = plan_into(condition, operands)
    return Plan(key, tuple(operands))


def plan_into(node: Condition, operands: list[Any]) -> Hashable:
    """The shape key of *node*; appends its operands to *operands*, slots numbered on from there.

    Several conditions of one statement plan into one list, so their slots
    never collide (a page's filter, then its count's, then its probes').
    """
    # Runs for every statement: isinstance, not match (see unknown_node); the most
    # frequent nodes first.
    if isinstance(node, Compare):
        slot = len(operands)
        operands.append(node.value)
        return (COMPARE, node.field, node.op, slot)
    if isinstance(node, And):
        return (AND, tuple([plan_into(item, operands) for item in node.items]))
    if isinstance(node, IsNull):
        return (NULL, node.field)
    if isinstance(node, Not):
        return (NOT, plan_into(node.item, operands))
    if isinstance(node, In):
        slot = len(operands)
        values = node.values
        operands.append(values)
        return (IN, node.field, size_class(values), slot)
    if isinstance(node, Or):
        return (OR, tuple([plan_into(item, operands) for item in node.items]))
    if isinstance(node, Match):
        if not node.pattern:
            # Every string contains, starts and ends with "": only null fails.
            return (NOT, (NULL, node.field))
        slot = len(operands)
        operands.append(node.pattern)
        return (MATCH, node.field, node.kind, slot)
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Exists):
        return (EXISTS, node.inner, node.on, plan_into(node.where, operands))
    raise unknown_node(node)  # mypy: every member of Condition is handled above
