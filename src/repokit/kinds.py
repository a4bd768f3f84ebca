"""Value kinds: what each kind of value (CONTRACT §1) means to core, one descriptor each.

:class:`Kind` names the kinds; :data:`KINDS` holds one :class:`ValueKind` per
member, and core reads it instead of switching on the kind: the annotations
that declare the kind (:mod:`repokit.types`), its normaliser
(:mod:`repokit.values`), its operands and their stored grid
(:class:`~repokit.conditions.Column`), its cursor form (:mod:`repokit.cursors`),
its size estimate (:mod:`repokit.sizes`), how a stored value is read back and
what tables allow it for (:mod:`repokit.tables`). A new kind is a member of
:class:`Kind`, its descriptor here, and the backends' storage mapping
(CONTRIBUTING.md, "Adding a value kind").

A :class:`~repokit.types.FieldType` binds its descriptor when it is built
(``ftype.value_kind``), and what is reused is built once from it (a table's
converters, a column's operand and grid functions): per-value and
per-condition work is what those bound functions do, as before there were
descriptors.

This module sits below :mod:`repokit.types`: it imports only the rules it
refers to (:mod:`repokit.values`, :mod:`repokit.sizes`), never the modules
that read it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from repokit import sizes, values
from repokit.values import Rejected

if TYPE_CHECKING:
    from repokit.types import FieldType

__all__ = ["KINDS", "Kind", "ValueKind"]

#: Brings one non-null value to its storage-normal form, or raises :class:`Rejected`.
Normaliser = Callable[[Any], Any]
#: Floors a normalised operand onto the stored grid: ``(floored, exact)``; raises
#: :class:`Rejected` for an operand no stored value can equal or bound.
OnGrid = Callable[[Any], tuple[Any, bool]]


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueKind:
    """Everything core decides per value kind.

    Attributes:
        kind: the kind described.
        annotations: the Python types whose annotation declares the kind (an
            enum kind is declared by any enum class instead).
        normalise: the normaliser of every field type of the kind, when it needs
            nothing from the field type (:func:`repokit.values.converter`).
        make_normaliser: otherwise, what builds the normaliser of one field type.
            Exactly one of the two is set.
        operand: what builds the check of a condition's operand for one field type
            (without ``max_length``: longer operands simply match nothing); ``None``
            means the normaliser. Raises :class:`Rejected` with the reason.
        on_grid: what builds the floor of an operand onto the stored grid of one
            field type (CONTRACT §3); ``None`` when operands are on it already.
        to_cursor: a non-null normal value as a JSON value, in a cursor.
        from_cursor: the normal value of a non-null JSON value of a cursor (a field
            type and the value); raises ``ValueError`` (or the parser's error) for
            what the encoder never writes.
        read: what builds the function that turns one field type's stored value
            into the entity's (``None``: the stored value is the entity's).
        size: the entity-size plan of one field type (:mod:`repokit.sizes`).
        comparable: ``==``, ``in_``, unique keys and indexes apply.
        ordered: ``<``, ``<=``, ``>``, ``>=`` and sort orders apply.
        textual: text matching and ``ignore_case`` apply.
        keyable: a non-null field of the kind may be the primary key.
        takes_max_length: ``Annotated[..., MaxLength(n)]`` applies.
        needs_numeric: the annotation must carry ``Numeric(precision, scale)``.
    """

    kind: Kind
    annotations: tuple[type, ...]
    normalise: Normaliser | None = None
    make_normaliser: Callable[[FieldType], Normaliser] | None = None
    operand: Callable[[FieldType], Normaliser] | None = None
    on_grid: Callable[[FieldType], OnGrid] | None = None
    to_cursor: Callable[[Any], Any]
    from_cursor: Callable[[FieldType, Any], Any]
    read: Callable[[FieldType], Callable[[Any], Any] | None] | None = None
    size: Callable[[FieldType], sizes.SizePlan]
    comparable: bool = True
    ordered: bool = True
    textual: bool = False
    keyable: bool = True
    takes_max_length: bool = False
    needs_numeric: bool = False

    def __post_init__(self) -> None:
        if (self.normalise is None) == (self.make_normaliser is None):
            raise TypeError(f"{self.kind}: give exactly one of normalise and make_normaliser")

    def __reduce__(self) -> tuple[Callable[[Kind], ValueKind], tuple[Kind]]:
        # By reference: a copied or unpickled FieldType holds the registry's descriptor
        # (its functions include closures, which pickle would refuse).
        return _registered, (self.kind,)


def _registered(kind: Kind) -> ValueKind:
    return KINDS[kind]


# -- operands and the stored grid (Column, CONTRACT §3) ----------------------------------------


def _aware_in_utc(value: Any) -> Any:
    # Not the normaliser: sub-millisecond parts stay, for on_grid to say the operand is
    # off the grid (CONTRACT §3 rewrites the comparison then).
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise Rejected("expected a timezone-aware datetime")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Rejected("out of range once converted to UTC") from None


def _datetime_operand(_ftype: FieldType) -> Normaliser:
    return _aware_in_utc


def _datetime_on_grid(_ftype: FieldType) -> OnGrid:
    return _floor_to_milliseconds


def _floor_to_milliseconds(value: Any) -> tuple[Any, bool]:
    floored = values.floor_datetime(value)
    return floored, floored == value


_DECIMAL_OR_INT = (Decimal, int)


def _decimal_operand(ftype: FieldType) -> Normaliser:
    convert = values.converter(ftype)

    def operand(value: Any) -> Any:
        # Any digits: an operand finer than the scale is floored onto the grid.
        if isinstance(value, _DECIMAL_OR_INT):
            if isinstance(value, bool):
                raise Rejected("expected Decimal, got bool")
            return Decimal(value)
        return convert(value)  # refuses it, with the normaliser's reason

    return operand


def _decimal_on_grid(ftype: FieldType) -> OnGrid:
    precision, scale = ftype.precision, ftype.scale
    assert precision is not None
    assert scale is not None
    limit = Decimal(10) ** (precision - scale)
    quantum = Decimal(1).scaleb(-scale)
    outside = f"outside NUMERIC({precision}, {scale})"
    zero = Decimal(0)

    def on_grid(value: Any) -> tuple[Any, bool]:
        if not value.is_finite():
            raise Rejected("NaN and infinities are not allowed")
        if value.copy_abs() >= limit:  # abs() would round to the context precision
            raise Rejected(outside)
        floored = value.quantize(quantum, rounding=ROUND_FLOOR)
        if floored.copy_abs() >= limit:  # -9.995 floors to -10.00, beyond NUMERIC(3, 2)
            raise Rejected(outside)
        return floored + zero, floored == value  # + 0 normalises -0.00 to 0.00

    return on_grid


def _refuse_json_operand(_value: Any) -> Any:
    raise Rejected("JSON fields can only be tested for null")


def _json_operand(_ftype: FieldType) -> Normaliser:
    return _refuse_json_operand


# -- cursors (CONTRACT §10) --------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def _as_is(value: Any) -> Any:
    return value


def _milliseconds(value: Any) -> Any:
    return (value - _EPOCH) // _MILLISECOND


def _from_milliseconds(raw: Any) -> Any:
    return _EPOCH + timedelta(milliseconds=raw)


def _isoformat(value: Any) -> Any:
    return value.isoformat()


def _uuid_hex(value: Any) -> Any:
    return value.hex


def _uuid_from_hex(raw: Any) -> Any:
    return UUID(hex=raw)


def _from_json(
    kind: Kind,
    json_type: type | tuple[type, ...],
    parse: Callable[[Any], Any] | None = None,
) -> Callable[[FieldType, Any], Any]:
    """The cursor decoder of a kind written as *json_type*, parsed by *parse*."""
    expected = f"expected {kind.value}"
    bools = json_type is bool  # a bool is an int to isinstance: only BOOL takes one

    def decode(ftype: FieldType, raw: Any) -> Any:
        if not isinstance(raw, json_type) or (not bools and isinstance(raw, bool)):
            raise ValueError(expected)
        value = raw if parse is None else parse(raw)
        # Whoever holds the key (a shared deployment key can leak) may sign any JSON:
        # the values obey the value rules like any operand (an int beyond 64 bits,
        # NaN, a lone surrogate would otherwise reach the database).
        try:
            return values.converter(ftype)(value)
        except Rejected as exc:
            raise ValueError(str(exc)) from None

    return decode


def _enum_from_cursor(ftype: FieldType, raw: Any) -> Any:
    assert ftype.enum is not None
    return ftype.enum(raw).value


def _json_from_cursor(ftype: FieldType, raw: Any) -> Any:
    # Not ordered, so never a sort key: a cursor holding one is malformed.
    raise KeyError(ftype.kind)


# -- reading stored values back (Table.from_row) -----------------------------------------------


def _enum_read(ftype: FieldType) -> Callable[[Any], Any] | None:
    """``enum_cls(value)`` for a stored value, by the lookup that call starts with.

    ``Enum.__call__`` spends most of its time before it reaches
    ``_value2member_map_``; anything that map lacks (or a metaclass that
    changes the call) still goes through the call.
    """
    enum_cls = ftype.enum
    if enum_cls is None:
        return None
    if type(enum_cls).__call__ is not enum.EnumMeta.__call__:
        return enum_cls
    members: Mapping[Any, Any] = enum_cls._value2member_map_

    def decode(value: Any) -> Any:
        try:
            return members[value]
        except (KeyError, TypeError):
            return enum_cls(value)

    return decode


# -- the descriptors ---------------------------------------------------------------------------

#: The descriptor of every :class:`Kind` (read-only; ``tests/unit/test_kinds.py`` checks
#: that every member has one).
KINDS: Final[dict[Kind, ValueKind]] = {
    vk.kind: vk
    for vk in (
        ValueKind(
            kind=Kind.STR,
            annotations=(str,),
            make_normaliser=values.str_normaliser,
            to_cursor=_as_is,
            from_cursor=_from_json(Kind.STR, str),
            size=sizes.text_plan,
            textual=True,
            takes_max_length=True,
        ),
        ValueKind(
            kind=Kind.INT,
            annotations=(int,),
            normalise=values.normalise_int,
            to_cursor=_as_is,
            from_cursor=_from_json(Kind.INT, int),
            size=sizes.fixed_plan(8),
        ),
        ValueKind(
            kind=Kind.FLOAT,
            annotations=(float,),
            normalise=values.normalise_float,
            to_cursor=_as_is,
            from_cursor=_from_json(Kind.FLOAT, (float, int)),
            size=sizes.fixed_plan(8),
            keyable=False,
        ),
        ValueKind(
            kind=Kind.BOOL,
            annotations=(bool,),
            normalise=values.normalise_bool,
            to_cursor=_as_is,
            from_cursor=_from_json(Kind.BOOL, bool),
            size=sizes.fixed_plan(1),
        ),
        ValueKind(
            kind=Kind.DECIMAL,
            annotations=(Decimal,),
            make_normaliser=values.decimal_normaliser,
            operand=_decimal_operand,
            on_grid=_decimal_on_grid,
            to_cursor=str,
            from_cursor=_from_json(Kind.DECIMAL, str, Decimal),
            size=sizes.fixed_plan(16),  # Decimal128
            needs_numeric=True,
        ),
        ValueKind(
            kind=Kind.DATETIME,
            annotations=(datetime,),
            normalise=values.normalise_datetime,
            operand=_datetime_operand,
            on_grid=_datetime_on_grid,
            to_cursor=_milliseconds,
            from_cursor=_from_json(Kind.DATETIME, int, _from_milliseconds),
            size=sizes.fixed_plan(8),
        ),
        ValueKind(
            kind=Kind.DATE,
            annotations=(date,),
            normalise=values.normalise_date,
            to_cursor=_isoformat,
            from_cursor=_from_json(Kind.DATE, str, date.fromisoformat),
            size=sizes.fixed_plan(5 + 10),  # the string YYYY-MM-DD
        ),
        ValueKind(
            kind=Kind.UUID,
            annotations=(UUID,),
            normalise=values.normalise_uuid,
            to_cursor=_uuid_hex,
            from_cursor=_from_json(Kind.UUID, str, _uuid_from_hex),
            size=sizes.fixed_plan(4 + 1 + 16),  # binary: length, subtype, 16 bytes
        ),
        ValueKind(
            kind=Kind.ENUM,
            annotations=(),  # any enum class (repokit.types.parse_annotation)
            make_normaliser=values.enum_normaliser,
            to_cursor=_as_is,
            from_cursor=_enum_from_cursor,
            read=_enum_read,
            size=sizes.enum_plan,
        ),
        ValueKind(
            kind=Kind.JSON,
            annotations=(dict, list),
            make_normaliser=values.json_normaliser,
            operand=_json_operand,
            to_cursor=_as_is,
            from_cursor=_json_from_cursor,
            size=sizes.json_plan,
            comparable=False,
            ordered=False,
            keyable=False,
        ),
    )
}
