"""Schema drift on SQL: the stored tables, reflected, against their declarations (CONTRACT §16).

The SQLAlchemy inspector reads, per existing table, its columns, unique
constraints and indexes (a few catalog queries for all the tables at once);
they are compared with the table :mod:`repokit_sqlalchemy.schema` defines.
A missing table is created by ``create_tables``; every other change is a
migration's job (``docs/migrations.md``): repokit never alters an existing
SQL table.

Compared: column names; each owned index and unique key (:mod:`repokit.drift`)
by its columns, uniqueness and whether it is partial; each FOREIGN KEY of a
reference (CONTRACT §23) by its columns, target and ON DELETE action. Not compared: column
types, nullability, CHECKs, collations and the text of a partial index's
predicate (each database rewrites it: PostgreSQL stores ``status != 'gone'``
as ``(status <> 'gone'::text)``). A unique constraint and a unique index
over the same columns are the same key.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from repokit.drift import (
    IndexSpec,
    Remedy,
    SchemaAction,
    SchemaChange,
    column_changes,
    index_changes,
    missing_table,
)
from repokit.tables import Table
from repokit_sqlalchemy.schema import sql_table

__all__ = ["declared_indexes", "stored_changes"]


def declared_indexes(table: sa.Table, dialect: str) -> dict[str, IndexSpec]:
    """The unique keys and indexes *table* declares on *dialect*, by name."""
    specs: dict[str, IndexSpec] = {}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and isinstance(constraint.name, str):
            fields = tuple(column.name for column in constraint.columns)
            specs[constraint.name] = IndexSpec(fields, unique=True)
    for index in table.indexes:
        if not isinstance(index.name, str):
            continue
        made_for = index.info.get("repokit_dialect")
        if made_for is not None and (made_for != dialect or dialect == "sqlite"):
            # Another dialect's form of a null-equal key; SQLite's is on expressions,
            # which its inspector does not reflect: not compared (CONTRACT §22).
            continue
        options = index.dialect_options[dialect] if dialect in ("postgresql", "sqlite") else {}
        partial = True if options.get("where") is not None else None
        fields = tuple(column.name for column in index.columns)
        specs[index.name] = IndexSpec(fields, unique=bool(index.unique), partial=partial)
    return specs


def _found_indexes(
    uniques: Sequence[Any], indexes: Sequence[Any], dialect: str
) -> dict[str, IndexSpec]:
    specs: dict[str, IndexSpec] = {}
    for constraint in uniques:
        name = constraint.get("name")
        if isinstance(name, str):
            specs[name] = IndexSpec(tuple(constraint["column_names"]), unique=True)
    for index in indexes:
        name = index.get("name")
        if not isinstance(name, str) or index.get("duplicates_constraint"):
            continue  # PostgreSQL's index behind a unique constraint: the constraint says it
        options = index.get("dialect_options") or {}
        partial = True if options.get(f"{dialect}_where") is not None else None
        # An expression index has None among its columns: shown as such, never equal.
        fields = tuple(str(column) for column in index["column_names"])
        specs[name] = IndexSpec(fields, unique=bool(index.get("unique")), partial=partial)
    return specs


def stored_changes(connection: sa.Connection, tables: Sequence[Table[Any]]) -> list[SchemaChange]:
    """What differs between *tables* and what the database behind *connection* stores."""
    dialect = connection.dialect.name
    inspector = sa.inspect(connection)
    existing = set(inspector.get_table_names())
    names = [table.name for table in tables if table.name in existing]
    with warnings.catch_warnings():
        # SQLite's inspector skips an index on expressions (a null-equal key's, CONTRACT
        # §22) with a warning, reading indexes and unique constraints alike; such an
        # index is not compared (declared_indexes), so nothing is lost.
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning
        )
        columns = inspector.get_multi_columns(filter_names=names) if names else {}
        uniques = inspector.get_multi_unique_constraints(filter_names=names) if names else {}
        indexes = inspector.get_multi_indexes(filter_names=names) if names else {}
    foreign_keys = inspector.get_multi_foreign_keys(filter_names=names) if names else {}
    changes: list[SchemaChange] = []
    for table in tables:
        if table.name not in existing:
            changes.append(missing_table(table.name))
            continue
        key = (None, table.name)
        declared = sql_table(table)
        changes += column_changes(
            table.name,
            [column.name for column in declared.columns],
            [column["name"] for column in columns.get(key, [])],
            remedy=Remedy.MIGRATION,
        )
        changes += index_changes(
            table.name,
            declared_indexes(declared, dialect),
            _found_indexes(uniques.get(key, []), indexes.get(key, []), dialect),
            create=Remedy.MIGRATION,
            drop=Remedy.MIGRATION,
            replace=Remedy.MIGRATION,
        )
        changes += _reference_changes(table.name, declared, foreign_keys.get(key, []))
    return changes


def _spec(columns: Sequence[str], target: str, refcolumns: Sequence[str], ondelete: Any) -> str:
    on_delete = str(ondelete or "NO ACTION").upper()
    return f"({', '.join(columns)}) -> {target}({', '.join(refcolumns)}) on delete {on_delete}"


def _reference_changes(table: str, declared: sa.Table, found: Sequence[Any]) -> list[SchemaChange]:
    """The FOREIGN KEYs (CONTRACT §23) to add or drop, compared by what they say.

    Names are not compared (SQLite reflects none for some tables); a stored
    foreign key is repokit's to drop when it is unnamed or has repokit's
    default prefix ``fk_<table>_``.
    """
    wanted: dict[str, str] = {}
    for constraint in declared.foreign_key_constraints:
        element = constraint.elements[0]
        target = element.column.table.name
        spec = _spec(
            [c.name for c in constraint.columns],
            target,
            [e.column.name for e in constraint.elements],
            constraint.ondelete,
        )
        wanted[spec] = str(constraint.name)
    stored: dict[str, str | None] = {}
    for fk in found:
        spec = _spec(
            fk["constrained_columns"],
            fk["referred_table"],
            fk["referred_columns"],
            (fk.get("options") or {}).get("ondelete"),
        )
        stored[spec] = fk.get("name")
    changes = [
        SchemaChange(table, SchemaAction.ADD_REFERENCE, name, Remedy.MIGRATION, spec)
        for spec, name in wanted.items()
        if spec not in stored
    ]
    for spec, name in stored.items():
        if spec not in wanted and (name is None or name.startswith(f"fk_{table}_")):
            changes.append(
                SchemaChange(
                    table, SchemaAction.DROP_REFERENCE, name or spec, Remedy.MIGRATION, spec
                )
            )
    return changes
