"""Update states and specs: OptionalState, TriState and UpdaterSpec.values()."""

from dataclasses import dataclass

import pytest

from repokit.errors import InvalidQuery
from repokit.states import OptionalState, TriState, UpdaterSpec


@dataclass(frozen=True)
class ProjectUpdate(UpdaterSpec):
    name: OptionalState[str] = OptionalState.nop()
    description: TriState[str] = TriState.nop()
    size: OptionalState[int] = OptionalState.nop()


@dataclass(frozen=True)
class BrokenUpdate(UpdaterSpec):
    name: str = "raw value"


def test_optional_state_update_carries_its_value() -> None:
    state = OptionalState.update("x")
    assert (state.is_nop, state.value()) == (False, "x")


def test_optional_state_nop_has_no_value() -> None:
    with pytest.raises(ValueError, match="no-op"):
        OptionalState.nop().value()


def test_optional_state_nop_is_nop() -> None:
    assert OptionalState.nop().is_nop is True


def test_tri_state_update_carries_its_value() -> None:
    assert TriState.update(3).value() == 3


def test_tri_state_nullify_sets_none() -> None:
    state: TriState[int] = TriState.nullify()
    assert (state.is_nop, state.value()) == (False, None)


def test_tri_state_nop_has_no_value() -> None:
    with pytest.raises(ValueError, match="no-op"):
        TriState.nop().value()


def test_states_compare_by_action_and_value() -> None:
    assert OptionalState.update(1) == OptionalState.update(1)
    assert OptionalState.update(1) != OptionalState.update(2)
    assert TriState.nullify() != TriState.nop()


def test_states_repr_as_their_constructors() -> None:
    assert [repr(s) for s in (OptionalState.update(1), OptionalState.nop())] == [
        "OptionalState.update(1)",
        "OptionalState.nop()",
    ]
    assert [repr(s) for s in (TriState.update("a"), TriState.nullify(), TriState.nop())] == [
        "TriState.update('a')",
        "TriState.nullify()",
        "TriState.nop()",
    ]


def test_a_default_spec_changes_nothing() -> None:
    assert ProjectUpdate().values() == {}


def test_a_spec_lists_the_fields_it_sets() -> None:
    spec = ProjectUpdate(name=OptionalState.update("n"), size=OptionalState.update(0))
    assert spec.values() == {"name": "n", "size": 0}


def test_a_spec_sets_null_for_nullify() -> None:
    assert ProjectUpdate(description=TriState.nullify()).values() == {"description": None}


def test_a_spec_keeps_falsy_updates() -> None:
    assert ProjectUpdate(name=OptionalState.update("")).values() == {"name": ""}


def test_a_spec_field_that_is_not_a_state_is_an_invalid_query() -> None:
    with pytest.raises(
        InvalidQuery, match=r"BrokenUpdate\.name must be an OptionalState or TriState"
    ):
        BrokenUpdate().values()
