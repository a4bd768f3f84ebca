"""Type mapping between storage-normal rows and BSON documents (CONTRACT §1).

==========  =====================================  ======================================
kind        stored as                              read back as
==========  =====================================  ======================================
str         string                                 ``str``
int         int64 (always, so the validator can    ``int``
            demand ``long``)
float       double                                 ``float``
bool        bool                                   ``bool``
decimal     Decimal128                             ``Decimal`` quantised to the scale
datetime    date (milliseconds, UTC)               aware ``datetime`` in UTC
date        string ``YYYY-MM-DD`` (orders and      ``date``
            compares like the date)
uuid        binary subtype 4                       ``uuid.UUID``
enum        its value (string or int64)            the value
json        document / array                       ``dict`` / ``list`` of plain values
==========  =====================================  ======================================

The primary key is stored as ``_id``; every other field under its own name.
A composite primary key (CONTRACT §22) is stored as an embedded document
``_id: {<field>: <value>, …}`` in key order: a key lookup is one seek on the
built-in unique ``_id`` index, and the server enforces the key's uniqueness.
Queries, sorts and indexes name its fields by path, ``_id.<field>``.
A missing field reads as ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from bson import Decimal128, Int64
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions

from repokit.tables import Row, Table
from repokit.types import FieldType, Kind

__all__ = ["CODEC_OPTIONS", "Codec", "bson_types", "document_field"]

#: Decoding options every collection is opened with, whatever the client's own.
CODEC_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    document_class=dict,
    tz_aware=True,
    tzinfo=UTC,
    uuid_representation=UuidRepresentation.STANDARD,
)

_BSON_TYPES: dict[Kind, tuple[str, ...]] = {
    Kind.STR: ("string",),
    Kind.INT: ("long",),
    Kind.FLOAT: ("double",),
    Kind.BOOL: ("bool",),
    Kind.DECIMAL: ("decimal",),
    Kind.DATETIME: ("date",),
    Kind.DATE: ("string",),
    Kind.UUID: ("binData",),
    Kind.JSON: ("object", "array"),
}


def bson_types(ftype: FieldType) -> tuple[str, ...]:
    """The BSON type aliases a non-null value of *ftype* is stored as."""
    if ftype.kind is Kind.ENUM:
        assert ftype.enum is not None
        first = next(iter(ftype.enum)).value
        return ("string",) if isinstance(first, str) else ("long",)
    return _BSON_TYPES[ftype.kind]


def document_field(table: Table[Any], field: str) -> str:
    """The document key of *field*: ``_id`` for the primary key, ``_id.<f>`` in a composite one."""
    if table.composite_key:
        return f"_id.{field}" if field in table.key_fields else field
    return "_id" if field == table.primary_key else field


def _plain_json(value: Any) -> Any:
    """JSON read back: int64 wrappers become plain ints, recursively."""
    if isinstance(value, dict):
        return {key: _plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_json(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _int64_or_str(value: Any) -> Any:
    return Int64(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _encoder(ftype: FieldType) -> Callable[[Any], Any] | None:
    kind = ftype.kind
    if kind is Kind.INT:
        return Int64
    if kind is Kind.DECIMAL:
        return Decimal128
    if kind is Kind.DATE:
        return date.isoformat
    if kind is Kind.ENUM:
        return _int64_or_str
    return None


def _decoder(ftype: FieldType) -> Callable[[Any], Any] | None:
    kind = ftype.kind
    if kind is Kind.INT:
        return int
    if kind is Kind.FLOAT:
        return float
    if kind is Kind.DECIMAL:
        assert ftype.scale is not None
        quantum = Decimal(1).scaleb(-ftype.scale)
        return lambda value: value.to_decimal().quantize(quantum) + Decimal(0)
    if kind is Kind.DATE:
        return date.fromisoformat
    if kind is Kind.ENUM:
        return _plain_json
    if kind is Kind.JSON:
        return _plain_json
    return None


class Codec:
    """Converts one table's rows to documents and back; built once per table.

    Every per-field decision (document key, encoder, decoder) is made here, so
    the per-row loops only look values up and call the few converters a
    field needs; a read decodes only the fields whose BSON form differs from
    their normal form (int64, Decimal128, dates as text, JSON).
    """

    __slots__ = (
        "_composite",
        "_decoded",
        "_encoders",
        "_fields",
        "_keys",
        "_values_of",
        "indexes",
        "table",
    )

    def __init__(self, table: Table[Any]) -> None:
        self.table = table
        self._keys = {name: document_field(table, name) for name in table.fields}
        self._encoders = {name: _encoder(f.type) for name, f in table.fields.items()}
        self._fields = tuple(self._keys)
        self._values_of = _getter(tuple(self._keys.values()))
        decoders = ((name, _decoder(f.type)) for name, f in table.fields.items())
        self._decoded = tuple((name, decode) for name, decode in decoders if decode is not None)
        self._composite = table.composite_key
        #: The key lists of the collection's indexes, ``_id`` first (then, for a composite
        #: key, the compound index over its fields' paths).
        self.indexes: tuple[tuple[str, ...], ...] = (
            ("_id",),
            *((tuple(map(self.key, table.key_fields)),) if self._composite else ()),
            *(tuple(map(self.key, index.fields)) for index in table.indexes),
            *(tuple(map(self.key, unique.fields)) for unique in table.unique),
            *((self.key(shadow),) for shadow in table.shadows.values()),
        )

    def key(self, field: str) -> str:
        """The document key of a field."""
        return self._keys[field]

    def null_test(self, field: str) -> Any:
        """The operand matching exactly the null or missing values of *field*."""
        if self.table.fields[field].type.kind is Kind.JSON:
            # {f: null} also matches arrays holding a null; JSON values are
            # stored as documents or arrays, so anything else is null.
            return {"$not": {"$type": list(_BSON_TYPES[Kind.JSON])}}
        return None  # {f: null}: null or missing

    def encode_key(self, key: Any) -> Any:
        """A normalised primary key as the value of ``_id`` (a document for a composite key)."""
        table = self.table
        if not self._composite:
            return self.encode(table.primary_key, key)
        return {f: self.encode(f, v) for f, v in zip(table.key_fields, key, strict=True)}

    def encode(self, field: str, value: Any) -> Any:
        """One storage-normal value as BSON."""
        encode = self._encoders[field]
        return value if value is None or encode is None else encode(value)

    def to_document(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Rows or partial rows as documents (``None`` stays ``null``)."""
        keys, encoders = self._keys, self._encoders
        document: dict[str, Any] = {}
        for field, value in values.items():
            encode = encoders[field]
            document[keys[field]] = value if value is None or encode is None else encode(value)
        if self._composite:
            return self._nest_key(document)
        return document

    def _nest_key(self, document: dict[str, Any]) -> dict[str, Any]:
        """*document* with every ``_id.<field>`` moved into ``_id``, in key order."""
        paths = [self._keys[f] for f in self.table.key_fields]
        if not all(path in document for path in paths):
            return document  # partial values (an update's) never hold a key field
        nested = {"_id": {path[4:]: document.pop(path) for path in paths}}
        nested.update(document)
        return nested

    def from_document(self, document: Mapping[str, Any]) -> Row:
        """A stored document as a storage-normal row; missing fields read as ``None``."""
        if self._composite:
            document = self._flatten_key(document)
        try:
            values = self._values_of(document)
        except KeyError:  # a document written by someone else, missing a field
            values = tuple(document.get(key) for key in self._keys.values())
        row: Row = dict(zip(self._fields, values, strict=True))
        for field, decode in self._decoded:
            value = row[field]
            if value is not None:
                row[field] = decode(value)
        return row

    def _flatten_key(self, document: Mapping[str, Any]) -> dict[str, Any]:
        flat = dict(document)
        ident = flat.pop("_id", None)
        if isinstance(ident, Mapping):
            for field in self.table.key_fields:
                if field in ident:
                    flat[f"_id.{field}"] = ident[field]
        return flat


def _getter(keys: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of *keys* in a document, as a tuple, in one C call."""
    get = itemgetter(*keys)
    if len(keys) == 1:
        return lambda document: (get(document),)
    return get
