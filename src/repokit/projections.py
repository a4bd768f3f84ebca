"""Projections: reads that return a smaller frozen dataclass of some of an entity's fields.

``search(..., into=ProjectSummary)`` (and ``get``, ``get_many``, ``stream``)
returns instances of a projection class instead of entities, fetching only
the fields it declares (CONTRACT §19). A projection class is checked once
per table, before any I/O: a frozen dataclass whose every field is a field of
the entity, of the same type as repokit reads annotations (the same kind,
enum, precision and scale; ``NewType`` and ``MaxLength`` are looked through,
since they add nothing to a value read back), nullable only where the
entity's field may be — or wider: a projection field may admit ``None`` where
the entity's never holds it. A mistake raises
:class:`~repokit.errors.InvalidQuery` naming both classes and the field.

Core asks the backend for the projection's fields plus what the read itself
needs (the primary key always, the sort keys of a page or a stream, which
feed the cursors and the keyset), through :attr:`repokit.backend.Select.columns`,
and builds the projection from those fields alone: a backend that ignores
``columns`` and returns whole rows gives the same result.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from repokit.errors import InvalidQuery, InvalidTableDefinition, excerpt
from repokit.tables import Table
from repokit.types import FieldType, parse_annotation

__all__ = ["Projection", "projection"]

P = TypeVar("P")


class Projection(Generic[P]):
    """How rows of one table are read into one projection class (built by :func:`projection`).

    Attributes:
        cls: the projection class.
        fields: its fields, in declaration order (all of them the entity's).
    """

    __slots__ = ("_decoders", "cls", "fields", "table")

    def __init__(self, table: Table[Any], cls: type[P], fields: tuple[str, ...]) -> None:
        self.table = table
        self.cls: type[P] = cls
        self.fields: tuple[str, ...] = fields
        decoders: list[tuple[str, Callable[[Any], Any] | None]] = []
        for field in fields:
            ftype = table.fields[field].type
            read = ftype.value_kind.read
            decoders.append((field, None if read is None else read(ftype)))
        self._decoders = tuple(decoders)

    def columns(self, needed: Iterable[str] = ()) -> tuple[str, ...]:
        """What to fetch: the primary key, the projection's fields, then *needed*."""
        return tuple(dict.fromkeys((*self.table.key_fields, *self.fields, *needed)))

    def from_row(self, row: Mapping[str, Any]) -> P:
        """The projection of a storage-normal row (fields it lacks read as ``None``)."""
        values: dict[str, Any] = {}
        for field, decode in self._decoders:
            value = row.get(field)
            values[field] = value if value is None or decode is None else decode(value)
        return self.cls(**values)

    def __repr__(self) -> str:
        return f"Projection({self.cls.__name__} of {self.table.entity_name})"


def projection(table: Table[Any], into: Any) -> Projection[Any] | None:
    """The checked projection of *table* into *into*; ``None`` for the entity itself.

    ``into=None`` and ``into=`` the table's entity class read whole entities.

    Raises:
        InvalidQuery: *into* is not a frozen dataclass, or one of its fields is
            not a field of the entity or is of another type (naming both
            classes and the field).
    """
    if into is None or into is table.entity:
        return None
    if not isinstance(into, type):
        raise InvalidQuery(f"into= takes a frozen dataclass type, got {excerpt(into)}")
    return _checked(table, into)


@functools.lru_cache(maxsize=512)
def _checked(table: Table[Any], into: type[Any]) -> Projection[Any]:
    # Cached per (table, class): the check runs once, every later read only looks it up.
    # (An error is not cached: the next call checks again and raises the same.)
    name, entity = into.__name__, table.entity_name
    if not dataclasses.is_dataclass(into) or not into.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise InvalidQuery(f"into={name}: a projection of {entity} must be a frozen dataclass")
    try:
        hints = typing.get_type_hints(into, include_extras=True)
    except Exception as exc:
        raise InvalidQuery(f"into={name}: cannot resolve its annotations: {exc}") from exc
    fields = dataclasses.fields(into)
    if not fields:
        raise InvalidQuery(f"into={name}: a projection of {entity} needs at least one field")
    for field in fields:
        where = f"{name}.{field.name}"
        if field.name not in table.declared:
            raise InvalidQuery(f"{where}: {entity} has no field {field.name!r} to project")
        if not field.init:
            raise InvalidQuery(f"{where}: an init=False field cannot be read into")
        try:
            mine = parse_annotation(name, field.name, hints[field.name])
        except InvalidTableDefinition as exc:
            raise InvalidQuery(f"into={name}: {exc}") from None
        theirs = table.fields[field.name].type
        if not _reads(mine, theirs):
            raise InvalidQuery(
                f"{where} is {_describe(mine)}, but {entity}.{field.name} is "
                f"{_describe(theirs)}: a projection field has the entity field's type"
            )
    return Projection(table, into, tuple(field.name for field in fields))


def _reads(mine: FieldType, theirs: FieldType) -> bool:
    """Whether a projection field of type *mine* can hold every value of *theirs*."""
    return (
        mine.kind is theirs.kind
        and mine.enum is theirs.enum
        and (mine.precision, mine.scale) == (theirs.precision, theirs.scale)
        and (mine.nullable or not theirs.nullable)
    )


def _describe(ftype: FieldType) -> str:
    kind = ftype.enum.__name__ if ftype.enum is not None else ftype.kind.name.lower()
    if ftype.precision is not None:
        kind = f"{kind}({ftype.precision}, {ftype.scale})"
    return f"{kind} | None" if ftype.nullable else kind
