"""repokit tables → SQLAlchemy ``Table`` s on a ``MetaData`` (and so Alembic migrations).

One SQLAlchemy table, the one the backend runs statements on, serves every
dialect (:func:`metadata` builds one database's alone, for migrations): each
column type is the PostgreSQL type with a SQLite variant (:mod:`repokit_sqlalchemy.postgres`,
:mod:`repokit_sqlalchemy.sqlite_types`), SQLite tables are ``STRICT``, and
SQLite-only CHECKs (``ck_<table>_<column>_<what>``) are emitted for SQLite
only. A table gets:

* its primary key (``pk_<table>``), never null, never auto-generated;
* a unique constraint per unique key; a key "among live entities" becomes a
  partial unique index whose predicate is the key's :attr:`Unique.where`,
  compiled like any other condition;
* an index per declared index;
* a FOREIGN KEY (``fk_<table>_<fields…>``) per reference, ``ON DELETE``
  ``RESTRICT`` / ``CASCADE`` / ``SET NULL`` as its ``on_purge`` says (CONTRACT §23);
* the casefolded shadow column of every ignore-case field (core fills it on
  every write) and an index on it wherever the field itself is indexed, or
  on the shadow alone.

Managing the schema with Alembic instead of :meth:`Database.create_tables`
(``docs/migrations.md``): give Alembic one database's metadata, in ``env.py``::

    from repokit_sqlalchemy import metadata, render_item
    from myapp.tables import projects, members

    def do_run_migrations(connection):
        context.configure(
            connection=connection,
            target_metadata=metadata(projects, members, dialect=connection.dialect.name),
            render_item=render_item,
        )

``alembic revision --autogenerate`` then sees exactly the tables, indexes
and constraints :meth:`Database.create_tables` would create on that
database. A metadata for one dialect holds only its types, CHECKs and index
predicates (the dialect-neutral tables the backend runs statements on carry
both, and Alembic would put SQLite's CHECKs into a PostgreSQL migration);
:func:`render_item` writes repokit's column types into a migration as the
plain SQLAlchemy types they are stored as, so the migration imports nothing
from repokit.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from repokit.errors import UnsupportedOperation
from repokit.integrity import dependency_order
from repokit.references import OnPurge, Reference, key_fields
from repokit.tables import Table, Unique, constraint_name
from repokit.types import FieldType
from repokit_sqlalchemy.conditions import compile_condition
from repokit_sqlalchemy.dialect import SQLSpelling
from repokit_sqlalchemy.dialects import registered_dialect, registered_dialects

__all__ = [
    "DialectName",
    "column_type",
    "define_table",
    "define_tables",
    "metadata",
    "render_item",
    "sql_table",
    "unique_predicate",
]

#: A registered dialect's name (``sa.engine.Dialect.name``): ``"postgresql"``, ``"sqlite"``.
DialectName = str

_MAX_NAME = 63  # PostgreSQL's identifier limit


def column_type(ftype: FieldType, dialect: DialectName | None = None) -> sa.types.TypeEngine[Any]:
    """The column type of *ftype* on *dialect*; by default the first registered dialect's
    (PostgreSQL's), with a variant for each other one."""
    if dialect is not None:
        return _spelling(dialect).column_type(ftype)
    first, *others = (entry.spelling for entry in registered_dialects())
    result = first.column_type(ftype)
    for other in others:
        result = result.with_variant(other.column_type(ftype), other.name)
    return result


def _spelling(dialect: str) -> SQLSpelling:
    try:
        return registered_dialect(dialect).spelling
    except UnsupportedOperation:
        known = " and ".join(entry.name for entry in registered_dialects())
        raise UnsupportedOperation(
            f"repokit builds SQL tables for {known}, not {dialect!r}"
        ) from None


def _name(prefix: str, table: str, parts: Sequence[str]) -> str:
    # PostgreSQL's own limit, not the default one: these names were made so from the start.
    return constraint_name(prefix, table, parts, limit=_MAX_NAME)


def _all_spellings() -> list[SQLSpelling]:
    return [entry.spelling for entry in registered_dialects()]


def define_table(
    metadata: sa.MetaData, table: Table[Any], *, dialect: DialectName | None = None
) -> sa.Table:
    """Define *table* on *metadata* and return the SQLAlchemy table.

    Args:
        metadata: where to define it.
        table: the repokit table.
        dialect: the one database the definition is for (for migrations:
            only its column types, CHECKs and index predicates); ``None``
            defines one table for both, with type variants and
            dialect-conditional DDL, as the backend runs statements on.
    """
    # The dialects the definition is for: one, or every registered one, each of whose
    # CHECKs, table options and index predicates then apply on that dialect only.
    only = dialect is not None
    spellings = [_spelling(dialect)] if dialect is not None else _all_spellings()
    items: list[Any] = []
    for name, field in table.fields.items():
        ftype = field.type
        column = sa.Column(
            name, column_type(ftype, dialect), nullable=ftype.nullable, autoincrement=False
        )
        items.append(column)
        for spelling in spellings:
            for what, check in spelling.column_checks(name, ftype):
                # Named: Alembic's batch mode (SQLite's ALTER) drops unnamed CHECKs.
                constraint = sa.CheckConstraint(check, name=_name("ck", table.name, (name, what)))
                items.append(constraint if only else constraint.ddl_if(dialect=spelling.name))
    items.append(sa.PrimaryKeyConstraint(*table.key_fields, name=_name("pk", table.name, ())))
    for unique in table.unique:
        if unique.where is None and not unique.nulls_equal:
            items.append(sa.UniqueConstraint(*unique.fields, name=unique.name))
    items.extend(_foreign_key(metadata, reference) for reference in table.references)
    options: dict[str, Any] = {}
    for spelling in spellings:
        options.update(spelling.table_options())
    result = sa.Table(table.name, metadata, *items, **options)

    for unique in table.unique:
        if unique.nulls_equal:
            _null_equal_key(table, unique, result, spellings, only=only)
        elif unique.where is not None:
            where: dict[str, Any] = {
                f"{spelling.name}_where": compile_condition(unique.where, table, result, spelling)
                for spelling in spellings
            }
            sa.Index(unique.name, *(result.c[f] for f in unique.fields), unique=True, **where)
    keys = {index.fields for index in table.indexes}
    for index in table.indexes:
        sa.Index(index.name, *(result.c[f] for f in index.fields))
    _shadow_indexes(table, result, [*keys, *(u.fields for u in table.unique)])
    return result


def _null_equal_key(
    table: Table[Any], unique: Unique, result: sa.Table, spellings: list[SQLSpelling], *, only: bool
) -> None:
    """The unique index of a key whose nulls are equal, per dialect (CONTRACT §22).

    PostgreSQL (15 and later) says it natively, ``NULLS NOT DISTINCT``. SQLite
    has no such clause: its index is over ``(f IS NULL, ifnull(f, 0))`` for each
    nullable field ``f`` (each other field as it is), so a null equals a null
    and never a value, ``0`` included (the ``IS NULL`` part tells them apart).
    """
    for spelling in spellings:
        options: dict[str, Any] = {}
        if unique.where is not None:
            where = compile_condition(unique.where, table, result, spelling)
            options[f"{spelling.name}_where"] = where
        if spelling.name == "postgresql":
            columns: list[Any] = [result.c[f] for f in unique.fields]
            options["postgresql_nulls_not_distinct"] = True
        else:
            columns = []
            for field in unique.fields:
                column = result.c[field]
                if table.fields[field].type.nullable:
                    columns += [column.is_(None), sa.func.ifnull(column, sa.literal_column("0"))]
                else:
                    columns.append(column)
        index = sa.Index(unique.name, *columns, unique=True, **options)
        index.info["repokit_dialect"] = spelling.name
        if not only:
            index.ddl_if(dialect=spelling.name)


#: ``ON DELETE`` of each :class:`~repokit.references.OnPurge`.
ON_DELETE = {OnPurge.RESTRICT: "RESTRICT", OnPurge.CASCADE: "CASCADE", OnPurge.SET_NULL: "SET NULL"}


def _foreign_key(metadata: sa.MetaData, reference: Reference) -> sa.ForeignKeyConstraint:
    """The FOREIGN KEY of *reference* (CONTRACT §23): onto the target in *metadata* if
    it is defined there (a migration's metadata), else onto the backend's own table."""
    target = reference.target
    keys = key_fields(target)
    refcolumns: list[Any]
    if target.name in metadata.tables:
        refcolumns = [f"{target.name}.{key}" for key in keys]
    else:
        sql = sql_table(target)
        refcolumns = [sql.c[key] for key in keys]
    return sa.ForeignKeyConstraint(
        list(reference.fields),
        refcolumns,
        name=reference.name,
        ondelete=ON_DELETE[reference.on_purge],
    )


def _shadow_indexes(table: Table[Any], result: sa.Table, keys: list[tuple[str, ...]]) -> None:
    wanted: dict[tuple[str, ...], None] = {}
    for field, shadow in table.shadows.items():
        covering = [key for key in keys if field in key]
        for key in covering or [(field,)]:
            wanted[tuple(shadow if f == field else f for f in key)] = None
    for fields in wanted:
        sa.Index(_name("ix", table.name, fields), *(result.c[f] for f in fields))


def define_tables(
    metadata: sa.MetaData, *tables: Table[Any], dialect: DialectName | None = None
) -> list[sa.Table]:
    """Define *tables* on *metadata*, parents first (see :func:`define_table` for *dialect*)."""
    return [define_table(metadata, table, dialect=dialect) for table in dependency_order(tables)]


def metadata(*tables: Table[Any], dialect: DialectName | str) -> sa.MetaData:
    """A new ``MetaData`` with *tables* as they are created on *dialect*: Alembic's target.

    Args:
        tables: the repokit tables.
        dialect: ``"postgresql"`` or ``"sqlite"``: in ``env.py``,
            ``connection.dialect.name``.

    Raises:
        UnsupportedOperation: another dialect.
    """
    result = sa.MetaData()
    _spelling(dialect)
    define_tables(result, *tables, dialect=dialect)
    return result


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Alembic's ``render_item`` hook: repokit's column types as plain SQLAlchemy types.

    repokit's ``TypeDecorator`` s (aware UTC datetimes, plain UUIDs, SQLite's
    stored forms) convert values in Python; the database only ever sees
    their ``impl``, a plain SQLAlchemy type. A migration renders that type
    (``sa.DateTime(timezone=True)``, ``sa.Integer()``), so it needs no import
    from repokit and keeps working whatever repokit's types become. Anything
    else is left to Alembic (``False``); an ``env.py`` with its own hook
    calls this one first.
    """
    if kind != "type" or not isinstance(obj, TypeDecorator):
        return False
    if not type(obj).__module__.startswith("repokit_sqlalchemy."):
        return False
    prefix = autogen_context.opts.get("sqlalchemy_module_prefix") or "sa."
    return f"{prefix}{obj.impl_instance!r}"


def unique_predicate(table: Table[Any], unique: Unique, dialect: DialectName) -> Any:
    """The WHERE of *unique*'s partial index on *dialect*, as created; ``None`` for a full key.

    An upsert's ``ON CONFLICT (…) WHERE …`` repeats it, so that the database
    finds that index as the conflict target.
    """
    if unique.where is None:
        return None
    for index in sql_table(table).indexes:
        if index.name == unique.name:
            return index.dialect_options[dialect]["where"]
    raise AssertionError(f"no index {unique.name} on {table.name}")  # pragma: no cover


_defined: weakref.WeakKeyDictionary[Table[Any], sa.Table] = weakref.WeakKeyDictionary()


def sql_table(table: Table[Any]) -> sa.Table:
    """The SQLAlchemy table of *table*, built once per process."""
    found = _defined.get(table)
    if found is None:
        found = _defined[table] = define_table(sa.MetaData(), table)
    return found
