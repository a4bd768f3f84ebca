"""repokit's SQL backend: PostgreSQL (asyncpg) and SQLite (aiosqlite) on SQLAlchemy 2 Core.

Registered for the URL schemes ``postgresql``, ``postgresql+asyncpg``,
``sqlite`` and ``sqlite+aiosqlite``::

    db = await Database.connect("sqlite+aiosqlite:///app.db")
    db = Database(SQLAlchemyBackend.from_engine(engine))  # an AsyncEngine you own

:func:`metadata` gives repokit tables as a SQLAlchemy ``MetaData`` for one
database, Alembic's ``target_metadata``, and :func:`render_item` is the hook
that writes their column types into migrations (see
:mod:`repokit_sqlalchemy.schema` and ``docs/migrations.md``).
"""

from repokit_sqlalchemy.backend import SQLAlchemyBackend
from repokit_sqlalchemy.schema import define_table, define_tables, metadata, render_item

__all__ = ["SQLAlchemyBackend", "define_table", "define_tables", "metadata", "render_item"]
