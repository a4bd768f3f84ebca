"""Value rules (CONTRACT §1–2): validation and normalisation before any I/O."""

import enum
import math
import uuid
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit.errors import InvalidValue
from repokit.types import FieldType, Kind
from repokit.values import INT64_MAX, INT64_MIN, floor_datetime, normalize_value

STR = FieldType(Kind.STR)
SHORT = FieldType(Kind.STR, max_length=3)
INT = FieldType(Kind.INT)
FLOAT = FieldType(Kind.FLOAT)
BOOL = FieldType(Kind.BOOL)
MONEY = FieldType(Kind.DECIMAL, precision=5, scale=2)
DATETIME = FieldType(Kind.DATETIME)
DATE = FieldType(Kind.DATE)
UUID = FieldType(Kind.UUID)
JSON = FieldType(Kind.JSON)


class Color(enum.StrEnum):
    RED = "red"


class Other(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    SMALL = 1


COLOR = FieldType(Kind.ENUM, enum=Color)
SIZE = FieldType(Kind.ENUM, enum=Size)


def norm(ftype: FieldType, value: Any) -> Any:
    return normalize_value("Thing", "field", ftype, value)


def rejected(ftype: FieldType, value: Any) -> InvalidValue:
    with pytest.raises(InvalidValue) as info:
        norm(ftype, value)
    return info.value


# -- null ---------------------------------------------------------------------------------------


def test_none_is_accepted_by_a_nullable_field() -> None:
    assert norm(FieldType(Kind.INT, nullable=True), None) is None


def test_none_is_refused_by_a_non_nullable_field() -> None:
    assert "not nullable" in rejected(INT, None).reason


def test_invalid_value_names_entity_field_and_value() -> None:
    error = rejected(INT, "seven")
    assert (error.entity, error.field, error.value) == ("Thing", "field", "seven")
    assert str(error).startswith("Thing.field: invalid value 'seven'")


def test_invalid_value_is_a_value_error() -> None:
    assert isinstance(rejected(INT, "seven"), ValueError)


# -- str ----------------------------------------------------------------------------------------


def test_str_is_kept_as_is() -> None:
    assert norm(STR, "straße ✓") == "straße ✓"


def test_str_at_max_length_is_accepted() -> None:
    assert norm(SHORT, "abc") == "abc"


def test_str_longer_than_max_length_is_refused() -> None:
    assert "longer than 3" in rejected(SHORT, "abcd").reason


def test_max_length_counts_code_points_not_bytes() -> None:
    assert norm(SHORT, "ééé") == "ééé"


def test_str_with_nul_is_refused() -> None:
    assert "NUL" in rejected(STR, "a\x00b").reason


def test_str_with_a_lone_surrogate_is_refused() -> None:
    assert "surrogate" in rejected(STR, "a\ud800b").reason


@pytest.mark.parametrize("value", [b"bytes", 1, 2.5, ["a"]])
def test_non_str_is_refused_by_a_str_field(value: Any) -> None:
    rejected(STR, value)


# -- int ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, INT64_MIN, INT64_MAX])
def test_int_within_64_bits_is_accepted(value: int) -> None:
    assert norm(INT, value) == value


@pytest.mark.parametrize("value", [INT64_MIN - 1, INT64_MAX + 1, 10**30])
def test_int_outside_64_bits_is_refused(value: int) -> None:
    assert "64-bit" in rejected(INT, value).reason


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_an_int(value: bool) -> None:
    rejected(INT, value)


@pytest.mark.parametrize("value", [1.0, Decimal(1), "1"])
def test_non_int_is_refused_by_an_int_field(value: Any) -> None:
    rejected(INT, value)


def test_int_subclass_is_normalised_to_a_plain_int() -> None:
    assert type(norm(INT, Size.SMALL)) is int


# -- float --------------------------------------------------------------------------------------


def test_float_is_kept() -> None:
    assert norm(FLOAT, 1.5) == 1.5


def test_int_is_accepted_by_a_float_field_as_float() -> None:
    value = norm(FLOAT, 3)
    assert (value, type(value)) == (3.0, float)


def test_negative_zero_becomes_positive_zero() -> None:
    assert math.copysign(1.0, norm(FLOAT, -0.0)) == 1.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    assert "NaN" in rejected(FLOAT, value).reason


def test_int_too_large_for_an_exact_float_is_refused() -> None:
    rejected(FLOAT, 2**53 + 1)


def test_bool_is_not_a_float() -> None:
    rejected(FLOAT, True)


def test_decimal_is_not_a_float() -> None:
    rejected(FLOAT, Decimal("1.5"))


# -- bool ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_accepted(value: bool) -> None:
    assert norm(BOOL, value) is value


@pytest.mark.parametrize("value", [0, 1, "true", None])
def test_one_and_zero_are_not_booleans(value: Any) -> None:
    rejected(BOOL, value)


# -- decimal ------------------------------------------------------------------------------------


def test_decimal_is_quantised_to_the_scale() -> None:
    assert str(norm(MONEY, Decimal("1.5"))) == "1.50"


def test_int_is_accepted_by_a_decimal_field_and_quantised() -> None:
    assert str(norm(MONEY, 7)) == "7.00"


def test_trailing_zeros_beyond_the_scale_are_exact_and_accepted() -> None:
    assert str(norm(MONEY, Decimal("1.2300"))) == "1.23"


def test_decimal_with_more_digits_than_the_scale_is_refused_not_rounded() -> None:
    assert "digits after the point" in rejected(MONEY, Decimal("1.005")).reason


def test_decimal_beyond_the_precision_is_refused() -> None:
    assert "NUMERIC(5, 2)" in rejected(MONEY, Decimal("1000.00")).reason


def test_largest_decimal_within_the_precision_is_accepted() -> None:
    assert norm(MONEY, Decimal("-999.99")) == Decimal("-999.99")


def test_decimal_with_more_digits_than_the_context_is_refused() -> None:
    rejected(MONEY, Decimal(10) ** 40)


def test_negative_zero_decimal_becomes_zero() -> None:
    assert str(norm(MONEY, Decimal("-0"))) == "0.00"


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")])
def test_non_finite_decimals_are_refused(value: Decimal) -> None:
    rejected(MONEY, value)


@pytest.mark.parametrize("value", [1.5, True, "1.50"])
def test_floats_bools_and_strings_are_not_decimals(value: Any) -> None:
    rejected(MONEY, value)


# -- datetime -----------------------------------------------------------------------------------


def test_naive_datetime_is_refused() -> None:
    assert "naive" in rejected(DATETIME, datetime(2024, 1, 1)).reason


def test_datetime_whose_tzinfo_gives_no_offset_is_refused() -> None:
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

    rejected(DATETIME, datetime(2024, 1, 1, tzinfo=NoOffset()))


def test_datetime_is_converted_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    value = norm(DATETIME, datetime(2024, 1, 1, 12, tzinfo=plus2))
    assert (value, value.utcoffset()) == (datetime(2024, 1, 1, 10, tzinfo=UTC), timedelta(0))


def test_datetime_is_floored_to_milliseconds() -> None:
    value = norm(DATETIME, datetime(2024, 1, 1, 0, 0, 0, 123_999, tzinfo=UTC))
    assert value.microsecond == 123_000


def test_datetime_before_the_epoch_is_floored_toward_the_past() -> None:
    value = norm(DATETIME, datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
    assert value == datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC)


def test_datetime_out_of_range_in_utc_is_refused() -> None:
    ahead = timezone(timedelta(hours=5))
    assert "out of range" in rejected(DATETIME, datetime.min.replace(tzinfo=ahead)).reason


def test_date_is_not_a_datetime() -> None:
    rejected(DATETIME, date(2024, 1, 1))


def test_floor_datetime_converts_and_floors() -> None:
    minus1 = timezone(timedelta(hours=-1))
    assert floor_datetime(datetime(2024, 1, 1, 23, 0, 0, 1_500, tzinfo=minus1)) == datetime(
        2024, 1, 2, 0, 0, 0, 1_000, tzinfo=UTC
    )


# -- date, uuid, enum ---------------------------------------------------------------------------


def test_date_is_kept() -> None:
    assert norm(DATE, date(2024, 2, 29)) == date(2024, 2, 29)


def test_datetime_is_not_a_date() -> None:
    rejected(DATE, datetime(2024, 1, 1, tzinfo=UTC))


def test_iso_string_is_not_a_date() -> None:
    rejected(DATE, "2024-01-01")


def test_uuid_is_kept() -> None:
    value = uuid.uuid4()
    assert norm(UUID, value) is value


@pytest.mark.parametrize("value", ["6f1b1c2e-0000-4000-8000-000000000000", uuid.uuid4().bytes])
def test_uuid_strings_and_bytes_are_not_uuids(value: Any) -> None:
    rejected(UUID, value)


def test_str_enum_member_is_stored_as_its_value() -> None:
    assert norm(COLOR, Color.RED) == "red"


def test_int_enum_member_is_stored_as_its_value() -> None:
    assert norm(SIZE, Size.SMALL) == 1


def test_enum_raw_value_is_refused() -> None:
    assert "member of Color" in rejected(COLOR, "red").reason


def test_member_of_another_enum_is_refused() -> None:
    rejected(COLOR, Other.RED)


def test_int_enum_raw_int_is_refused() -> None:
    rejected(SIZE, 1)


# -- json ---------------------------------------------------------------------------------------


def test_json_object_of_scalars_is_accepted() -> None:
    value = {"a": 1, "b": [True, None, "x", 1.5], "c": {"d": -0.0}}
    assert norm(JSON, value) == {"a": 1, "b": [True, None, "x", 1.5], "c": {"d": 0.0}}


def test_json_tuples_become_lists() -> None:
    assert norm(JSON, [(1, 2)]) == [[1, 2]]


@pytest.mark.parametrize("value", ["text", 1, 2.5, (1, 2)])
def test_json_top_level_must_be_an_object_or_array(value: Any) -> None:
    rejected(JSON, value)


def test_json_nested_nan_is_refused() -> None:
    rejected(JSON, {"a": [1.0, math.nan]})


def test_json_nested_big_int_is_refused() -> None:
    rejected(JSON, {"a": {"b": 2**64}})


def test_json_non_str_keys_are_refused() -> None:
    assert "keys must be str" in rejected(JSON, {1: "a"}).reason


def test_json_key_with_nul_is_refused() -> None:
    rejected(JSON, {"a\x00": 1})


def test_json_string_with_lone_surrogate_is_refused() -> None:
    rejected(JSON, ["\udfff"])


@pytest.mark.parametrize(
    "value", [Decimal(1), datetime(2024, 1, 1, tzinfo=UTC), uuid.uuid4(), b"x"]
)
def test_json_non_json_scalars_are_refused(value: Any) -> None:
    assert "is not a JSON value" in rejected(JSON, [value]).reason


def test_json_nested_too_deep_is_refused() -> None:
    value: Any = []
    for _ in range(70):
        value = [value]
    assert "deeper" in rejected(JSON, value).reason


# -- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, INT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)

VALUES = {
    STR: st.text(),
    INT: st.integers(INT64_MIN, INT64_MAX),
    FLOAT: st.floats(allow_nan=False, allow_infinity=False),
    BOOL: st.booleans(),
    MONEY: st.decimals(min_value=Decimal("-999.99"), max_value=Decimal("999.99"), places=2),
    DATETIME: st.datetimes(timezones=st.timezones()),
    DATE: st.dates(),
    UUID: st.uuids(),
    COLOR: st.sampled_from(Color),
    JSON: st.dictionaries(st.text(), json_values, max_size=4),
}


def _normalises(ftype: FieldType, value: Any) -> Any:
    try:
        return norm(ftype, value)
    except InvalidValue:
        return None


@pytest.mark.parametrize("ftype", list(VALUES), ids=lambda f: f.kind.value)
@given(data=st.data())
def test_normalisation_is_idempotent(ftype: FieldType, data: st.DataObject) -> None:
    value = data.draw(VALUES[ftype])
    once = _normalises(ftype, value)
    if once is not None and ftype.kind is not Kind.ENUM:
        assert norm(ftype, once) == once


@given(st.datetimes(timezones=st.timezones()))
def test_a_normalised_datetime_is_utc_on_the_millisecond_and_never_later(value: datetime) -> None:
    normal = _normalises(DATETIME, value)
    if normal is not None:
        assert normal.tzinfo is UTC
        assert normal.microsecond % 1000 == 0
        assert timedelta(0) <= value - normal < timedelta(milliseconds=1)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_normalised_float_equals_the_input(value: float) -> None:
    assert norm(FLOAT, value) == value


# -- values already in normal form (the fast paths agree with the rules) ------------------------


class Name(str):
    pass


class Moment(datetime):
    pass


class Ratio(float):
    pass


def test_an_ascii_str_with_nul_is_refused() -> None:
    assert "NUL" in rejected(STR, "ab\x00c").reason


def test_a_non_ascii_str_is_kept() -> None:
    assert norm(SHORT, "é😀ß") == "é😀ß"


def test_a_non_ascii_str_with_a_lone_surrogate_is_refused() -> None:
    assert "surrogate" in rejected(STR, "é\udc80").reason


def test_a_str_longer_than_max_length_is_refused_for_its_length_first() -> None:
    assert "longer than 3" in rejected(SHORT, "ab\x00c").reason


def test_a_str_subclass_is_stored_as_a_plain_str() -> None:
    for ftype in (STR, SHORT):
        value = norm(ftype, Name("abc"))
        assert (type(value), value) == (str, "abc")


def test_a_str_subclass_with_nul_is_refused() -> None:
    assert "NUL" in rejected(STR, Name("a\x00")).reason


def _text_reason(text: str) -> str | None:
    if "\x00" in text:
        return "NUL"
    if any(0xD800 <= ord(char) <= 0xDFFF for char in text):
        return "surrogate"
    return None


@given(
    st.lists(st.integers(0, 0x10FFFF).map(chr) | st.sampled_from("\x00a\ud800\udfff"), max_size=6)
)
def test_text_is_refused_exactly_for_nul_or_a_lone_surrogate(chars: list[str]) -> None:
    text = "".join(chars)
    reason = _text_reason(text)
    for ftype in (STR, JSON):
        value = [text] if ftype is JSON else text
        if reason is None:
            assert norm(ftype, value) == value
        else:
            assert reason in rejected(ftype, value).reason


def test_a_utc_datetime_on_the_millisecond_is_kept() -> None:
    value = datetime(2024, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)
    normal = norm(DATETIME, value)
    assert (normal, normal.tzinfo) == (value, UTC)


def test_a_utc_datetime_with_microseconds_is_floored() -> None:
    normal = norm(DATETIME, datetime(2024, 1, 1, 12, 0, 0, 123_456, tzinfo=UTC))
    assert (normal.microsecond, normal.tzinfo) == (123_000, UTC)


def test_another_zero_offset_zone_becomes_utc() -> None:
    value = datetime(2024, 1, 1, 12, tzinfo=timezone(timedelta(0), "Z"))
    normal = norm(DATETIME, value)
    assert (normal, normal.tzinfo) == (value, UTC)


def test_a_datetime_with_an_offset_on_the_millisecond_becomes_utc() -> None:
    value = datetime(2024, 1, 1, 12, 0, 0, 5_000, tzinfo=timezone(timedelta(hours=-3)))
    normal = norm(DATETIME, value)
    assert (normal, normal.tzinfo, normal.hour) == (value, UTC, 15)


def test_a_datetime_subclass_in_utc_is_floored() -> None:
    normal = norm(DATETIME, Moment(2024, 1, 1, 0, 0, 0, 1_999, tzinfo=UTC))
    assert (normal, normal.tzinfo) == (datetime(2024, 1, 1, 0, 0, 0, 1_000, tzinfo=UTC), UTC)


def test_floor_datetime_keeps_a_normal_datetime() -> None:
    value = datetime(2024, 1, 1, 0, 0, 0, 1_000, tzinfo=UTC)
    assert floor_datetime(value) == value


def test_a_float_subclass_is_stored_as_a_plain_float() -> None:
    value = norm(FLOAT, Ratio(1.5))
    assert (type(value), value) == (float, 1.5)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_float_subclasses_are_refused(value: float) -> None:
    rejected(FLOAT, Ratio(value))


def test_an_enum_that_redefines_value_is_stored_as_that_value() -> None:
    class Code(enum.Enum):
        A = "a"

        @property
        def value(self) -> str:
            return "code-" + str(self._value_)

    assert norm(FieldType(Kind.ENUM, enum=Code), Code.A) == "code-a"
