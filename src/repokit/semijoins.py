"""Semi-joins answered by reading the other table first (CONTRACT §25).

Two walkers over a condition, for what cannot put the semi-join into one
native statement:

* :func:`settle` turns every semi-join with no correlated pair left (what
  :func:`~repokit.evaluate.substitute` makes of one once the entity's values
  are known) into :data:`~repokit.conditions.TRUE` or
  :data:`~repokit.conditions.FALSE` by asking the session whether a matching
  inner row exists: core checks an entity about to be written against a scope
  with it (CONTRACT §6).
* :func:`resolve` turns every semi-join into the equivalent condition on the
  outer table's own fields: the inner rows that match are read (their paired
  fields only) and the semi-join becomes ``outer_field IN (values…)`` (one
  pair) or an ``OR`` of ``AND`` s of equalities (several). A backend without
  a join of its own (MongoDB) resolves a condition in the session of the
  operation, so the read and the operation share its snapshot where the
  session has one. Nested semi-joins resolve innermost first, each through
  *read*, which resolves its own condition again.

Both keep everything else as it is, and neither changes what the condition
means: a null in a paired field matches nothing on either side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from repokit.backend import Select
from repokit.conditions import (
    FALSE,
    TRUE,
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    Not,
    Op,
    Or,
    and_,
    crosses,
    not_,
    or_,
    unknown_node,
)

if TYPE_CHECKING:
    from repokit.tables import Row, Table

__all__ = ["Probe", "Read", "resolve", "settle"]

#: Whether a row of the table matches the condition (``BackendSession.exists``).
Probe = Callable[["Table[Any]", Condition], Awaitable[bool]]
#: The rows a select returns (``BackendSession.select``).
Read = Callable[[Select], Awaitable[list["Row"]]]


async def settle(condition: Condition, probe: Probe) -> Condition:
    """*condition* with every uncorrelated semi-join replaced by its answer from *probe*."""
    if not crosses(condition):
        return condition
    if isinstance(condition, Exists):
        if condition.on:
            return condition
        return TRUE if await probe(condition.inner, condition.where) else FALSE
    if isinstance(condition, And):
        return and_(*[await settle(item, probe) for item in condition.items])
    if isinstance(condition, Or):
        return or_(*[await settle(item, probe) for item in condition.items])
    if isinstance(condition, Not):
        return not_(await settle(condition.item, probe))
    if isinstance(condition, Const | Compare | In | IsNull | Match):
        return condition
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


async def resolve(condition: Condition, read: Read) -> Condition:
    """*condition* with every semi-join replaced by a condition on the outer table alone."""
    if not crosses(condition):
        return condition
    if isinstance(condition, Exists):
        return await _resolve_exists(condition, read)
    if isinstance(condition, And):
        return and_(*[await resolve(item, read) for item in condition.items])
    if isinstance(condition, Or):
        return or_(*[await resolve(item, read) for item in condition.items])
    if isinstance(condition, Not):
        return not_(await resolve(condition.item, read))
    if isinstance(condition, Const | Compare | In | IsNull | Match):
        return condition
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


async def _resolve_exists(condition: Exists, read: Read) -> Condition:
    inner = condition.inner
    fields = tuple(name for name, _ in condition.on)
    if not fields:
        found = await read(Select(inner, condition.where, limit=1, columns=inner.key_fields))
        return TRUE if found else FALSE
    rows = await read(Select(inner, condition.where, columns=(*inner.key_fields, *fields)))
    found_keys = {tuple(row.get(name) for name in fields) for row in rows}
    # Sorted (the values of one kind are totally ordered): the same rows, the same query.
    keys = sorted(key for key in found_keys if None not in key)
    if not keys:
        return FALSE
    outer = [name for _, name in condition.on]
    table = condition.table
    if len(outer) == 1:
        return In(table, outer[0], tuple(key[0] for key in keys))
    return or_(*(and_(*_equal(table, outer, key)) for key in keys))


def _equal(table: str, fields: list[str], key: tuple[Any, ...]) -> list[Condition]:
    return [Compare(table, name, Op.EQ, value) for name, value in zip(fields, key, strict=True)]
