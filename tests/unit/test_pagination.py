"""Pagination arguments (CONTRACT §10): validated when the request is built."""

from typing import Any

import pytest

from repokit.errors import InvalidQuery
from repokit.pagination import MAX_OFFSET, MAX_PAGE_SIZE, CursorPagination, OffsetPagination, Page


def test_offset_pagination_defaults_to_offset_zero() -> None:
    assert OffsetPagination(limit=10).offset == 0


@pytest.mark.parametrize("limit", [0, -1, 1.5, "10", True, None])
def test_offset_limit_must_be_an_integer_of_at_least_one(limit: Any) -> None:
    with pytest.raises(InvalidQuery, match="limit must be an integer >= 1"):
        OffsetPagination(limit=limit)


@pytest.mark.parametrize("offset", [-1, 0.0, "0", False, None])
def test_offset_must_be_an_integer_of_at_least_zero(offset: Any) -> None:
    with pytest.raises(InvalidQuery, match="offset must be an integer >= 0"):
        OffsetPagination(limit=1, offset=offset)


def test_cursor_pagination_forward() -> None:
    pagination = CursorPagination(first=5, after="abc")
    assert (pagination.first, pagination.after, pagination.backward) == (5, "abc", False)


def test_cursor_pagination_backward() -> None:
    pagination = CursorPagination(last=5, before="abc")
    assert pagination.backward is True


def test_cursor_pagination_needs_first_or_last() -> None:
    with pytest.raises(InvalidQuery, match="exactly one of first and last"):
        CursorPagination()


def test_cursor_pagination_refuses_first_and_last_together() -> None:
    with pytest.raises(InvalidQuery, match="exactly one of first and last"):
        CursorPagination(first=1, last=1)


def test_first_goes_with_after_not_before() -> None:
    with pytest.raises(InvalidQuery, match="first goes with after"):
        CursorPagination(first=1, before="abc")


def test_last_goes_with_before_not_after() -> None:
    with pytest.raises(InvalidQuery, match="last goes with before"):
        CursorPagination(last=1, after="abc")


@pytest.mark.parametrize("size", [0, -3, True, 2.0])
def test_first_must_be_an_integer_of_at_least_one(size: Any) -> None:
    with pytest.raises(InvalidQuery, match="first must be an integer >= 1"):
        CursorPagination(first=size)


@pytest.mark.parametrize("size", [0, False])
def test_last_must_be_an_integer_of_at_least_one(size: Any) -> None:
    with pytest.raises(InvalidQuery, match="last must be an integer >= 1"):
        CursorPagination(last=size)


@pytest.mark.parametrize("cursor", [b"abc", 5])
def test_a_cursor_argument_must_be_a_string(cursor: Any) -> None:
    with pytest.raises(InvalidQuery, match="after must be a cursor string"):
        CursorPagination(first=1, after=cursor)


def test_a_before_cursor_must_be_a_string() -> None:
    with pytest.raises(InvalidQuery, match="before must be a cursor string"):
        CursorPagination(last=1, before=b"abc")  # type: ignore[arg-type]


def test_pagination_requests_are_frozen_values() -> None:
    assert OffsetPagination(3, 1) == OffsetPagination(limit=3, offset=1)
    assert hash(CursorPagination(first=2)) == hash(CursorPagination(first=2))


def test_a_page_holds_its_items_and_flags() -> None:
    page = Page(["a"], 1, False, True, "s", "e")
    assert (page.items, page.total_count, page.has_next_page, page.has_previous_page) == (
        ["a"],
        1,
        False,
        True,
    )


# -- one upper bound on every backend ------------------------------------------------------------


def test_the_limits_are_exported_and_documented_values() -> None:
    assert (MAX_PAGE_SIZE, MAX_OFFSET) == (10_000, 1_000_000_000)


def test_a_page_of_the_maximum_size_at_the_maximum_offset_is_accepted() -> None:
    assert OffsetPagination(MAX_PAGE_SIZE, MAX_OFFSET).limit == MAX_PAGE_SIZE
    assert CursorPagination(first=MAX_PAGE_SIZE).first == MAX_PAGE_SIZE
    assert CursorPagination(last=MAX_PAGE_SIZE, before="c").last == MAX_PAGE_SIZE


TOO_BIG = [MAX_PAGE_SIZE + 1, 2**31, 2**63, 10**5000]


@pytest.mark.parametrize("size", TOO_BIG, ids=["max+1", "2**31", "2**63", "10**5000"])
@pytest.mark.parametrize("argument", ["limit", "first", "last"])
def test_a_page_larger_than_the_maximum_is_an_invalid_query_naming_it(
    argument: str, size: int
) -> None:
    make = OffsetPagination if argument == "limit" else CursorPagination
    with pytest.raises(InvalidQuery, match=f"{argument} must be at most 10000") as raised:
        make(**{argument: size})
    message = str(raised.value)
    assert "MAX_PAGE_SIZE" in message
    assert len(message) < 300
    if size < 2**64:
        assert str(size) in message


@pytest.mark.parametrize(
    "offset",
    [MAX_OFFSET + 1, 2**31 * 1000, 2**63, 10**5000],
    ids=["max+1", "2**31*1000", "2**63", "10**5000"],
)
def test_an_offset_beyond_the_maximum_is_an_invalid_query_naming_it(offset: int) -> None:
    with pytest.raises(InvalidQuery, match=r"offset must be at most 1000000000 \(MAX_OFFSET\)"):
        OffsetPagination(limit=1, offset=offset)


def test_a_page_size_whose_repr_raises_is_still_an_invalid_query() -> None:
    class Odd:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    with pytest.raises(InvalidQuery, match="limit must be an integer"):
        OffsetPagination(limit=Odd())  # type: ignore[arg-type]
