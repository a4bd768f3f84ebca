"""repokit: backend-agnostic async domain repositories.

The same repositories and scopes run on PostgreSQL, SQLite and MongoDB,
chosen when the :class:`Database` is constructed; one contract suite
(:mod:`repokit.testing`) proves every backend behaves identically.

The behaviour is specified in the project's contract, ``docs/contract.md``
in the source repository; docstrings cite its sections as "CONTRACT §n".
"""

from repokit.backend import Backend, BackendSession, Select
from repokit.capabilities import Capabilities
from repokit.conditions import (
    FALSE,
    MAX_CONDITION_DEPTH,
    TRUE,
    Column,
    Condition,
    Order,
    and_,
    exists,
    not_,
    or_,
)
from repokit.cursors import MAX_CURSOR_LENGTH
from repokit.database import Attempt, Database, Savepoint, Session, Transaction
from repokit.drift import Remedy, SchemaAction, SchemaChange
from repokit.errors import (
    BackendNotInstalled,
    BackendUnavailable,
    ConcurrentModification,
    EntityAlreadyExists,
    EntityNotFound,
    IntegrityViolation,
    InvalidCursor,
    InvalidQuery,
    InvalidTableDefinition,
    InvalidValue,
    RepositoryError,
    SchemaDrift,
    ScopeViolation,
    TableNotFound,
    TransactionAborted,
    TransactionConflict,
    UnsupportedOperation,
)
from repokit.pagination import (
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    CursorPagination,
    OffsetPagination,
    Page,
    Pagination,
)
from repokit.references import OnPurge, Reference
from repokit.registry import register_backend
from repokit.replicas import Replicas
from repokit.repository import Repository
from repokit.scope import GlobalScope, Requires, ScopeArg, SearchScope
from repokit.sizes import MAX_ENTITY_BYTES
from repokit.states import OptionalState, TriState, UpdaterSpec
from repokit.tables import Index, StatusMarker, Table, TimestampMarker, Timestamps, Unique
from repokit.types import MaxLength, Numeric
from repokit.utilities import (
    BatchPurger,
    BatchQuerier,
    BatchUpdater,
    BulkWriter,
    Creator,
    Deleted,
    Deleter,
    Found,
    Outcome,
    Purger,
    Querier,
    Updater,
    Upserted,
    Upserter,
)

__version__ = "0.1.0"

__all__ = [
    "FALSE",
    "MAX_CONDITION_DEPTH",
    "MAX_CURSOR_LENGTH",
    "MAX_ENTITY_BYTES",
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "TRUE",
    "Attempt",
    "Backend",
    "BackendNotInstalled",
    "BackendSession",
    "BackendUnavailable",
    "BatchPurger",
    "BatchQuerier",
    "BatchUpdater",
    "BulkWriter",
    "Capabilities",
    "Column",
    "ConcurrentModification",
    "Condition",
    "Creator",
    "CursorPagination",
    "Database",
    "Deleted",
    "Deleter",
    "EntityAlreadyExists",
    "EntityNotFound",
    "Found",
    "GlobalScope",
    "Index",
    "IntegrityViolation",
    "InvalidCursor",
    "InvalidQuery",
    "InvalidTableDefinition",
    "InvalidValue",
    "MaxLength",
    "Numeric",
    "OffsetPagination",
    "OnPurge",
    "OptionalState",
    "Order",
    "Outcome",
    "Page",
    "Pagination",
    "Purger",
    "Querier",
    "Reference",
    "Remedy",
    "Replicas",
    "Repository",
    "RepositoryError",
    "Requires",
    "Savepoint",
    "SchemaAction",
    "SchemaChange",
    "SchemaDrift",
    "ScopeArg",
    "ScopeViolation",
    "SearchScope",
    "Select",
    "Session",
    "StatusMarker",
    "Table",
    "TableNotFound",
    "TimestampMarker",
    "Timestamps",
    "Transaction",
    "TransactionAborted",
    "TransactionConflict",
    "TriState",
    "Unique",
    "UnsupportedOperation",
    "Updater",
    "UpdaterSpec",
    "Upserted",
    "Upserter",
    "__version__",
    "and_",
    "exists",
    "not_",
    "or_",
    "register_backend",
]
