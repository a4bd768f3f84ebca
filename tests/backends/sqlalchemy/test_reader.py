"""The row reader reads what SQLAlchemy's own result processors read, on both dialects.

:class:`~repokit_sqlalchemy.statements.Reader` calls repokit's type
decorators directly (not through SQLAlchemy's wrapper) and builds each row
with a generated function. Both rest on SQLAlchemy behaviour pinned here:
``TypeDecorator.load_dialect_impl`` and a plain implementation type having
no result processor of its own. If an upgrade changes either, these fail.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from asyncpg.pgproto import pgproto
from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite
from sqlalchemy.engine import Dialect

from repokit_sqlalchemy.schema import sql_table
from repokit_sqlalchemy.statements import Reader

from .conftest import thing_table

_KEY = uuid.UUID("0123456789abcdef0123456789abcdef")
_VALUES: dict[str, Any] = {
    "id": _KEY,
    "tenant": "acme",
    "name": "n",
    "code": None,
    "count": 7,
    "ratio": 0.5,
    "price": Decimal("12.3400"),
    "flag": True,
    "at": datetime(2026, 12, 3, 8, 0, 1, 2000, tzinfo=UTC),
    "day": date(2026, 12, 3),
    "ref": None,
    "data": {"a": [1, None]},
    "status": "live",
}


def _dialects() -> list[Dialect]:
    return [sqlite_aiosqlite.dialect(), pg_asyncpg.dialect()]


def _stored(column: sa.Column[Any], dialect: Dialect, value: Any) -> Any:
    """What the driver hands back for *value*: its bound form on SQLite; on asyncpg the value
    itself (asyncpg decodes the wire format), its UUIDs asyncpg's own subclass."""
    if value is None:
        return None
    if dialect.name == "sqlite":
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        return value if process is None else process(value)
    if isinstance(value, uuid.UUID):
        return pgproto.UUID(value.bytes)
    return value


def _sqlalchemy_row(
    columns: list[sa.Column[Any]], dialect: Dialect, record: tuple[Any, ...]
) -> dict[str, Any]:
    row = {}
    for column, stored in zip(columns, record, strict=True):
        impl = column.type.dialect_impl(dialect)
        if isinstance(impl, sa.Numeric | sa.Float) and dialect.driver == "asyncpg":
            process = None  # asyncpg returns Decimal / float already (see _result_processor)
        else:
            process = impl.result_processor(dialect, None)
        row[column.name] = stored if process is None else process(stored)
    return row


@pytest.mark.parametrize("dialect", _dialects(), ids=lambda d: d.name)
def test_the_reader_reads_each_column_as_sqlalchemy_would(dialect: Dialect) -> None:
    columns = list(sql_table(thing_table("reader_things")).c)
    values = {column.name: _VALUES.get(column.name) for column in columns}  # shadows: None
    record = tuple(_stored(column, dialect, values[column.name]) for column in columns)
    reader = Reader(columns, dialect)
    row = reader.row(record)
    assert row == _sqlalchemy_row(columns, dialect, record)
    assert row == values
    assert type(row["id"]) is uuid.UUID  # never asyncpg's subclass
    assert row["at"].tzinfo is not None
    # Extra values after the table's columns (a count) are left for the caller.
    assert reader.rows([(*record, 42)]) == [row]
