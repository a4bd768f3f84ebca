"""What the observability tests know of each backend under test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from repokit import Database

__all__ = ["BACKENDS", "SQL_BACKENDS", "SYSTEMS", "Open"]

BACKENDS = ("memory", "sqlite", "postgres", "mongodb")
SQL_BACKENDS = ("sqlite", "postgres")
#: Each backend's ``db.system.name``.
SYSTEMS = {"memory": "memory", "sqlite": "sqlite", "postgres": "postgresql", "mongodb": "mongodb"}

#: The ``open_db`` fixture: ``await open_db(log_values=True)``.
Open = Callable[..., Awaitable[Database]]
