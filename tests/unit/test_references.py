"""Reference declarations are checked when the child table is built (CONTRACT §23)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from repokit import InvalidTableDefinition, OnPurge, Reference, Table, TransactionConflict
from repokit.integrity import dependency_order
from repokit.references import key_fields


@dataclass(frozen=True)
class Parent:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Child:
    id: int
    parent: uuid.UUID
    maybe: uuid.UUID | None = None
    text: str = ""


def _parent() -> Table[Parent]:
    return Table(Parent, f"u_parents_{uuid.uuid4().hex[:6]}", primary_key="id")


def _child(*references: Any) -> Table[Child]:
    return Table(Child, "u_children", primary_key="id", references=list(references))


def test_a_reference_is_bound_to_both_tables_with_a_default_name() -> None:
    parents = _parent()
    children = _child(Reference(("parent",), parents))
    (reference,) = children.references
    assert reference.name == "fk_u_children_parent"
    assert reference.child is children
    assert reference.on_purge is OnPurge.RESTRICT
    assert parents.referenced_by == [reference]
    assert children.referencing == frozenset({"parent"})


def test_the_fields_map_onto_the_targets_key_fields() -> None:
    assert key_fields(_parent()) == ("id",)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("nope",), "Child.nope: a reference names an unknown field"),
        (("parent", "maybe"), r"has 2 field\(s\); the key of Parent has 1"),
        (("text",), "Child.text: a reference field must have the type of Parent.id"),
        ((), "non-empty tuple"),
        ("parent", "non-empty tuple"),
    ],
)
def test_a_reference_that_does_not_fit_the_targets_key_is_refused(
    fields: Any, message: str
) -> None:
    with pytest.raises(InvalidTableDefinition, match=message):
        _child(Reference(fields, _parent()))


def test_set_null_needs_nullable_fields() -> None:
    parents = _parent()
    with pytest.raises(InvalidTableDefinition, match=r"Child\.parent: on_purge=SET_NULL"):
        _child(Reference(("parent",), parents, on_purge=OnPurge.SET_NULL))
    assert _child(Reference(("maybe",), parents, on_purge=OnPurge.SET_NULL)).references


def test_a_nullable_field_may_reference_a_non_null_key() -> None:
    assert _child(Reference(("maybe",), _parent())).references


@pytest.mark.parametrize("error", [TransactionConflict, ValueError("x"), "nope", BaseException])
def test_a_reference_error_must_be_an_exception_class_the_runner_does_not_retry(
    error: Any,
) -> None:
    with pytest.raises(InvalidTableDefinition, match="the error of reference"):
        _child(Reference(("parent",), _parent(), error=error))


def test_a_reference_targets_a_table_and_takes_an_on_purge() -> None:
    with pytest.raises(InvalidTableDefinition, match="targets a Table"):
        _child(Reference(("parent",), "parents"))  # type: ignore[arg-type]
    with pytest.raises(InvalidTableDefinition, match="on_purge takes an OnPurge"):
        _child(Reference(("parent",), _parent(), on_purge="cascade"))  # type: ignore[arg-type]


def test_a_failed_definition_leaves_the_target_untouched() -> None:
    parents = _parent()
    with pytest.raises(InvalidTableDefinition):
        _child(Reference(("parent",), parents), Reference(("nope",), parents))
    assert parents.referenced_by == []


def test_dependency_order_puts_parents_first_and_keeps_the_given_order_otherwise() -> None:
    parents = _parent()
    children = _child(Reference(("parent",), parents))
    other = _parent()
    assert dependency_order([children, other, parents]) == [parents, children, other]
