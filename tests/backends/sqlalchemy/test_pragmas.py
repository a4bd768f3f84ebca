"""SQLite pragmas from the URL or ``sqlite_pragmas=``: defaults, read-back, validation.

Each pragma is read back with ``PRAGMA <name>`` on connections of the
backend's own engine (several at once: the per-connection ones are set on
every connection the pool opens).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from repokit import BackendUnavailable, Database, InvalidQuery, Repository
from repokit.testing.schema import Item, ItemId, items, new_tenant
from repokit_sqlalchemy import SQLAlchemyBackend
from repokit_sqlalchemy.sqlite import SQLiteDialect

#: SQLite's numbers for synchronous.
OFF, NORMAL, FULL, EXTRA = 0, 1, 2, 3


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest.fixture
def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def read(db: Database, *names: str, connections: int = 2) -> list[dict[str, Any]]:
    """Each pragma of *names* on *connections* connections of the engine, open together."""
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    opened = [await backend.engine.connect() for _ in range(connections)]
    try:
        found = []
        for connection in opened:
            values = {}
            for name in names:
                result = await connection.exec_driver_sql(f"PRAGMA {name}")
                value = result.scalar()
                values[name] = value.lower() if isinstance(value, str) else value
            found.append(values)
        return found
    finally:
        for connection in opened:
            await connection.close()


async def read_one(db: Database, name: str) -> Any:
    values = await read(db, name)
    assert len({repr(v) for v in values}) == 1, values  # the same on every connection
    return values[0][name]


# -- defaults ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_defaults_are_wal_thirty_seconds_full_and_foreign_keys(url: str) -> None:
    async with Database.connect(url) as db:
        assert (
            await read(db, "journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            == [
                {
                    "journal_mode": "wal",
                    "busy_timeout": 30_000,
                    "synchronous": FULL,
                    "foreign_keys": 1,
                }
            ]
            * 2
        )


@pytest.mark.asyncio
async def test_the_busy_timeout_option_is_in_seconds(url: str) -> None:
    async with Database.connect(url, busy_timeout=2.5) as db:
        assert await read_one(db, "busy_timeout") == 2_500


# -- the URL -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_url_sets_every_pragma(url: str) -> None:
    query = "?synchronous=NORMAL&journal_mode=WAL&busy_timeout=5000&foreign_keys=on"
    async with Database.connect(url + query) as db:
        assert (
            await read(db, "journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            == [
                {
                    "journal_mode": "wal",
                    "busy_timeout": 5_000,
                    "synchronous": NORMAL,
                    "foreign_keys": 1,
                }
            ]
            * 2
        )


@pytest.mark.asyncio
async def test_the_pragmas_are_taken_out_of_the_url_before_the_driver_sees_it(url: str) -> None:
    # SQLAlchemy warns about (and drops) a query parameter the driver does not take;
    # pytest turns that warning into an error.
    async with Database.connect(url + "?synchronous=off&foreign_keys=1") as db:
        backend = db.backend
        assert isinstance(backend, SQLAlchemyBackend)
        assert dict(backend.engine.url.query) == {}
        assert await read_one(db, "synchronous") == OFF


@pytest.mark.asyncio
async def test_the_url_keeps_the_drivers_own_parameters(url: str) -> None:
    async with Database.connect(url + "?timeout=7&synchronous=EXTRA") as db:
        backend = db.backend
        assert isinstance(backend, SQLAlchemyBackend)
        assert dict(backend.engine.url.query) == {"timeout": "7"}
        assert await read_one(db, "synchronous") == EXTRA


@pytest.mark.asyncio
async def test_a_busy_timeout_pragma_also_bounds_a_writers_wait_for_its_turn(url: str) -> None:
    async with Database.connect(url + "?busy_timeout=1500") as db:
        backend = db.backend
        assert isinstance(backend, SQLAlchemyBackend)
        assert isinstance(backend.dialect, SQLiteDialect)
        assert backend.dialect.busy_timeout == 1.5


# -- sqlite_pragmas= ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_option_sets_every_pragma(url: str) -> None:
    pragmas = {"journal_mode": "wal", "synchronous": 1, "busy_timeout": 250, "foreign_keys": True}
    async with Database.connect(url, sqlite_pragmas=pragmas) as db:
        assert (
            await read(db, "journal_mode", "busy_timeout", "synchronous", "foreign_keys")
            == [
                {
                    "journal_mode": "wal",
                    "busy_timeout": 250,
                    "synchronous": NORMAL,
                    "foreign_keys": 1,
                }
            ]
            * 2
        )


@pytest.mark.asyncio
async def test_the_url_and_the_option_combine(url: str) -> None:
    options = {"foreign_keys": "on", "synchronous": "normal"}
    async with Database.connect(url + "?synchronous=NORMAL", sqlite_pragmas=options) as db:
        assert await read_one(db, "foreign_keys") == 1
        assert await read_one(db, "synchronous") == NORMAL


@pytest.mark.asyncio
async def test_a_borrowed_engine_takes_the_option(url: str) -> None:
    engine: AsyncEngine = create_async_engine(url)
    try:
        backend = SQLAlchemyBackend.from_engine(
            engine, sqlite_pragmas={"synchronous": "OFF", "foreign_keys": "yes"}
        )
        async with Database(backend) as db:
            assert await read_one(db, "synchronous") == OFF
            assert await read_one(db, "foreign_keys") == 1
    finally:
        await engine.dispose()


# -- journal modes -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_rollback_journal_is_set_once_for_the_file(url: str, path: Path) -> None:
    async with Database.connect(url + "?journal_mode=DELETE") as db:
        assert await read_one(db, "journal_mode") == "delete"
    async with Database.connect(url) as db:  # the default turns it back to WAL
        assert await read_one(db, "journal_mode") == "wal"


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["TRUNCATE", "PERSIST"])
async def test_a_per_connection_journal_mode_holds_on_every_connection(url: str, mode: str) -> None:
    async with Database.connect(url, sqlite_pragmas={"journal_mode": mode}) as db:
        assert await read_one(db, "journal_mode") == mode.lower()


@pytest.mark.asyncio
async def test_a_rollback_journal_still_runs_repositories(url: str) -> None:
    async with Database.connect(url + "?journal_mode=TRUNCATE&synchronous=NORMAL") as db:
        await db.create_tables(items)
        repo: Repository[Item, ItemId] = Repository(db, items)
        tenant = new_tenant()
        created = await asyncio.gather(
            *(repo.create(Item(ItemId(uuid.uuid4()), tenant, f"n{i}")) for i in range(5))
        )
        assert await repo.count() == len(created)


@pytest.mark.asyncio
async def test_an_in_memory_database_ignores_the_journal_mode() -> None:
    url = "sqlite+aiosqlite://?journal_mode=DELETE&synchronous=OFF"
    async with Database.connect(url) as db:
        values = await read(db, "journal_mode", "synchronous", connections=1)
        assert values == [{"journal_mode": "memory", "synchronous": OFF}]


# -- validation --------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("synchronous=SOMETIMES", "synchronous"),
        ("synchronous=4", "synchronous"),
        ("busy_timeout=-1", "busy_timeout"),
        ("busy_timeout=1.5", "busy_timeout"),
        ("busy_timeout=99999999999", "busy_timeout"),
        ("foreign_keys=maybe", "foreign_keys"),
        ("journal_mode=WALL", "journal_mode"),
        ("journal_mode=OFF", "ROLLBACK cannot undo"),
        ("journal_mode=memory", "corrupt"),
        ("synchronus=NORMAL", "synchronus"),
        ("busy_timeout=1&busy_timeout=2", "busy_timeout"),
    ],
)
async def test_a_bad_url_pragma_is_refused_naming_it(url: str, query: str, named: str) -> None:
    with pytest.raises(InvalidQuery, match=named):
        await Database.connect(f"{url}?{query}")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("pragmas", "named"),
    [
        ({"cache_size": 1000}, "unknown SQLite pragma 'cache_size'"),
        ({"synchronous": True}, "synchronous"),
        ({"busy_timeout": "5s"}, "busy_timeout"),
        ({"busy_timeout": 5.0}, "busy_timeout"),
        ({"foreign_keys": 2}, "foreign_keys"),
        ({"journal_mode": 1}, "journal_mode"),
    ],
)
async def test_a_bad_pragma_option_is_refused_naming_it(
    url: str, pragmas: dict[str, Any], named: str
) -> None:
    with pytest.raises(InvalidQuery, match=named):
        await Database.connect(url, sqlite_pragmas=pragmas)


@pytest.mark.asyncio
async def test_a_pragma_given_two_values_is_refused(url: str) -> None:
    with pytest.raises(InvalidQuery, match="synchronous is given twice"):
        await Database.connect(url + "?synchronous=FULL", sqlite_pragmas={"synchronous": "OFF"})


@pytest.mark.asyncio
async def test_busy_timeout_as_option_and_pragma_is_refused(url: str) -> None:
    with pytest.raises(InvalidQuery, match="busy_timeout is given twice"):
        await Database.connect(url + "?busy_timeout=100", busy_timeout=1)


@pytest.mark.asyncio
async def test_sqlite_pragmas_on_postgresql_is_a_type_error() -> None:
    # Refused before any connection is attempted: no server is needed.
    with pytest.raises(TypeError, match="SQLite only"):
        await Database.connect(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none", sqlite_pragmas={"synchronous": 1}
        )


@pytest.mark.asyncio
async def test_sqlite_uri_parameters_pass_with_uri_true(path: Path) -> None:
    url = f"sqlite+aiosqlite:///file:{path}?uri=true&mode=rwc&synchronous=NORMAL"
    async with Database.connect(url) as db:
        assert await read_one(db, "synchronous") == NORMAL


@pytest.fixture
def wal_file_held_open(path: Path) -> Iterator[sqlite3.Connection]:
    """The file in WAL mode, with another connection open on it (a second process, say)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE other (x INTEGER)")
    try:
        yield connection
    finally:
        connection.close()


@pytest.mark.asyncio
@pytest.mark.usefixtures("wal_file_held_open")
async def test_a_journal_mode_that_cannot_be_set_fails_the_connect_naming_it(url: str) -> None:
    with pytest.raises(BackendUnavailable, match="cannot set journal_mode=DELETE"):
        await Database.connect(url + "?journal_mode=DELETE&busy_timeout=50")
