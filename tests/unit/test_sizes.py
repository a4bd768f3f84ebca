"""The entity-size limit (MAX_ENTITY_BYTES): a BSON-shaped estimate, checked before any I/O."""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit import MAX_ENTITY_BYTES, InvalidValue, Table
from repokit import sizes as sizes_module
from repokit.sizes import json_size
from repokit.testing.schema import Item, ItemId, Level, Status, items, notes
from repokit.testing.schema import Note as SuiteNote

bson = pytest.importorskip("bson")
mongo_codec = pytest.importorskip("repokit_mongodb.codec")


@dataclass(frozen=True)
class Doc:
    id: int
    text: str
    data: dict[str, Any] | None = None


docs = Table(Doc, "sz_docs", primary_key="id", ignore_case=["text"])

_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(_TEXT, inner, max_size=6),
    max_leaves=40,
)
_CONTAINERS = st.lists(_JSON, max_size=12) | st.dictionaries(_TEXT, _JSON, max_size=6)


def _bson_payload(value: Any) -> Any:
    """What MongoDB would store for a JSON value, with every int as int64 (the estimate's)."""
    if isinstance(value, dict):
        return {key: _bson_payload(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_bson_payload(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return bson.Int64(value)
    return value


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({}, 5),
        ([], 5),
        ({"a": 1}, 5 + 1 + 2 + 8),
        ([True, None], 5 + (1 + 2 + 1) + (1 + 2 + 0)),
        ({"é": "ab"}, 5 + 1 + 3 + (4 + 2 + 1)),
    ],
)
def test_json_sizes_are_their_bson_sizes(value: Any, size: int) -> None:
    assert json_size(value) == size


@given(_CONTAINERS)
def test_the_json_estimate_is_the_bson_size_with_int64s(value: Any) -> None:
    encoded = bson.encode({"v": _bson_payload(value)})
    assert json_size(value) == len(encoded) - (4 + 1 + 1 + 2)  # document, then "v"'s header


def test_an_array_of_small_ints_counts_about_eight_times_its_json_text() -> None:
    value = [0] * 100_000
    assert json_size(value) == len(bson.encode({"v": _bson_payload(value)})) - 8
    assert json_size(value) > 7 * len(str(value).replace(" ", ""))


@given(
    tenant=_TEXT,
    code=st.none() | _TEXT,
    data=st.none() | _CONTAINERS,
    score=st.none() | st.integers(-(2**63), 2**63 - 1),
)
def test_the_estimate_covers_what_mongodb_stores(
    tenant: str, code: str | None, data: Any, score: int | None
) -> None:
    item = Item(
        ItemId(uuid.uuid4()),
        tenant,
        "NAME ß",
        Status.ARCHIVED,
        code,
        score,
        1.5,
        Decimal("12.30"),
        True,
        Level.HIGH,
        datetime(2024, 5, 1, tzinfo=UTC),
        date(2024, 5, 1),
        uuid.uuid4(),
        data,
    )
    row = items.to_row(item)
    document = mongo_codec.Codec(items).to_document(row)
    encoded = bson.encode(document, codec_options=mongo_codec.CODEC_OPTIONS)
    assert items.entity_size.measure(row) >= len(encoded)


def _rows() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda id_, text, data: docs.to_row(Doc(id_, text, data)),
        st.integers(0, 2**63 - 1),
        _TEXT | st.text(max_size=3000).filter(lambda t: "\x00" not in t and t.isprintable()),
        st.none() | _CONTAINERS,
    )


@given(_rows())
def test_the_cheap_bound_never_lets_an_entity_over_the_limit_through(
    row: dict[str, Any],
) -> None:
    # With the limit set just below the entity's exact estimate the check must refuse it,
    # so the cheap bound is never below the exact estimate; at the estimate it passes.
    exact = docs.entity_size.measure(row)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sizes_module, "MAX_ENTITY_BYTES", exact - 1)
        with pytest.raises(InvalidValue):
            docs.entity_size.check_row(row)
        with pytest.raises(InvalidValue):
            docs.entity_size.check_values(row)
        patch.setattr(sizes_module, "MAX_ENTITY_BYTES", exact)
        docs.entity_size.check_row(row)
        docs.entity_size.check_values(row)


def _note_of_size(size: int) -> SuiteNote:
    """A rk_notes entity whose estimated stored size is exactly *size* (bodies are ASCII)."""
    probe = notes.to_row(SuiteNote(1, "tenant", ""))
    body = "b" * (size - notes.entity_size.measure(probe))
    return SuiteNote(1, "tenant", body)


def test_an_entity_at_the_limit_is_accepted() -> None:
    note = _note_of_size(MAX_ENTITY_BYTES)
    row = notes.to_row(note)
    assert notes.entity_size.measure(row) == MAX_ENTITY_BYTES
    assert notes.from_row(row) == note


def test_an_entity_one_byte_over_the_limit_is_refused_naming_the_field_and_size() -> None:
    note = _note_of_size(MAX_ENTITY_BYTES + 1)
    with pytest.raises(InvalidValue) as raised:
        notes.to_row(note)
    error = raised.value
    assert (error.entity, error.field) == ("Note", "body")
    message = str(error)
    assert f"about {MAX_ENTITY_BYTES + 1} bytes" in message
    assert "MAX_ENTITY_BYTES" in message
    assert len(message) < 1000


def test_multibyte_text_counts_its_utf8_bytes() -> None:
    fits = SuiteNote(1, "t", "é" * (MAX_ENTITY_BYTES // 2 - 100))
    notes.to_row(fits)
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES"):
        notes.to_row(SuiteNote(1, "t", "😀" * (MAX_ENTITY_BYTES // 4)))


def test_the_casefolded_shadow_of_an_ignore_case_field_counts_too() -> None:
    # The text alone fits; with its stored casefolded copy the entity does not.
    text = "x" * (MAX_ENTITY_BYTES // 2 + 10)
    with pytest.raises(InvalidValue, match="text") as raised:
        docs.to_row(Doc(1, text))
    assert raised.value.field == "text"
    docs.to_row(Doc(1, text[: MAX_ENTITY_BYTES // 2 - 100]))


def test_a_json_array_of_small_ints_is_measured_as_stored_not_as_text() -> None:
    data = {"n": [7] * 600_000}  # about 1.8 MB as JSON text, about 10 MB in BSON
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES") as raised:
        docs.to_row(Doc(1, "x", data))
    assert raised.value.field == "data"


def test_the_values_of_an_update_are_checked() -> None:
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES") as raised:
        notes.normalize_values({"body": "x" * MAX_ENTITY_BYTES})
    assert raised.value.field == "body"
    assert notes.normalize_values({"body": "x" * 1000, "rank": 3}) == {
        "body": "x" * 1000,
        "rank": 3,
    }


def test_ordinary_entities_pass_without_being_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any) -> None:
        raise AssertionError("measured exactly")

    monkeypatch.setattr(type(items.entity_size), "_check_exactly", fail)
    items.to_row(Item(ItemId(uuid.uuid4()), "t", "n", code="c" * 10_000, data={"a": [1, 2]}))
    notes.normalize_values({"body": "x" * 100_000})


def test_the_json_bound_holds_for_the_longest_array_it_lets_through() -> None:
    # The worst case of the bound (eight times the JSON text): an array of single
    # digits as long as the bound stays within the limit, so indexes reach six digits.
    row = docs.to_row(Doc(1, "", {"n": [0] * 524_000}))
    exact = docs.entity_size.measure(row)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sizes_module, "MAX_ENTITY_BYTES", exact - 1)
        with pytest.raises(InvalidValue):
            docs.entity_size.check_row(row)
