"""SQLite column types (CONTRACT §1): every value kind in a STRICT column, losslessly.

SQLite has five storage classes and drops what does not fit them (datetime
offsets, decimal digits beyond a double, UUIDs): each kind is stored in a
form that keeps its value *and* its order, so comparisons and ``ORDER BY``
work on the stored form:

========= ======== =================================================
kind      column   stored as
========= ======== =================================================
str       TEXT     the text (BINARY collation: code point order)
int       INTEGER  the integer
float     REAL     the double
bool      INTEGER  0 / 1, with a CHECK
decimal   INTEGER  the value times 10**scale (precision <= 18 fits)
datetime  INTEGER  milliseconds since 1970-01-01 UTC
date      TEXT     ISO ``YYYY-MM-DD``
uuid      TEXT     32 lowercase hex digits (byte order)
enum      TEXT or  the member's value
          INTEGER
json      TEXT     compact JSON; JSON null is SQL NULL
========= ======== =================================================
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from repokit.types import FieldType, Kind

__all__ = ["sqlite_checks", "sqlite_column_type"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class IntBool(TypeDecorator[bool]):
    """``bool`` as INTEGER 0 / 1."""

    impl = sa.Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else int(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else bool(value)


class ScaledDecimal(TypeDecorator[Decimal]):
    """``Decimal`` with a fixed scale as the INTEGER ``value * 10**scale``."""

    impl = sa.Integer
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        # Values and operands are already on the scale's grid: the shift is exact.
        return None if value is None else int(Decimal(value).scaleb(self.scale))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else Decimal(value).scaleb(-self.scale)


class EpochMillis(TypeDecorator[datetime]):
    """Aware ``datetime`` as INTEGER milliseconds since the Unix epoch (UTC)."""

    impl = sa.Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else (value - _EPOCH) // _MS

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _EPOCH + value * _MS


class IsoDate(TypeDecorator[date]):
    """``date`` as ISO text, which sorts chronologically."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else value.isoformat()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else date.fromisoformat(value)


class HexUUID(TypeDecorator[UUID]):
    """``UUID`` as 32 lowercase hex digits, which sort like its 16 bytes."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else value.hex

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else UUID(hex=value)


class JsonText(TypeDecorator[Any]):
    """JSON objects and arrays as compact text; ``None`` is SQL NULL."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(value)


def sqlite_column_type(ftype: FieldType) -> sa.types.TypeEngine[Any]:
    """The STRICT-table column type for *ftype*."""
    kind = ftype.kind
    if kind is Kind.STR:
        return sa.Text()
    if kind is Kind.INT:
        return sa.Integer()
    if kind is Kind.FLOAT:
        return sa.REAL()
    if kind is Kind.BOOL:
        return IntBool()
    if kind is Kind.DECIMAL:
        assert ftype.scale is not None
        return ScaledDecimal(ftype.scale)
    if kind is Kind.DATETIME:
        return EpochMillis()
    if kind is Kind.DATE:
        return IsoDate()
    if kind is Kind.UUID:
        return HexUUID()
    if kind is Kind.ENUM:
        assert ftype.enum is not None
        first = next(iter(ftype.enum)).value
        return sa.Text() if isinstance(first, str) else sa.Integer()
    if kind is Kind.JSON:
        return JsonText()
    raise AssertionError(f"unknown kind {kind!r}")


def sqlite_checks(column: str, ftype: FieldType) -> list[tuple[str, str]]:
    """CHECK constraints for what a STRICT column type does not enforce itself.

    Returns:
        ``(what, expression)`` pairs; *what* (``bool``, ``length``, ``uuid``)
        goes into the constraint's name.
    """
    quoted = '"' + column + '"'
    checks: list[tuple[str, str]] = []
    if ftype.kind is Kind.BOOL:
        checks.append(("bool", f"{quoted} IN (0, 1)"))
    if ftype.kind is Kind.STR and ftype.max_length is not None:
        checks.append(("length", f"length({quoted}) <= {ftype.max_length}"))
    if ftype.kind is Kind.UUID:
        checks.append(("uuid", f"length({quoted}) = 32"))
    return checks
