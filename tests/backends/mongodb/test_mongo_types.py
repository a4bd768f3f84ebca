"""Type mapping (CONTRACT §1–2): what the MongoDB backend stores, and what it reads back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import Binary, Decimal128, Int64

from repokit import Database, Repository, Table
from repokit_mongodb.codec import CODEC_OPTIONS

from .conftest import Mood, Size, Thing


def _repo(db: Database, things: Table[Thing]) -> Repository[Thing, uuid.UUID]:
    return Repository(db, things)


async def _stored(raw: Any, things: Table[Thing], key: uuid.UUID) -> dict[str, Any]:
    document: dict[str, Any] = await raw.get_collection(things.name).find_one({"_id": key})
    return document


@pytest.mark.asyncio
async def test_every_kind_is_stored_as_its_bson_type(
    db: Database, raw: Any, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    thing = new_thing(
        count=7,
        ratio=1.5,
        price=Decimal("12.3400"),
        flag=True,
        at=datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC),
        day=date(2024, 2, 29),
        ref=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        data={"k": [1, "two", None]},
        size=Size.LARGE,
    )
    await _repo(db, things).create(thing)
    stored = await _stored(raw, things, thing.id)
    assert "id" not in stored
    assert isinstance(stored["count"], Int64)
    assert isinstance(stored["price"], Decimal128)
    assert stored["day"] == "2024-02-29"
    assert stored["at"] == datetime(2024, 5, 6, 7, 8, 9, 123000)
    assert stored["size"] == 2
    assert isinstance(stored["size"], Int64)
    assert stored["mood"] == "calm"
    assert stored["data"] == {"k": [1, "two", None]}
    raw_ref = await raw.get_collection(
        things.name, codec_options=CODEC_OPTIONS.with_options(uuid_representation=0)
    ).find_one({"_id": Binary.from_uuid(thing.id)})
    assert raw_ref["ref"] == Binary(thing.ref.bytes, 4)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_every_kind_reads_back_equal_and_of_its_python_type(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    thing = new_thing(
        count=2**62,
        ratio=-0.25,
        price=Decimal("-99999999999999.9999"),
        flag=False,
        at=datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
        day=date(1, 1, 1),
        ref=uuid.uuid4(),
        data={"nested": {"n": 2**40, "f": 0.5, "b": True}},
        size=Size.SMALL,
    )
    repo = _repo(db, things)
    await repo.create(thing)
    read = await repo.get(thing.id)
    assert read == thing
    assert type(read.count) is int
    assert type(read.data["nested"]["n"]) is int  # type: ignore[index]
    assert read.size is Size.SMALL
    assert read.mood is Mood.CALM


@pytest.mark.asyncio
async def test_decimals_come_back_quantised_to_the_declared_scale(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    thing = await _repo(db, things).create(new_thing(price=Decimal("5")))
    read = await _repo(db, things).get(thing.id)
    assert read.price is not None
    assert str(read.price) == "5.0000"


@pytest.mark.asyncio
async def test_datetimes_come_back_aware_in_utc(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    local = datetime(2030, 1, 2, 3, 4, 5, 678999, tzinfo=timezone(timedelta(hours=5)))
    thing = await _repo(db, things).create(new_thing(at=local))
    read = await _repo(db, things).get(thing.id)
    assert read.at is not None
    assert read.at.utcoffset() == timedelta(0)
    assert read.at == datetime(2030, 1, 1, 22, 4, 5, 678000, tzinfo=UTC)


@pytest.mark.asyncio
async def test_none_is_written_as_null(
    db: Database, raw: Any, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    thing = await _repo(db, things).create(new_thing())
    stored = await _stored(raw, things, thing.id)
    assert "code" in stored
    assert stored["code"] is None


@pytest.mark.asyncio
async def test_a_missing_field_reads_as_none(db: Database, raw: Any, things: Table[Thing]) -> None:
    key = uuid.uuid4()
    minimal = {"_id": key, "tenant": "acme", "name": "bare", things.shadows["name"]: "bare"}
    await raw.get_collection(things.name).insert_one({**minimal, "count": Int64(0), "mood": "calm"})
    read = await _repo(db, things).get(key)
    assert read == Thing(key, "acme", "bare")
    assert await _repo(db, things).count(conditions=[things.c.code == None]) == 1  # noqa: E711


@pytest.mark.asyncio
async def test_json_keys_that_look_like_operators_or_paths_are_stored_verbatim(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    data = {"$where": "sleep(1000)", "a.b": {"$gt": ""}, "": [None]}
    repo = _repo(db, things)
    thing = await repo.create(new_thing(data=data))
    assert (await repo.get(thing.id)).data == data
    updated = await repo.update(thing.id, {"data": {"$set": {"x": 1}}})
    assert updated.data == {"$set": {"x": 1}}
    assert (await repo.get(thing.id)).data == {"$set": {"x": 1}}


@pytest.mark.asyncio
async def test_the_validator_refuses_a_document_of_the_wrong_shape(
    db: Database, raw: Any, things: Table[Thing]
) -> None:
    from pymongo.errors import OperationFailure

    wrong = {"_id": uuid.uuid4(), "tenant": "acme", "name": "x", "count": "seven", "mood": "calm"}
    with pytest.raises(OperationFailure) as caught:
        await raw.get_collection(things.name).insert_one(wrong)
    assert caught.value.code == 121
