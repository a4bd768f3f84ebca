"""Scopes as conditions (CONTRACT §6): one, several (ORed), explicit None, never an empty list."""

from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest

from repokit.conditions import TRUE, Condition, Or
from repokit.errors import InvalidQuery
from repokit.scope import GlobalScope, SearchScope, scope_condition
from repokit.testing.schema import TenantScope, items, notes


@dataclass(frozen=True)
class NotAConditionScope(SearchScope):
    def to_condition(self) -> Condition:
        return "tenant == 'a'"  # type: ignore[return-value]


def test_no_scope_is_no_condition() -> None:
    assert scope_condition(None, items) is None


def test_one_scope_is_its_condition() -> None:
    assert scope_condition(TenantScope("a"), items) == (items.c.tenant == "a")


def test_a_list_of_one_scope_is_its_condition() -> None:
    assert scope_condition([TenantScope("a")], items) == (items.c.tenant == "a")


def test_several_scopes_are_ored() -> None:
    assert scope_condition([TenantScope("a"), TenantScope("b")], items) == Or(
        (items.c.tenant == "a", items.c.tenant == "b")
    )


def test_a_tuple_of_scopes_is_accepted() -> None:
    assert scope_condition((TenantScope("a"), TenantScope("b")), items) == scope_condition(
        [TenantScope("a"), TenantScope("b")], items
    )


def test_an_empty_list_of_scopes_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="empty list of scopes"):
        scope_condition([], items)


def test_an_empty_tuple_of_scopes_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery):
        scope_condition((), items)


@pytest.mark.parametrize("scope", [[items.c.tenant == "a"], ["tenant"], [TenantScope("a"), None]])
def test_something_that_is_not_a_scope_is_an_invalid_query(scope: Any) -> None:
    with pytest.raises(InvalidQuery, match="expected a SearchScope"):
        scope_condition(scope, items)


def test_a_scope_whose_to_condition_is_not_a_condition_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="not a condition"):
        scope_condition(NotAConditionScope(), items)


def test_a_scope_on_another_table_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="used with table rk_items"):
        scope_condition(TenantScope("a", table=notes), items)


def test_the_global_scope_is_true() -> None:
    assert scope_condition(GlobalScope(), items) is TRUE


def test_the_global_scope_among_others_is_true() -> None:
    assert scope_condition([TenantScope("a"), GlobalScope()], items) is TRUE


def test_a_search_scope_without_to_condition_cannot_be_built() -> None:
    @dataclass(frozen=True)
    class Incomplete(SearchScope):
        pass

    with pytest.raises(TypeError):
        Incomplete()  # type: ignore[abstract]


def test_scopes_are_frozen_values() -> None:
    scope = TenantScope("a")
    assert scope == TenantScope("a")
    with pytest.raises(FrozenInstanceError):
        scope.tenant = "b"  # type: ignore[misc]
