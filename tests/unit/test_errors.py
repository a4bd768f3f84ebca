"""The error tree (CONTRACT §8): one hierarchy, builtin bases, payloads and messages."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from repokit import errors
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
    ScopeViolation,
    TransactionAborted,
    TransactionConflict,
    UnsupportedOperation,
    excerpt,
)

CLASSES = [getattr(errors, name) for name in errors.__all__]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_a_repository_error(cls: type[Exception]) -> None:
    assert issubclass(cls, RepositoryError)


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (EntityNotFound, LookupError),
        (InvalidValue, ValueError),
        (InvalidQuery, ValueError),
        (InvalidCursor, ValueError),
        (InvalidTableDefinition, TypeError),
        (BackendNotInstalled, ImportError),
    ],
)
def test_errors_also_subclass_the_builtin_they_resemble(
    cls: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(cls, builtin)


@pytest.mark.parametrize(
    "cls",
    [
        EntityAlreadyExists,
        IntegrityViolation,
        ConcurrentModification,
        ScopeViolation,
        TransactionAborted,
        UnsupportedOperation,
        BackendUnavailable,
    ],
)
def test_other_errors_derive_from_repository_error_only(cls: type[Exception]) -> None:
    assert cls.__bases__ == (RepositoryError,)


def test_a_transaction_conflict_is_a_concurrent_modification() -> None:
    assert issubclass(TransactionConflict, ConcurrentModification)


def test_the_module_docstring_draws_every_error() -> None:
    assert errors.__doc__ is not None
    for cls in CLASSES:
        assert cls.__name__ in errors.__doc__


def test_entity_not_found_carries_entity_and_key() -> None:
    key = uuid.UUID(int=5)
    error = EntityNotFound("Item", key)
    assert (error.entity, error.key) == ("Item", key)
    assert str(error) == f"Item {key!r} not found"


def test_entity_already_exists_carries_the_key_fields() -> None:
    error = EntityAlreadyExists("Item", ("tenant", "name"))
    assert (error.entity, error.fields) == ("Item", ("tenant", "name"))
    assert str(error) == "Item with the same (tenant, name) already exists"


def test_entity_already_exists_appends_a_detail() -> None:
    assert str(EntityAlreadyExists("Item", ("id",), "duplicate")).endswith(": duplicate")


def test_integrity_violation_names_entity_and_detail() -> None:
    error = IntegrityViolation("Item", "check failed")
    assert (error.entity, str(error)) == ("Item", "Item: integrity violation: check failed")


def test_concurrent_modification_carries_the_versions() -> None:
    error = ConcurrentModification("Item", 7, expected_version=2, actual_version=3)
    assert (error.entity, error.key, error.expected_version, error.actual_version) == (
        "Item",
        7,
        2,
        3,
    )
    assert str(error) == "Item 7 was modified concurrently: expected version 2, found 3"


def test_concurrent_modification_with_a_detail_uses_it() -> None:
    assert str(ConcurrentModification("Item", detail="gone")) == "Item: gone"


def test_transaction_conflict_describes_the_transaction() -> None:
    error = TransactionConflict("serialization failure")
    assert (error.entity, str(error)) == ("transaction", "transaction: serialization failure")


def test_scope_violation_carries_entity_and_key() -> None:
    error = ScopeViolation("Item", 3, "tenant b")
    assert (error.entity, error.key) == ("Item", 3)
    assert str(error) == "Item 3 would be outside the caller's scope: tenant b"


def test_invalid_value_carries_entity_field_value_and_reason() -> None:
    error = InvalidValue("Item", "score", 2**64, "outside the signed 64-bit range")
    assert (error.entity, error.field, error.value, error.reason) == (
        "Item",
        "score",
        2**64,
        "outside the signed 64-bit range",
    )
    assert str(error) == f"Item.score: invalid value {2**64!r}: outside the signed 64-bit range"


def test_invalid_value_shortens_a_long_value_in_its_message_only() -> None:
    value = "x" * 1000
    error = InvalidValue("Item", "name", value, "too long")
    assert len(str(error)) < 300
    assert "..." in str(error)
    assert error.value == value


def test_errors_can_be_caught_by_their_builtin() -> None:
    with pytest.raises(LookupError):
        raise EntityNotFound("Item", 1)


def test_table_not_found_is_an_invalid_query_naming_the_table_and_the_remedy() -> None:
    error = errors.TableNotFound("rk_things")
    assert isinstance(error, InvalidQuery)
    assert error.table == "rk_things"
    assert str(error) == (
        "table 'rk_things' does not exist: create it first with Database.create_tables"
    )


# -- messages show a bounded excerpt of any value -------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": [value]}
    return value


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class RecursingRepr:
    def __repr__(self) -> str:
        return repr(self)


class LyingClass:
    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise RuntimeError("no class either")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@dataclass(frozen=True)
class Holder:
    id: int
    data: Any


HOSTILE_VALUES = [
    pytest.param(_deep(10_000), id="JSON nested 10,000 deep"),
    pytest.param(RaisingRepr(), id="repr raises"),
    pytest.param(RecursingRepr(), id="repr recurses"),
    pytest.param(LyingClass(), id="__class__ raises"),
    pytest.param(10**10_000, id="an int of 10,001 digits"),
    pytest.param("x" * 10**6, id="a string of a million characters"),
    pytest.param(list(range(10**6)), id="a list of a million items"),
    pytest.param({object(): 1, 2: object(), "k": [1] * 1000}, id="unorderable keys"),
    pytest.param(Holder(1, _deep(10_000)), id="an entity holding deep JSON"),
    pytest.param(b"\xff" * 10**5, id="bytes"),
]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_an_excerpt_of_any_value_is_bounded_and_never_raises(value: Any) -> None:
    shown = excerpt(value)
    assert isinstance(shown, str)
    assert len(shown) <= 200


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_errors_carrying_any_value_have_bounded_messages(value: Any) -> None:
    for error in (
        InvalidValue("Item", "data", value, "bad"),
        EntityNotFound("Item", value),
        ScopeViolation("Item", value),
        ConcurrentModification("Item", value, expected_version=1, actual_version=2),
    ):
        assert len(str(error)) < 500
    assert InvalidValue("Item", "data", value, "bad").value is value


def test_an_excerpt_shows_the_start_of_a_value() -> None:
    assert excerpt({"name": "acme", "tags": ["a", "b"]}) == "{'name': 'acme', 'tags': ['a', 'b']}"
    assert excerpt(uuid.UUID(int=5)) == repr(uuid.UUID(int=5))
    assert excerpt(Holder(1, "x")) == "Holder(id=1, data='x')"
    assert excerpt(RaisingRepr()).startswith("<RaisingRepr")
    assert excerpt(10**10_000) == "<int of 33220 bits>"


def test_long_details_are_clipped() -> None:
    assert len(str(EntityAlreadyExists("Item", ("id",), "d" * 10**6))) < 1200
    assert len(str(IntegrityViolation("Item", "d" * 10**6))) < 1200
    assert len(str(InvalidValue("Item", "x", 1, "r" * 10**6))) < 1500
