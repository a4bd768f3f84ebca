"""The contract suite, and what users need to test their own repositories.

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
``repokit[testing]`` extra (pytest, pytest-asyncio, hypothesis) and stays
out of the way without it. Its fixtures for users' own tests
(``with_tables``, ``repokit_postgres_url``, ``repokit_mongodb_url``) are
described in docs/testing.md.

The members below are imported on first use (PEP 562), so importing
``repokit.testing`` or one of its modules (the plugin's entry point does)
needs none of the extras.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from repokit.testing.harness import Harness
    from repokit.testing.plugin import requires, suite_settings
    from repokit.testing.runner import SuiteRunner
    from repokit.testing.with_tables import WithTables

__all__ = ["Harness", "SuiteRunner", "WithTables", "requires", "suite_settings"]

_MODULES = {
    "Harness": "repokit.testing.harness",
    "SuiteRunner": "repokit.testing.runner",
    "WithTables": "repokit.testing.with_tables",
    "requires": "repokit.testing.plugin",
    "suite_settings": "repokit.testing.plugin",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name

    def __getattr__(name: str) -> Any:
        module = _MODULES.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
