"""MongoDB for the tests: SecantusDB in-process, or $REPOKIT_TEST_MONGODB_URL.

``mongodb_url`` is a URL naming a database (``mongodb://host:port/dbname``).
SecantusDB (GPL-2.0) is a test-only dependency: imported here, never by the
library. One server serves the whole test session.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["MONGODB_URL_ENV", "mongodb_url"]

#: Set it to run the MongoDB tests against a real server (mongod, Atlas).
MONGODB_URL_ENV = "REPOKIT_TEST_MONGODB_URL"
_DATABASE = "repokit_test"


def with_database(url: str, database: str = _DATABASE) -> str:
    """*url* with a database in its path, unless it names one already."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def mongodb_url() -> Iterator[str]:
    """A MongoDB URL with a database; a SecantusDB server unless overridden."""
    override = os.environ.get(MONGODB_URL_ENV)
    if override:
        yield with_database(override)
        return
    from secantus import SecantusDBServer

    with tempfile.TemporaryDirectory(prefix="repokit-secantus-") as data:
        server = SecantusDBServer(storage_path=data)
        server.start()
        try:
            yield with_database(server.uri)
        finally:
            # Unblocks the accept thread; without it stop() waits 2 s for it.
            listener = server._socket
            if listener is not None:
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)
            server.stop()
