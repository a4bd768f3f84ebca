"""The whole contract suite on the MongoDB backend (SecantusDB or $REPOKIT_TEST_MONGODB_URL)."""

import pytest

from repokit.testing import Harness
from repokit.testing.suite import *


@pytest.fixture(scope="session")
def repokit_harness(mongodb_url: str) -> Harness:
    return Harness(url=mongodb_url)
