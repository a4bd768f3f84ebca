"""The SQL dialects the backend runs on, registered by name.

A dialect is found by SQLAlchemy's dialect name, the backend name of a URL
(``postgresql`` in ``postgresql+asyncpg://…``). Its :class:`DialectRegistration`
says which async driver repokit runs it on, how to make its
:class:`~repokit_sqlalchemy.dialect.SQLDialect` for a URL, the connect options
it takes, and its :class:`~repokit_sqlalchemy.dialect.SQLSpelling` — which
:mod:`repokit_sqlalchemy.schema` uses to define tables for it without a
connection (Alembic). Nothing else in the backend names a database.

Adding a database is one new module (its spelling and its dialect) and one
:func:`register_dialect` call; CONTRIBUTING lists what the module writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from repokit.errors import UnsupportedOperation
from repokit_sqlalchemy.dialect import DialectRegistration, SQLDialect

__all__ = [
    "DialectRegistration",
    "dialect_for",
    "dialect_options",
    "register_dialect",
    "registered_dialect",
    "registered_dialects",
    "registration_for",
    "resolve_url",
]


_registered: dict[str, DialectRegistration] = {}


def register_dialect(registration: DialectRegistration) -> None:
    """Make a dialect available by its name.

    Raises:
        ValueError: a dialect of that name is registered already.
    """
    if registration.name in _registered:
        raise ValueError(f"a SQL dialect named {registration.name!r} is registered already")
    if registration.spelling.name != registration.name:
        raise ValueError(
            f"the spelling of dialect {registration.name!r} is named {registration.spelling.name!r}"
        )
    _registered[registration.name] = registration


def registered_dialects() -> tuple[DialectRegistration, ...]:
    """Every registered dialect, in registration order (the first one is the default)."""
    return tuple(_registered.values())


def registered_dialect(name: str) -> DialectRegistration:
    """The dialect registered as *name*.

    Raises:
        UnsupportedOperation: no dialect of that name (the message lists them).
    """
    found = _registered.get(name)
    if found is None:
        known = ", ".join(sorted(_registered))
        raise UnsupportedOperation(
            f"the SQLAlchemy backend runs on {known}, not {name!r} (repokit_sqlalchemy.dialects)"
        )
    return found


def dialect_options() -> frozenset[str]:
    """The connect options some registered dialect takes."""
    return frozenset().union(*(entry.options for entry in _registered.values()))


def resolve_url(url: sa.URL) -> sa.URL:
    """*url* with a bare scheme (``postgresql://``) given the driver repokit runs it on."""
    if "+" in url.drivername:
        return url
    entry = _registered.get(url.drivername)
    return url if entry is None else url.set(drivername=entry.drivername)


def registration_for(url: sa.URL) -> DialectRegistration:
    """The dialect registered for *url*'s database, checked to run on *url*'s driver.

    Raises:
        UnsupportedOperation: a database no dialect is registered for, or a
            driver repokit does not run it on (the message names the one it does).
    """
    entry = _registered.get(url.get_backend_name())
    if entry is None:
        raise UnsupportedOperation(f"the SQLAlchemy backend does not support {url.drivername}://")
    if url.get_driver_name() != entry.driver:
        raise UnsupportedOperation(
            f"{url.drivername}: repokit runs {entry.title} on {entry.driver}; "
            f"use {entry.drivername}://"
        )
    return entry


def dialect_for(url: sa.URL, options: Mapping[str, Any]) -> SQLDialect:
    """The dialect of one backend on *url*, given the dialect *options* the caller passed.

    Raises:
        UnsupportedOperation: as :func:`registration_for`.
        TypeError: an option of another dialect.
    """
    entry = registration_for(url)
    for option in options:
        if option not in entry.options:
            takers = [e.title for e in _registered.values() if option in e.options]
            raise TypeError(f"{option} applies to {' and '.join(takers) or 'no dialect'} only")
    return entry.open(url, options)


def _register_builtins() -> None:
    from repokit_sqlalchemy import postgres, sqlite

    register_dialect(postgres.REGISTRATION)
    register_dialect(sqlite.REGISTRATION)


_register_builtins()
