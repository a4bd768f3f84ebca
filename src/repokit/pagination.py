"""Pagination requests and the page they produce (CONTRACT §10).

Page sizes and offsets have one upper bound on every backend, checked when
the request is built (before any I/O): PostgreSQL binds ``LIMIT``/``OFFSET``
as 32-bit integers, SQLite and MongoDB as 64-bit ones, and none of them
should be asked for billions of rows in one page. A caller that needs more
walks the pages (cursors cost the same at any depth); repokit's own internal
reads (batch operations, probes) are not pages and have no such bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from repokit.errors import InvalidQuery, excerpt

__all__ = [
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "CursorPagination",
    "OffsetPagination",
    "Page",
    "Pagination",
]

T = TypeVar("T")

#: The largest page: ``limit``, ``first`` and ``last`` are at most this.
MAX_PAGE_SIZE = 10_000
#: The largest ``offset`` (a deep offset page costs a scan of every skipped row:
#: walk with cursors instead).
MAX_OFFSET = 1_000_000_000


def _count(name: str, value: object, minimum: int, maximum: int, limit_name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidQuery(
            f"pagination: {name} must be an integer >= {minimum}, got {excerpt(value)}"
        )
    if value > maximum:
        raise InvalidQuery(
            f"pagination: {name} must be at most {maximum} ({limit_name}), got {excerpt(value)}"
        )


@dataclass(frozen=True, slots=True)
class OffsetPagination:
    """``limit`` items after skipping ``offset``.

    ``limit`` is 1 to :data:`MAX_PAGE_SIZE`, ``offset`` 0 to :data:`MAX_OFFSET`.

    Raises:
        InvalidQuery: naming the argument and its value, when it is not an
            integer in its range.
    """

    limit: int
    offset: int = 0

    def __post_init__(self) -> None:
        _count("limit", self.limit, 1, MAX_PAGE_SIZE, "MAX_PAGE_SIZE")
        _count("offset", self.offset, 0, MAX_OFFSET, "MAX_OFFSET")


@dataclass(frozen=True, slots=True)
class CursorPagination:
    """Keyset pagination: ``first`` items after ``after``, or ``last`` items before ``before``.

    Cursors come from a previous :class:`Page` of the same query
    (``page.end_cursor`` to go forward, ``page.start_cursor`` to go back).
    ``first`` and ``last`` are 1 to :data:`MAX_PAGE_SIZE`.

    Raises:
        InvalidQuery: a bad combination, or a size that is not an integer in
            its range (naming the argument and its value).
    """

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        if (self.first is None) == (self.last is None):
            raise InvalidQuery("pagination: give exactly one of first and last")
        if self.first is not None:
            _count("first", self.first, 1, MAX_PAGE_SIZE, "MAX_PAGE_SIZE")
            if self.before is not None:
                raise InvalidQuery("pagination: first goes with after, not before")
        if self.last is not None:
            _count("last", self.last, 1, MAX_PAGE_SIZE, "MAX_PAGE_SIZE")
            if self.after is not None:
                raise InvalidQuery("pagination: last goes with before, not after")
        for name in ("after", "before"):
            cursor = getattr(self, name)
            if cursor is not None and not isinstance(cursor, str):
                raise InvalidQuery(
                    f"pagination: {name} must be a cursor string, got {excerpt(cursor)}"
                )

    @property
    def backward(self) -> bool:
        """Whether this walks backward (``last`` / ``before``)."""
        return self.last is not None


#: A page request: ``pagination=`` of a search takes either kind (``None``: every match).
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
