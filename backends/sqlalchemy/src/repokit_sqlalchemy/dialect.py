"""What differs between the SQL databases: the interface each dialect module implements.

The backend, the schema builder and the condition compiler are written once
against :class:`SQLDialect`; :mod:`repokit_sqlalchemy.postgres` and
:mod:`repokit_sqlalchemy.sqlite` implement it. A dialect owns the few
predicates databases spell differently, transaction begin and end, engine
preparation and the reading of its driver's error codes. Column types live
in :mod:`repokit_sqlalchemy.schema` (one table definition for every dialect).
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from repokit.capabilities import Capabilities
from repokit.conditions import MatchKind
from repokit.types import FieldType

__all__ = ["DriverError", "Failure", "SQLDialect"]


class Failure(enum.Enum):
    """What a driver error means, read from its error code."""

    DUPLICATE = "duplicate"  # a unique or primary key collides
    INTEGRITY = "integrity"  # another constraint failed
    CONFLICT = "conflict"  # transient: serialisation failure, deadlock, busy database
    UNAVAILABLE = "unavailable"  # the server cannot be reached or the connection dropped
    READ_ONLY = "read_only"  # a write in a read-only transaction
    TOO_LARGE = "too_large"  # a value beyond a database limit (an index row's size)


@dataclass(frozen=True, slots=True)
class DriverError:
    """A classified driver error.

    Attributes:
        failure: what happened.
        code: the driver's code (SQLSTATE, SQLite extended result code name).
        constraint: the violated constraint or index name, when the driver names it.
        columns: the violated key's column names, when the driver lists them.
    """

    failure: Failure
    code: str
    constraint: str | None = None
    columns: tuple[str, ...] | None = None


class SQLDialect(ABC):
    """The database-specific half of the backend (one instance per backend)."""

    #: SQLAlchemy's dialect name.
    name: str
    #: The capabilities of a backend on this dialect.
    capabilities: Capabilities

    # -- engine ------------------------------------------------------------------------------

    @abstractmethod
    def engine_defaults(self, url: sa.URL) -> dict[str, Any]:
        """Engine options used unless the caller passes their own."""

    @abstractmethod
    def install(self, engine: AsyncEngine, *, owned: bool) -> None:
        """Attach per-connection setup to *engine* (idempotent)."""

    async def prepare(self, engine: AsyncEngine) -> None:  # noqa: B027 - optional hook
        """One-time preparation on first use (e.g. switching a file to WAL)."""

    # -- transactions ------------------------------------------------------------------------

    @abstractmethod
    async def begin(self, connection: AsyncConnection, *, read_only: bool) -> None:
        """Begin a transaction on a fresh connection."""

    @abstractmethod
    async def commit(self, connection: AsyncConnection) -> None:
        """Commit the transaction begun by :meth:`begin`."""

    @abstractmethod
    async def rollback(self, connection: AsyncConnection) -> None:
        """Roll back the transaction begun by :meth:`begin`."""

    async def acquire_turn(self, *, read_only: bool) -> asyncio.Lock | None:
        """Wait for this session's turn if the database serialises sessions; return the lock.

        The session releases the lock when it ends.
        """
        return None

    # -- statements --------------------------------------------------------------------------

    @abstractmethod
    def in_(
        self, column: ColumnElement[Any], values: Sequence[Any], ftype: FieldType
    ) -> ColumnElement[bool]:
        """``column`` equals one of *values* (non-empty, no nulls); null for a null column."""

    @abstractmethod
    def match(
        self, column: ColumnElement[Any], kind: MatchKind, pattern: str
    ) -> ColumnElement[bool]:
        """Literal, case-sensitive match of a non-empty *pattern*; null for a null column."""

    #: Whether ORDER BY needs explicit NULLS FIRST / LAST for nulls to sort smallest.
    explicit_nulls_order: bool = True

    # -- errors ------------------------------------------------------------------------------

    @abstractmethod
    def classify(self, exc: BaseException) -> DriverError | None:
        """Read a driver error's code; ``None`` for an error with no repokit meaning."""
