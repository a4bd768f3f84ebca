"""References between tables: a child's fields naming a parent's primary key (CONTRACT §23).

A :class:`Reference` is declared on the child table
(``Table(..., references=[Reference(("domain_name",), domains)])``) and
checked when that table is built (:func:`bind_reference`): its fields map
positionally onto the target's key fields (:func:`key_fields`) and have
their types. The checked reference is recorded on both tables: the child's
``references`` and the target's ``referenced_by``. What the reference makes
writes and purges do is :mod:`repokit.integrity`'s.

A reference can only name a table that already exists, so references never
form a cycle.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repokit.errors import InvalidTableDefinition, TransactionAborted, TransactionConflict

if TYPE_CHECKING:
    from repokit.tables import Table

__all__ = ["OnPurge", "Reference", "bind_reference", "key_fields"]


class OnPurge(enum.StrEnum):
    """What purging a parent does to the children that reference it (CONTRACT §23)."""

    #: The purge is refused while a child references the parent.
    RESTRICT = "restrict"
    #: The children are purged too, recursively, in the same transaction.
    CASCADE = "cascade"
    #: The children's referencing fields are set to ``None``.
    SET_NULL = "set null"


@dataclass(frozen=True, slots=True, eq=False)
class Reference:
    """The child's ``fields`` hold the primary key of an entity of ``target`` (or ``None``).

    Args:
        fields: the child's referencing fields, one per key field of the target,
            in the target's key order.
        target: the parent table.
        on_purge: what purging a parent does to its children.
        name: the constraint's name; by default ``fk_<table>_<fields…>``.
        error: a domain exception raised instead of the ``IntegrityViolation``
            (called with it, raised chained to it), as ``Unique(error=...)``.

    Attributes:
        table: the child table (set when the child table checks the reference).
    """

    fields: tuple[str, ...]
    target: Table[Any]
    on_purge: OnPurge = OnPurge.RESTRICT
    name: str = ""
    error: type[Exception] | None = None
    table: Table[Any] | None = None

    @property
    def child(self) -> Table[Any]:
        """The child table (the reference is bound)."""
        assert self.table is not None, "an unbound reference"
        return self.table

    def __repr__(self) -> str:
        owner = "?" if self.table is None else self.table.name
        return f"Reference({self.name or '?'}: {owner}{self.fields} -> {self.target.name})"


def key_fields(table: Table[Any]) -> tuple[str, ...]:
    """The fields of *table*'s primary key, in order: what a reference's fields map onto.

    The one place that knows what a key is made of, so that a key of several
    fields needs no other change here.
    """
    return table.key_fields


def bind_reference(table: Table[Any], spec: Any) -> Reference:
    """*spec* checked against the child *table* (being built) and bound to it.

    Raises:
        InvalidTableDefinition: naming the entity and the field at fault.
    """
    from repokit.tables import Table, constraint_name

    ename = table.entity_name
    if not isinstance(spec, Reference):
        raise InvalidTableDefinition(f"{ename}: references takes Reference objects, got {spec!r}")
    target = spec.target
    if not isinstance(target, Table):
        raise InvalidTableDefinition(f"{ename}: a reference targets a Table, got {target!r}")
    fields = spec.fields
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
        raise InvalidTableDefinition(
            f"{ename}: a reference takes a non-empty tuple of field names, got {fields!r}"
        )
    fields = tuple(fields)
    for field in fields:
        if not isinstance(field, str) or field not in table.declared:
            raise InvalidTableDefinition(f"{ename}.{field}: a reference names an unknown field")
    keys = key_fields(target)
    if len(fields) != len(keys):
        raise InvalidTableDefinition(
            f"{ename}.{fields[0]}: the reference ({', '.join(fields)}) has {len(fields)} "
            f"field(s); the key of {target.entity_name} has {len(keys)} ({', '.join(keys)})"
        )
    for field, key in zip(fields, keys, strict=True):
        mine, theirs = table.fields[field].type, target.fields[key].type
        if dataclasses.replace(mine, nullable=False) != dataclasses.replace(theirs, nullable=False):
            raise InvalidTableDefinition(
                f"{ename}.{field}: a reference field must have the type of "
                f"{target.entity_name}.{key}"
            )
    on_purge = spec.on_purge
    if not isinstance(on_purge, OnPurge):
        raise InvalidTableDefinition(f"{ename}: on_purge takes an OnPurge, got {on_purge!r}")
    if on_purge is OnPurge.SET_NULL:
        for field in fields:
            if not table.fields[field].type.nullable:
                raise InvalidTableDefinition(
                    f"{ename}.{field}: on_purge=SET_NULL needs a nullable field"
                )
    error = spec.error
    if error is not None and (
        not isinstance(error, type)
        or not issubclass(error, Exception)
        or issubclass(error, TransactionConflict | TransactionAborted)
    ):
        raise InvalidTableDefinition(
            f"{ename}: the error of reference ({', '.join(fields)}) must be an Exception "
            f"subclass other than TransactionConflict / TransactionAborted, got {error!r}"
        )
    name = spec.name or constraint_name("fk", table.name, fields)
    return Reference(fields, target, on_purge, name, error, table)
