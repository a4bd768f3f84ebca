"""The cursor codec: opaque, versioned, bound to its query; anything else is InvalidCursor."""

import base64
import enum
import json
import random
import re
import string
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit.conditions import TRUE, Order
from repokit.cursors import DEFAULT_KEY, MAX_CURSOR_LENGTH, CursorCodec, fingerprint, sort_values
from repokit.errors import InvalidCursor, InvalidQuery
from repokit.tables import Row, Table
from repokit.testing.schema import Item, ItemId, Level, Status, items, notes

c = items.c
CODEC = CursorCodec()
ALL_KINDS: tuple[Order, ...] = (
    c.tenant.asc(),
    c.status.desc(),
    c.code.asc(),
    c.score.asc(),
    c.ratio.asc(),
    c.price.desc(),
    c.flag.asc(),
    c.level.asc(),
    c.at.asc(),
    c.day.asc(),
    c.ref.asc(),
    c.id.asc(),
)
BOUND = fingerprint(items, TRUE, ALL_KINDS)
ROW = items.to_row(
    Item(
        id=ItemId(uuid.UUID(int=99)),
        tenant='tenant ✓ "quoted"',
        name="n",
        status=Status.ARCHIVED,
        code="",
        score=-(2**63),
        ratio=0.1,
        price=Decimal("-12.30"),
        flag=False,
        level=Level.MID,
        at=datetime(1969, 7, 20, 20, 17, 40, 123_000, tzinfo=UTC),
        day=date(1, 1, 1),
        ref=uuid.UUID(int=2**128 - 1),
    )
)


def encode(row: Row, orders: tuple[Order, ...] = ALL_KINDS, bound: bytes = BOUND) -> str:
    return CODEC.encode(items, orders, bound, row)


def decode(cursor: Any, orders: tuple[Order, ...] = ALL_KINDS, bound: bytes = BOUND) -> list[Any]:
    return CODEC.decode(cursor, items, orders, bound)


