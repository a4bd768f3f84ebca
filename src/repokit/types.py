"""Field types: what an entity annotation means to repokit.

A :class:`FieldType` is derived from a dataclass annotation when a
:class:`~repokit.Table` is defined. ``NewType`` is unwrapped, ``X | None``
makes a field nullable and ``Annotated`` carries :class:`MaxLength` or
:class:`Numeric`. Anything else fails at definition time with
:class:`~repokit.errors.InvalidTableDefinition`.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Union
from uuid import UUID

from repokit.errors import InvalidTableDefinition

__all__ = ["MAX_DECIMAL_PRECISION", "FieldType", "Kind", "MaxLength", "Numeric", "parse_annotation"]

#: Decimals must fit a signed 64-bit integer once scaled (SQLite stores them so).
MAX_DECIMAL_PRECISION = 18


class Kind(enum.Enum):
    """The value kinds of CONTRACT §1."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    DECIMAL = "decimal"
    DATETIME = "datetime"
    DATE = "date"
    UUID = "uuid"
    ENUM = "enum"
    JSON = "json"


#: Kinds whose values are ordered (usable with <, <=, >, >= and in sort orders).
ORDERED_KINDS = frozenset(Kind) - {Kind.JSON}


@dataclass(frozen=True, slots=True)
class MaxLength:
    """``Annotated[str, MaxLength(n)]``: at most *n* code points."""

    length: int

    def __post_init__(self) -> None:
        if not isinstance(self.length, int) or isinstance(self.length, bool) or self.length < 1:
            raise InvalidTableDefinition(f"MaxLength needs a positive integer, got {self.length!r}")


@dataclass(frozen=True, slots=True)
class Numeric:
    """``Annotated[Decimal, Numeric(precision, scale)]``: a fixed-point decimal.

    ``precision`` (total digits) is at most :data:`MAX_DECIMAL_PRECISION`;
    ``0 <= scale <= precision``.
    """

    precision: int
    scale: int

    def __post_init__(self) -> None:
        if (
            not 1 <= self.precision <= MAX_DECIMAL_PRECISION
            or not 0 <= self.scale <= self.precision
        ):
            raise InvalidTableDefinition(
                f"Numeric({self.precision}, {self.scale}): precision must be "
                f"1..{MAX_DECIMAL_PRECISION} and scale 0..precision"
            )


@dataclass(frozen=True, slots=True)
class FieldType:
    """The type of one field.

    Attributes:
        kind: the value kind.
        nullable: whether ``None`` is allowed.
        max_length: for strings, the maximum number of code points.
        precision: for decimals, the total number of digits.
        scale: for decimals, the digits after the point.
        enum: for enums, the enum class (its values are all ``str`` or all ``int``).
    """

    kind: Kind
    nullable: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    enum: type[enum.Enum] | None = None

    @property
    def ordered(self) -> bool:
        """Whether values of this type can be compared with < and sorted."""
        return self.kind in ORDERED_KINDS

    @property
    def textual(self) -> bool:
        """Whether contains/startswith/endswith apply."""
        return self.kind is Kind.STR


_SCALARS: dict[Any, Kind] = {
    str: Kind.STR,
    int: Kind.INT,
    float: Kind.FLOAT,
    bool: Kind.BOOL,
    Decimal: Kind.DECIMAL,
    datetime: Kind.DATETIME,
    date: Kind.DATE,
    UUID: Kind.UUID,
    dict: Kind.JSON,
    list: Kind.JSON,
}


def parse_annotation(entity: str, field: str, annotation: Any) -> FieldType:
    """Turn a resolved annotation into a :class:`FieldType`.

    Raises:
        InvalidTableDefinition: the annotation is not a supported type; the
            message names the entity and the field.
    """
    nullable = False
    max_length: int | None = None
    numeric: Numeric | None = None
    tp = annotation
    for _ in range(16):  # unwrap NewType / Annotated / Optional, in any nesting
        if isinstance(tp, typing.NewType):
            tp = tp.__supertype__
        elif typing.get_origin(tp) is typing.Annotated:
            for meta in tp.__metadata__:
                if isinstance(meta, MaxLength):
                    max_length = meta.length
                elif isinstance(meta, Numeric):
                    numeric = meta
            tp = tp.__origin__
        elif typing.get_origin(tp) in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != len(typing.get_args(tp)):
                nullable = True
            if len(args) != 1:
                raise InvalidTableDefinition(
                    f"{entity}.{field}: unions of several types are not supported ({annotation!r})"
                )
            tp = args[0]
        else:
            break
    origin = typing.get_origin(tp) or tp
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        values = [m.value for m in origin]
        if not values or not (
            all(isinstance(v, str) for v in values)
            or all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        ):
            raise InvalidTableDefinition(
                f"{entity}.{field}: enum {origin.__name__} must have only str or only int values"
            )
        return FieldType(Kind.ENUM, nullable, enum=origin)
    kind = _SCALARS.get(origin)
    if kind is None:
        raise InvalidTableDefinition(f"{entity}.{field}: unsupported type {annotation!r}")
    if max_length is not None and kind is not Kind.STR:
        raise InvalidTableDefinition(f"{entity}.{field}: MaxLength applies to str fields only")
    if kind is Kind.DECIMAL:
        if numeric is None:
            raise InvalidTableDefinition(
                f"{entity}.{field}: a Decimal field needs "
                "Annotated[Decimal, Numeric(precision, scale)]"
            )
        return FieldType(kind, nullable, precision=numeric.precision, scale=numeric.scale)
    if numeric is not None:
        raise InvalidTableDefinition(f"{entity}.{field}: Numeric applies to Decimal fields only")
    return FieldType(kind, nullable, max_length=max_length)
