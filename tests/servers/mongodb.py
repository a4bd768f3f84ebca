"""MongoDB for the tests: SecantusDB in-process, or $REPOKIT_TEST_MONGODB_URL.

``mongodb_url`` is a URL naming a database (``mongodb://host:port/dbname``):
the plugin's ``repokit_mongodb_url`` (:mod:`repokit.testing.servers`), the
fixture users get for their own tests. SecantusDB (GPL-2.0) is a test-only
dependency, imported when the server starts, never by the library. One
server serves the whole test session.
"""

from __future__ import annotations

import pytest

from repokit.testing.servers import MONGODB_URL_ENV, with_database

__all__ = ["MONGODB_URL_ENV", "mongodb_url", "with_database"]


@pytest.fixture(scope="session")
def mongodb_url(repokit_mongodb_url: str) -> str:
    """A MongoDB URL with a database; a SecantusDB server unless overridden."""
    return repokit_mongodb_url
