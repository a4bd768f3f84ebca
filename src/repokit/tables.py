"""Tables: the schema of an entity type, declared once and checked at definition.

A :class:`Table` is built from a frozen dataclass. Field types come from the
annotations (:mod:`repokit.types`); the declaration names the primary key,
unique constraints (optionally only among live entities), indexes, a
soft-delete marker, an optional version field and the fields matched
ignoring case. A mistake fails here, naming the entity and the field.

The table also owns the conversion between entities and *rows*: plain
``dict`` s of storage-normal values (:mod:`repokit.values`) keyed by field
name, which is all a backend ever sees. Rows include the casefolded shadow of
every ignore-case field, so backends store and index it like any other field.
A row (or the values of an update) whose estimated stored size exceeds
:data:`~repokit.sizes.MAX_ENTITY_BYTES` is refused here, before any I/O.

A table may also declare what repokit maintains for it (CONTRACT §21): the
domain exception a unique key (or the primary key) raises when it collides,
and created / updated timestamps that repokit sets itself.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import operator
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from repokit.conditions import FALSE, TRUE, And, Column, Compare, Condition, In, Op, Or, not_
from repokit.errors import (
    EntityAlreadyExists,
    InvalidQuery,
    InvalidTableDefinition,
    InvalidValue,
    TransactionAborted,
    TransactionConflict,
    UnsupportedOperation,
    excerpt,
)
from repokit.references import Reference, bind_reference
from repokit.sizes import EntitySize
from repokit.types import FieldType, Kind, parse_annotation
from repokit.values import Rejected, converter, floor_datetime

__all__ = [
    "MAX_CONSTRAINT_NAME",
    "SHADOW_SUFFIX",
    "Columns",
    "Field",
    "Index",
    "Nulls",
    "Row",
    "StatusMarker",
    "Table",
    "TimestampMarker",
    "Timestamps",
    "Unique",
    "constraint_name",
    "utc_now",
]

T = TypeVar("T")
if TYPE_CHECKING:
    # A default (PEP 696) so that ``Table[Project]`` still means ``Table[Project, Any]``
    # to a type checker; typing_extensions is only read by the checker (its stubs ship
    # with every checker), never imported at run time, where Table pads the arguments.
    from typing_extensions import TypeVar as _TypeVarWithDefault

    ID = _TypeVarWithDefault("ID", default=Any)
else:
    ID = TypeVar("ID")
Row = dict[str, Any]
#: How a unique key compares ``None`` (CONTRACT §8, §22).
Nulls = Literal["distinct", "equal"]
#: How one declared field is written: (name, converter, nullable, casefolded shadow or None).
_Writer = tuple[str, Callable[[Any], Any], bool, str | None]

#: Suffix of the casefolded shadow of an ignore-case field.
SHADOW_SUFFIX = "__casefold"
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}\Z")


@dataclass(frozen=True, slots=True)
class Field:
    """One stored field.

    Attributes:
        name: the field (column / document key) name.
        type: its :class:`~repokit.types.FieldType`.
        shadow_of: for a casefolded shadow, the field it mirrors; else ``None``.
    """

    name: str
    type: FieldType
    shadow_of: str | None = None


@dataclass(frozen=True, slots=True)
class Unique:
    """A unique key: no two entities share all of ``fields``.

    Entities with ``None`` in any field of the key never collide. With
    ``among_live=True`` soft-deleted entities never collide either.
    Backends read :attr:`name` and :attr:`where` (the partial-index predicate,
    ``None`` when every entity takes part).

    ``nulls`` says how ``None`` compares within the key (CONTRACT §22):
    ``"distinct"`` (the default) as above; ``"equal"``: ``None`` equals
    ``None`` (PostgreSQL's ``NULLS NOT DISTINCT``), so two entities with
    ``None`` in the same fields and equal values in the others collide.

    ``error`` names the domain exception a collision on this key raises
    instead of :class:`~repokit.errors.EntityAlreadyExists` (CONTRACT §21):
    an ``Exception`` subclass, called with the ``EntityAlreadyExists`` as its
    one argument, and raised chained to it (``raise error(e) from e``).
    """

    fields: tuple[str, ...]
    among_live: bool = False
    name: str = ""
    where: Condition | None = None
    error: type[Exception] | None = None
    nulls: Nulls = "distinct"

    @property
    def nulls_equal(self) -> bool:
        """Whether ``None`` equals ``None`` in this key (``nulls="equal"``)."""
        return self.nulls == "equal"


@dataclass(frozen=True, slots=True)
class Index:
    """A (non-unique) index over ``fields``, in order."""

    fields: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True, slots=True)
class StatusMarker:
    """Soft delete by a status field: ``deleted`` marks, ``restored`` unmarks."""

    field: str
    deleted: Any
    restored: Any


@dataclass(frozen=True, slots=True)
class TimestampMarker:
    """Soft delete by a nullable timestamp: set when deleted, ``None`` when live."""

    field: str = "deleted_at"


@dataclass(frozen=True, slots=True)
class Timestamps:
    """The created / updated fields repokit maintains itself (CONTRACT §21).

    Each names a datetime field of the entity (nullable or not), or ``None``.
    ``created`` is set to the time of the insert and never written again;
    ``updated`` is set on the insert and on every write that changes the
    entity (every write that increments a version field). Values given for
    them are ignored: repokit sets them; an update naming them is
    ``InvalidQuery``. The time comes from the database's clock
    (``Database(clock=...)``), floored to milliseconds (CONTRACT §1).
    """

    created: str | None = None
    updated: str | None = None


def utc_now() -> datetime:
    """The default clock: the current time in UTC."""
    return datetime.now(UTC)


class Columns:
    """The field references of a table: ``table.c.name``, or ``table.c["name"]``."""

    def __init__(self, table: str, columns: Mapping[str, Column]) -> None:
        self.__dict__.update(columns)
        self._table = table
        self._columns = dict(columns)

    def __getattr__(self, name: str) -> Column:
        # Only called for names that are not fields. Private and dunder names stay
        # AttributeError so that copy, pickle and hasattr() keep working.
        if name.startswith("_"):
            raise AttributeError(name)
        raise InvalidQuery(f"{self._table} has no field {excerpt(name)}")

    def __getitem__(self, name: str) -> Column:
        try:
            return self._columns[name]
        except KeyError:
            raise InvalidQuery(f"{self._table} has no field {excerpt(name)}") from None

    def __iter__(self) -> typing.Iterator[Column]:
        return iter(self._columns.values())


#: The longest default name of a unique key or an index (MySQL's 64 and PostgreSQL's
#: 63 leave room for a backend's suffixes).
MAX_CONSTRAINT_NAME = 60


def constraint_name(
    prefix: str, table: str, parts: Sequence[str], *, limit: int | None = MAX_CONSTRAINT_NAME
) -> str:
    """The default name of a constraint or index: ``<prefix>_<table>_<parts…>``.

    Past *limit* characters the name is cut and ends in ten hex digits of its
    SHA-256, so that it stays unique. Every backend names what it creates with
    this function: the names are in users' databases (and their migrations),
    so a change to it is a schema change.
    """
    name = "_".join((prefix, table, *parts))
    if limit is None or len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: limit - 11]}_{digest}"


class Table(Generic[T, ID]):
    """The schema of one entity type, ``Table[Entity, KeyType]``.

    Args:
        entity: a frozen dataclass whose annotated fields are the stored fields.
        name: the table / collection name (letters, digits, underscores).
        primary_key: the field that identifies an entity, or a tuple of
            distinct fields for a composite key (CONTRACT §22); never null.
            A composite key is given, compared and returned as a tuple of its
            values in field order.
        key_type: the primary key's annotation (``UUID``, ``int``, a ``NewType``,
            or the type a ``NewType`` in it stands for), checked here; for a
            composite key ``tuple[...]`` of one such type per field. Optional: it
            tells a type checker the key type, so that ``Table(Project, ...,
            key_type=UUID)`` is a ``Table[Project, UUID]`` and a
            ``Repository[Project, int]`` over it is a type error. Without it the
            key type is ``Any``. (pyright infers ``Any`` from a ``NewType``: annotate
            such a table, ``projects: Table[Project, ProjectId] = Table(...)``.)
        unique: unique keys, as tuples of field names or :class:`Unique`.
        indexes: indexes, as tuples of field names or :class:`Index`.
        soft_delete: a :class:`StatusMarker` or :class:`TimestampMarker`, or
            ``None`` for a table whose entities can only be purged.
        ignore_case: str fields that ``ignore_case=True`` matching may use; each
            gets a stored, indexed casefolded shadow.
        version: an int field that every update increments and that
            ``expected_version`` checks.
        timestamps: the created / updated fields repokit sets itself
            (:class:`Timestamps`, CONTRACT §21).
        primary_key_error: the domain exception a collision on the primary
            key raises instead of ``EntityAlreadyExists``, as ``Unique(error=...)``
            does for a unique key (CONTRACT §21).
        scope_required: every operation on the table needs an explicit
            ``scope=`` (``GlobalScope()`` for unscoped access); ``scope=None``
            raises ``InvalidQuery`` before any I/O (CONTRACT §24).
        references: the other tables whose primary keys fields of this one hold
            (:class:`~repokit.references.Reference`, CONTRACT §23).

    Attributes:
        key_fields: the primary key's fields, in key order (one for a
            one-field key). Code that works with every table reads this and
            the key helpers: :meth:`key_of`, :meth:`normalize_key`,
            :meth:`key_condition`, :meth:`keys_condition`.
        primary_key: the one field of a one-field key (what it always was);
            on a table with a composite key reading it is a programming error
            and raises :class:`~repokit.errors.UnsupportedOperation`.

    Raises:
        InvalidTableDefinition: naming the entity and the field at fault.
    """

    def __init__(
        self,
        entity: type[T],
        name: str,
        *,
        primary_key: str | tuple[str, ...],
        unique: Iterable[Sequence[str] | Unique] = (),
        indexes: Iterable[Sequence[str] | Index] = (),
        soft_delete: StatusMarker | TimestampMarker | None = None,
        ignore_case: Iterable[str] = (),
        version: str | None = None,
        key_type: type[ID] | Callable[[Any], ID] | None = None,
        timestamps: Timestamps | None = None,
        primary_key_error: type[Exception] | None = None,
        scope_required: bool = False,
        references: Iterable[Reference] = (),
    ) -> None:
        ename = getattr(entity, "__name__", repr(entity))
        self.entity: type[T] = entity
        self.entity_name: str = ename
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidTableDefinition(f"{ename}: invalid table name {name!r}")
        self.name: str = name
        declared = self._declared_types(entity, ename)

        key_fields = self._check_key_fields(primary_key, declared)
        #: The primary key's fields, in key order.
        self.key_fields: tuple[str, ...] = key_fields
        self._primary_key: str | None = key_fields[0] if len(key_fields) == 1 else None
        #: The key of a row: the value of a one-field key, else a tuple in key order.
        self.key_of: Callable[[Mapping[str, Any]], Any] = operator.itemgetter(*key_fields)
        #: The key of an entity, as :attr:`key_of` reads it from a row (not normalised).
        self.key_of_entity: Callable[[Any], Any] = operator.attrgetter(*key_fields)
        self._key_label = key_fields[0] if len(key_fields) == 1 else f"({', '.join(key_fields)})"
        if key_type is not None:
            self._check_key_types(entity, key_fields, key_type)

        for what, names in (("unique", unique), ("indexes", indexes), ("ignore_case", ignore_case)):
            if isinstance(names, str):
                raise self._fail(names, f"{what} takes a collection of names, not a string")
        folded = tuple(dict.fromkeys(ignore_case))
        for field in folded:
            if not isinstance(field, str) or field not in declared:
                raise self._fail(field, "ignore_case names an unknown field")
            if not declared[field].textual:
                raise self._fail(field, "ignore_case applies to str fields only")
        fields = {n: Field(n, t) for n, t in declared.items()}
        for field in folded:
            ftype = declared[field]
            shadow = field + SHADOW_SUFFIX
            fields[shadow] = Field(shadow, FieldType(Kind.STR, ftype.nullable), shadow_of=field)
        #: Every stored field, declared ones first, then casefolded shadows.
        self.fields: dict[str, Field] = fields
        #: The entity's own fields, in declaration order.
        self.declared: tuple[str, ...] = tuple(declared)
        self.shadows: dict[str, str] = {f: f + SHADOW_SUFFIX for f in folded}

        if version is not None:
            vtype = declared.get(version)
            if vtype is None:
                raise self._fail(version, "the version field is not a field")
            if vtype.kind is not Kind.INT or vtype.nullable:
                raise self._fail(version, "the version field must be a non-null int")
        self.version: str | None = version
        #: The fields every write of an entity adds 1 to: the version field, if any.
        self.increments: tuple[str, ...] = () if version is None else (version,)

        self.soft_delete: StatusMarker | TimestampMarker | None = self._check_marker(
            soft_delete, declared
        )
        self._live: Condition | None = None  # built on first use (it needs self.c)
        self.c: Columns = Columns(
            name,
            {
                n: Column(name, ename, n, f.type, self.shadows.get(n))
                for n, f in fields.items()
                if f.shadow_of is None
            },
        )
        self.unique: tuple[Unique, ...] = tuple(self._check_unique(u) for u in unique)
        if not isinstance(scope_required, bool):
            raise InvalidTableDefinition(
                f"{ename}: scope_required must be True or False, got {scope_required!r}"
            )
        #: Whether operations on the table refuse ``scope=None`` (CONTRACT §24).
        self.scope_required: bool = scope_required
        self.primary_key_error: type[Exception] | None = self._check_error(
            primary_key_error, "primary_key_error"
        )
        #: The domain exception of each key that declares one, by its set of fields.
        self._key_errors: dict[frozenset[str], type[Exception]] = {
            frozenset(u.fields): u.error for u in self.unique if u.error is not None
        }
        if self.primary_key_error is not None:
            self._key_errors[frozenset(key_fields)] = self.primary_key_error
        #: The declared domain exceptions (what a bulk item may meet besides repokit's).
        self.key_errors: tuple[type[Exception], ...] = tuple(
            dict.fromkeys(self._key_errors.values())
        )
        self.timestamps: Timestamps | None = self._check_timestamps(timestamps, declared)
        #: The fields repokit sets itself (the timestamps'), which no update may name.
        self.maintained: frozenset[str] = frozenset(
            () if timestamps is None else (f for f in (timestamps.created, timestamps.updated) if f)
        )
        #: The field every effective write stamps (``Timestamps.updated``), if any.
        self.stamped: str | None = None if timestamps is None else timestamps.updated
        self.indexes: tuple[Index, ...] = tuple(self._check_index(i) for i in indexes)
        keyed = {*key_fields, *self.shadows.values()}
        keyed.update(f for u in self.unique for f in u.fields)
        keyed.update(f for i in self.indexes for f in i.fields)
        #: The str fields a key or an index covers (shadows included): a backend may
        #: limit their size (``Capabilities.max_indexed_text_bytes``).
        self.indexed_text: tuple[str, ...] = tuple(
            n for n, f in fields.items() if n in keyed and f.type.textual
        )
        self._converters = {n: converter(f.type) for n, f in fields.items()}
        #: The entity-size check (:mod:`repokit.sizes`) of this table's rows.
        self.entity_size: EntitySize = EntitySize(
            ename, ((n, f.type, f.shadow_of) for n, f in fields.items())
        )
        self._check_row_size = self.entity_size.check_row
        # Compiled once so that writing and reading a row does no per-field lookups.
        self._writers: dict[str, _Writer] = {
            n: (n, self._converters[n], declared[n].nullable, self.shadows.get(n))
            for n in self.declared
        }
        self._write_plan = tuple(self._writers.values())
        # Every declared attribute of an entity in one C call (a 1-tuple for one field).
        getter = operator.attrgetter(*self.declared)
        self._attributes: Callable[[Any], tuple[Any, ...]] = (
            getter if len(self.declared) > 1 else lambda entity: (getter(entity),)
        )
        # Where the maintained timestamps sit among the declared fields: to_row puts the
        # time there in place of whatever the entity holds (CONTRACT §21).
        self._stamp_positions: tuple[int, ...] = tuple(
            i for i, n in enumerate(self.declared) if n in self.maintained
        )
        self._decoders = self._make_decoders()
        if isinstance(references, Reference):
            raise self._fail(str(references.fields), "references takes a collection of References")
        #: The references this table's fields hold (CONTRACT §23).
        self.references: tuple[Reference, ...] = tuple(
            bind_reference(self, spec) for spec in references
        )
        #: The references other tables hold to this one (added as they are defined).
        self.referenced_by: list[Reference] = []
        for reference in self.references:
            reference.target.referenced_by.append(reference)
        #: The fields of this table some reference holds.
        self.referencing: frozenset[str] = frozenset(
            f for reference in self.references for f in reference.fields
        )
        self._field_values = _item_reader(self.declared)
        self._positional = _takes_fields_positionally(entity, self.declared)

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params):
            # ``Table[Project]`` (the form from before the key type) keeps working at run
            # time: the key type is Any, as the TypeVar's default says to type checkers.
            if cls is Table and not isinstance(params, tuple):
                params = (params, Any)
            return super().__class_getitem__(params)

    # -- definition checks ------------------------------------------------------------------

    def _fail(self, field: str, why: str) -> InvalidTableDefinition:
        return InvalidTableDefinition(f"{self.entity_name}.{field}: {why}")

    @property
    def primary_key(self) -> str:
        """The one field of a one-field primary key (see :attr:`key_fields`)."""
        field = self._primary_key
        if field is None:
            raise UnsupportedOperation(
                f"{self.entity_name} has a composite primary key {self._key_label}: "
                "use table.key_fields and the key helpers (key_of, normalize_key)"
            )
        return field

    @property
    def composite_key(self) -> bool:
        """Whether the primary key has more than one field (CONTRACT §22)."""
        return self._primary_key is None

    def _check_key_fields(
        self, primary_key: Any, declared: Mapping[str, FieldType]
    ) -> tuple[str, ...]:
        fields: tuple[Any, ...]
        if isinstance(primary_key, str):
            fields = (primary_key,)
        elif isinstance(primary_key, tuple | list) and primary_key:
            fields = tuple(primary_key)
        else:
            raise self._fail(
                str(primary_key),
                "the primary key is not a field (primary_key takes a field name or a "
                "non-empty tuple of field names)",
            )
        for field in fields:
            if not isinstance(field, str) or field not in declared:
                raise self._fail(str(field), "the primary key is not a field")
            ftype = declared[field]
            if ftype.nullable or not ftype.value_kind.keyable:
                raise self._fail(field, "the primary key must be a non-null, non-float scalar")
        if len(set(fields)) < len(fields):
            raise self._fail(
                next(f for f in fields if fields.count(f) > 1),
                "a field appears twice in the primary key",
            )
        return fields

    def _check_key_types(self, entity: type[Any], fields: tuple[str, ...], key_type: Any) -> None:
        if len(fields) == 1:
            self._check_key_type(entity, fields[0], key_type)
            return
        args = typing.get_args(key_type)
        if typing.get_origin(key_type) is not tuple or len(args) != len(fields):
            raise self._fail(
                self._key_label,
                f"key_type={key_type!r} does not match the composite primary key: use "
                f"tuple[...] with one type per field ({len(fields)})",
            )
        for field, arg in zip(fields, args, strict=True):
            self._check_key_type(entity, field, arg)

    def _check_key_type(self, entity: type[Any], primary_key: str, key_type: Any) -> None:
        # What a type checker takes on trust (the key type of Table[T, ID]) is checked
        # against the annotation, so that the Repository[T, ID] built on it is sound.
        hint = typing.get_type_hints(entity, include_extras=True)[primary_key]
        accepted = [hint]
        for _ in range(16):  # Annotated and NewType, in any nesting
            if typing.get_origin(hint) is typing.Annotated:
                hint = hint.__origin__
            elif isinstance(hint, typing.NewType):
                hint = hint.__supertype__
            else:
                break
            accepted.append(hint)
        if not any(key_type is t for t in accepted):
            names = " or ".join(getattr(t, "__name__", repr(t)) for t in accepted)
            raise self._fail(
                primary_key,
                f"key_type={getattr(key_type, '__name__', repr(key_type))} does not match "
                f"the primary key's annotation: use key_type={names}",
            )

    @staticmethod
    def _declared_types(entity: type[Any], ename: str) -> dict[str, FieldType]:
        if not dataclasses.is_dataclass(entity) or not isinstance(entity, type):
            raise InvalidTableDefinition(f"{ename}: an entity must be a dataclass type")
        if not entity.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            raise InvalidTableDefinition(f"{ename}: an entity must be a frozen dataclass")
        try:
            hints = typing.get_type_hints(entity, include_extras=True)
        except Exception as exc:
            raise InvalidTableDefinition(f"{ename}: cannot resolve annotations: {exc}") from exc
        declared: dict[str, FieldType] = {}
        for f in dataclasses.fields(entity):
            if not _NAME.match(f.name) or f.name.endswith(SHADOW_SUFFIX):
                raise InvalidTableDefinition(
                    f"{ename}.{f.name}: field names start with a letter and use letters, "
                    f"digits and underscores (not ending in {SHADOW_SUFFIX})"
                )
            if not f.init:
                raise InvalidTableDefinition(
                    f"{ename}.{f.name}: an init=False field cannot be rebuilt from a stored row"
                )
            declared[f.name] = parse_annotation(ename, f.name, hints[f.name])
        if not declared:
            raise InvalidTableDefinition(f"{ename}: an entity needs at least one field")
        return declared

    def _check_fields(self, fields: Sequence[str], what: str) -> tuple[str, ...]:
        if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
            raise InvalidTableDefinition(
                f"{self.entity_name}: {what} takes a non-empty tuple of field names, got {fields!r}"
            )
        for field in fields:
            if not isinstance(field, str) or field not in self.declared:
                raise self._fail(field, f"{what} names an unknown field")
            if not self.fields[field].type.value_kind.comparable:
                raise self._fail(field, f"{what} cannot include a JSON field")
        return tuple(fields)

    def _check_unique(self, spec: Sequence[str] | Unique) -> Unique:
        if not isinstance(spec, Unique):
            spec = Unique(self._check_fields(spec, "unique"))
        fields = self._check_fields(spec.fields, "unique")
        if spec.among_live and self.soft_delete is None:
            raise InvalidTableDefinition(
                f"{self.entity_name}: a unique key among live entities needs a soft-delete marker"
            )
        if spec.nulls not in ("distinct", "equal"):
            raise InvalidTableDefinition(
                f"{self.entity_name}: unique key ({', '.join(fields)}): nulls takes "
                f"'distinct' or 'equal', got {spec.nulls!r}"
            )
        return Unique(
            fields,
            spec.among_live,
            spec.name or constraint_name("uq", self.name, fields),
            self.live_condition() if spec.among_live else None,
            self._check_error(spec.error, f"the error of unique key ({', '.join(fields)})"),
            spec.nulls,
        )

    def _check_error(self, error: Any, what: str) -> type[Exception] | None:
        """A key's domain exception: an Exception class taking one argument (CONTRACT §21)."""
        if error is None:
            return None
        if not isinstance(error, type) or not issubclass(error, Exception):
            raise InvalidTableDefinition(
                f"{self.entity_name}: {what} must be an Exception subclass, got {error!r}"
            )
        if issubclass(error, TransactionConflict | TransactionAborted):
            # The transaction runner retries these: a taken key is not transient.
            raise InvalidTableDefinition(
                f"{self.entity_name}: {what} cannot be a TransactionConflict or "
                "TransactionAborted (the transaction runner would read a taken key as transient)"
            )
        try:
            signature = inspect.signature(error)
        except (TypeError, ValueError):  # pragma: no cover - some builtins have none
            return error
        try:
            signature.bind(object())
        except TypeError:
            raise InvalidTableDefinition(
                f"{self.entity_name}: {what}: {error.__name__} must take one positional "
                f"argument (the EntityAlreadyExists), its signature is {signature}"
            ) from None
        return error

    def _check_timestamps(
        self, timestamps: Timestamps | None, declared: Mapping[str, FieldType]
    ) -> Timestamps | None:
        if timestamps is None:
            return None
        if not isinstance(timestamps, Timestamps):
            raise InvalidTableDefinition(
                f"{self.entity_name}: timestamps takes a Timestamps, got {timestamps!r}"
            )
        names = [f for f in (timestamps.created, timestamps.updated) if f is not None]
        if not names:
            raise InvalidTableDefinition(
                f"{self.entity_name}: Timestamps needs a created or an updated field"
            )
        if len(set(names)) < len(names):
            raise self._fail(names[0], "created and updated must be two different fields")
        marker = self.soft_delete.field if self.soft_delete is not None else None
        for field in names:
            ftype = declared.get(field) if isinstance(field, str) else None
            if ftype is None:
                raise self._fail(str(field), "a maintained timestamp is not a field")
            if ftype.kind is not Kind.DATETIME:
                raise self._fail(field, "a maintained timestamp must be a datetime field")
            if field in (*self.key_fields, self.version, marker):
                raise self._fail(
                    field,
                    "a maintained timestamp cannot be the primary key, the version field "
                    "or the soft-delete marker",
                )
        return timestamps

    def _check_index(self, spec: Sequence[str] | Index) -> Index:
        if not isinstance(spec, Index):
            spec = Index(self._check_fields(spec, "index"))
        fields = self._check_fields(spec.fields, "index")
        return Index(fields, spec.name or constraint_name("ix", self.name, fields))

    def _check_marker(
        self, marker: StatusMarker | TimestampMarker | None, declared: Mapping[str, FieldType]
    ) -> StatusMarker | TimestampMarker | None:
        if marker is None:
            return None
        if not isinstance(marker, StatusMarker | TimestampMarker):
            raise InvalidTableDefinition(
                f"{self.entity_name}: unknown soft-delete marker {marker!r}"
            )
        ftype = declared.get(marker.field)
        if ftype is None:
            raise self._fail(marker.field, "the soft-delete marker is not a field")
        if isinstance(marker, TimestampMarker):
            if ftype.kind is not Kind.DATETIME or not ftype.nullable:
                raise self._fail(marker.field, "a timestamp marker must be a nullable datetime")
            return marker
        for value in (marker.deleted, marker.restored):
            try:
                converter(ftype)(value)
            except Rejected as exc:
                raise self._fail(marker.field, f"status marker value {value!r}: {exc}") from None
        if marker.deleted == marker.restored:
            raise self._fail(marker.field, "the deleted and restored values must differ")
        return marker

    # -- soft delete ------------------------------------------------------------------------

    def live_condition(self) -> Condition:
        """Matches entities that are not soft-deleted (every entity without a marker)."""
        live = self._live
        if live is None:
            live = self._live = self._make_live_condition()
        return live

    def _make_live_condition(self) -> Condition:
        marker = self.soft_delete
        if marker is None:
            return TRUE
        column = self.c[marker.field]
        if isinstance(marker, TimestampMarker):
            return column.is_null()
        return column.ne(marker.deleted)

    def normalize_key(self, key: Any) -> Any:
        """Validate and normalise a primary key given by a caller (CONTRACT §22).

        A one-field key is its value; a composite key a tuple (or list) of one
        value per key field, in key order, returned as a tuple.

        Raises:
            InvalidValue: ``None``, the wrong number of values, or a value that
                breaks its field's rules; naming the entity, the field and the value.
        """
        single = self._primary_key
        if single is not None:
            if key is None:
                raise InvalidValue(self.entity_name, single, key, "a key is required")
            return self.normalize(single, key)
        fields = self.key_fields
        if not isinstance(key, tuple | list) or len(key) != len(fields):
            raise InvalidValue(
                self.entity_name,
                self._key_label,
                key,
                f"the primary key is a tuple of {len(fields)} values, one per field "
                f"{self._key_label}",
            )
        normal = []
        for field, value in zip(fields, key, strict=True):
            if value is None:
                raise InvalidValue(self.entity_name, field, value, "a key is required")
            normal.append(self.normalize(field, value))
        return tuple(normal)

    def key_values(self, key: Any) -> Row:
        """The primary key's fields and values of a normalised *key*, as a row."""
        single = self._primary_key
        if single is not None:
            return {single: key}
        return dict(zip(self.key_fields, key, strict=True))

    def key_condition(self, key: Any) -> Condition:
        """The primary key equals *key*, already normalised (no second conversion).

        One equality for a one-field key, a conjunction of one per field otherwise.
        """
        single = self._primary_key
        if single is not None:
            return Compare(self.name, single, Op.EQ, key)
        return And(
            tuple(
                Compare(self.name, field, Op.EQ, value)
                for field, value in zip(self.key_fields, key, strict=True)
            )
        )

    def keys_condition(self, keys: Sequence[Any]) -> Condition:
        """The primary key is one of *keys*: normalised, distinct, never ``None``.

        An ``IN`` for a one-field key, a disjunction of key conditions otherwise.
        """
        if not keys:
            return FALSE
        single = self._primary_key
        if single is not None:
            return In(self.name, single, tuple(keys))
        if len(keys) == 1:
            return self.key_condition(keys[0])
        return Or(tuple(self.key_condition(key) for key in keys))

    def deleted_condition(self) -> Condition:
        """Matches soft-deleted entities."""
        return not_(self.live_condition())

    def deleted_values(self, now: datetime | None = None) -> Row:
        """The values that soft-delete an entity."""
        marker = self._require_marker()
        if isinstance(marker, TimestampMarker):
            return {marker.field: floor_datetime(now or datetime.now(UTC))}
        return {marker.field: self.normalize(marker.field, marker.deleted)}

    def restored_values(self) -> Row:
        """The values that restore a soft-deleted entity."""
        marker = self._require_marker()
        if isinstance(marker, TimestampMarker):
            return {marker.field: None}
        return {marker.field: self.normalize(marker.field, marker.restored)}

    def _require_marker(self) -> StatusMarker | TimestampMarker:
        if self.soft_delete is None:
            raise UnsupportedOperation(
                f"{self.entity_name} has no soft-delete marker: use purge to remove entities"
            )
        return self.soft_delete

    # -- values and rows --------------------------------------------------------------------

    def normalize(self, field: str, value: Any) -> Any:
        """Validate and normalise one value of a declared field (raises InvalidValue)."""
        ftype = self.fields[field].type
        if value is None:
            if ftype.nullable:
                return None
            raise InvalidValue(self.entity_name, field, value, "the field is not nullable")
        try:
            return self._converters[field](value)
        except Rejected as exc:
            raise InvalidValue(self.entity_name, field, value, str(exc)) from None

    def normalize_values(self, values: Mapping[str, Any]) -> Row:
        """Validate and normalise a partial set of declared values, adding shadows.

        Raises:
            InvalidQuery: an unknown field.
            InvalidValue: a value breaks the value rules, or the values together
                exceed :data:`~repokit.sizes.MAX_ENTITY_BYTES`.
        """
        row = self._row(map(self._writer, values), values.values())  # lazily, in order
        self.entity_size.check_values(row)
        return row

    def _writer(self, field: str) -> _Writer:
        writer = self._writers.get(field)
        if writer is None:
            raise InvalidQuery(f"{self.entity_name} has no field {excerpt(field)}")
        return writer

    def to_row(self, entity: T, now: datetime | None = None) -> Row:
        """Validate an entity and return its storage-normal row (shadows included).

        The maintained timestamps (CONTRACT §21) hold *now* (by default the
        current time), whatever the entity holds in them.

        Raises:
            InvalidValue: not an entity of this table, a value breaks the value
                rules, or the entity exceeds :data:`~repokit.sizes.MAX_ENTITY_BYTES`.
        """
        if type(entity) is not self.entity:
            raise InvalidValue(
                self.entity_name,
                "*",
                entity,
                f"expected a {self.entity_name}, got {type(entity).__name__}",
            )
        values: Sequence[Any] = self._attributes(entity)
        if self._stamp_positions:
            stamp = floor_datetime(utc_now() if now is None else now)
            values = list(values)
            for position in self._stamp_positions:
                values[position] = stamp
        row = self._row(self._write_plan, values)
        self._check_row_size(row)
        return row

    def stamp(self, values: Row, now: datetime) -> Row:
        """*values* of a write that changes an entity, with the updated timestamp set to *now*.

        *values* itself when the table maintains no updated field (CONTRACT §21).
        """
        field = self.stamped
        if field is None:
            return values
        return {**values, field: now}

    def domain_error(self, error: EntityAlreadyExists) -> Exception | None:
        """The domain exception declared for the key *error* names, built; else ``None``.

        The caller raises it chained: ``raise domain from error`` (CONTRACT §21).
        """
        declared = self._key_errors.get(frozenset(error.fields)) if self._key_errors else None
        return None if declared is None else declared(error)

    def _row(self, writers: Iterable[_Writer], values: Iterable[Any]) -> Row:
        """The normal row of *values*, each by its field's writer, each shadow after its field.

        The rules are the converters' (:func:`repokit.values.converter`); this
        adds the null check and the casefolded shadow. One loop, no call per
        field: this runs for every field of every row written.
        """
        row: Row = {}
        for (field, convert, nullable, shadow), value in zip(writers, values, strict=True):
            if value is None:
                if not nullable:
                    raise InvalidValue(self.entity_name, field, value, "the field is not nullable")
                normal = None
            else:
                try:
                    normal = convert(value)
                except Rejected as exc:
                    raise InvalidValue(self.entity_name, field, value, str(exc)) from None
            row[field] = normal
            if shadow is not None:
                row[shadow] = None if normal is None else normal.casefold()
        return row

    def from_row(self, row: Mapping[str, Any]) -> T:
        """Build an entity from a storage-normal row."""
        values = self._stored_values(row)
        if self._decoders is not None:
            values = [
                value if value is None or decode is None else decode(value)
                for value, decode in zip(values, self._decoders, strict=True)
            ]
        if self._positional:
            return self.entity(*values)
        return self.entity(**dict(zip(self.declared, values, strict=True)))

    def _stored_values(self, row: Mapping[str, Any]) -> Iterable[Any]:
        """The declared fields' values in *row*, in order; a missing field is ``None``."""
        if type(row) is dict:  # not a subclass: a defaultdict's [] differs from its get()
            try:
                return self._field_values(row)  # one C call for the usual full row
            except KeyError:
                pass
        return map(row.get, self.declared)

    def _make_decoders(self) -> tuple[Callable[[Any], Any] | None, ...] | None:
        """What turns each declared field's stored value back into the entity's.

        ``None`` when no field needs it, so that :meth:`from_row` passes the row's
        values straight to the entity.
        """
        decoders = tuple(
            None if (read := ftype.value_kind.read) is None else read(ftype)
            for ftype in (self.fields[field].type for field in self.declared)
        )
        return None if all(decode is None for decode in decoders) else decoders

    def check_condition(self, condition: Condition) -> Condition:
        """Check that a condition only reads this table's fields (raises InvalidQuery)."""
        for table, field in condition.fields():
            if table != self.name or field not in self.fields:
                raise InvalidQuery(f"condition on {table}.{field} used with table {self.name}")
        return condition

    def __repr__(self) -> str:
        return f"Table({self.entity_name}, {self.name!r})"


def _item_reader(fields: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``row[field]`` for every field, as a tuple, in one call (``itemgetter`` in C)."""
    if len(fields) == 1:
        (field,) = fields
        return lambda row: (row[field],)
    return operator.itemgetter(*fields)


def _takes_fields_positionally(entity: type[Any], fields: Sequence[str]) -> bool:
    """Whether ``entity(*values)`` binds exactly like ``entity(**dict(zip(fields, values)))``.

    True for the ``__init__`` a dataclass generates (without keyword-only fields);
    a positional call skips building a dict of keyword arguments for every row
    read. Anything unusual (a custom ``__new__`` or metaclass ``__call__``, a
    wrapped or differently named ``__init__``) keeps the keyword call.
    """
    new: object = entity.__new__
    if type(entity).__call__ is not type.__call__ or new is not object.__new__:
        return False
    try:
        signature = inspect.signature(entity.__init__, follow_wrapped=False)
    except (TypeError, ValueError):
        return False
    params = list(signature.parameters.values())[1:]  # after self
    return [p.name for p in params] == list(fields) and all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params
    )
