"""Value rules (CONTRACT §1–2): validation and normalisation, before any I/O.

Every value that reaches a backend has passed through here and is in its
*storage-normal* form:

========== ===========================================================
kind       normal form
========== ===========================================================
str        ``str`` without NUL or lone surrogates, within ``max_length``
int        ``int`` in the signed 64-bit range (``bool`` is not an int)
float      finite ``float``; ``int`` accepted; ``-0.0`` becomes ``0.0``
bool       ``True`` / ``False`` only
decimal    ``Decimal`` quantised to the declared scale, exactly
datetime   aware ``datetime`` in UTC, floored to milliseconds
date       ``date`` (a ``datetime`` is not a date)
uuid       ``uuid.UUID``
enum       the member's ``value`` (``str`` or ``int``)
json       ``dict`` / ``list`` of JSON scalars following the rules above
========== ===========================================================

``None`` is the null of every nullable field. NUL characters and lone
surrogates are refused everywhere because PostgreSQL text and UTF-8 cannot
hold them: accepting them on one backend only would break the contract.

The normalisers are defined here; each kind's descriptor (:mod:`repokit.kinds`)
names its own, and :func:`converter` finds it through the field type.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from uuid import UUID

from repokit.errors import InvalidValue

if TYPE_CHECKING:  # only annotations: repokit.kinds (below repokit.types) imports this module
    from repokit.types import FieldType

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "Rejected",
    "converter",
    "floor_datetime",
    "normalize_value",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


_isfinite = math.isfinite
_ENUM_VALUE = inspect.getattr_static(enum.Enum, "value")


class Rejected(Exception):
    """Internal: a value broke a rule; carries the reason."""


def _check_text(value: str) -> str:
    if "\x00" in value:
        raise Rejected("NUL characters cannot be stored")
    # Surrogates are not ASCII: only other text pays for the trial encoding.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Rejected("lone surrogates are not valid Unicode text") from None
    return value


def str_normaliser(ftype: FieldType) -> Callable[[Any], Any]:
    max_length = ftype.max_length
    # The fast paths only accept what ``check`` returns unchanged (a plain ASCII str
    # without NUL, within the limit); anything else, errors included, goes to ``check``.
    if max_length is None:

        def convert(value: Any) -> Any:
            if type(value) is str and value.isascii() and "\x00" not in value:
                return value
            return check(value)

    else:

        def convert(value: Any) -> Any:
            if (
                type(value) is str
                and len(value) <= max_length
                and value.isascii()
                and "\x00" not in value
            ):
                return value
            return check(value)

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            raise Rejected(f"expected str, got {type(value).__name__}")
        if max_length is not None and len(value) > max_length:
            raise Rejected(f"longer than {max_length} characters ({len(value)})")
        # A str subclass (a StrEnum member, say) is stored as the plain string.
        return _check_text(value if type(value) is str else str.__str__(value))

    return convert


def normalise_int(value: Any) -> int:
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:
        return value  # the common case, already normal
    if not isinstance(value, int) or isinstance(value, bool):
        raise Rejected(f"expected int, got {type(value).__name__}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise Rejected("outside the signed 64-bit range")
    return int(value)


def normalise_float(value: Any) -> float:
    if type(value) is float and _isfinite(value):
        return value + 0.0  # the common case: only -0.0 changes
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(f"expected float, got {type(value).__name__}")
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise Rejected("integer too large to convert to float exactly")
        value = float(value)
    if not math.isfinite(value):
        raise Rejected("NaN and infinities are not allowed")
    return float(value) + 0.0  # -0.0 + 0.0 == 0.0: one zero only


def normalise_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Rejected(f"expected bool, got {type(value).__name__}")
    return value


def decimal_normaliser(ftype: FieldType) -> Callable[[Any], Any]:
    assert ftype.precision is not None
    assert ftype.scale is not None
    quantum = Decimal(1).scaleb(-ftype.scale)
    limit = Decimal(10) ** (ftype.precision - ftype.scale)

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise Rejected(f"expected Decimal, got {type(value).__name__}")
        value = Decimal(value)
        if not value.is_finite():
            raise Rejected("NaN and infinities are not allowed")
        try:
            quantised = value.quantize(quantum)
        except InvalidOperation:
            raise Rejected("too many digits") from None
        if quantised != value:
            raise Rejected(f"more than {ftype.scale} digits after the point")
        if abs(quantised) >= limit:
            raise Rejected(f"does not fit NUMERIC({ftype.precision}, {ftype.scale})")
        return quantised + Decimal(0)  # normalises -0.00 to 0.00

    return convert


def floor_datetime(value: datetime) -> datetime:
    """Convert an aware datetime to UTC and floor it to milliseconds."""
    if type(value) is datetime and value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # already normal: the conversion would only copy it
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def normalise_datetime(value: Any) -> datetime:
    # Values read back or built with tzinfo=UTC are usually normal already; checked
    # inline because this runs for every datetime of every row written.
    if type(value) is datetime and value.tzinfo is UTC and not value.microsecond % 1000:
        return value
    if not isinstance(value, datetime):
        raise Rejected(f"expected datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise Rejected("naive datetimes are ambiguous; give a timezone-aware datetime")
    try:
        return floor_datetime(value)
    except OverflowError:
        raise Rejected("out of range once converted to UTC") from None


def normalise_date(value: Any) -> date:
    if type(value) is date:
        return value
    if not isinstance(value, date) or isinstance(value, datetime):
        raise Rejected(f"expected date, got {type(value).__name__}")
    return value


def normalise_uuid(value: Any) -> UUID:
    if not isinstance(value, UUID):
        raise Rejected(f"expected uuid.UUID, got {type(value).__name__}")
    return value


def enum_normaliser(ftype: FieldType) -> Callable[[Any], Any]:
    enum_cls = ftype.enum
    assert enum_cls is not None

    def convert(value: Any) -> Any:
        if not isinstance(value, enum_cls):
            raise Rejected(f"expected a member of {enum_cls.__name__}")
        return value.value

    if inspect.getattr_static(enum_cls, "value") is not _ENUM_VALUE:
        return convert  # the enum redefines .value: ask it

    def member_value(value: Any) -> Any:
        # What Enum.value returns, without its descriptor call (over a third of the cost).
        if not isinstance(value, enum_cls):
            raise Rejected(f"expected a member of {enum_cls.__name__}")
        return value._value_

    return member_value


def _json(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise Rejected("JSON nested deeper than 64 levels")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _check_text(value)
    if isinstance(value, int):
        return normalise_int(value)
    if isinstance(value, float):
        return normalise_float(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Rejected(f"JSON object keys must be str, got {type(key).__name__}")
            out[_check_text(key)] = _json(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [_json(item, depth + 1) for item in value]
    raise Rejected(f"{type(value).__name__} is not a JSON value")


def json_normaliser(ftype: FieldType) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if not isinstance(value, dict | list):
            raise Rejected(f"expected a JSON object or array, got {type(value).__name__}")
        return _json(value)

    return convert


def converter(ftype: FieldType) -> Callable[[Any], Any]:
    """The normaliser of one non-null value of *ftype*; raises :class:`Rejected`.

    The kind's descriptor (:mod:`repokit.kinds`) names it: one function for
    the whole kind, or one built for *ftype*. Callers that normalise many
    values keep the result (a table per field, a column per operand).
    """
    kind = ftype.value_kind
    normalise = kind.normalise
    if normalise is not None:
        return normalise
    assert kind.make_normaliser is not None  # ValueKind holds one or the other
    return kind.make_normaliser(ftype)


def normalize_value(entity: str, field: str, ftype: FieldType, value: Any) -> Any:
    """Validate and normalise a value to be written.

    Raises:
        InvalidValue: naming the entity, field and value.
    """
    if value is None:
        if ftype.nullable:
            return None
        raise InvalidValue(entity, field, value, "the field is not nullable")
    try:
        return converter(ftype)(value)
    except Rejected as exc:
        raise InvalidValue(entity, field, value, str(exc)) from None
