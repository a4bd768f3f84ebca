"""PyMongo's errors mapped onto repokit's (CONTRACT §8), from codes and labels only.

=============================================  ===============================
driver error                                   repokit error
=============================================  ===============================
``ConnectionFailure`` (network errors,         ``BackendUnavailable``
server-selection timeouts)
label ``TransientTransactionError`` or         ``TransactionConflict`` (the
``UnknownTransactionCommitResult``, code 112   transaction runner retries it)
(``WriteConflict``)
code 11000 / 11001 (duplicate key)             ``EntityAlreadyExists`` with the
                                               key's fields from ``keyPattern``
code 121 (document failed validation)          ``IntegrityViolation``
any other ``PyMongoError``                     ``RepositoryError``
=============================================  ===============================

Every mapped error is chained to the driver's (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    OperationFailure,
    PyMongoError,
)

from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    IntegrityViolation,
    RepositoryError,
    TransactionConflict,
)
from repokit.tables import Table

__all__ = ["DUPLICATE_KEY", "map_errors", "translate"]

DUPLICATE_KEY = frozenset({11000, 11001})
WRITE_CONFLICT = 112
DOCUMENT_VALIDATION_FAILURE = 121
_TRANSIENT_LABELS = ("TransientTransactionError", "UnknownTransactionCommitResult")


def _details(exc: OperationFailure) -> Mapping[str, Any]:
    """The failing write's details (the first write error of a bulk write)."""
    details = exc.details or {}
    if isinstance(exc, BulkWriteError):
        errors = details.get("writeErrors") or ()
        if errors:
            first: Mapping[str, Any] = errors[0]
            return first
    return details


def _key_fields(details: Mapping[str, Any], table: Table[Any] | None) -> tuple[str, ...]:
    primary_key = table.primary_key if table is not None else "_id"
    pattern = details.get("keyPattern") or {"_id": 1}
    return tuple(primary_key if key == "_id" else str(key) for key in pattern)


def translate(exc: PyMongoError, table: Table[Any] | None = None) -> RepositoryError:
    """The repokit error for a driver error, in the context of *table*."""
    entity = table.entity_name if table is not None else "database"
    if isinstance(exc, ConnectionFailure):
        return BackendUnavailable(f"MongoDB is unreachable: {exc}")
    if any(exc.has_error_label(label) for label in _TRANSIENT_LABELS):
        return TransactionConflict(f"transient MongoDB transaction error: {exc}")
    if isinstance(exc, OperationFailure):
        details = _details(exc)
        code = details.get("code", exc.code)
        if code == WRITE_CONFLICT:
            return TransactionConflict(f"write conflict: {exc}")
        if code in DUPLICATE_KEY:
            fields = _key_fields(details, table)
            return EntityAlreadyExists(entity, fields, str(details.get("keyValue", "")))
        if code == DOCUMENT_VALIDATION_FAILURE:
            return IntegrityViolation(entity, f"document failed validation: {exc}")
    return RepositoryError(f"{entity}: MongoDB error: {exc}")


@contextmanager
def map_errors(table: Table[Any] | None = None) -> Iterator[None]:
    """Raise driver errors inside the block as repokit errors, chained."""
    try:
        yield
    except PyMongoError as exc:
        raise translate(exc, table) from exc
