"""Collections from tables: the ``$jsonSchema`` validator, indexes and unique keys.

An index is compared with its declaration (schema drift, CONTRACT §16) by
its key pattern, uniqueness and whole partial filter (:func:`index_spec`):
the server keeps an index's specification as it was given.

A unique key becomes a unique index with a ``partialFilterExpression`` so
that, as in SQL, entities with ``null`` in any field of the key never collide
(CONTRACT §8), and for a key "among live entities" soft-deleted ones never
collide either (CONTRACT §7). Partial filters accept only ``$eq``, ``$exists:
true``, ``$gt``/``$gte``/``$lt``/``$lte``, ``$type``, a top-level ``$and``
and (MongoDB 6.0+) ``$in``, so the predicates are rewritten into those:
"not null" is a ``$type`` test on the field's BSON types and "status !=
deleted" lists every other value of the status enum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, IndexModel

from repokit.conditions import (
    And,
    Compare,
    Condition,
    Const,
    Exists,
    In,
    IsNull,
    Match,
    Not,
    Op,
    Or,
    unknown_node,
)
from repokit.drift import IndexSpec
from repokit.errors import InvalidTableDefinition
from repokit.tables import Table, Unique, constraint_name
from repokit.types import Kind
from repokit_mongodb.codec import Codec, bson_types

__all__ = ["index_models", "index_spec", "partial_filter", "validator"]


def validator(table: Table[Any], codec: Codec) -> dict[str, Any]:
    """The ``$jsonSchema`` validator every stored document must satisfy."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in table.fields.items():
        ftype = field.type
        key = codec.key(name)
        types = list(bson_types(ftype))
        rule: dict[str, Any] = {"bsonType": [*types, "null"] if ftype.nullable else types}
        if ftype.max_length is not None:
            rule["maxLength"] = ftype.max_length
        if ftype.kind is Kind.ENUM:
            assert ftype.enum is not None
            values = [codec.encode(name, member.value) for member in ftype.enum]
            rule["enum"] = [*values, None] if ftype.nullable else values
        if key.startswith("_id."):  # a field of a composite key: in the _id document
            ident = properties.setdefault(
                "_id", {"bsonType": "object", "required": [], "properties": {}}
            )
            ident["properties"][name] = rule
            ident["required"].append(name)
            key = "_id"
        else:
            properties[key] = rule
        if not ftype.nullable and key not in required:
            required.append(key)
    return {"$jsonSchema": {"bsonType": "object", "required": required, "properties": properties}}


def _clauses(condition: Condition, table: Table[Any], codec: Codec) -> list[dict[str, Any]]:
    """*condition* as partial-filter clauses (ANDed); refuses what they cannot say."""
    match condition:
        case Const(value=True):
            return []
        case And():
            return [clause for item in condition.items for clause in _clauses(item, table, codec)]
        case IsNull():
            return [{codec.key(condition.field): {"$eq": None}}]
        case Not(item=IsNull(field=field)):
            return [{codec.key(field): {"$type": list(bson_types(table.fields[field].type))}}]
        case In():
            values = [codec.encode(condition.field, v) for v in condition.values]
            return [{codec.key(condition.field): {"$in": values}}]
        case Compare():
            key = codec.key(condition.field)
            value = codec.encode(condition.field, condition.value)
            if condition.op is not Op.NE:
                operator = {Op.EQ: "$eq", Op.LT: "$lt", Op.LE: "$lte", Op.GT: "$gt", Op.GE: "$gte"}
                return [{key: {operator[condition.op]: value}}]
            ftype = table.fields[condition.field].type
            if not ftype.nullable and ftype.kind in (Kind.ENUM, Kind.BOOL):
                # "!= v" over a closed set of values is "in every other value".
                domain = [m.value for m in ftype.enum] if ftype.enum is not None else [False, True]
                others = [codec.encode(condition.field, v) for v in domain if v != condition.value]
                return [{key: {"$in": others}}]
        case Const() | Not() | Match() | Or() | Exists():
            pass  # FALSE, other negations, text matches and disjunctions: no filter says them
        case _:
            raise unknown_node(condition)
    raise InvalidTableDefinition(
        f"{table.entity_name}: MongoDB cannot index entities matching {condition!r} "
        "(partial indexes accept equality, ranges, $type and $in over non-null fields)"
    )


def partial_filter(unique: Unique, table: Table[Any], codec: Codec) -> dict[str, Any] | None:
    """The ``partialFilterExpression`` of a unique key, or ``None`` if it needs none."""
    clauses = [
        {codec.key(field): {"$type": list(bson_types(table.fields[field].type))}}
        for field in unique.fields
        # Where nulls are equal the null documents take part too (CONTRACT §22).
        if table.fields[field].type.nullable and not unique.nulls_equal
    ]
    if unique.where is not None:
        clauses.extend(_clauses(unique.where, table, codec))
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def index_models(table: Table[Any], codec: Codec) -> list[IndexModel]:
    """Every index of *table*: its indexes, unique keys and casefolded shadows."""
    models = [
        IndexModel([(codec.key(f), ASCENDING) for f in index.fields], name=index.name)
        for index in table.indexes
    ]
    if table.composite_key:
        # _id equality is one seek on the _id index; conditions and orders on a prefix
        # of the key's fields (a scope) need an index over their paths (CONTRACT §22).
        name = constraint_name("ix", table.name, ("pk", *table.key_fields), limit=None)
        models.append(IndexModel([(codec.key(f), ASCENDING) for f in table.key_fields], name=name))
    for unique in table.unique:
        options: dict[str, Any] = {"name": unique.name, "unique": True}
        where = partial_filter(unique, table, codec)
        if where is not None:
            options["partialFilterExpression"] = where
        models.append(IndexModel([(codec.key(f), ASCENDING) for f in unique.fields], **options))
    for field, shadow in table.shadows.items():
        name = constraint_name("ix", table.name, (field, "casefold"), limit=None)
        models.append(IndexModel([(codec.key(shadow), ASCENDING)], name=name))
    return models


def _plain(value: Any) -> Any:
    """*value* with every mapping a ``dict``, every sequence a ``list`` (SON compares by order)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def index_spec(document: Mapping[str, Any]) -> IndexSpec:
    """An index's specification (``IndexModel.document``, or from ``listIndexes``), compared."""
    fields = tuple(
        str(key) if direction == ASCENDING else f"{key} {direction}"
        for key, direction in document["key"].items()
    )
    partial = document.get("partialFilterExpression")
    return IndexSpec(
        fields,
        unique=bool(document.get("unique", False)),
        partial=None if partial is None else _plain(partial),
    )
