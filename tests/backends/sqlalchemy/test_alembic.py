"""Alembic migrations from repokit's metadata, on SQLite and PostgreSQL (docs/migrations.md).

Each test runs Alembic programmatically on a throwaway environment: an
``env.py`` from Alembic's asyncio template pointed at
``repokit_sqlalchemy.metadata`` (with ``render_item``), a versions folder
in a temporary directory, and a database of its own (a fresh SQLite file,
or a fresh database on the session's PostgreSQL server, dropped after the
test). Alembic runs on repokit's async drivers through ``run_sync``: no
synchronous driver is needed. The tests are synchronous because the
``env.py`` runs its own event loop (``asyncio.run``), as it does under the
``alembic`` command.
"""

from __future__ import annotations

import ast
import asyncio
import enum
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import alembic
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from repokit import (
    Database,
    Remedy,
    Repository,
    SchemaAction,
    Table,
    TimestampMarker,
    Unique,
)

from .conftest import Thing, thing_table

#: The env.py of docs/migrations.md, taking its tables and URL from the Config
#: (``config.attributes``) instead of the application's modules and alembic.ini.
ENV_PY = """
import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine

from repokit_sqlalchemy import metadata, render_item

config = context.config
TABLES = config.attributes["tables"]
URL = config.attributes["url"]


def do_run_migrations(connection):
    context.configure(
        connection=connection,
        target_metadata=metadata(*TABLES, dialect=connection.dialect.name),
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations():
    engine = create_async_engine(URL, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


asyncio.run(run_async_migrations())
"""


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Kind(enum.StrEnum):
    NOTE = "note"
    TASK = "task"


@dataclass(frozen=True)
class Entry:
    """Enums, a version, and a slug unique among live entries (a timestamp marker)."""

    id: int
    slug: str
    level: Level
    kind: Kind | None = None
    version: int = 0
    deleted_at: datetime | None = None


def _tables() -> list[Table[Any]]:
    suffix = uuid.uuid4().hex[:8]
    entries = Table(
        Entry,
        f"sa_entries_{suffix}",
        primary_key="id",
        unique=[Unique(("slug",), among_live=True)],
        indexes=[("level", "kind")],
        soft_delete=TimestampMarker("deleted_at"),
        version="version",
        ignore_case=["slug"],
    )
    return [thing_table(f"sa_things_{suffix}"), entries]


async def _create_database(server: str, name: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _drop_database(server: str, name: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of the test's own: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'alembic.db'}"
        return
    server: str = request.getfixturevalue("postgres_url")
    name = f"rk_alembic_{uuid.uuid4().hex[:12]}"
    asyncio.run(_create_database(server, name))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_drop_database(server, name))


@pytest.fixture
def tables() -> list[Table[Any]]:
    return _tables()


@pytest.fixture
def config(tmp_path: Path, url: str, tables: list[Table[Any]]) -> Config:
    """An Alembic environment in a temporary folder, on *url*, for *tables*."""
    location = tmp_path / "migrations"
    (location / "versions").mkdir(parents=True)
    template = Path(alembic.__file__).parent / "templates" / "async" / "script.py.mako"
    shutil.copy(template, location / "script.py.mako")
    (location / "env.py").write_text(ENV_PY)
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["tables"] = tables
    cfg.attributes["url"] = url
    return cfg


def _revision(cfg: Config, message: str) -> Path:
    script = command.revision(cfg, message=message, autogenerate=True)
    assert script is not None
    assert not isinstance(script, list)
    return Path(script.path)


def _upgrade_body(path: Path) -> list[ast.stmt]:
    """The statements of a migration's ``upgrade()``, its docstring left out."""
    tree = ast.parse(path.read_text())
    [upgrade] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
    body = upgrade.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return body


def _schema_changes(url: str, tables: list[Table[Any]]) -> list[Any]:
    async def look() -> list[Any]:
        async with Database.connect(url) as db:
            return await db.schema_changes(*tables)

    return asyncio.run(look())


def _round_trip(url: str, things: Table[Thing]) -> Thing:
    async def write_and_read() -> Thing:
        async with Database.connect(url) as db:
            repo: Repository[Thing, uuid.UUID] = Repository(db, things)
            thing = Thing(
                uuid.uuid4(),
                "acme",
                "Name",
                ratio=0.5,
                price=Decimal("12.3400"),
                flag=True,
                at=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
                day=date(2024, 5, 6),
                ref=uuid.uuid4(),
                data={"a": [1, 2.5]},
            )
            await repo.create(thing)
            assert await repo.get(thing.id) == thing
            return thing

    return asyncio.run(write_and_read())


def test_autogenerate_upgrade_autogenerate_again_downgrade(
    config: Config, url: str, tables: list[Table[Any]]
) -> None:
    first = _revision(config, "create tables")
    text = first.read_text()
    # Plain SQLAlchemy types: the migration imports nothing from repokit.
    assert "repokit" not in text
    assert "op.create_table" in text
    compile(text, str(first), "exec")

    command.upgrade(config, "head")
    # What the migration made is what create_tables would have made.
    assert _schema_changes(url, tables) == []
    _round_trip(url, tables[0])

    second = _revision(config, "nothing")
    assert [type(stmt) for stmt in _upgrade_body(second)] == [ast.Pass], second.read_text()

    command.downgrade(config, "base")
    assert {(c.action, c.remedy) for c in _schema_changes(url, tables)} == {
        (SchemaAction.CREATE_TABLE, Remedy.CREATE)
    }


def test_autogenerate_on_tables_create_tables_made_is_empty(
    config: Config, url: str, tables: list[Table[Any]]
) -> None:
    async def create() -> None:
        async with Database.connect(url) as db:
            await db.create_tables(*tables)

    asyncio.run(create())
    revision = _revision(config, "nothing")
    assert [type(stmt) for stmt in _upgrade_body(revision)] == [ast.Pass], revision.read_text()


@pytest.mark.parametrize("url", ["sqlite"], indirect=True)
def test_sqlite_batch_mode_keeps_strict_and_the_named_checks(
    url: str, tables: list[Table[Any]]
) -> None:
    # SQLite alters a table by copying it (Alembic's batch mode), which drops unnamed
    # CHECKs with a warning (an error here): repokit names its CHECKs.
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    things = tables[0]

    async def create() -> None:
        async with Database.connect(url) as db:
            await db.create_tables(things)

    asyncio.run(create())
    engine = sa.create_engine(url.replace("+aiosqlite", ""))
    try:
        with engine.begin() as connection:
            operations = Operations(MigrationContext.configure(connection))
            with operations.batch_alter_table(things.name, recreate="always") as batch:
                batch.add_column(sa.Column("extra", sa.Text(), nullable=True))
            ddl = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": things.name}
            ).scalar_one()
    finally:
        engine.dispose()
    assert ddl.rstrip().endswith("STRICT")
    for check in ("flag_bool", "name_length", "id_uuid", "ref_uuid"):
        assert f"ck_{things.name}_{check}" in ddl
