"""The exceptions repokit raises: one tree, the same on every backend.

Every error a repository operation can raise derives from
:class:`RepositoryError`. Backends map their drivers' errors onto this tree at
the SPI boundary, from error codes (SQLSTATE, SQLite extended result codes,
MongoDB ``code``/``keyPattern``) and never from message text alone, always
chaining the driver's exception (``raise ... from exc``)::

    RepositoryError
    ├── EntityNotFound            (also LookupError)
    ├── EntityAlreadyExists
    ├── IntegrityViolation
    ├── ConcurrentModification
    │   └── TransactionConflict   transient: the transaction runner retries it
    ├── ScopeViolation
    ├── TransactionAborted        an earlier failure aborted the transaction
    ├── InvalidValue              (also ValueError)
    ├── InvalidQuery              (also ValueError)
    │   └── TableNotFound         the table was never created (or was dropped)
    ├── InvalidCursor             (also ValueError)
    ├── InvalidTableDefinition    (also TypeError)
    ├── SchemaDrift               the stored schema differs from the tables' declarations
    ├── UnsupportedOperation
    ├── BackendNotInstalled       (also ImportError)
    └── BackendUnavailable

A message never holds a whole user value: :func:`excerpt` shows a bounded
part of it (a few levels, items and characters), whatever its size or depth,
and never raises, even for an object whose ``__repr__`` fails or recurses.
The value itself stays available on the exception's attributes.
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repokit.drift import SchemaChange

__all__ = [
    "BackendNotInstalled",
    "BackendUnavailable",
    "ConcurrentModification",
    "EntityAlreadyExists",
    "EntityNotFound",
    "IntegrityViolation",
    "InvalidCursor",
    "InvalidQuery",
    "InvalidTableDefinition",
    "InvalidValue",
    "RepositoryError",
    "SchemaDrift",
    "ScopeViolation",
    "TableNotFound",
    "TransactionAborted",
    "TransactionConflict",
    "UnsupportedOperation",
]


#: The longest excerpt of a value a message shows (characters).
EXCERPT_LENGTH = 200
#: The longest detail (a driver's message, a reason) a message carries (characters).
DETAIL_LENGTH = 1000
_HUGE_INT_BITS = 256


class _Excerpt(reprlib.Repr):
    """``reprlib`` with small limits that never sorts, never walks a whole value.

    The standard class sorts every key of a dict or set before showing four
    of them (seconds for millions of keys), and ``repr()`` of an integer of
    over 4,300 digits raises; both are replaced.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxset = self.maxfrozenset = self.maxdeque = 6
        self.maxarray = 6
        self.maxdict = 6
        self.maxstring = 120
        self.maxlong = 40
        self.maxother = 120

    def repr_dict(self, x: Any, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = [
            f"{self.repr1(key, level - 1)}: {self.repr1(value, level - 1)}"
            for key, value in islice(x.items(), self.maxdict)
        ]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"

    def _items(self, x: Any, level: int, left: str, right: str, most: int) -> str:
        if level <= 0:
            return left + self.fillvalue + right
        pieces = [self.repr1(item, level - 1) for item in islice(x, most)]
        if len(x) > most:
            pieces.append(self.fillvalue)
        return left + ", ".join(pieces) + right

    def repr_set(self, x: Any, level: int) -> str:
        return self._items(x, level, "{", "}", self.maxset) if x else "set()"

    def repr_frozenset(self, x: Any, level: int) -> str:
        if not x:
            return "frozenset()"
        return self._items(x, level, "frozenset({", "})", self.maxfrozenset)

    def repr_int(self, x: Any, level: int) -> str:
        bits = x.bit_length()
        if bits > _HUGE_INT_BITS:
            return f"<{'-' if x < 0 else ''}int of {bits} bits>"
        return str(super().repr_int(x, level))

    def repr_instance(self, x: Any, level: int) -> str:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            # An entity: its fields one by one, each bounded (its own repr would
            # show every field whole, and recurse through a deeply nested one).
            name = type(x).__name__
            if level <= 0:
                return f"{name}({self.fillvalue})"
            fields = dataclasses.fields(x)
            pieces = [
                f"{f.name}={self.repr1(getattr(x, f.name), level - 1)}"
                for f in islice(fields, self.maxtuple)
            ]
            if len(fields) > self.maxtuple:
                pieces.append(self.fillvalue)
            return f"{name}({', '.join(pieces)})"
        return str(super().repr_instance(x, level))


_EXCERPT = _Excerpt()


def excerpt(value: Any, limit: int = EXCERPT_LENGTH) -> str:
    """A bounded ``repr`` of *value* for a message: at most *limit* characters.

    Never raises (short of ``BaseException`` s such as ``KeyboardInterrupt``):
    a value whose ``repr`` fails, recurses or is absurdly large is shown by
    its type alone.
    """
    try:
        shown = _EXCERPT.repr(value)
        if not isinstance(shown, str):
            raise TypeError("repr returned a non-string")
    except Exception:
        shown = _unrepresentable(value)
    return clip(shown, limit)


def clip(text: str, limit: int = DETAIL_LENGTH) -> str:
    """*text*, cut to *limit* characters (ending in ``...`` when cut)."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 3)] + "..."


def _unrepresentable(value: Any) -> str:
    try:
        return f"<{type(value).__qualname__} object>"
    except Exception:
        return "<unrepresentable value>"


class RepositoryError(Exception):
    """The root of every error repokit raises."""


class EntityNotFound(RepositoryError, LookupError):
    """The entity is missing, outside the caller's scope, or (for writes) deleted.

    Attributes:
        entity: the entity (table) name.
        key: the primary key that was looked up.
    """

    def __init__(self, entity: str, key: Any) -> None:
        super().__init__(f"{entity} {excerpt(key)} not found")
        self.entity = entity
        self.key = key


class EntityAlreadyExists(RepositoryError):
    """A primary key or unique key collides with a stored entity.

    Attributes:
        entity: the entity (table) name.
        fields: the names of the fields forming the violated key.
    """

    def __init__(self, entity: str, fields: tuple[str, ...], detail: str = "") -> None:
        message = f"{entity} with the same ({', '.join(fields)}) already exists"
        super().__init__(f"{message}: {clip(detail)}" if detail else message)
        self.entity = entity
        self.fields = fields


class IntegrityViolation(RepositoryError):
    """A constraint other than a unique key failed (a reference, a check).

    Attributes:
        entity: the entity (table) name.
        reference: the name of the reference (CONTRACT §23) that failed, when known.
        fields: the referencing fields, when known.
        value: the referencing value (a tuple, one item per field), when known.
    """

    def __init__(
        self,
        entity: str,
        detail: str,
        *,
        reference: str | None = None,
        fields: tuple[str, ...] = (),
        value: Any = None,
    ) -> None:
        super().__init__(f"{entity}: integrity violation: {clip(detail)}")
        self.entity = entity
        self.reference = reference
        self.fields = fields
        self.value = value


class ConcurrentModification(RepositoryError):
    """A version check failed: the entity changed since the caller read it.

    Attributes:
        entity: the entity (table) name.
        key: the primary key of the entity, when known.
        expected_version: the version the caller expected, when known.
        actual_version: the stored version, when known.
    """

    def __init__(
        self,
        entity: str,
        key: Any = None,
        *,
        expected_version: int | None = None,
        actual_version: int | None = None,
        detail: str = "",
    ) -> None:
        if detail:
            message = f"{entity}: {clip(detail)}"
        else:
            message = (
                f"{entity} {excerpt(key)} was modified concurrently: expected version "
                f"{expected_version}, found {actual_version}"
            )
        super().__init__(message)
        self.entity = entity
        self.key = key
        self.expected_version = expected_version
        self.actual_version = actual_version


class TransactionConflict(ConcurrentModification):
    """A transient conflict (serialisation failure, deadlock, busy database).

    The transaction runner (:meth:`repokit.Database.run_in_transaction`)
    retries the whole transaction when it sees this error.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("transaction", detail=detail)


class ScopeViolation(RepositoryError):
    """A write would put an entity outside the caller's scope; nothing was written."""

    def __init__(self, entity: str, key: Any, detail: str = "") -> None:
        message = f"{entity} {excerpt(key)} would be outside the caller's scope"
        super().__init__(f"{message}: {clip(detail)}" if detail else message)
        self.entity = entity
        self.key = key


class TransactionAborted(RepositoryError):
    """An operation failed earlier in this transaction, so it was (or will be) rolled back.

    Raised by every later operation in the same session, and when a block that
    swallowed such an error ends: nothing of the transaction is committed.
    """


class InvalidValue(RepositoryError, ValueError):
    """A value breaks the value rules (CONTRACT §1); raised before any I/O.

    The message shows a bounded excerpt of the value (:func:`excerpt`).

    Attributes:
        entity: the entity (table) name.
        field: the field name.
        value: the rejected value.
        reason: why it was rejected.
    """

    def __init__(self, entity: str, field: str, value: Any, reason: str) -> None:
        super().__init__(f"{entity}.{field}: invalid value {excerpt(value)}: {clip(reason)}")
        self.entity = entity
        self.field = field
        self.value = value
        self.reason = reason


class InvalidQuery(RepositoryError, ValueError):
    """Unknown field, operand of the wrong type, empty scope list, bad pagination."""


class TableNotFound(InvalidQuery):
    """An operation on a table that does not exist: it was never created, or was dropped.

    The same on every backend (the SQL databases report it themselves; on
    MongoDB, which would create a collection on first write and read a
    missing one as empty, the backend checks once per table).

    Attributes:
        table: the table name.
    """

    def __init__(self, table: str) -> None:
        super().__init__(
            f"table {table!r} does not exist: create it first with Database.create_tables"
        )
        self.table = table


class InvalidCursor(RepositoryError, ValueError):
    """A cursor that is malformed, tampered with, or from another query, scope or order."""


class InvalidTableDefinition(RepositoryError, TypeError):
    """A table declaration is wrong: an unsupported type, an unknown field, a bad key."""


class UnsupportedOperation(RepositoryError):
    """The operation needs something this table or backend does not offer."""


class BackendNotInstalled(RepositoryError, ImportError):
    """No backend is registered for a URL scheme; the message names what to install."""


class BackendUnavailable(RepositoryError):
    """The server cannot be reached or the connection dropped; retrying later may succeed."""


class SchemaDrift(RepositoryError):
    """The stored schema differs from the tables' declarations in ways not applied (CONTRACT §16).

    Raised by :meth:`repokit.Database.create_tables` before it changes
    anything. The message lists every change and what applies it: a
    migration (on SQL: Alembic, ``docs/migrations.md``), or
    ``create_tables(..., reconcile=True)`` where the backend can.

    Attributes:
        changes: the changes that were not applied (:class:`repokit.drift.SchemaChange`).
    """

    def __init__(self, changes: Sequence[SchemaChange]) -> None:
        self.changes: tuple[SchemaChange, ...] = tuple(changes)
        remedies = {str(change.remedy) for change in self.changes}
        advice = []
        if "migration" in remedies:
            advice.append(
                "write and run a migration for those marked [migration] "
                "(SQL: Alembic with repokit_sqlalchemy.metadata, see docs/migrations.md)"
            )
        if "reconcile" in remedies:
            advice.append("create_tables(..., reconcile=True) applies those marked [reconcile]")
        lines = "\n".join(f"  {clip(str(change), 300)}" for change in self.changes[:50])
        more = len(self.changes) - 50
        if more > 0:
            lines += f"\n  ... and {more} more"
        super().__init__(
            f"the stored schema differs from the table definitions:\n{lines}\n" + "; ".join(advice)
        )
