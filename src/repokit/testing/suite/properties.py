"""Contract property tests: the backend under test answers exactly as the reference backend.

Each example inserts the same generated entities under a fresh tenant in the
backend under test (``runner.db``) and in the reference backend
(``runner.oracle``), then asks both the same generated question: a search, a
count, a page, a whole cursor walk. Every answer must be equal (CONTRACT
§3–5, §10). Cursors are compared by what they lead to, never by their text,
so a backend may use its own cursor key.

Writes are compared the same way: a generated sequence of upserts and batch
upserts (CONTRACT §18), or of per-item bulk operations (CONTRACT §20), over
the seeded entities' keys and names, runs on both; every answer (the
``Upserted`` entity and flag, each bulk outcome's key, entity and error
class, or the error class of the call) and the entities stored at the end
must be equal.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Iterator
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
    Outcome,
    Page,
    Repository,
    RepositoryError,
)
from repokit.testing.plugin import suite_settings
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant
from repokit.testing.strategies import (
    conditions,
    ids_for,
    item_changes,
    item_for,
    item_lists,
    orders,
    page_sizes,
    paginations,
)
from repokit.testing.suite.pagination import walk_pages

__all__ = [
    "TestAgreesWithTheReference",
    "TestCursorsAreTamperEvident",
    "TestWritesAgreeWithTheReference",
]

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


# -- writes: upserts and bulk operations --------------------------------------------------

#: Writes in one example's sequence at most (each on both backends, then compared).
_WRITES = 8
#: The keys an upsert decides on, the unique key's fields in both orders.
_UPSERT_KEYS: tuple[Any, ...] = ("id", ("tenant", "name"), ("name", "tenant"))
#: A key no backend accepts: its bulk item fails alone, before any I/O.
_BAD_KEY = "not a uuid"
#: Bulk items whose values break the value rules (CONTRACT §1, §13): each fails alone.
_BAD_VALUES: tuple[dict[str, Any], ...] = ({"name": "x" * 65}, {"score": 2**63}, {"score": "3"})

#: One bulk item's outcome as compared: its key, entity and error class.
Answer = tuple[Any, Item | None, type[Exception] | None]


async def _answered(call: Awaitable[Any]) -> Any:
    """What *call* answered, or the class of the repokit error it raised.

    Bulk outcomes become ``(key, entity, error class)``: exceptions compare by identity.
    """
    try:
        result = await call
    except RepositoryError as exc:
        return type(exc)
    if isinstance(result, list) and result and isinstance(result[0], Outcome):
        answers: list[Answer] = [
            (o.key, o.entity, None if o.error is None else type(o.error)) for o in result
        ]
        return answers
    return result


def _answer_of(ask: Ask[Any], repo: Repo) -> Coroutine[Any, Any, Any]:
    return _answered(ask(repo))


class _Keys:
    """The ids and names an example's writes draw from: the seeded ones and every one used.

    The draws never depend on what a backend answered, so both run the same sequence.
    """

    def __init__(self, data: st.DataObject, tenant: str, entities: list[Item]) -> None:
        self.data, self.tenant = data, tenant
        self.ids: list[Any] = [e.id for e in entities]
        self.names: list[str] = sorted({e.name for e in entities})

    def key(self, label: str) -> Any:
        """A used id (often), a new one, or now and then one no backend accepts."""
        pick = self.data.draw(st.integers(0, 9), label=f"{label}: which key")
        if pick == 0:
            return _BAD_KEY
        if pick >= 4 and self.ids:
            return self.data.draw(st.sampled_from(self.ids), label=f"{label}: used key")
        return self.data.draw(ids_for(self.tenant), label=f"{label}: new key")

    def entity(self, label: str, *, tenant: str | None = None) -> Item:
        """A generated entity, often with an id or a name already used."""
        data = self.data
        item = data.draw(item_for(tenant or self.tenant), label=label)
        reuse = data.draw(st.sampled_from(("none", "id", "name", "both")), label=f"{label}: reuse")
        if reuse in ("id", "both") and self.ids:
            item = dataclasses.replace(item, id=data.draw(st.sampled_from(self.ids)))
        if reuse in ("name", "both") and self.names:
            item = dataclasses.replace(item, name=data.draw(st.sampled_from(self.names)))
        self.ids.append(item.id)
        self.names.append(item.name)
        return item

    def changes(self, label: str) -> dict[str, Any]:
        """An update's values: sometimes a used name, a move to another tenant, a bad value."""
        data = self.data
        values = data.draw(item_changes(), label=label)
        extra = data.draw(st.integers(0, 9), label=f"{label}: extra")
        if extra <= 2 and self.names:
            values["name"] = data.draw(st.sampled_from(self.names), label=f"{label}: used name")
        elif extra == 3:
            values["tenant"] = new_tenant()  # out of the caller's scope
        elif extra == 4:
            values.update(data.draw(st.sampled_from(_BAD_VALUES), label=f"{label}: bad value"))
        return values


