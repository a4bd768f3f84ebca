"""Pagination requests and the page they produce (CONTRACT §10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from repokit.errors import InvalidQuery

__all__ = ["CursorPagination", "OffsetPagination", "Page", "Pagination"]

T = TypeVar("T")


def _count(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidQuery(f"pagination: {name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True, slots=True)
class OffsetPagination:
    """``limit`` items (≥ 1) after skipping ``offset`` (≥ 0)."""

    limit: int
    offset: int = 0

    def __post_init__(self) -> None:
        _count("limit", self.limit, 1)
        _count("offset", self.offset, 0)


@dataclass(frozen=True, slots=True)
class CursorPagination:
    """Keyset pagination: ``first`` items after ``after``, or ``last`` items before ``before``.

    Cursors come from a previous :class:`Page` of the same query
    (``page.end_cursor`` to go forward, ``page.start_cursor`` to go back).
    """

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        if (self.first is None) == (self.last is None):
            raise InvalidQuery("pagination: give exactly one of first and last")
        if self.first is not None:
            _count("first", self.first, 1)
            if self.before is not None:
                raise InvalidQuery("pagination: first goes with after, not before")
        if self.last is not None:
            _count("last", self.last, 1)
            if self.after is not None:
                raise InvalidQuery("pagination: last goes with before, not after")
        for name in ("after", "before"):
            cursor = getattr(self, name)
            if cursor is not None and not isinstance(cursor, str):
                raise InvalidQuery(f"pagination: {name} must be a cursor string, got {cursor!r}")

    @property
    def backward(self) -> bool:
        """Whether this walks backward (``last`` / ``before``)."""
        return self.last is not None


Pagination = OffsetPagination | CursorPagination


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a search.

    Attributes:
        items: the entities, always in the requested order.
        total_count: the size of the whole filtered, scoped set, when asked for.
        has_next_page: whether entities follow the page (exact).
        has_previous_page: whether entities precede the page (exact).
        start_cursor: the cursor of the first item (``None`` when empty).
        end_cursor: the cursor of the last item (``None`` when empty).
    """

    items: list[T]
    total_count: int | None
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None
