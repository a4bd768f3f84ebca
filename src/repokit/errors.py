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
    ├── InvalidCursor             (also ValueError)
    ├── InvalidTableDefinition    (also TypeError)
    ├── UnsupportedOperation
    ├── BackendNotInstalled       (also ImportError)
    └── BackendUnavailable
"""

from __future__ import annotations

from typing import Any

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
    "ScopeViolation",
    "TransactionAborted",
    "TransactionConflict",
    "UnsupportedOperation",
]


class RepositoryError(Exception):
    """The root of every error repokit raises."""


class EntityNotFound(RepositoryError, LookupError):
    """The entity is missing, outside the caller's scope, or (for writes) deleted.

    Attributes:
        entity: the entity (table) name.
        key: the primary key that was looked up.
    """

    def __init__(self, entity: str, key: Any) -> None:
        super().__init__(f"{entity} {key!r} not found")
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
        super().__init__(f"{message}: {detail}" if detail else message)
        self.entity = entity
        self.fields = fields


class IntegrityViolation(RepositoryError):
    """A constraint other than a unique key failed (foreign key, check)."""

    def __init__(self, entity: str, detail: str) -> None:
        super().__init__(f"{entity}: integrity violation: {detail}")
        self.entity = entity


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
            message = f"{entity}: {detail}"
        else:
            message = (
                f"{entity} {key!r} was modified concurrently: expected version "
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
        message = f"{entity} {key!r} would be outside the caller's scope"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.entity = entity
        self.key = key


class TransactionAborted(RepositoryError):
    """An operation failed earlier in this transaction, so it was (or will be) rolled back.

    Raised by every later operation in the same session, and when a block that
    swallowed such an error ends: nothing of the transaction is committed.
    """


class InvalidValue(RepositoryError, ValueError):
    """A value breaks the value rules (CONTRACT §1); raised before any I/O.

    Attributes:
        entity: the entity (table) name.
        field: the field name.
        value: the rejected value.
        reason: why it was rejected.
    """

    def __init__(self, entity: str, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        super().__init__(f"{entity}.{field}: invalid value {shown}: {reason}")
        self.entity = entity
        self.field = field
        self.value = value
        self.reason = reason


class InvalidQuery(RepositoryError, ValueError):
    """Unknown field, operand of the wrong type, empty scope list, bad pagination."""


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
