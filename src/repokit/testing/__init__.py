"""The contract suite: every backend, first- or third-party, is judged by it.

A backend adopts the whole suite with one module and one fixture::

    # tests/contract/test_mybackend.py
    import pytest
    from repokit.testing import Harness
    from repokit.testing.suite import *  # noqa: F403

    @pytest.fixture(scope="session")
    def repokit_harness() -> Harness:
        return Harness(url="mydb://localhost/test")

The pytest plugin (:mod:`repokit.testing.plugin`) is registered
automatically through the ``pytest11`` entry point; it needs the
``repokit[testing]`` extra (pytest, pytest-asyncio, hypothesis).
"""

from repokit.testing.harness import Harness
from repokit.testing.plugin import requires, suite_settings
from repokit.testing.runner import SuiteRunner

__all__ = ["Harness", "SuiteRunner", "requires", "suite_settings"]
