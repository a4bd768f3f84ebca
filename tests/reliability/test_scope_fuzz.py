"""Scope isolation under fuzzing: the contract's stateful test, more tenants, a larger budget.

The contract suite's state machine
(:class:`repokit.testing.suite.stateful.ScopedOperations`) runs every write
and search in several tenants against a model and, after each step, checks
that both backends hold exactly the model's entities: a scoped write that
touched another tenant's entity fails the run. Here it runs with five
tenants and longer sequences, plus rules that read and count across scopes:
a scoped ``get`` of another tenant's entity must be ``EntityNotFound`` and a
scoped count must count only the scope's entities.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from reliability.sizes import scaled
from repokit import Deleted, EntityNotFound
from repokit.testing import Harness
from repokit.testing.plugin import suite_settings
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import TenantScope, new_tenant
from repokit.testing.strategies import conditions
from repokit.testing.suite.stateful import ScopedOperations, _matches, _visible

TENANTS = 5
STEPS = scaled(40)


class ManyTenantOperations(ScopedOperations):
    """The contract's state machine in more tenants, with cross-scope reads and counts."""

    def __init__(self, runner: SuiteRunner, tenants: int) -> None:
        super().__init__(runner)
        self.tenants = tuple(new_tenant() for _ in range(tenants))
        self.model = {t: {} for t in self.tenants}

    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        key = self._key(data, tenant)  # often another tenant's key
        deleted = data.draw(st.sampled_from(Deleted), label="deleted")
        entity = self.model[tenant].get(key)
        expected: object = EntityNotFound
        if entity is not None and _visible(entity, deleted):
            expected = entity
        self._expect(
            lambda repo: repo.get(key, scope=TenantScope(tenant), deleted=deleted), expected
        )

    @rule(data=st.data())
    def count(self, data: st.DataObject) -> None:
        scoped = data.draw(
            st.lists(st.sampled_from(self.tenants), min_size=1, max_size=3, unique=True),
            label="scopes",
        )
        condition = data.draw(conditions(self._entities(), max_leaves=3), label="condition")
        deleted = data.draw(st.sampled_from(Deleted), label="deleted")
        expected = sum(
            _visible(e, deleted) and _matches(condition, e)
            for tenant in scoped
            for e in self.model[tenant].values()
        )
        self._expect(
            lambda repo: repo.count(
                conditions=condition, scope=[TenantScope(t) for t in scoped], deleted=deleted
            ),
            expected,
        )


@pytest.fixture
def runner(reliability_harness: Harness) -> Iterator[SuiteRunner]:
    with SuiteRunner(reliability_harness) as suite_runner:
        yield suite_runner


def test_no_operation_reads_counts_changes_or_deletes_another_tenants_entity(
    runner: SuiteRunner,
) -> None:
    run_state_machine_as_test(
        lambda: ManyTenantOperations(runner, TENANTS),
        settings=settings(suite_settings(), stateful_step_count=STEPS),
    )
