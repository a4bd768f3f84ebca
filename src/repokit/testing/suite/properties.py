"""Contract property tests: the backend under test answers exactly as the reference backend.

Each example inserts the same generated entities under a fresh tenant in the
backend under test (``runner.db``) and in the reference backend
(``runner.oracle``), then asks both the same generated question: a search, a
count, a page, a whole cursor walk. Every answer must be equal (CONTRACT
§3–5, §10). Cursors are compared by what they lead to, never by their text,
so a backend may use its own cursor key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import pytest
from hypothesis import Phase, assume, given, settings
from hypothesis import strategies as st

from repokit import (
    TRUE,
    CursorPagination,
    Database,
    Deleted,
    InvalidCursor,
    Page,
    Repository,
)
from repokit.testing.plugin import suite_settings
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit.testing.strategies import (
    conditions,
    item_lists,
    orders,
    page_sizes,
    paginations,
)
from repokit.testing.suite.pagination import walk_pages

__all__ = ["TestAgreesWithTheReference", "TestCursorsAreTamperEvident"]

R = TypeVar("R")
Repo = Repository[Item, ItemId]
Shape = tuple[list[Item], int | None, bool, bool]
#: Questions asked of each generated data set: inserting is the slow part on a server.
_QUERIES = 4
_ORDERS = orders()


@contextmanager
def _seeded(
    runner: SuiteRunner, data: st.DataObject, *, min_size: int = 0
) -> Iterator[tuple[str, list[Item]]]:
    """The same generated entities of a fresh tenant in both databases, purged afterwards.

    Purging keeps both databases as small as one example, so shrinking a
    failure stays fast however many examples ran before it.
    """
    tenant = new_tenant()
    entities = data.draw(item_lists(tenant, min_size=min_size), label="entities")
    scope = TenantScope(tenant)
    try:
        for db in (runner.db, runner.oracle):
            runner.run(Repository(db, items).batch_create(entities, scope=scope))
        yield tenant, entities
    finally:
        for db in (runner.db, runner.oracle):
            runner.run(Repository(db, items).batch_purge(conditions=TRUE, scope=scope))


def property_settings(**overrides: Any) -> settings:
    """The profile's settings (:func:`suite_settings`) without hypothesis's explain phase.

    Explaining re-runs a failing example hundreds of times to annotate which
    parts matter; against a database server that takes many minutes, and the
    shrunk example already says enough.
    """
    phases = tuple(phase for phase in Phase if phase is not Phase.explain)
    return settings(suite_settings(), phases=phases, **overrides)


Ask = Callable[[Repo], Coroutine[Any, Any, R]]


def _ask(runner: SuiteRunner, db: Database, ask: Ask[R]) -> R:
    return runner.run(ask(Repository(db, items)))


def _both(runner: SuiteRunner, ask: Ask[R]) -> tuple[R, R]:
    """The answer of the backend under test, then the reference's."""
    return _ask(runner, runner.db, ask), _ask(runner, runner.oracle, ask)


def _shape(page: Page[Item]) -> Shape:
    assert (page.start_cursor is None) == (page.end_cursor is None) == (not page.items)
    return page.items, page.total_count, page.has_next_page, page.has_previous_page


