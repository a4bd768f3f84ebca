"""The whole contract suite on SQLite (aiosqlite), in a temporary database file."""

import pytest

from repokit.testing import Harness
from repokit.testing.suite import *


@pytest.fixture(scope="session")
def repokit_harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    path = tmp_path_factory.mktemp("sqlite") / "contract.db"
    return Harness(url=f"sqlite+aiosqlite:///{path}")
