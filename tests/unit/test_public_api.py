"""The public API: what ``import repokit`` offers, pinned."""

import importlib.metadata
import inspect
import subprocess
import sys

import pytest

import repokit

EXPORTED = {
    "FALSE",
    "MAX_CURSOR_LENGTH",
    "MAX_ENTITY_BYTES",
    "MAX_OFFSET",
    "MAX_CONDITION_DEPTH",
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
    "Outcome",
    "Order",
    "Page",
    "Pagination",
    "Purger",
    "Querier",
    "Reference",
    "Remedy",
    "Replicas",
    "Repository",
    "Requires",
    "RepositoryError",
    "ScopeArg",
    "SchemaAction",
    "SchemaChange",
    "SchemaDrift",
    "ScopeViolation",
    "SearchScope",
    "Select",
    "Savepoint",
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
}


def test_the_exported_names_are_pinned() -> None:
    assert set(repokit.__all__) == EXPORTED


def test_exported_names_are_unique() -> None:
    assert len(repokit.__all__) == len(set(repokit.__all__))


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_every_exported_name_is_importable(name: str) -> None:
    assert getattr(repokit, name) is not None


@pytest.mark.parametrize(
    "name",
    sorted(
        n
        for n in EXPORTED
        if inspect.isclass(getattr(repokit, n, None))
        or inspect.isfunction(getattr(repokit, n, None))
    ),
)
def test_every_exported_class_and_function_is_documented(name: str) -> None:
    assert inspect.getdoc(getattr(repokit, name))


def test_every_exported_error_is_in_the_error_tree() -> None:
    errors = [n for n in EXPORTED if n != "__version__" and inspect.isclass(getattr(repokit, n))]
    exported_errors = {n for n in errors if issubclass(getattr(repokit, n), Exception)}
    assert exported_errors == set(repokit.errors.__all__)


def test_the_version_matches_the_distribution() -> None:
    assert repokit.__version__ == importlib.metadata.version("repokit")


def test_importing_repokit_loads_no_database_driver_and_no_test_tooling() -> None:
    modules = ["sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "pymongo", "bson", "motor"]
    modules += ["pytest", "hypothesis", "repokit.testing"]
    code = f"import sys, repokit; print([m for m in {modules!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