class TestAgreesWithTheReference:
    """Differential tests: search, count, pages and walks equal the reference backend's."""

    @property_settings()
    @given(data=st.data())
    def test_search_returns_what_the_reference_returns(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data) as (tenant, entities):
            wheres = conditions(entities)
            for i in range(_QUERIES):
                where = data.draw(wheres, label=f"condition {i}")
                order = data.draw(_ORDERS, label=f"orders {i}")
                deleted = data.draw(st.sampled_from(Deleted), label=f"deleted {i}")
                actual, expected = _both(
                    repokit_runner,
                    partial(
                        Repository.search,
                        conditions=where,
                        orders=order,
                        scope=TenantScope(tenant),
                        deleted=deleted,
                        total_count=True,
                    ),
                )
                assert _shape(actual) == _shape(expected)

    @property_settings()
    @given(data=st.data())
    def test_count_of_a_predicate_and_its_complement_is_the_count_of_all(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data) as (tenant, entities):
            deleted = data.draw(st.sampled_from(Deleted), label="deleted")
            scope = TenantScope(tenant)

            def count(condition: Any) -> Ask[int]:
                return lambda repo: repo.count(conditions=condition, scope=scope, deleted=deleted)

            everything = _ask(repokit_runner, repokit_runner.db, count(TRUE))
            wheres = conditions(entities)
            for i in range(_QUERIES):
                where = data.draw(wheres, label=f"condition {i}")
                matching, expected = _both(repokit_runner, count(where))
                assert matching == expected
                complement, expected_complement = _both(repokit_runner, count(~where))
                assert complement == expected_complement
                assert matching + complement == everything

    @property_settings()
    @given(data=st.data())
    def test_a_page_equals_the_reference_page(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data) as (tenant, entities):
            wheres = conditions(entities)
            for i in range(_QUERIES):
                where = data.draw(wheres, label=f"condition {i}")
                order = data.draw(_ORDERS, label=f"orders {i}")
                pagination = data.draw(paginations(), label=f"pagination {i}")
                actual, expected = _both(
                    repokit_runner,
                    partial(
                        Repository.search,
                        conditions=where,
                        orders=order,
                        pagination=pagination,
                        scope=TenantScope(tenant),
                        total_count=True,
                    ),
                )
                assert _shape(actual) == _shape(expected)

    @property_settings()
    @given(data=st.data())
    def test_cursor_walks_equal_the_reference_walks(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data) as (tenant, entities):
            query: dict[str, Any] = {
                "conditions": data.draw(conditions(entities), label="condition"),
                "orders": data.draw(_ORDERS, label="orders"),
                "scope": TenantScope(tenant),
            }
            size = data.draw(page_sizes(4), label="page size")
            everything = _ask(repokit_runner, repokit_runner.db, lambda repo: repo.search(**query))
            for backward in (False, True):
                actual, expected = _both(
                    repokit_runner, partial(walk_pages, size=size, backward=backward, **query)
                )
                assert [_shape(p) for p in actual] == [_shape(p) for p in expected]
                pages = reversed(actual) if backward else actual
                assert [item for page in pages for item in page.items] == everything.items


_CURSOR_TEXT = st.text() | st.binary().map(lambda raw: base64.urlsafe_b64encode(raw).decode())


class TestCursorsAreTamperEvident:
    """Anything but an unchanged cursor of the query raises InvalidCursor, never another error."""

    @property_settings()
    @given(cursor=_CURSOR_TEXT)
    def test_an_arbitrary_string_is_an_invalid_cursor(
        self, repokit_runner: SuiteRunner, repokit_tenant: str, cursor: str
    ) -> None:
        repo: Repo = Repository(repokit_runner.db, items)
        for pagination in (
            CursorPagination(first=2, after=cursor),
            CursorPagination(last=2, before=cursor),
        ):
            with pytest.raises(InvalidCursor):
                repokit_runner.run(
                    repo.search(pagination=pagination, scope=TenantScope(repokit_tenant))
                )

    @property_settings()
    @given(data=st.data())
    def test_a_cursor_with_one_character_changed_is_invalid(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data, min_size=1) as (tenant, _entities):
            repo: Repo = Repository(repokit_runner.db, items)
            order = data.draw(_ORDERS, label="orders")
            page = repokit_runner.run(
                repo.search(
                    orders=order, pagination=CursorPagination(first=1), scope=TenantScope(tenant)
                )
            )
            assume(page.end_cursor is not None)  # every entity may be soft-deleted
            cursor = page.end_cursor
            assert cursor is not None
            position = data.draw(st.integers(0, len(cursor) - 1), label="position")
            replacement = data.draw(
                st.characters(codec="utf-8").filter(lambda ch: ch != cursor[position]),
                label="replacement",
            )
            tampered = cursor[:position] + replacement + cursor[position + 1 :]
            with pytest.raises(InvalidCursor):
                repokit_runner.run(
                    repo.search(
                        orders=order,
                        pagination=CursorPagination(first=1, after=tampered),
                        scope=TenantScope(tenant),
                    )
                )
