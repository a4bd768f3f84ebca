"""Contract tests: CONTRACT §25 conditions across tables (semi-joins).

``exists(members, on={"item_id": items.c.id}, where=...)`` matches the items
a live membership row points at. The suite's association table
``rk_members`` (id, tenant, item_id, role, rank, deleted_at) points at
``rk_items``; :class:`~repokit.testing.schema.MemberScope` is a scope built
on it. Every test runs inside a fresh tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit import (
    TRUE,
    Condition,
    CursorPagination,
    Database,
    EntityNotFound,
    InvalidQuery,
    Repository,
    ScopeViolation,
    and_,
    exists,
    or_,
)
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import (
    Item,
    ItemId,
    Label,
    Member,
    MemberScope,
    TenantScope,
    items,
    labels,
    members,
    new_member_id,
    new_tenant,
    notes,
)
from repokit.testing.strategies import conditions, item_lists
from repokit.testing.suite._entities import item_repository, new_item
from repokit.testing.suite.properties import property_settings

__all__ = ["TestSemiJoinScopes", "TestSemiJoins", "TestSemiJoinsAgreeWithTheReference"]

Repo = Repository[Item, ItemId]


def _member(tenant: str, item: Item | None, role: str | None, **fields: Any) -> Member:
    return Member(new_member_id(), tenant, None if item is None else item.id, role, **fields)


def _role(role: str, **options: Any) -> Condition:
    return exists(members, on={"item_id": items.c.id}, where=members.c.role == role, **options)


async def _names(repo: Repo, tenant: str, *where: Condition) -> set[str]:
    page = await repo.search(conditions=where, scope=TenantScope(tenant))
    return {item.name for item in page.items}


async def _seed(db: Database, tenant: str) -> tuple[Repo, Repository[Member, int], list[Item]]:
    """Items a, b, c, d; a and b have role "admin", c has "user", d has none."""
    repo = item_repository(db)
    made = await repo.batch_create(
        [
            new_item(tenant, name, code=code)
            for name, code in zip("abcd", ["x", "y", None, "admin"], strict=True)
        ],
        scope=TenantScope(tenant),
    )
    links = Repository(db, members)
    await links.batch_create(
        [
            _member(tenant, made[0], "admin"),
            _member(tenant, made[1], "admin"),
            _member(tenant, made[1], "user"),
            _member(tenant, made[2], "user"),
            _member(tenant, None, "admin"),  # a null in the paired field: matches nothing
        ]
    )
    return repo, links, made


class TestSemiJoins:
    """Searches, counts, pages, walks and batch writes with a semi-join (CONTRACT §25)."""

    @pytest.mark.asyncio
    async def test_search_count_exists_and_stream_see_the_items_with_a_matching_row(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, _, _ = await _seed(repokit_db, repokit_tenant)
        scope = TenantScope(repokit_tenant)
        assert await _names(repo, repokit_tenant, _role("admin")) == {"a", "b"}
        assert await _names(repo, repokit_tenant, _role("user")) == {"b", "c"}
        assert await _names(repo, repokit_tenant, _role("nobody")) == set()
        assert await repo.count(conditions=[_role("admin")], scope=scope) == 2
        assert await repo.exists(conditions=[_role("user")], scope=scope)
        assert not await repo.exists(conditions=[_role("nobody")], scope=scope)
        streamed = [i.name async for i in repo.stream(conditions=[_role("user")], scope=scope)]
        assert sorted(streamed) == ["b", "c"]

    @pytest.mark.asyncio
    async def test_negation_is_true_exactly_where_no_row_matches(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # NOT EXISTS, not NOT IN: the inner row with a null item_id changes nothing.
        repo, _, _ = await _seed(repokit_db, repokit_tenant)
        assert await _names(repo, repokit_tenant, ~_role("admin")) == {"c", "d"}
        assert await _names(repo, repokit_tenant, ~_role("nobody")) == {"a", "b", "c", "d"}
        both = and_(_role("admin"), ~_role("user"))
        assert await _names(repo, repokit_tenant, both) == {"a"}

    @pytest.mark.asyncio
    async def test_a_null_on_the_outer_side_matches_nothing_and_its_negation_holds(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, _, _ = await _seed(repokit_db, repokit_tenant)
        # Items whose code is some member's role: only d ("admin"); c's code is null.
        by_code = exists(
            members, on={"role": items.c.code}, where=members.c.tenant == repokit_tenant
        )
        assert await _names(repo, repokit_tenant, by_code) == {"d"}
        assert await _names(repo, repokit_tenant, ~by_code) == {"a", "b", "c"}

    @pytest.mark.asyncio
    async def test_only_live_rows_of_the_other_table_count_unless_asked(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, links, made = await _seed(repokit_db, repokit_tenant)
        gone = await links.create(_member(repokit_tenant, made[3], "admin"))
        await links.delete(gone.id)
        assert await _names(repo, repokit_tenant, _role("admin")) == {"a", "b"}
        with_deleted = _role("admin", include_deleted=True)
        assert await _names(repo, repokit_tenant, with_deleted) == {"a", "b", "d"}

    @pytest.mark.asyncio
    async def test_several_pairs_must_all_be_equal(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, links, made = await _seed(repokit_db, repokit_tenant)
        other = new_tenant()
        await links.create(_member(other, made[3], "admin"))  # d, but another tenant
        paired = exists(
            members,
            on={"item_id": items.c.id, "tenant": items.c.tenant},
            where=members.c.role == "admin",
        )
        assert await _names(repo, repokit_tenant, paired) == {"a", "b"}
        assert await _names(repo, repokit_tenant, _role("admin")) == {"a", "b", "d"}

    @pytest.mark.asyncio
    async def test_semi_joins_nest_and_join_a_table_to_itself(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, _, _ = await _seed(repokit_db, repokit_tenant)
        await Repository(repokit_db, labels).create(
            Label(f"l-{uuid.uuid4().hex}", repokit_tenant, color="user", weight=1)
        )
        # Items with a member whose role is the colour of a label of weight > 0.
        nested = exists(
            members,
            on={"item_id": items.c.id},
            where=exists(
                labels,
                on={"color": members.c.role},
                where=(labels.c.weight > 0) & (labels.c.tenant == repokit_tenant),
            ),
        )
        assert await _names(repo, repokit_tenant, nested) == {"b", "c"}
        # Items whose code is the name of a live item of the same tenant: none but...
        await repo.create(new_item(repokit_tenant, "x"), scope=TenantScope(repokit_tenant))
        itself = exists(
            items,
            on={"name": items.c.code, "tenant": items.c.tenant},
            where=items.c.score.is_null(),
        )
        assert await _names(repo, repokit_tenant, itself) == {"a"}

    @pytest.mark.asyncio
    async def test_batch_writes_by_a_semi_join_touch_the_matching_items_only(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, _, _ = await _seed(repokit_db, repokit_tenant)
        scope = TenantScope(repokit_tenant)
        assert await repo.batch_update({"score": 5}, conditions=[_role("admin")], scope=scope) == 2
        assert await _names(repo, repokit_tenant, items.c.score == 5) == {"a", "b"}
        assert await repo.batch_delete(conditions=[~_role("admin")], scope=scope) == 2
        assert await _names(repo, repokit_tenant) == {"a", "b"}
        # A purge reaches soft-deleted items too: b, and c (deleted above).
        assert await repo.batch_purge(conditions=[_role("user")], scope=scope) == 2
        assert await _names(repo, repokit_tenant) == {"a"}

    @pytest.mark.asyncio
    async def test_a_cursor_keeps_its_position_when_a_row_of_the_other_table_changes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, links, made = await _seed(repokit_db, repokit_tenant)
        query: dict[str, Any] = {
            "conditions": [_role("user") | _role("admin")],
            "orders": [items.c.name.asc()],
            "scope": TenantScope(repokit_tenant),
        }
        first = await repo.search(pagination=CursorPagination(first=2), **query)
        assert [i.name for i in first.items] == ["a", "b"]
        await links.create(_member(repokit_tenant, made[3], "user"))  # d joins
        await links.batch_delete(conditions=[members.c.item_id == made[2].id])  # c leaves
        after = CursorPagination(first=2, after=first.end_cursor)
        second = await repo.search(pagination=after, **query)
        assert [i.name for i in second.items] == ["d"]
        assert not second.has_next_page
        assert second.has_previous_page

    @pytest.mark.asyncio
    async def test_a_semi_join_that_cannot_be_built_is_refused(self) -> None:
        with pytest.raises(InvalidQuery, match="rk_members"):
            exists(members, on={"nope": items.c.id})
        with pytest.raises(InvalidQuery, match=r"Member\.role"):
            exists(members, on={"role": items.c.score})
        with pytest.raises(InvalidQuery, match="on="):
            exists(members, on={})
        with pytest.raises(InvalidQuery, match="two tables"):
            exists(members, on={"item_id": items.c.id, "tenant": notes.c.tenant})
        with pytest.raises(InvalidQuery, match="rk_items"):
            exists(members, on={"item_id": items.c.id}, where=items.c.score == 1)
        with pytest.raises(InvalidQuery, match="Table"):
            exists("rk_members", on={"item_id": items.c.id})  # type: ignore[arg-type]
        with pytest.raises(InvalidQuery, match="rk_notes"):
            # A semi-join on the wrong outer table is caught like any foreign field.
            items.check_condition(exists(members, on={"tenant": notes.c.tenant}))


class TestSemiJoinScopes:
    """A scope across tables restricts reads and writes alike (CONTRACT §6, §25)."""

    @pytest.mark.asyncio
    async def test_reads_by_key_outside_the_scope_are_missing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, _, made = await _seed(repokit_db, repokit_tenant)
        admin = MemberScope("admin")
        assert (await repo.get(made[0].id, scope=admin)).name == "a"
        with pytest.raises(EntityNotFound):
            await repo.get(made[2].id, scope=admin)
        with pytest.raises(EntityNotFound):
            await repo.update(made[2].id, {"score": 1}, scope=admin)
        assert (await repo.update(made[0].id, {"score": 1}, scope=admin)).score == 1
        mine = items.c.tenant == repokit_tenant
        page = await repo.search(conditions=[mine], scope=[admin, MemberScope("user")])
        assert {i.name for i in page.items} == {"a", "b", "c"}

    @pytest.mark.asyncio
    async def test_create_inside_a_scope_across_tables_needs_the_matching_row(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        links = Repository(repokit_db, members)
        admin = MemberScope("admin")
        outside = new_item(repokit_tenant, "outside")
        with pytest.raises(ScopeViolation):
            await repo.create(outside, scope=admin)
        with pytest.raises(ScopeViolation):
            await repo.batch_create([new_item(repokit_tenant, "z"), outside], scope=admin)
        inside = new_item(repokit_tenant, "inside")
        await links.create(Member(new_member_id(), repokit_tenant, inside.id, "admin"))
        assert (await repo.create(inside, scope=admin)).name == "inside"
        assert await repo.count(conditions=[TRUE], scope=TenantScope(repokit_tenant)) == 1

    @pytest.mark.asyncio
    async def test_an_update_may_not_move_an_entity_out_of_a_scope_across_tables(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        links = Repository(repokit_db, members)
        k1, k2 = f"k1-{repokit_tenant}", f"k2-{repokit_tenant}"
        item = new_item(repokit_tenant, "coded", code=k1)
        await links.create(Member(new_member_id(), repokit_tenant, None, k1))
        coded = exists(members, on={"role": items.c.code})

        class ByCode(MemberScope):
            def to_condition(self) -> Condition:
                return coded

        scope = ByCode("any")
        await repo.create(item, scope=scope)
        with pytest.raises(ScopeViolation):
            await repo.update(item.id, {"code": k2}, scope=scope)
        assert (await repo.update(item.id, {"score": 3}, scope=scope)).score == 3
        with pytest.raises(ScopeViolation):
            await repo.batch_update({"code": k2}, ids=[item.id], scope=scope)
        assert (await repo.get(item.id)).code == k1


# -- differential ------------------------------------------------------------------------------

_ROLES = ["a", "b", None]
_STAMP = datetime(2024, 1, 1, tzinfo=UTC)


def _members(tenant: str, entities: Sequence[Item]) -> st.SearchStrategy[list[Member]]:
    targets = st.sampled_from([None, *(entity.id for entity in entities)])
    member = st.builds(
        lambda item_id, role, rank, gone: Member(
            new_member_id(), tenant, item_id, role, rank, _STAMP if gone else None
        ),
        targets,
        st.sampled_from(_ROLES),
        st.one_of(st.none(), st.integers(0, 3)),
        st.booleans(),
    )
    return st.lists(member, max_size=8)


def _inner(entities: Sequence[Item]) -> st.SearchStrategy[Condition]:
    leaf = st.one_of(
        st.just(TRUE),
        st.sampled_from(_ROLES).map(lambda role: members.c.role == role),
        st.integers(0, 3).map(lambda rank: members.c.rank >= rank),
        st.just(members.c.rank.is_null()),
        conditions(entities, max_leaves=2).map(
            lambda where: exists(items, on={"id": members.c.item_id}, where=where)
        ),
    )

    def combine(children: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
        pairs = st.tuples(st.booleans(), children, children)
        return pairs.map(lambda p: and_(p[1], ~p[2]) if p[0] else or_(p[1], p[2]))

    return st.recursive(leaf, combine, max_leaves=4)


class TestSemiJoinsAgreeWithTheReference:
    """Generated associations and inner conditions answer as on the reference backend."""

    @property_settings()
    @given(data=st.data())
    def test_searches_with_semi_joins_return_what_the_reference_returns(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        runner = repokit_runner
        tenant = new_tenant()
        scope = TenantScope(tenant)
        entities = data.draw(item_lists(tenant), label="entities")
        links = data.draw(_members(tenant, entities), label="members")
        try:
            for db in (runner.db, runner.oracle):
                runner.run(Repository(db, items).batch_create(entities, scope=scope))
                runner.run(Repository(db, members).batch_create(links))
            for i in range(3):
                inner = data.draw(_inner(entities), label=f"inner {i}")
                deleted = data.draw(st.booleans(), label=f"include_deleted {i}")
                joined = exists(
                    members, on={"item_id": items.c.id}, where=inner, include_deleted=deleted
                )
                negate = data.draw(st.booleans(), label=f"negated {i}")
                where = ~joined if negate else joined
                ask = partial(
                    Repository.search,
                    conditions=[where],
                    orders=[items.c.id.asc()],
                    scope=scope,
                    total_count=True,
                )
                actual = runner.run(ask(Repository(runner.db, items)))
                expected = runner.run(ask(Repository(runner.oracle, items)))
                assert actual.items == expected.items
                assert actual.total_count == expected.total_count
        finally:
            for db in (runner.db, runner.oracle):
                runner.run(Repository(db, items).batch_purge(conditions=TRUE, scope=scope))
                runner.run(
                    Repository(db, members).batch_purge(conditions=[members.c.tenant == tenant])
                )
