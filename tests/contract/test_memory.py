"""The whole contract suite on the reference backend (memory://)."""

import pytest

from repokit.testing import Harness
from repokit.testing.suite import *


@pytest.fixture(scope="session")
def repokit_harness() -> Harness:
    return Harness(url="memory://")
