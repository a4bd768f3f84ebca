"""Contract tests: CONTRACT §1 values.

Every kind is written, read back from the backend and compared with its
normal form; every value that breaks a rule is refused with ``InvalidValue``
naming entity, field and value, before any I/O, leaving nothing written.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from repokit import Database, InvalidValue
from repokit.testing.schema import Item, Level, Status, TenantScope, items
from repokit.testing.suite._entities import (
    assert_refused,
    count_items,
    item_repository,
    new_item,
    stored_item,
)
from repokit.utilities import Creator, Deleted
from repokit.values import INT64_MAX, INT64_MIN

__all__ = [
    "TestDatetimeValues",
    "TestDecimalValues",
    "TestIndexedTextLimit",
    "TestJsonValues",
    "TestNumberValues",
    "TestRejectedValues",
    "TestScalarValues",
    "TestTextValues",
]

_TEXTS = [
    "",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 🎉👍🏽 flags 🇫🇷",
    "astral 𝄞 \U0001d400 \U0010fffd",
    "e\u0301 combining and \u200b zero width",
    "rtl עברית العربية",
]


class TestTextValues:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("text", _TEXTS)
    async def test_any_unicode_text_round_trips(
        self, repokit_db: Database, repokit_tenant: str, text: str
    ) -> None:
        assert (await stored_item(repokit_db, repokit_tenant, code=text)).code == text

    @pytest.mark.asyncio
    async def test_text_with_astral_characters_is_found_by_equality(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await stored_item(repokit_db, repokit_tenant, code="𝄞🎉")
        await stored_item(repokit_db, repokit_tenant, code="𝄞")
        assert await count_items(repokit_db, repokit_tenant, items.c.code == "𝄞🎉") == 1

    @pytest.mark.asyncio
    async def test_empty_string_is_not_null(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await stored_item(repokit_db, repokit_tenant, code="")
        assert await count_items(repokit_db, repokit_tenant, items.c.code == "") == 1
        assert await count_items(repokit_db, repokit_tenant, items.c.code.is_null()) == 0

    @pytest.mark.asyncio
    async def test_max_length_counts_code_points(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        name = "𝄞" * 64  # 64 code points, 128 UTF-16 units, 256 UTF-8 bytes
        assert (await stored_item(repokit_db, repokit_tenant, name=name)).name == name

    @pytest.mark.asyncio
    async def test_text_longer_than_max_length_is_refused(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "name", "x" * 65)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("text", ["nul \x00 inside", "lone \ud800 surrogate"])
    async def test_text_no_backend_can_store_is_refused(
        self, repokit_db: Database, repokit_tenant: str, text: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "code", text)

    @pytest.mark.asyncio
    async def test_bytes_are_not_text(self, repokit_db: Database, repokit_tenant: str) -> None:
        await assert_refused(repokit_db, repokit_tenant, "code", b"bytes")


class TestNumberValues:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("number", [INT64_MIN, -1, 0, 2**53 + 1, INT64_MAX])
    async def test_signed_64_bit_integers_round_trip_exactly(
        self, repokit_db: Database, repokit_tenant: str, number: int
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, score=number)
        assert got.score == number
        assert type(got.score) is int
        assert await count_items(repokit_db, repokit_tenant, items.c.score == number) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("number", [INT64_MAX + 1, INT64_MIN - 1, 10**30])
    async def test_integer_outside_64_bits_is_refused(
        self, repokit_db: Database, repokit_tenant: str, number: int
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "score", number)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", [True, 1.0, "1"])
    async def test_integer_field_refuses_other_types(
        self, repokit_db: Database, repokit_tenant: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "score", value)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "number", [0.1, -2.5, 1.7976931348623157e308, 5e-324, -2.2250738585072014e-308]
    )
    async def test_finite_floats_round_trip_exactly(
        self, repokit_db: Database, repokit_tenant: str, number: float
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, ratio=number)
        assert got.ratio == number
        assert await count_items(repokit_db, repokit_tenant, items.c.ratio == number) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
    async def test_nan_and_infinities_are_refused(
        self, repokit_db: Database, repokit_tenant: str, number: float
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "ratio", number)

    @pytest.mark.asyncio
    async def test_negative_zero_is_stored_as_zero(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, ratio=-0.0)
        assert got.ratio == 0.0
        assert math.copysign(1.0, got.ratio) == 1.0

    @pytest.mark.asyncio
    async def test_integer_given_for_a_float_is_stored_as_float(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, ratio=3)
        assert got.ratio == 3.0
        assert type(got.ratio) is float


class TestScalarValues:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("flag", [True, False])
    async def test_booleans_round_trip(
        self, repokit_db: Database, repokit_tenant: str, flag: bool
    ) -> None:
        assert (await stored_item(repokit_db, repokit_tenant, flag=flag)).flag is flag

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", [1, 0, "true"])
    async def test_only_true_and_false_are_booleans(
        self, repokit_db: Database, repokit_tenant: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "flag", value)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("day", [date(2024, 2, 29), date(1, 1, 1), date(9999, 12, 31)])
    async def test_dates_round_trip(
        self, repokit_db: Database, repokit_tenant: str, day: date
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, day=day)
        assert got.day == day
        assert type(got.day) is date
        assert await count_items(repokit_db, repokit_tenant, items.c.day == day) == 1

    @pytest.mark.asyncio
    async def test_a_datetime_is_not_a_date(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "day", datetime(2024, 1, 1, tzinfo=UTC))

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "ref", [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1), uuid.uuid4(), uuid.uuid1()]
    )
    async def test_uuids_round_trip(
        self, repokit_db: Database, repokit_tenant: str, ref: uuid.UUID
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, ref=ref)
        assert got.ref == ref
        assert isinstance(got.ref, uuid.UUID)
        assert await count_items(repokit_db, repokit_tenant, items.c.ref == ref) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", [str(uuid.UUID(int=7)), uuid.UUID(int=7).bytes])
    async def test_uuid_field_refuses_strings_and_bytes(
        self, repokit_db: Database, repokit_tenant: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "ref", value)

    @pytest.mark.asyncio
    async def test_str_enum_member_round_trips(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, status=Status.ARCHIVED)
        assert got.status is Status.ARCHIVED
        assert await count_items(repokit_db, repokit_tenant, items.c.status == Status.ARCHIVED) == 1

    @pytest.mark.asyncio
    async def test_int_enum_member_round_trips(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, level=Level.HIGH)
        assert got.level is Level.HIGH
        assert await count_items(repokit_db, repokit_tenant, items.c.level == Level.HIGH) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("field", "value"), [("status", "archived"), ("level", 2), ("level", Status.ACTIVE)]
    )
    async def test_enum_field_accepts_members_only(
        self, repokit_db: Database, repokit_tenant: str, field: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, field, value)


class TestDecimalValues:
    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("given", "stored"),
        [("1.5", "1.50"), ("7", "7.00"), ("2.500", "2.50"), ("-0.00", "0.00")],
    )
    async def test_decimals_are_quantised_to_the_declared_scale(
        self, repokit_db: Database, repokit_tenant: str, given: str, stored: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, price=Decimal(given))
        assert got.price is not None
        assert str(got.price) == stored

    @pytest.mark.asyncio
    @pytest.mark.parametrize("price", ["9999999999.99", "-9999999999.99", "0.01", "1234567890.10"])
    async def test_decimals_of_full_precision_round_trip_exactly(
        self, repokit_db: Database, repokit_tenant: str, price: str
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, price=Decimal(price))
        assert str(got.price) == price
        assert await count_items(repokit_db, repokit_tenant, items.c.price == Decimal(price)) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize("price", ["10000000000.00", "-10000000000", "1.005", "0.001"])
    async def test_decimal_with_too_many_digits_is_refused(
        self, repokit_db: Database, repokit_tenant: str, price: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "price", Decimal(price))

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), 1.5])
    async def test_decimal_field_refuses_nan_infinity_and_floats(
        self, repokit_db: Database, repokit_tenant: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "price", value)


class TestDatetimeValues:
    @pytest.mark.asyncio
    async def test_naive_datetime_is_refused(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "at", datetime(2024, 5, 1, 12, 0))

    @pytest.mark.asyncio
    async def test_datetime_is_read_back_aware_in_utc(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        given = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
        got = await stored_item(repokit_db, repokit_tenant, at=given)
        assert got.at is not None
        assert got.at.utcoffset() == timedelta(0)
        assert got.at == given
        assert got.at.replace(tzinfo=None) == datetime(2024, 5, 1, 6, 30)

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("given", "microsecond"),
        [
            (datetime(2024, 5, 1, 12, 0, 0, 123999, UTC), 123000),
            (datetime(2024, 5, 1, 12, 0, 0, 999500, UTC), 999000),
            # Before 1970 flooring is not truncation towards the epoch.
            (datetime(1969, 12, 31, 23, 59, 59, 999999, UTC), 999000),
        ],
    )
    async def test_datetime_is_floored_to_milliseconds(
        self, repokit_db: Database, repokit_tenant: str, given: datetime, microsecond: int
    ) -> None:
        got = await stored_item(repokit_db, repokit_tenant, at=given)
        assert got.at == given.replace(microsecond=microsecond)

    @pytest.mark.asyncio
    async def test_datetime_is_found_by_the_same_instant_in_another_offset(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        plus_two = timezone(timedelta(hours=2))
        await stored_item(
            repokit_db, repokit_tenant, at=datetime(2024, 5, 1, 12, 0, tzinfo=plus_two)
        )
        same_in_utc = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
        same_in_tokyo = datetime(2024, 5, 1, 19, 0, tzinfo=timezone(timedelta(hours=9)))
        assert await count_items(repokit_db, repokit_tenant, items.c.at == same_in_utc) == 1
        assert await count_items(repokit_db, repokit_tenant, items.c.at == same_in_tokyo) == 1
        assert await count_items(repokit_db, repokit_tenant, items.c.at.in_([same_in_tokyo])) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "moment",
        [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)],
    )
    async def test_extreme_datetimes_round_trip(
        self, repokit_db: Database, repokit_tenant: str, moment: datetime
    ) -> None:
        assert (await stored_item(repokit_db, repokit_tenant, at=moment)).at == moment

    @pytest.mark.asyncio
    async def test_date_given_for_a_datetime_is_refused(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "at", date(2024, 5, 1))


class TestJsonValues:
    @pytest.mark.asyncio
    async def test_json_document_round_trips(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        document = {
            "text": "café 🎉 𝄞",
            "int": 42,
            "float": 1.5,
            "yes": True,
            "no": False,
            "list": [1, "two", [3.25, False], {"nested": {"deep": ["x"]}}],
            "empty_object": {},
            "empty_list": [],
        }
        assert (await stored_item(repokit_db, repokit_tenant, data=document)).data == document

    @pytest.mark.asyncio
    async def test_json_keys_may_be_any_text(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        document = {"$where": 1, "a.b": {"$gt": "x"}, "": [True], "🎉 𝄞": 0, "%_\\": "k"}
        assert (await stored_item(repokit_db, repokit_tenant, data=document)).data == document

    @pytest.mark.asyncio
    async def test_json_integers_keep_64_bit_precision(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        document = {"max": INT64_MAX, "min": INT64_MIN, "odd": 2**53 + 1}
        got = await stored_item(repokit_db, repokit_tenant, data=document)
        assert got.data == document
        assert got.data is not None
        assert all(type(v) is int for v in got.data.values())

    @pytest.mark.asyncio
    async def test_json_null_is_field_null(self, repokit_db: Database, repokit_tenant: str) -> None:
        got = await stored_item(repokit_db, repokit_tenant, data=None)
        assert got.data is None
        assert await count_items(repokit_db, repokit_tenant, items.c.data.is_null()) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        "document",
        [
            {"nan": math.nan},
            {"inf": [math.inf]},
            {"big": 2**63},
            {1: "non-string key"},
            {"when": datetime(2024, 1, 1, tzinfo=UTC)},
            {"money": Decimal("1.00")},
            {"set": {1, 2}},
            {"nul": "a\x00b"},
        ],
        ids=["nan", "inf", "int-overflow", "int-key", "datetime", "decimal", "set", "nul"],
    )
    async def test_json_refuses_values_outside_the_json_rules(
        self, repokit_db: Database, repokit_tenant: str, document: dict[Any, Any]
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "data", document)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", ["text", 5, True])
    async def test_json_field_takes_an_object_or_array(
        self, repokit_db: Database, repokit_tenant: str, value: Any
    ) -> None:
        await assert_refused(repokit_db, repokit_tenant, "data", value)


class TestRejectedValues:
    @pytest.mark.asyncio
    async def test_invalid_value_is_a_value_error_naming_entity_field_and_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        error = await assert_refused(repokit_db, repokit_tenant, "score", 2**64)
        assert isinstance(error, ValueError)
        assert items.entity_name in str(error)
        assert "score" in str(error)
        assert str(2**64) in str(error)

    @pytest.mark.asyncio
    async def test_invalid_value_is_raised_before_io_so_the_transaction_goes_on(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        creator = Creator(items)
        scope = TenantScope(repokit_tenant)
        async with repokit_db.begin_session() as session:
            await creator.create(session, new_item(repokit_tenant, name="before"), scope=scope)
            with pytest.raises(InvalidValue):
                await creator.create(
                    session, new_item(repokit_tenant, score=INT64_MAX + 1), scope=scope
                )
            await creator.create(session, new_item(repokit_tenant, name="after"), scope=scope)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 2

    @pytest.mark.asyncio
    async def test_batch_with_one_invalid_value_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        batch = [new_item(repokit_tenant, score=n) for n in range(3)] + [
            new_item(repokit_tenant, ratio=math.nan)
        ]
        with pytest.raises(InvalidValue):
            await item_repository(repokit_db).batch_create(batch, scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_update_with_an_invalid_value_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        before = await stored_item(repokit_db, repokit_tenant, score=1)
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidValue) as caught:
            await repo.update(
                before.id, {"at": datetime(2024, 1, 1)}, scope=TenantScope(repokit_tenant)
            )
        assert (caught.value.entity, caught.value.field) == (items.entity_name, "at")
        assert await repo.get(before.id, scope=TenantScope(repokit_tenant)) == before

    @pytest.mark.asyncio
    async def test_batch_update_with_an_invalid_value_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        stored: list[Item] = [
            await stored_item(repokit_db, repokit_tenant, ratio=0.5) for _ in range(2)
        ]
        repo = item_repository(repokit_db)
        with pytest.raises(InvalidValue):
            await repo.batch_update(
                {"ratio": math.inf},
                conditions=items.c.ratio == 0.5,
                scope=TenantScope(repokit_tenant),
            )
        for item in stored:
            assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item


class TestIndexedTextLimit:
    """Text in a key or indexed field fits the backend's index, or is refused before I/O.

    ``Capabilities.max_indexed_text_bytes`` declares the limit (PostgreSQL's
    B-tree rows hold about 2.7 kB); a backend without one stores any length.
    """

    @pytest.mark.asyncio
    async def test_indexed_text_up_to_the_limit_is_stored(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        limit = repokit_db.capabilities.max_indexed_text_bytes
        code = "x" * limit if limit is not None else "é" * 2000  # 4,000 bytes
        assert (await stored_item(repokit_db, repokit_tenant, code=code)).code == code

    @pytest.mark.asyncio
    async def test_indexed_text_beyond_the_limit_is_refused_and_nothing_is_written(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        limit = repokit_db.capabilities.max_indexed_text_bytes
        if limit is None:
            code = "é" * 4000  # 8,000 bytes in a unique key: stored as given
            assert (await stored_item(repokit_db, repokit_tenant, code=code)).code == code
            return
        error = await assert_refused(repokit_db, repokit_tenant, "code", "é" * (limit // 2 + 1))
        assert "bytes" in error.reason
