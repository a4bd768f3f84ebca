"""Schema drift: how a stored schema differs from its tables' declarations (CONTRACT §16).

A backend reports every difference it finds as a :class:`SchemaChange`
(:meth:`repokit.Backend.schema_changes`), each with its :class:`Remedy`:
what can bring the stored schema in line. :meth:`repokit.Database.create_tables`
applies what it may and raises :class:`~repokit.errors.SchemaDrift` for the
rest, before changing anything; :meth:`repokit.Database.schema_changes` is
the dry run.

Which indexes repokit owns: those a table declares by name, and any whose
name starts with one of repokit's default prefixes (``ix_<table>_``,
``uq_<table>_``). Only those are compared: an index someone added by hand
under another name is left alone, and so is an index removed from a
definition that had named it explicitly (repokit cannot tell it from one
added by hand).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "IndexSpec",
    "Remedy",
    "SchemaAction",
    "SchemaChange",
    "column_changes",
    "index_changes",
    "missing_table",
    "owns_index",
]


class SchemaAction(enum.StrEnum):
    """What differs (and what would fix it)."""

    CREATE_TABLE = "create table"
    ADD_COLUMN = "add column"
    DROP_COLUMN = "drop column"
    CREATE_INDEX = "create index"
    DROP_INDEX = "drop index"
    REPLACE_INDEX = "replace index"
    ADD_REFERENCE = "add reference"
    DROP_REFERENCE = "drop reference"


class Remedy(enum.StrEnum):
    """What applies a change."""

    #: ``create_tables(...)`` applies it (what is missing is created).
    CREATE = "create_tables"
    #: ``create_tables(..., reconcile=True)`` applies it.
    RECONCILE = "reconcile"
    #: The backend does not: write a migration (on SQL, with Alembic: docs/migrations.md).
    MIGRATION = "migration"


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One difference between a table's declaration and the stored schema.

    Attributes:
        table: the table (collection) name.
        action: what would bring the stored schema in line with the declaration.
        name: the table, column or index (unique key) concerned.
        remedy: what applies the change.
        detail: the declared and found definitions, for people.
    """

    table: str
    action: SchemaAction
    name: str
    remedy: Remedy
    detail: str = ""

    def __str__(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.table}: {self.action} {self.name}{detail} [{self.remedy}]"


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """An index (or unique key) as a backend declares or finds it.

    Attributes:
        fields: the indexed fields, in order (as stored: columns, document keys).
        unique: whether it is a unique key.
        partial: the partial-index predicate in whatever form the backend
            compares (MongoDB: the filter document), ``True`` where only its
            presence is compared (the SQL databases rewrite predicates), or
            ``None`` for a full index.
    """

    fields: tuple[str, ...]
    unique: bool = False
    partial: object = None

    def __str__(self) -> str:
        shown = f"{'unique' if self.unique else 'index'} ({', '.join(self.fields)})"
        if self.partial is None:
            return shown
        if self.partial is True:
            return f"{shown}, partial"
        return f"{shown} where {self.partial!r}"


def owns_index(table: str, name: str) -> bool:
    """Whether *name* is one of repokit's default index names on *table*."""
    return name.startswith((f"ix_{table}_", f"uq_{table}_"))


def index_changes(
    table: str,
    declared: Mapping[str, IndexSpec],
    found: Mapping[str, IndexSpec],
    *,
    create: Remedy,
    drop: Remedy,
    replace: Remedy,
) -> list[SchemaChange]:
    """The changes that turn the owned indexes *found* on *table* into those *declared*.

    Args:
        table: the table name.
        declared: the indexes the declaration asks for, by name.
        found: the indexes the stored table has, by name (all of them: only
            those repokit owns are compared, see the module).
        create: the remedy of a declared index that is missing.
        drop: the remedy of an owned index that is no longer declared.
        replace: the remedy of an index whose definition changed.
    """
    changes: list[SchemaChange] = []
    for name, spec in declared.items():
        there = found.get(name)
        if there is None:
            changes.append(SchemaChange(table, SchemaAction.CREATE_INDEX, name, create, str(spec)))
        elif there != spec:
            detail = f"declared {spec}, found {there}"
            changes.append(SchemaChange(table, SchemaAction.REPLACE_INDEX, name, replace, detail))
    for name, there in found.items():
        if name not in declared and owns_index(table, name):
            detail = f"{there}, no longer declared"
            changes.append(SchemaChange(table, SchemaAction.DROP_INDEX, name, drop, detail))
    return changes


def missing_table(name: str) -> SchemaChange:
    """The change of a declared table that does not exist yet: ``create_tables`` makes it."""
    return SchemaChange(name, SchemaAction.CREATE_TABLE, name, Remedy.CREATE)


def column_changes(
    table: str, declared: list[str], found: list[str], *, remedy: Remedy
) -> list[SchemaChange]:
    """The columns (fields) to add to or drop from *table*, all with *remedy*."""
    missing = [
        SchemaChange(table, SchemaAction.ADD_COLUMN, name, remedy, "declared, not stored")
        for name in declared
        if name not in found
    ]
    extra = [
        SchemaChange(table, SchemaAction.DROP_COLUMN, name, remedy, "stored, not declared")
        for name in found
        if name not in declared
    ]
    return missing + extra
