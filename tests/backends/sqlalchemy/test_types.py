"""Type mapping (CONTRACT §1): what each value kind becomes in PostgreSQL and SQLite columns."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from repokit import Database, Repository, Table
from repokit_sqlalchemy import SQLAlchemyBackend


def _engine(db: Database) -> Any:
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    return backend.engine


async def _raw(db: Database, sql: str, **params: Any) -> list[Any]:
    async with _engine(db).connect() as connection:
        result = await connection.execute(sa.text(sql), params)
        return list(result.all())


EXTREMES: dict[str, Any] = {
    "count": 2**63 - 1,
    "ratio": 5e-324,
    "price": Decimal("-99999999999999.9999"),
    "flag": False,
    "at": datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
    "day": date(1, 1, 1),
    "ref": uuid.UUID(int=2**128 - 1),
    "data": {"float": 1e16, "huge": 1.7976931348623157e308, "int": -(2**63), "text": "é\u2028"},
}


@pytest.mark.asyncio
@pytest.mark.parametrize("field", sorted(EXTREMES))
async def test_extreme_values_come_back_equal_and_of_the_same_type(
    db: Database, things: Table[Any], new_thing: Callable[..., Any], field: str
) -> None:
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    thing = new_thing(**{field: EXTREMES[field]})
    await repo.create(thing)
    stored = await repo.get(thing.id)
    assert getattr(stored, field) == EXTREMES[field]
    assert type(getattr(stored, field)) is type(EXTREMES[field])
    if field == "data":
        assert {k: type(v) for k, v in stored.data.items()} == {
            k: type(v) for k, v in EXTREMES["data"].items()
        }


@pytest.mark.asyncio
async def test_the_smallest_instant_comes_back_aware(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    smallest = datetime(1, 1, 1, tzinfo=UTC)
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing(at=smallest))
    assert (await repo.get(thing.id)).at == smallest
    assert (await repo.get(thing.id)).at.tzinfo is not None


@pytest.mark.asyncio
async def test_json_null_is_stored_as_sql_null(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    thing = await repo.create(new_thing(data=None))
    rows = await _raw(db, f"SELECT count(*) FROM {things.name} WHERE data IS NULL")
    assert rows == [(1,)]
    assert (await repo.get(thing.id)).data is None


@pytest.mark.asyncio
@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
async def test_sqlite_stores_every_kind_in_an_ordered_lossless_form(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    thing = await repo.create(
        new_thing(
            name="Straße",
            ratio=0.5,
            price=Decimal("12.3400"),
            flag=True,
            at=datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
            day=date(2024, 2, 29),
            ref=uuid.UUID(int=255),
            data={"a": [1, None]},
        )
    )
    rows = await _raw(
        db,
        "SELECT typeof(price), price, typeof(flag), flag, typeof(at), at, typeof(day), day, "
        f"typeof(ref), ref, data, typeof(ratio), name__casefold FROM {things.name} WHERE id = :id",
        id=thing.id.hex,
    )
    assert rows == [
        (
            "integer", 123400,
            "integer", 1,
            "integer", 1500,
            "text", "2024-02-29",
            "text", "0" * 30 + "ff",
            '{"a":[1,null]}',
            "real",
            "strasse",
        )
    ]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
async def test_sqlite_tables_are_strict(db: Database, things: Table[Any], sql_url: str) -> None:
    path = sql_url.split(":///", 1)[1]
    # (closing(): a sqlite3 connection as a context manager ends a transaction, not itself.)
    with contextlib.closing(sqlite3.connect(path)) as raw:
        (ddl,) = raw.execute(
            "SELECT sql FROM sqlite_master WHERE name = ?", (things.name,)
        ).fetchone()
        assert ddl.rstrip().endswith("STRICT")
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute(
                f"INSERT INTO {things.name} (id, tenant, name, name__casefold, count, status) "
                "VALUES (?, 't', 'n', 'n', 'many', 'live')",
                (uuid.uuid4().hex,),
            )


@pytest.mark.asyncio
@pytest.mark.parametrize("sql_url", ["postgres"], indirect=True)
async def test_postgres_columns_have_the_contract_types(db: Database, things: Table[Any]) -> None:
    rows = await _raw(
        db,
        "SELECT column_name, data_type, collation_name, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_name = :table",
        table=things.name,
    )
    columns = {name: rest for name, *rest in rows}
    assert columns["name"] == ["character varying", "C", None, None]
    assert columns["name__casefold"] == ["text", "C", None, None]
    assert columns["count"][0] == "bigint"
    assert columns["ratio"][0] == "double precision"
    assert columns["price"] == ["numeric", None, 18, 4]
    assert columns["flag"][0] == "boolean"
    assert columns["at"][0] == "timestamp with time zone"
    assert columns["day"][0] == "date"
    assert columns["ref"][0] == "uuid"
    assert columns["data"][0] == "json"


@pytest.mark.asyncio
async def test_a_unique_key_among_live_entities_is_a_partial_unique_index(
    db: Database, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo: Repository[Any, uuid.UUID] = Repository(db, things)
    first = await repo.create(new_thing(name="same"))
    await repo.delete(first.id)
    second = await repo.create(new_thing(name="same"))
    assert (await repo.get(second.id)).name == "same"