def _upsert(keys: _Keys, i: int) -> Ask[Any]:
    """The *i*-th upsert of a sequence: one entity, or a batch of up to three."""
    data = keys.data
    on = data.draw(st.sampled_from(_UPSERT_KEYS), label=f"upsert {i}: on")
    kind = data.draw(st.sampled_from(("entity", "entity", "values", "nothing")))
    update: dict[str, Any] | None = None
    if kind == "values":
        update = keys.changes(f"upsert {i}: update")
        if on != "id" and data.draw(st.integers(0, 4), label=f"upsert {i}: set the key") > 0:
            update = {f: v for f, v in update.items() if f not in ("tenant", "name")}
    elif kind == "nothing":
        update = {}  # get or create
    scope = TenantScope(keys.tenant)
    if data.draw(st.integers(0, 9), label=f"upsert {i}: elsewhere") == 0:
        scope = TenantScope(new_tenant())  # every entity lies outside it
    if data.draw(st.integers(0, 3), label=f"upsert {i}: batch") == 0:
        count = data.draw(st.integers(1, 3), label=f"upsert {i}: entities")
        batch = [keys.entity(f"upsert {i}.{n}") for n in range(count)]
        return partial(Repository.batch_upsert, entities=batch, on=on, update=update, scope=scope)
    entity = keys.entity(f"upsert {i}")
    version = data.draw(st.none() | st.integers(0, 3), label=f"upsert {i}: expected version")
    return partial(
        Repository.upsert,
        entity=entity,
        on=on,
        update=update,
        scope=scope,
        expected_version=version,
    )


def _bulk(keys: _Keys, i: int) -> Ask[list[Outcome[Item]]]:
    """The *i*-th bulk operation of a sequence, over up to four items."""
    data = keys.data
    operation = data.draw(
        st.sampled_from(("create", "update", "delete", "purge")), label=f"bulk {i}"
    )
    count = data.draw(st.integers(0, 4), label=f"bulk {i}: items")
    scope = TenantScope(keys.tenant)
    if operation == "create":
        entities: list[Item] = []
        for n in range(count):
            label = f"bulk {i}.{n}"
            pick = data.draw(st.integers(0, 9), label=f"{label}: kind")
            if pick == 0:
                entities.append(keys.entity(label, tenant=new_tenant()))  # out of scope
            elif pick == 1:
                bad = data.draw(st.sampled_from(_BAD_VALUES), label=f"{label}: bad value")
                entities.append(dataclasses.replace(keys.entity(label), **bad))
            else:
                entities.append(keys.entity(label))
        return partial(Repository.bulk_create, entities=entities, scope=scope)
    if operation == "update":
        updates = {keys.key(f"bulk {i}.{n}"): keys.changes(f"bulk {i}.{n}") for n in range(count)}
        return partial(Repository.bulk_update, updates=updates, scope=scope)
    chosen = [keys.key(f"bulk {i}.{n}") for n in range(count)]
    if operation == "delete":
        return partial(Repository.bulk_delete, keys=chosen, scope=scope)
    return partial(Repository.bulk_purge, keys=chosen, scope=scope)


def _same_writes(runner: SuiteRunner, tenant: str, writes: Iterator[tuple[str, Ask[Any]]]) -> None:
    """Each write answers on the backend under test as on the reference; so does the end state."""
    for label, ask in writes:
        actual, expected = _both(runner, partial(_answer_of, ask))
        assert actual == expected, f"{label}: the backend under test answered {actual!r}"
    stored = partial(
        Repository.search,
        orders=[items.c.id.asc()],
        scope=TenantScope(tenant),
        deleted=Deleted.INCLUDE,
    )
    actual_items, expected_items = _both(runner, stored)
    assert actual_items.items == expected_items.items, "the entities stored differ"


class TestWritesAgreeWithTheReference:
    """Differential: upsert and bulk sequences answer and store as on the reference backend."""

    @property_settings()
    @given(data=st.data())
    def test_upserts_answer_and_store_as_on_the_reference(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data, min_size=1) as (tenant, entities):
            keys = _Keys(data, tenant, entities)
            count = data.draw(st.integers(1, _WRITES), label="upserts")
            writes = ((f"upsert {i}", _upsert(keys, i)) for i in range(count))
            _same_writes(repokit_runner, tenant, writes)

    @property_settings()
    @given(data=st.data())
    def test_bulk_operations_answer_and_store_as_on_the_reference(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        with _seeded(repokit_runner, data, min_size=1) as (tenant, entities):
            keys = _Keys(data, tenant, entities)
            count = data.draw(st.integers(1, _WRITES // 2), label="bulk operations")
            writes = ((f"bulk {i}", _bulk(keys, i)) for i in range(count))
            _same_writes(repokit_runner, tenant, writes)
