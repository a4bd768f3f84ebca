"""MongoDB for the tests: SecantusDB in-process, or $REPOKIT_TEST_MONGODB_URL.

``mongodb_url`` is a URL naming a database (``mongodb://host:port/dbname``).
SecantusDB (GPL-2.0) is a test-only dependency: imported by
:func:`benchmarks.servers.mongodb_url`, never by the library. One server
serves the whole test session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks.servers import mongodb_url as _mongodb_server
from benchmarks.servers import with_database

__all__ = ["MONGODB_URL_ENV", "mongodb_url", "with_database"]

#: Set it to run the MongoDB tests against a real server (mongod, Atlas).
MONGODB_URL_ENV = "REPOKIT_TEST_MONGODB_URL"
_DATABASE = "repokit_test"


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """A MongoDB URL with a database; a SecantusDB server unless overridden."""
    with _mongodb_server(env=MONGODB_URL_ENV, database=_DATABASE) as url:
        yield url
