"""The dialect registry: databases found by name, a new one added by one registration."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from repokit import Database, Repository, UnsupportedOperation
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit_sqlalchemy import SQLAlchemyBackend, dialects, metadata
from repokit_sqlalchemy.dialect import DialectRegistration
from repokit_sqlalchemy.dialects import register_dialect, registered_dialect, registered_dialects
from repokit_sqlalchemy.postgres import PostgresSpelling
from repokit_sqlalchemy.sqlite import REGISTRATION as SQLITE
from repokit_sqlalchemy.sqlite import SQLiteDialect


def test_the_built_in_dialects_are_registered_postgresql_first() -> None:
    assert [entry.name for entry in registered_dialects()] == ["postgresql", "sqlite"]
    assert registered_dialect("sqlite").drivername == "sqlite+aiosqlite"


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered already"):
        register_dialect(SQLITE)


def test_a_registration_and_its_spelling_share_the_name() -> None:
    wrong = dataclasses.replace(SQLITE, name="sqlite2", spelling=PostgresSpelling())
    with pytest.raises(ValueError, match="spelling of dialect 'sqlite2' is named 'postgresql'"):
        register_dialect(wrong)


def test_an_unregistered_name_is_refused_with_the_registered_ones() -> None:
    with pytest.raises(UnsupportedOperation, match="runs on postgresql, sqlite, not 'mysql'"):
        registered_dialect("mysql")
    with pytest.raises(UnsupportedOperation, match="builds SQL tables for postgresql and sqlite"):
        metadata(items, dialect="mysql")


@pytest.mark.asyncio
async def test_unknown_databases_and_drivers_are_refused_before_any_io() -> None:
    # (Database.connect's scheme registry refuses these first; the backend does too.)
    with pytest.raises(UnsupportedOperation, match="does not support mysql"):
        await SQLAlchemyBackend.connect("mysql+aiomysql://localhost/db")
    with pytest.raises(UnsupportedOperation, match="runs PostgreSQL on asyncpg"):
        await SQLAlchemyBackend.connect("postgresql+psycopg://localhost/db")
    with pytest.raises(TypeError, match="busy_timeout applies to SQLite only"):
        await Database.connect("postgresql+asyncpg://localhost/db", busy_timeout=1.0)


class _Tracing(SQLiteDialect):
    """A dialect of its own (SQLite's, recording every statement it runs)."""

    def __init__(self, url: sa.URL, trace: list[str]) -> None:
        super().__init__(url)
        self.trace = trace

    async def fetch(
        self, driver: Any, sql: str, params: Sequence[Any], begin: str | None
    ) -> Sequence[Sequence[Any]]:
        self.trace.append(sql)
        return await super().fetch(driver, sql, params, begin)

    async def execute(self, driver: Any, sql: str, params: Sequence[Any], begin: str | None) -> int:
        self.trace.append(sql)
        return await super().execute(driver, sql, params, begin)


def _open_tracing(url: sa.URL, options: Mapping[str, Any]) -> _Tracing:
    return _Tracing(url, options["trace"])


@pytest.mark.asyncio
async def test_a_registration_is_all_the_backend_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dialect of its own, with a connect option of its own, through Database.connect."""
    tracing = DialectRegistration(
        name="sqlite",
        title="Tracing SQLite",
        driver="aiosqlite",
        module="aiosqlite",
        extra="repokit[sqlite]",
        spelling=SQLITE.spelling,
        open=_open_tracing,
        options=frozenset({"trace"}),
    )
    monkeypatch.setitem(dialects._registered, "sqlite", tracing)
    trace: list[str] = []
    db = await Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}", trace=trace)
    try:
        await db.create_tables(items)
        tenant = new_tenant()
        repo: Repository[Item, ItemId] = Repository(db, items)
        created = await repo.create(Item(ItemId(uuid.uuid4()), tenant, "x"))
        assert await repo.get(created.id, scope=TenantScope(tenant)) == created
    finally:
        await db.close()
    assert any(sql.startswith("INSERT INTO rk_items") for sql in trace)
    assert any(sql.startswith("SELECT") for sql in trace)
    with pytest.raises(TypeError, match="trace applies to Tracing SQLite only"):
        await Database.connect("postgresql+asyncpg://localhost/db", trace=[])