def raw_token(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def as_cursor(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


# -- round trips --------------------------------------------------------------------------------


def test_a_cursor_round_trips_every_kind() -> None:
    assert decode(encode(ROW)) == sort_values(ROW, ALL_KINDS)


def test_decoded_values_have_the_storage_types() -> None:
    values = decode(encode(ROW))
    assert [type(v) for v in values] == [type(v) for v in sort_values(ROW, ALL_KINDS)]


def test_decoded_datetimes_are_aware_utc() -> None:
    at = decode(encode(ROW))[ALL_KINDS.index(c.at.asc())]
    assert at.utcoffset() == timedelta(0)


def test_a_cursor_round_trips_nulls() -> None:
    row = {"id": uuid.UUID(int=1), "tenant": "t", "status": "active"}
    assert decode(encode(row)) == sort_values(row, ALL_KINDS)


def test_a_cursor_is_url_safe_text() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]+", encode(ROW))


def test_a_cursor_does_not_show_its_values_in_clear() -> None:
    assert "tenant" not in encode(ROW)


def test_an_int_keyed_table_round_trips() -> None:
    orders = (notes.c.rank.desc(), notes.c.id.asc())
    bound = fingerprint(notes, TRUE, orders)
    cursor = CODEC.encode(notes, orders, bound, {"id": 2**62, "rank": None})
    assert CODEC.decode(cursor, notes, orders, bound) == [None, 2**62]


item_rows = st.builds(
    Item,
    id=st.uuids().map(ItemId),
    tenant=st.text(),
    name=st.text(max_size=64),
    status=st.sampled_from(Status),
    code=st.none() | st.text(),
    score=st.none() | st.integers(-(2**63), 2**63 - 1),
    ratio=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    price=st.none() | st.decimals(min_value=-(10**9), max_value=10**9, places=2),
    flag=st.none() | st.booleans(),
    level=st.none() | st.sampled_from(Level),
    at=st.none() | st.datetimes(timezones=st.just(UTC)),
    day=st.none() | st.dates(),
    ref=st.none() | st.uuids(),
)


@given(item_rows)
def test_cursors_round_trip_any_valid_row(entity: Item) -> None:
    try:
        row = items.to_row(entity)
    except ValueError:
        return
    assert decode(encode(row)) == sort_values(row, ALL_KINDS)


# -- refusals -----------------------------------------------------------------------------------


def test_a_cursor_from_another_query_is_refused() -> None:
    other = fingerprint(items, c.tenant == "other", ALL_KINDS)
    with pytest.raises(InvalidCursor, match="another query"):
        decode(encode(ROW), bound=other)


def test_a_cursor_from_another_codec_key_is_refused() -> None:
    cursor = CursorCodec(b"another key").encode(items, ALL_KINDS, BOUND, ROW)
    with pytest.raises(InvalidCursor, match="tampered"):
        decode(cursor)


def test_a_cursor_from_another_version_is_refused() -> None:
    token = raw_token(encode(ROW))
    with pytest.raises(InvalidCursor, match="unsupported version"):
        decode(as_cursor(b"\x02" + token[1:]))


@pytest.mark.parametrize("cursor", ["", "A", "AAAA", "!!!!", "é", "a b", "=" * 8])
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(cursor)


@pytest.mark.parametrize("cursor", [None, 5, b"AAAA", ["x"]])
def test_a_cursor_that_is_not_a_string_is_refused(cursor: Any) -> None:
    with pytest.raises(InvalidCursor, match="a cursor is a string"):
        decode(cursor)


def test_every_truncation_of_a_cursor_is_refused() -> None:
    cursor = encode(ROW)
    for end in range(len(cursor)):
        with pytest.raises(InvalidCursor):
            decode(cursor[:end])


def test_a_cursor_with_extra_characters_is_refused() -> None:
    cursor = encode(ROW)
    for extra in ("A", "AAAA", "=", "!!!!", "\n"):
        with pytest.raises(InvalidCursor):
            decode(cursor + extra)


def test_a_cursor_in_the_standard_base64_alphabet_is_refused() -> None:
    cursors = (encode(ROW | {"score": n}) for n in range(1000))
    cursor = next(cur for cur in cursors if "-" in cur or "_" in cur)
    with pytest.raises(InvalidCursor):
        decode(cursor.translate(str.maketrans("-_", "+/")))


@given(st.data())
def test_changing_any_character_of_a_cursor_is_refused(data: st.DataObject) -> None:
    cursor = encode(ROW)
    i = data.draw(st.integers(0, len(cursor) - 1))
    alphabet = string.ascii_letters + string.digits + "-_"
    replacement = data.draw(st.sampled_from(alphabet).filter(lambda ch: ch != cursor[i]))
    with pytest.raises(InvalidCursor):
        decode(cursor[:i] + replacement + cursor[i + 1 :])


@given(st.data())
def test_flipping_any_bit_of_the_token_is_refused(data: st.DataObject) -> None:
    token = bytearray(raw_token(encode(ROW)))
    i = data.draw(st.integers(0, len(token) * 8 - 1))
    token[i // 8] ^= 1 << (i % 8)
    with pytest.raises(InvalidCursor):
        decode(as_cursor(bytes(token)))


@given(st.text())
def test_random_text_is_refused_as_invalid_cursor_only(text: str) -> None:
    with pytest.raises(InvalidCursor):
        decode(text)


@given(st.binary())
def test_random_tokens_are_refused_as_invalid_cursor_only(token: bytes) -> None:
    with pytest.raises(InvalidCursor):
        decode(as_cursor(token))


# Authentic cursors whose payload does not fit the orders they are decoded with: the
# codec must still answer InvalidCursor, never a TypeError, OverflowError or the like.


@pytest.mark.parametrize(
    ("written", "value", "read"),
    [
        (c.tenant.asc(), "zzz", c.status.asc()),
        (c.tenant.asc(), "zzz", c.price.asc()),
        (c.tenant.asc(), "zzz", c.day.asc()),
        (c.tenant.asc(), "zzz", c.ref.asc()),
        (c.tenant.asc(), "zzz", c.score.asc()),
        (c.score.asc(), 2**62, c.at.asc()),
        (c.score.asc(), 1, c.flag.asc()),
        (c.flag.asc(), True, c.score.asc()),
        (c.flag.asc(), True, c.ratio.asc()),
    ],
)
def test_an_authentic_cursor_with_values_of_the_wrong_type_is_refused(
    written: Order, value: Any, read: Order
) -> None:
    cursor = encode({written.field: value}, orders=(written,))
    with pytest.raises(InvalidCursor, match="malformed"):
        decode(cursor, orders=(read,))


def test_an_authentic_cursor_with_the_wrong_number_of_values_is_refused() -> None:
    cursor = encode(ROW)
    with pytest.raises(InvalidCursor, match="malformed"):
        decode(cursor, orders=ALL_KINDS[:-1])


# -- codec keys and fingerprints ----------------------------------------------------------------


@pytest.mark.parametrize("key", [b"", "text", None])
def test_a_codec_key_must_be_non_empty_bytes(key: Any) -> None:
    with pytest.raises(ValueError, match="non-empty bytes"):
        CursorCodec(key)


def test_codecs_with_the_same_key_agree() -> None:
    assert CursorCodec(b"k").encode(items, ALL_KINDS, BOUND, ROW) == CursorCodec(b"k").encode(
        items, ALL_KINDS, BOUND, ROW
    )


def test_codecs_with_different_keys_produce_different_cursors() -> None:
    assert CursorCodec(b"k1").encode(items, ALL_KINDS, BOUND, ROW) != CursorCodec(b"k2").encode(
        items, ALL_KINDS, BOUND, ROW
    )


def test_the_fingerprint_is_deterministic() -> None:
    assert fingerprint(items, c.score > 1, ALL_KINDS) == fingerprint(items, c.score > 1, ALL_KINDS)


@pytest.mark.parametrize(
    ("table", "where", "orders"),
    [
        (notes, TRUE, ALL_KINDS),
        (items, c.score > 1, ALL_KINDS),
        (items, TRUE, ALL_KINDS[:-1]),
        (items, TRUE, (c.tenant.desc(), *ALL_KINDS[1:])),
    ],
)
def test_the_fingerprint_changes_with_table_filter_and_order(
    table: Any, where: Any, orders: tuple[Order, ...]
) -> None:
    assert fingerprint(table, where, orders) != BOUND


# -- hostile cursors: any size, any depth, any key ----------------------------------------------


def signed(payload: bytes, codec: CursorCodec = CODEC) -> str:
    """A cursor carrying *payload* (fingerprint + JSON), correctly signed by *codec*."""
    return as_cursor(b"\x01" + codec._mac(payload) + payload)


def test_a_signed_payload_nested_100_000_deep_is_an_invalid_cursor() -> None:
    cursor = signed(BOUND + b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InvalidCursor, match="MAX_CURSOR_LENGTH"):
        decode(cursor)


def test_a_signed_payload_nested_deeper_than_python_recurses_is_an_invalid_cursor() -> None:
    cursor = signed(BOUND + b"[" * 10_000 + b"]" * 10_000)
    assert len(cursor) <= MAX_CURSOR_LENGTH
    with pytest.raises(InvalidCursor, match="nested too deeply"):
        decode(cursor)


def test_a_cursor_longer_than_the_maximum_is_refused_before_it_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*_: Any) -> bytes:
        raise AssertionError("decoded")

    monkeypatch.setattr(base64, "urlsafe_b64decode", fail)
    with pytest.raises(InvalidCursor, match=f"MAX_CURSOR_LENGTH is {MAX_CURSOR_LENGTH}"):
        decode("A" * (MAX_CURSOR_LENGTH + 1))


def test_the_payload_is_not_parsed_before_the_signature_is_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(*_: Any) -> Any:
        raise AssertionError("parsed")

    monkeypatch.setattr(json, "loads", fail)
    forged = signed(BOUND + b"[" * 10_000, CursorCodec(b"someone else's key"))
    with pytest.raises(InvalidCursor, match="tampered"):
        decode(forged)


def test_a_cursor_minted_with_the_old_public_key_is_refused() -> None:
    # Before 0.1 the default key was the constant b"repokit cursor v1": anyone could sign.
    minted = CursorCodec(b"repokit cursor v1").encode(items, ALL_KINDS, BOUND, ROW)
    with pytest.raises(InvalidCursor, match="tampered"):
        decode(minted)


@pytest.mark.parametrize("size", [1, 17, 1000, MAX_CURSOR_LENGTH * 3 // 4])
def test_random_bytes_of_any_size_are_an_invalid_cursor(size: int) -> None:
    token = random.Random(size).randbytes(size)
    with pytest.raises(InvalidCursor):
        decode(as_cursor(token))
    with pytest.raises(InvalidCursor):
        decode(as_cursor(b"\x01" + token))


class Touchy(enum.Enum):
    A = "a"

    @classmethod
    def _missing_(cls, value: object) -> Any:
        raise RuntimeError(f"no member {value!r}")


@dataclass(frozen=True)
class Held:
    id: int
    touchy: Touchy


held = Table(Held, "cu_held", primary_key="id")


def test_an_enum_that_raises_anything_while_decoding_is_an_invalid_cursor() -> None:
    orders = (held.c.touchy.asc(), held.c.id.asc())
    bound = fingerprint(held, TRUE, orders)
    cursor = CODEC.encode(held, orders, bound, {"id": 1, "touchy": "zzz"})
    with pytest.raises(InvalidCursor, match="malformed"):
        CODEC.decode(cursor, held, orders, bound)


def test_the_default_key_is_random_per_process_and_shared_within_it() -> None:
    assert DEFAULT_KEY != b"repokit cursor v1"
    assert len(DEFAULT_KEY) == 32
    cursor = CursorCodec().encode(items, ALL_KINDS, BOUND, ROW)
    assert CursorCodec().decode(cursor, items, ALL_KINDS, BOUND) == decode(cursor)
    other = subprocess.run(
        [sys.executable, "-c", "from repokit.cursors import DEFAULT_KEY; print(DEFAULT_KEY.hex())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() != DEFAULT_KEY.hex()


def test_a_sort_value_too_long_for_a_cursor_is_an_invalid_query_naming_the_field() -> None:
    orders = (notes.c.body.asc(), notes.c.id.asc())
    bound = fingerprint(notes, TRUE, orders)
    with pytest.raises(InvalidQuery, match=r"Note\.body: a sort-key value too long for a cursor"):
        CODEC.encode(notes, orders, bound, {"id": 1, "body": "x" * MAX_CURSOR_LENGTH})


@given(st.integers(0, MAX_CURSOR_LENGTH), st.sampled_from('x"\\é😀\x01'))
def test_whatever_the_encoder_produces_decodes(length: int, char: str) -> None:
    orders = (notes.c.body.asc(), notes.c.id.asc())
    bound = fingerprint(notes, TRUE, orders)
    row = {"id": 1, "body": char * length}
    try:
        cursor = CODEC.encode(notes, orders, bound, row)
    except InvalidQuery:
        return
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert CODEC.decode(cursor, notes, orders, bound) == [row["body"], 1]
