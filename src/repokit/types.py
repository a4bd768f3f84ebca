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
from dataclasses import dataclass, field
from typing import Any, Union

from repokit.errors import InvalidTableDefinition
from repokit.kinds import KINDS, Kind, ValueKind

__all__ = ["MAX_DECIMAL_PRECISION", "FieldType", "Kind", "MaxLength", "Numeric", "parse_annotation"]

#: Decimals must fit a signed 64-bit integer once scaled (SQLite stores them so).
MAX_DECIMAL_PRECISION = 18


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
        value_kind: the kind's descriptor (``KINDS[kind]``), set on construction.
    """

    kind: Kind
    nullable: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    enum: type[enum.Enum] | None = None

    # Bound once here (:mod:`repokit.kinds`): converters, columns and cursors read it.
    value_kind: ValueKind = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_kind", KINDS[self.kind])

    @property
    def ordered(self) -> bool:
        """Whether values of this type can be compared with < and sorted."""
        return self.value_kind.ordered

    @property
    def textual(self) -> bool:
        """Whether contains/startswith/endswith apply."""
        return self.value_kind.textual


#: The annotation types of the scalar and JSON kinds (an enum class is an enum kind).
_SCALARS: dict[Any, ValueKind] = {
    annotation: vk for vk in KINDS.values() for annotation in vk.annotations
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
    vk = _SCALARS.get(origin)
    if vk is None:
        raise InvalidTableDefinition(f"{entity}.{field}: unsupported type {annotation!r}")
    kind = vk.kind
    if max_length is not None and not vk.takes_max_length:
        raise InvalidTableDefinition(f"{entity}.{field}: MaxLength applies to str fields only")
    if vk.needs_numeric:
        if numeric is None:
            raise InvalidTableDefinition(
                f"{entity}.{field}: a Decimal field needs "
                "Annotated[Decimal, Numeric(precision, scale)]"
            )
        return FieldType(kind, nullable, precision=numeric.precision, scale=numeric.scale)
    if numeric is not None:
        raise InvalidTableDefinition(f"{entity}.{field}: Numeric applies to Decimal fields only")
    return FieldType(kind, nullable, max_length=max_length)
