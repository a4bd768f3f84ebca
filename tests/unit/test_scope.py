"""Scopes as conditions (CONTRACT §6): one, several (ORed), explicit None, never an empty list."""

from dataclasses import FrozenInstanceError, dataclass
from typing import Any

import pytest

from repokit.conditions import TRUE, Condition, Or
from repokit.errors import InvalidQuery, InvalidTableDefinition, InvalidValue
from repokit.scope import GlobalScope, Requires, SearchScope, requirements, scope_condition
from repokit.tables import Table
from repokit.testing.schema import CheckedTenantScope, Note, TenantScope, items, notes, tenants
from repokit.utilities import Creator, Querier


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


# -- CONTRACT §24: required scopes and the declarations of checked scopes ------------------


@dataclass(frozen=True)
class Needing(SearchScope):
    """A tenant's items requiring whatever *needs* says."""

    needs: Any

    def to_condition(self) -> Condition:
        return items.c.tenant == "a"

    def requires(self) -> Any:
        return self.needs


def test_no_scope_requires_nothing() -> None:
    assert requirements(None) == ()


def test_a_scope_requires_nothing_by_default() -> None:
    assert requirements(TenantScope("a")) == ()
    assert requirements(GlobalScope()) == ()


def test_a_checked_scope_requires_its_tenant() -> None:
    (need,) = requirements(CheckedTenantScope("a"))
    assert need.table is tenants
    assert need.key == "a"
    assert need.condition == tenants.key_condition("a")


def test_the_targets_of_ored_scopes_are_each_checked_once_in_order() -> None:
    scopes = [CheckedTenantScope("b"), CheckedTenantScope("a"), CheckedTenantScope("b")]
    assert [need.key for need in requirements(scopes)] == ["b", "a"]


def test_a_single_requires_is_accepted_as_the_declaration() -> None:
    assert [need.key for need in requirements(Needing(Requires(tenants, "a")))] == ["a"]


@pytest.mark.parametrize(
    "needs",
    [("tenants", "a"), [Requires("rk_tenants", "a")], [Requires(None, "a")]],  # type: ignore[arg-type]
    ids=["not-requires", "table-name", "no-table"],
)
def test_a_declaration_that_is_not_requires_of_a_table_is_an_invalid_query(needs: Any) -> None:
    with pytest.raises(InvalidQuery, match="Requires"):
        requirements(Needing(needs))


@pytest.mark.parametrize("key", [42, None, b"a"], ids=["int", "none", "bytes"])
def test_a_target_key_its_table_refuses_is_an_invalid_query(key: Any) -> None:
    with pytest.raises(InvalidQuery) as caught:
        requirements(Needing((Requires(tenants, key),)))
    assert "Tenant" in str(caught.value)
    assert repr(key) in str(caught.value)
    assert isinstance(caught.value.__cause__, InvalidValue)


def test_requirements_refuse_an_empty_list_of_scopes() -> None:
    with pytest.raises(InvalidQuery, match="empty list of scopes"):
        requirements([])


def test_a_required_scope_refuses_none_naming_entity_and_operation() -> None:
    querier = Querier(items, scope_required=True)
    with pytest.raises(InvalidQuery) as caught:
        querier.scope(None, "get_many")
    message = str(caught.value)
    assert "get_many" in message
    assert "Item" in message
    assert "GlobalScope()" in message
    assert querier.scope(GlobalScope(), "get_many") == TRUE


def test_a_table_declared_scope_required_binds_every_utility() -> None:
    table = Table(Note, "rk_notes", primary_key="id", scope_required=True)
    assert table.scope_required
    assert Creator(table).scope_required
    assert not Creator(notes).scope_required
    with pytest.raises(InvalidQuery, match="create"):
        Creator(table).scope(None, "create")


def test_scope_required_must_be_a_bool() -> None:
    with pytest.raises(InvalidTableDefinition, match="scope_required"):
        Table(Note, "rk_notes", primary_key="id", scope_required="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scope_required"):
        Creator(notes, scope_required=1)  # type: ignore[arg-type]
