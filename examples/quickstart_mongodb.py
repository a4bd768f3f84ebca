"""Run the quickstart on MongoDB's wire protocol, with the bundled test server.

SecantusDB (a dev dependency; GPL-2.0, used only for tests and this demo,
never imported by repokit) serves MongoDB's wire protocol in-process::

    uv run python examples/quickstart_mongodb.py

With a real server, run the quickstart itself instead::

    REPOKIT_DATABASE_URL=mongodb://127.0.0.1:27017/quickstart uv run python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile

from quickstart import main
from secantus import SecantusDBServer


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="repokit-secantus-") as data:
        server = SecantusDBServer(storage_path=data)
        server.start()
        try:
            asyncio.run(main(f"{server.uri.rstrip('/')}/quickstart"))
        finally:
            # Shut the listening socket first, or stop() waits 2 s for the accept thread.
            if server._socket is not None:
                with contextlib.suppress(OSError):
                    server._socket.shutdown(socket.SHUT_RDWR)
            server.stop()


if __name__ == "__main__":
    run()
