"""repokit tables → SQLAlchemy ``Table`` s on a ``MetaData`` (and so Alembic migrations).

One SQLAlchemy table serves every dialect: each column type is the
PostgreSQL type with a SQLite variant (:mod:`repokit_sqlalchemy.postgres`,
:mod:`repokit_sqlalchemy.sqlite_types`), SQLite tables are ``STRICT``, and
SQLite-only CHECKs are emitted for SQLite only. A table gets:

* its primary key (``pk_<table>``), never null, never auto-generated;
* a unique constraint per unique key; a key "among live entities" becomes a
  partial unique index whose predicate is the key's :attr:`Unique.where`,
  compiled like any other condition;
* an index per declared index;
* the casefolded shadow column of every ignore-case field (core fills it on
  every write) and an index on it wherever the field itself is indexed, or
  on the shadow alone.

Managing the schema with Alembic instead of :meth:`Database.create_tables`::

    # env.py
    import sqlalchemy as sa
    from repokit_sqlalchemy import define_tables
    from myapp.tables import projects, members

    target_metadata = sa.MetaData()
    define_tables(target_metadata, projects, members)

``alembic revision --autogenerate`` then sees exactly the tables, indexes
and constraints :meth:`Database.create_tables` would create.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from repokit.tables import Table
from repokit.types import FieldType
from repokit_sqlalchemy.conditions import compile_condition
from repokit_sqlalchemy.postgres import PostgresDialect, postgres_column_type
from repokit_sqlalchemy.sqlite import SQLiteDialect
from repokit_sqlalchemy.sqlite_types import sqlite_checks, sqlite_column_type

__all__ = ["column_type", "define_table", "define_tables", "sql_table"]

_MAX_NAME = 63  # PostgreSQL's identifier limit
_POSTGRES = PostgresDialect()
_SQLITE = SQLiteDialect()


def column_type(ftype: FieldType) -> sa.types.TypeEngine[Any]:
    """The column type of *ftype*: PostgreSQL's, with a SQLite variant."""
    return postgres_column_type(ftype).with_variant(sqlite_column_type(ftype), "sqlite")


def _name(prefix: str, table: str, parts: Iterable[str]) -> str:
    name = "_".join((prefix, table, *parts))
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: _MAX_NAME - 11]}_{digest}"


def define_table(metadata: sa.MetaData, table: Table[Any]) -> sa.Table:
    """Define *table* on *metadata* and return the SQLAlchemy table."""
    items: list[Any] = []
    for name, field in table.fields.items():
        ftype = field.type
        column = sa.Column(name, column_type(ftype), nullable=ftype.nullable, autoincrement=False)
        items.append(column)
        for check in sqlite_checks(name, ftype):
            items.append(sa.CheckConstraint(check).ddl_if(dialect="sqlite"))
    items.append(sa.PrimaryKeyConstraint(table.primary_key, name=_name("pk", table.name, ())))
    for unique in table.unique:
        if unique.where is None:
            items.append(sa.UniqueConstraint(*unique.fields, name=unique.name))
    result = sa.Table(table.name, metadata, *items, sqlite_strict=True)

    for unique in table.unique:
        if unique.where is not None:
            sa.Index(
                unique.name,
                *(result.c[f] for f in unique.fields),
                unique=True,
                postgresql_where=compile_condition(unique.where, table, result, _POSTGRES),
                sqlite_where=compile_condition(unique.where, table, result, _SQLITE),
            )
    keys = {index.fields for index in table.indexes}
    for index in table.indexes:
        sa.Index(index.name, *(result.c[f] for f in index.fields))
    _shadow_indexes(table, result, [*keys, *(u.fields for u in table.unique)])
    return result


def _shadow_indexes(table: Table[Any], result: sa.Table, keys: list[tuple[str, ...]]) -> None:
    wanted: dict[tuple[str, ...], None] = {}
    for field, shadow in table.shadows.items():
        covering = [key for key in keys if field in key]
        for key in covering or [(field,)]:
            wanted[tuple(shadow if f == field else f for f in key)] = None
    for fields in wanted:
        sa.Index(_name("ix", table.name, fields), *(result.c[f] for f in fields))


def define_tables(metadata: sa.MetaData, *tables: Table[Any]) -> list[sa.Table]:
    """Define *tables* on *metadata* (for Alembic's ``target_metadata``)."""
    return [define_table(metadata, table) for table in tables]


_defined: weakref.WeakKeyDictionary[Table[Any], sa.Table] = weakref.WeakKeyDictionary()


def sql_table(table: Table[Any]) -> sa.Table:
    """The SQLAlchemy table of *table*, built once per process."""
    found = _defined.get(table)
    if found is None:
        found = _defined[table] = define_table(sa.MetaData(), table)
    return found
