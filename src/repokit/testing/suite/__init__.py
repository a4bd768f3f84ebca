"""Every contract test, for ``from repokit.testing.suite import *``.

Each module covers one section of the contract (``docs/contract.md`` in the
source repository, cited as "CONTRACT §n") and lists its test classes in
``__all__``; they are collected in the importing module, which defines the
``repokit_harness`` fixture. Suite tests are never overridden: declare an
expected failure in the harness instead.
"""

from repokit.testing.suite import (
    batches,
    bulk,
    cancellation,
    checked_scopes,
    composite,
    cursors,
    limits,
    maintained,
    missing_tables,
    nulls,
    ordering,
    pagination,
    predicates,
    properties,
    reads,
    references,
    references_stateful,
    scoping,
    semijoins,
    smoke,
    soft_delete,
    stateful,
    text,
    transactions,
    uniqueness,
    updates,
    upserts,
    values,
)
from repokit.testing.suite.batches import *  # noqa: F403
from repokit.testing.suite.bulk import *  # noqa: F403
from repokit.testing.suite.cancellation import *  # noqa: F403
from repokit.testing.suite.checked_scopes import *  # noqa: F403
from repokit.testing.suite.composite import *  # noqa: F403
from repokit.testing.suite.cursors import *  # noqa: F403
from repokit.testing.suite.limits import *  # noqa: F403
from repokit.testing.suite.maintained import *  # noqa: F403
from repokit.testing.suite.missing_tables import *  # noqa: F403
from repokit.testing.suite.nulls import *  # noqa: F403
from repokit.testing.suite.ordering import *  # noqa: F403
from repokit.testing.suite.pagination import *  # noqa: F403
from repokit.testing.suite.predicates import *  # noqa: F403
from repokit.testing.suite.properties import *  # noqa: F403
from repokit.testing.suite.reads import *  # noqa: F403
from repokit.testing.suite.references import *  # noqa: F403
from repokit.testing.suite.references_stateful import *  # noqa: F403
from repokit.testing.suite.scoping import *  # noqa: F403
from repokit.testing.suite.semijoins import *  # noqa: F403
from repokit.testing.suite.smoke import *  # noqa: F403
from repokit.testing.suite.soft_delete import *  # noqa: F403
from repokit.testing.suite.stateful import *  # noqa: F403
from repokit.testing.suite.text import *  # noqa: F403
from repokit.testing.suite.transactions import *  # noqa: F403
from repokit.testing.suite.uniqueness import *  # noqa: F403
from repokit.testing.suite.updates import *  # noqa: F403
from repokit.testing.suite.upserts import *  # noqa: F403
from repokit.testing.suite.values import *  # noqa: F403

_MODULES = (
    smoke,
    values,
    nulls,
    predicates,
    text,
    ordering,
    scoping,
    semijoins,
    soft_delete,
    uniqueness,
    transactions,
    batches,
    bulk,
    updates,
    pagination,
    cursors,
    properties,
    stateful,
    missing_tables,
    cancellation,
    limits,
    reads,
    upserts,
    maintained,
    checked_scopes,
    composite,
    references,
    references_stateful,
)

__all__ = [name for module in _MODULES for name in module.__all__]
