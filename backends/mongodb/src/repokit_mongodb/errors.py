"""PyMongo's errors mapped onto repokit's (CONTRACT §8), from codes and labels only.

=============================================  ===============================
driver error                                   repokit error
=============================================  ===============================
``ConnectionFailure`` (network errors,         ``BackendUnavailable``
server-selection timeouts)
label ``TransientTransactionError``, code 112   ``TransactionConflict`` (the
(``WriteConflict``)                            transaction runner retries it)
label ``UnknownTransactionCommitResult``       ``BackendUnavailable`` (a retry
                                               could apply the transaction twice)
code 11000 / 11001 (duplicate key)             ``EntityAlreadyExists`` with the
                                               key's fields from ``keyPattern``
code 121 (document failed validation)          ``IntegrityViolation``
``DocumentTooLarge`` (the driver: a document   ``InvalidValue``
or command over the server's maximum); codes
10334 (``BSONObjectTooLarge``), 17419 / 17420
(the document after an update / an upsert is
too large), and 2 (``BadValue``) when the
server says "too large"
any other ``PyMongoError``                     ``RepositoryError``
=============================================  ===============================

Core refuses an entity beyond ``MAX_ENTITY_BYTES`` (8 MiB) before any I/O; a
document can still outgrow the server's 16 MiB through several updates of
different fields, and that server error is the ``InvalidValue`` above.
Every mapped error is chained to the driver's (``raise ... from exc``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DocumentTooLarge,
    OperationFailure,
    PyMongoError,
)

from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    IntegrityViolation,
    InvalidValue,
    RepositoryError,
    TransactionConflict,
)
from repokit.tables import Table

__all__ = ["DUPLICATE_KEY", "map_errors", "translate"]

DUPLICATE_KEY = frozenset({11000, 11001})
WRITE_CONFLICT = 112
DOCUMENT_VALIDATION_FAILURE = 121
#: BSONObjectTooLarge; the document after an update / the upserted document is too large.
TOO_LARGE = frozenset({10334, 17419, 17420})
BAD_VALUE = 2
_TRANSIENT_LABELS = ("TransientTransactionError",)


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
    primary_key = table.key_fields if table is not None else ("_id",)
    pattern = details.get("keyPattern") or {"_id": 1}
    fields: list[str] = []
    for key in map(str, pattern):
        if key == "_id":
            fields.extend(primary_key)  # a composite key's _id is one document (CONTRACT §22)
        else:
            fields.append(key.removeprefix("_id."))
    return tuple(fields)


def translate(
    exc: PyMongoError | DocumentTooLarge, table: Table[Any] | None = None
) -> RepositoryError:
    """The repokit error for a driver error, in the context of *table*."""
    entity = table.entity_name if table is not None else "database"
    if isinstance(exc, DocumentTooLarge):  # not a PyMongoError: raised while encoding
        return _too_large(entity, exc)
    if isinstance(exc, ConnectionFailure):
        return BackendUnavailable(f"MongoDB is unreachable: {exc}")
    if exc.has_error_label("UnknownTransactionCommitResult"):
        # Not a conflict: the commit may have happened (CONTRACT §15).
        return BackendUnavailable(f"the outcome of the MongoDB commit is unknown: {exc}")
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
        if code in TOO_LARGE or (code == BAD_VALUE and "too large" in str(exc)):
            return _too_large(entity, exc)
    return RepositoryError(f"{entity}: MongoDB error: {exc}")


def _too_large(entity: str, exc: Exception) -> InvalidValue:
    first_line = str(exc).partition("\n")[0]
    return InvalidValue(entity, "*", None, f"the document is too large for MongoDB: {first_line}")


@contextmanager
def map_errors(table: Table[Any] | None = None) -> Iterator[None]:
    """Raise driver errors inside the block as repokit errors, chained."""
    try:
        yield
    except (PyMongoError, DocumentTooLarge) as exc:
        raise translate(exc, table) from exc
