"""repokit's SQL backend: PostgreSQL (asyncpg) and SQLite (aiosqlite) on SQLAlchemy 2 Core.

Registered for the URL schemes ``postgresql``, ``postgresql+asyncpg``,
``sqlite`` and ``sqlite+aiosqlite``::

    db = await Database.connect("sqlite+aiosqlite:///app.db")
    db = Database(SQLAlchemyBackend.from_engine(engine))  # an AsyncEngine you own

:func:`define_tables` puts repokit tables on a SQLAlchemy ``MetaData`` for
Alembic (see :mod:`repokit_sqlalchemy.schema`).
"""

from repokit_sqlalchemy.backend import SQLAlchemyBackend
from repokit_sqlalchemy.schema import define_table, define_tables

__all__ = ["SQLAlchemyBackend", "define_table", "define_tables"]
