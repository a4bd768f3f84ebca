"""Driver errors → repokit errors (CONTRACT §8), at the backend's boundary.

The dialect reads the error *code* (asyncpg's SQLSTATE, SQLite's extended
result code) into a :class:`~repokit_sqlalchemy.dialect.DriverError`; this
module turns it into the repokit exception, naming the table and, for a
duplicate key, the key's fields (looked up by constraint name, or by the
column list SQLite reports). The driver's exception is always chained.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from repokit.errors import (
    BackendUnavailable,
    EntityAlreadyExists,
    IntegrityViolation,
    InvalidValue,
    RepositoryError,
    TableNotFound,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit.references import Reference
from repokit.tables import Table
from repokit_sqlalchemy.dialect import DriverError, Failure, SQLDialect
from repokit_sqlalchemy.schema import sql_table

__all__ = ["broken_reference", "duplicate_key", "translate"]


def duplicate_key(table: Table[Any], error: DriverError) -> tuple[str, ...]:
    """The fields of the key a duplicate-key error names."""
    pk = table.key_fields
    if error.constraint is not None:
        for unique in table.unique:
            if unique.name == error.constraint:
                return unique.fields
        primary = sql_table(table).primary_key.name
        if error.constraint == primary:
            return pk
    if error.columns is not None:
        wanted = set(error.columns)
        if wanted == set(pk):
            return pk
        for unique in table.unique:
            if set(unique.fields) == wanted:
                return unique.fields
        return error.columns
    return pk if len(table.unique) == 0 else ()


def broken_reference(table: Table[Any], error: DriverError) -> Reference | None:
    """The reference (CONTRACT §23) a FOREIGN KEY error on *table* is about, if it can tell.

    PostgreSQL names the constraint: a reference *table* holds (a write) or one
    held to it (a purge). SQLite names none: a table with exactly one
    reference, to or from it, is about that one (core checks references before
    every write, so SQLite's own check is only a backstop).
    """
    candidates = (*table.references, *table.referenced_by)
    if error.constraint is not None:
        return next((r for r in candidates if r.name == error.constraint), None)
    return candidates[0] if len(candidates) == 1 else None


def translate(
    exc: BaseException, dialect: SQLDialect, table: Table[Any] | None
) -> RepositoryError | None:
    """The repokit error for driver error *exc*; ``None`` if it has no repokit meaning."""
    if isinstance(exc, RepositoryError):
        return exc
    error = dialect.classify(exc)
    if error is None:
        if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
            return BackendUnavailable(f"the database connection was lost: {exc.orig}")
        return None
    entity = table.entity_name if table is not None else "database"
    detail = _detail(exc)
    if error.failure is Failure.DUPLICATE:
        fields = duplicate_key(table, error) if table is not None else error.columns or ()
        return EntityAlreadyExists(entity, fields, f"[{error.code}] {detail}")
    if error.failure is Failure.INTEGRITY:
        reference = broken_reference(table, error) if table is not None else None
        if reference is not None:
            return IntegrityViolation(
                entity,
                f"reference {reference.name} ({reference.child.name} -> "
                f"{reference.target.name}) [{error.code}] {detail}",
                reference=reference.name,
                fields=reference.fields,
            )
        return IntegrityViolation(entity, f"[{error.code}] {detail}")
    if error.failure is Failure.CONFLICT:
        return TransactionConflict(f"[{error.code}] {detail}")
    if error.failure is Failure.TOO_LARGE:
        reason = f"too large for a key or index [{error.code}]: {detail}"
        return InvalidValue(entity, "*", None, reason)
    if error.failure is Failure.NO_TABLE:
        if error.table is not None:
            return TableNotFound(error.table)
        return TableNotFound(table.name if table is not None else f"? ({detail})")
    if error.failure is Failure.READ_ONLY:
        return UnsupportedOperation(f"a read-only transaction refuses writes [{error.code}]")
    return BackendUnavailable(f"the database is unavailable [{error.code}]: {detail}")


def _detail(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
