"""Entity size: repokit's estimate of an entity's stored size, and the one limit on it.

Every backend refuses an entity whose estimated stored size exceeds
:data:`MAX_ENTITY_BYTES`, before any I/O, with
:class:`~repokit.errors.InvalidValue` naming the entity, the field that
contributes most, and the size. The limit is the same everywhere although the
databases differ (MongoDB refuses a document over 16 MiB, after the round
trip; PostgreSQL and SQLite store far more): an entity that fits one backend
fits all of them.

The estimate is BSON-shaped, so that it bounds what MongoDB stores: per field
(every declared field, ``None`` included, and the casefolded shadow of every
ignore-case field) one type byte and the field's name, then the value:

========== ==============================================================
kind       bytes of the value
========== ==============================================================
``None``   0
str        4 + its UTF-8 bytes + 1
int        8 (int64); float 8; datetime 8; bool 1; decimal 16 (Decimal128)
date       15 (the string ``YYYY-MM-DD``)
uuid       21 (binary)
enum       its value's
json       a document or array: 4 + its elements + 1, each element one type
           byte, its key (an array's index, as text) and its value as above
========== ==============================================================

so a JSON array of small integers counts about eight times its JSON text.
The check is cheap for ordinary entities: first an upper bound (four bytes per
character of text, a fixed size per scalar, eight times the compact JSON text),
and only when that bound exceeds the limit the exact estimate.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Mapping
from json import encoder as _json_encoder
from typing import TYPE_CHECKING, Any, TypeAlias

from repokit.errors import InvalidValue

if TYPE_CHECKING:  # only annotations: repokit.kinds (below repokit.types) imports this module
    from repokit.types import FieldType

__all__ = ["MAX_ENTITY_BYTES", "EntitySize", "SizePlan", "json_size"]

#: The largest estimated stored size of an entity (and of the values one update writes).
#: Half MongoDB's 16 MiB document limit: room for the estimate's approximations and for
#: a document that grows through later updates of other fields.
MAX_ENTITY_BYTES = 8 * 1024 * 1024

_DOCUMENT = 5  # int32 length + terminating NUL
_STRING = 5  # int32 length + terminating NUL
#: How one field type's values count, named by its kind's descriptor (repokit.kinds):
#: (how the row's bound counts the value: 0 a fixed size, 1 text at 4 bytes per
#: character at most, 2 JSON; the largest fixed size; the exact size of a non-null value).
SizePlan: TypeAlias = tuple[int, int, Callable[[Any], int]]
#: Field names longer than this are never stored (a backend may rename the primary
#: key, MongoDB to ``_id``): the header of a field counts at least this many bytes.
_MIN_NAME = 3
#: JSON text (compact, ASCII) times this bounds the estimate of a JSON value of up to
#: a million characters: an element takes at least two characters (``0,``) and at
#: most 2 + 6 index digits + 8 bytes in the estimate.
_JSON_FACTOR = 8


def _utf8(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _index_digits(count: int) -> int:
    """The total number of digits of the indexes 0 .. count-1 (an array's keys)."""
    total, width, start = 0, 1, 0
    while start < count:
        end = min(count, 10**width)
        total += (end - start) * width
        start, width = end, width + 1
    return total


def json_size(value: Any) -> int:
    """The estimated stored size of one normal JSON value (CONTRACT §1), in bytes."""
    if value is None:
        return 0
    if value is True or value is False:
        return 1
    if isinstance(value, str):
        return _STRING + _utf8(value)
    if isinstance(value, int | float):
        return 8
    if isinstance(value, dict):
        return _DOCUMENT + sum(2 + _utf8(key) + json_size(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        headers = 2 * len(value) + _index_digits(len(value))
        return _DOCUMENT + headers + sum(map(json_size, value))
    return 8  # not a normal JSON value: callers only pass normal ones


def _make_json_text() -> Callable[[Any], int]:
    """The length of a value's compact ASCII JSON text, by the C encoder when there is one."""
    fallback = json.JSONEncoder(
        separators=(",", ":"), check_circular=False, allow_nan=True
    ).iterencode

    def slow(value: Any) -> int:
        return sum(map(len, fallback(value, _one_shot=True)))

    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is None:
        return slow
    try:
        # (markers, default, encoder, indent, key_separator, item_separator,
        #  sort_keys, skipkeys, allow_nan): what JSONEncoder.iterencode passes.
        encode = make(
            None, None, _json_encoder.encode_basestring_ascii, None, ":", ",", False, False, True
        )
        if sum(map(len, encode({"a": [1, "é", None]}, 0))) != len('{"a":[1,"\\u00e9",null]}'):
            return slow
    except Exception:
        return slow

    def fast(value: Any) -> int:
        return sum(map(len, encode(value, 0)))

    return fast


_json_text = _make_json_text()


def json_bound(value: Any) -> int:
    """An upper bound of :func:`json_size` minus the framing (5), where within the limit."""
    try:
        return _JSON_FACTOR * _json_text(value)
    except Exception:  # not expected for normal values; measure instead
        return json_size(value)


class EntitySize:
    """The size check of one table, compiled once from its stored fields.

    Args:
        entity: the entity name, for messages.
        fields: every stored field as ``(name, type, shadow_of)``, shadows included.
    """

    __slots__ = (
        "_bound_fixed",
        "_entity",
        "_exact",
        "_headers",
        "_json",
        "_kinds",
        "_owners",
        "_text_values",
    )

    def __init__(self, entity: str, fields: Iterable[tuple[str, FieldType, str | None]]) -> None:
        self._entity = entity
        #: Per field: its header plus its value's largest fixed size (for text and JSON,
        #: the framing: the rest is bounded from the value).
        self._headers: dict[str, int] = {}
        #: Per field: 0 fixed size, 1 text (4 bytes per character at most), 2 JSON.
        self._kinds: dict[str, int] = {}
        self._exact: dict[str, Callable[[Any], int]] = {}
        #: The declared field each stored field's bytes count for (a shadow's: its field's).
        self._owners: dict[str, str] = {}
        for name, ftype, shadow_of in fields:
            header = 2 + max(len(name), _MIN_NAME)
            kind, fixed, exact = _plan(ftype)
            self._headers[name] = header + fixed
            self._kinds[name] = kind
            self._exact[name] = exact
            self._owners[name] = shadow_of or name
        self._bound_fixed = _DOCUMENT + sum(self._headers.values())
        text = tuple(n for n, k in self._kinds.items() if k == 1)
        self._text_values = _values_of(text)
        self._json = tuple(n for n, k in self._kinds.items() if k == 2)

    def check_row(self, row: Mapping[str, Any]) -> None:
        """Refuse a whole row (every stored field present) beyond :data:`MAX_ENTITY_BYTES`.

        Raises:
            InvalidValue: naming the entity, the field contributing most and the size.
        """
        # This runs for every entity written: one C call fetches the text values, a
        # plain loop (the fastest form here) adds their lengths; None and "" add nothing.
        chars = 0
        for value in self._text_values(row):
            if value:
                chars += len(value)
        bound = self._bound_fixed + 4 * chars  # at most four UTF-8 bytes per character
        for name in self._json:
            value = row[name]
            if value:
                bound += json_bound(value)
        if bound > MAX_ENTITY_BYTES:
            self._check_exactly(row)

    def check_values(self, row: Mapping[str, Any]) -> None:
        """Refuse the values of one update (a partial row) beyond :data:`MAX_ENTITY_BYTES`."""
        bound = _DOCUMENT
        headers, kinds = self._headers, self._kinds
        for name, value in row.items():
            bound += headers[name]
            kind = kinds[name]
            if kind and value:
                bound += 4 * len(value) if kind == 1 else json_bound(value)
        if bound > MAX_ENTITY_BYTES:
            self._check_exactly(row)

    def measure(self, row: Mapping[str, Any]) -> int:
        """The estimated stored size of the fields of *row*, in bytes."""
        return _DOCUMENT + sum(self._field_sizes(row).values())

    def _field_sizes(self, row: Mapping[str, Any]) -> dict[str, int]:
        """Bytes per declared field (a shadow's counted with its field)."""
        sizes: dict[str, int] = {}
        for name, value in row.items():
            size = 2 + max(len(name), _MIN_NAME)
            if value is not None:
                size += self._exact[name](value)
            owner = self._owners[name]
            sizes[owner] = sizes.get(owner, 0) + size
        return sizes

    def _check_exactly(self, row: Mapping[str, Any]) -> None:
        sizes = self._field_sizes(row)
        total = _DOCUMENT + sum(sizes.values())
        if total <= MAX_ENTITY_BYTES:
            return
        field = max(sizes, key=sizes.__getitem__)
        raise InvalidValue(
            self._entity,
            field,
            row.get(field),
            f"the entity would take about {total} bytes stored ({field}: {sizes[field]}); "
            f"an entity takes at most {MAX_ENTITY_BYTES} (MAX_ENTITY_BYTES)",
        )


def _values_of(fields: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``row[field]`` for every field, as a tuple, in one call."""
    if not fields:
        return lambda row: ()
    if len(fields) == 1:
        (field,) = fields
        return lambda row: (row[field],)
    return operator.itemgetter(*fields)


def _plan(ftype: FieldType) -> SizePlan:
    """(kind of bound, largest fixed size, exact size of a non-null value) of a field type."""
    return ftype.value_kind.size(ftype)


def fixed_plan(size: int) -> Callable[[FieldType], SizePlan]:
    """The size plan of a kind whose every value takes *size* bytes."""
    plan = (0, size, lambda _value: size)
    return lambda _ftype: plan


def text_plan(_ftype: FieldType) -> SizePlan:
    """The size plan of text: a BSON string."""
    return 1, _STRING, _text_size


def json_plan(_ftype: FieldType) -> SizePlan:
    """The size plan of JSON: a BSON document or array (:func:`json_size`)."""
    return 2, _DOCUMENT, json_size


def enum_plan(ftype: FieldType) -> SizePlan:
    """The size plan of an enum: its values' (a string, or an int64)."""
    assert ftype.enum is not None
    values = [member.value for member in ftype.enum]
    if values and all(isinstance(v, str) for v in values):
        return 0, max(_STRING + _utf8(v) for v in values), _text_size
    return 0, 8, _eight


def _text_size(value: Any) -> int:
    return _STRING + _utf8(value)


def _eight(_value: Any) -> int:
    return 8
