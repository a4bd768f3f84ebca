"""Contract tests: CONTRACT §6 scope.

A scope restricts every operation to the entities it matches. Outside it an
entity is indistinguishable from a missing one, writes may not put an entity
outside it, batches, counts and searches never reach beyond it, several
scopes are ORed, and "no scope" is explicit. Key collisions are the one
documented exception: a unique key is unique in the whole table, so a
collision is reported whoever holds the key; keys chosen the recommended way
(fresh UUID primary keys, unique keys that include the tenant) never meet
another tenant's.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from repokit import (
    TRUE,
    Condition,
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    GlobalScope,
    InvalidQuery,
    Repository,
    ScopeArg,
    ScopeViolation,
    SearchScope,
)
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant, notes
from repokit.testing.suite._entities import count_items, item_repository, new_item
from repokit.testing.suite._writes import (
    failure_payload,
    item_names,
    new_note,
    note_repository,
)

__all__ = [
    "TestExistenceAcrossScopes",
    "TestScopeArguments",
    "TestScopeBoundaries",
    "TestScopeWrites",
]

ItemOperation = Callable[[Repository[Item, ItemId], Item, ScopeArg], Awaitable[object]]

#: Operations addressing one entity by key; the flag says whether it must be deleted first.
_BY_KEY: dict[str, tuple[ItemOperation, bool]] = {
    "get": (lambda repo, item, scope: repo.get(item.id, scope=scope), False),
    "update": (lambda repo, item, scope: repo.update(item.id, {"score": 7}, scope=scope), False),
    "delete": (lambda repo, item, scope: repo.delete(item.id, scope=scope), False),
    "restore": (lambda repo, item, scope: repo.restore(item.id, scope=scope), True),
    "purge": (lambda repo, item, scope: repo.purge(item.id, scope=scope), False),
}

#: Every operation that takes a scope, applied to an existing live item.
_ALL: dict[str, ItemOperation] = {
    **{name: operation for name, (operation, _) in _BY_KEY.items()},
    "search": lambda repo, item, scope: repo.search(scope=scope),
    "count": lambda repo, item, scope: repo.count(scope=scope),
    "create": lambda repo, item, scope: repo.create(new_item(item.tenant), scope=scope),
    "batch_create": lambda repo, item, scope: repo.batch_create(
        [new_item(item.tenant)], scope=scope
    ),
    "batch_update": lambda repo, item, scope: repo.batch_update(
        {"score": 7}, ids=[item.id], scope=scope
    ),
    "batch_delete": lambda repo, item, scope: repo.batch_delete(ids=[item.id], scope=scope),
    "batch_purge": lambda repo, item, scope: repo.batch_purge(ids=[item.id], scope=scope),
}


@dataclass(frozen=True)
class ShortlistScope(SearchScope):
    """One tenant's flagged items, and its items scored below ``below``."""

    tenant: str
    below: int

    def to_condition(self) -> Condition:
        c = items.c
        return (c.tenant == self.tenant) & ((c.score < self.below) | c.flag.in_([True]))


async def _stored(repo: Repository[Item, ItemId], item: Item) -> Item:
    """The item as stored now, deleted or not."""
    return await repo.get(item.id, scope=TenantScope(item.tenant), deleted=Deleted.INCLUDE)


class TestScopeBoundaries:
    """Outside its scope an entity does not exist, and nothing reaches it."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_BY_KEY))
    async def test_operation_by_key_outside_the_scope_fails_exactly_as_if_missing(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        call, deleted_first = _BY_KEY[operation]
        other = new_tenant()
        stranger = await repo.create(new_item(other), scope=TenantScope(other))
        if deleted_first:
            await repo.delete(stranger.id, scope=TenantScope(other))
        with pytest.raises(EntityNotFound) as outside:
            await call(repo, stranger, TenantScope(repokit_tenant))
        await repo.purge(stranger.id, scope=TenantScope(other))
        with pytest.raises(EntityNotFound) as missing:
            await call(repo, stranger, TenantScope(repokit_tenant))
        assert failure_payload(outside.value) == failure_payload(missing.value)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", ["update", "delete", "restore", "purge"])
    async def test_write_by_key_outside_the_scope_leaves_the_entity_untouched(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        call, deleted_first = _BY_KEY[operation]
        other = new_tenant()
        stranger = await repo.create(new_item(other, score=1), scope=TenantScope(other))
        if deleted_first:
            await repo.delete(stranger.id, scope=TenantScope(other))
        before = await _stored(repo, stranger)
        with pytest.raises(EntityNotFound):
            await call(repo, stranger, TenantScope(repokit_tenant))
        assert await _stored(repo, stranger) == before

    @pytest.mark.asyncio
    async def test_scope_applies_to_every_table(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = note_repository(repokit_db)
        other = new_tenant()
        stranger = await repo.create(new_note(other), scope=TenantScope(other, notes))
        with pytest.raises(EntityNotFound):
            await repo.get(stranger.id, scope=TenantScope(repokit_tenant, notes))
        assert await repo.get(stranger.id, scope=TenantScope(other, notes)) == stranger

    @pytest.mark.asyncio
    async def test_count_counts_only_entities_in_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        await repo.batch_create(
            [new_item(repokit_tenant) for _ in range(2)], scope=TenantScope(repokit_tenant)
        )
        await repo.batch_create([new_item(other) for _ in range(3)], scope=TenantScope(other))
        assert await repo.count(scope=TenantScope(repokit_tenant)) == 2

    @pytest.mark.asyncio
    async def test_search_returns_only_entities_in_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.batch_create(
            [new_item(repokit_tenant) for _ in range(2)], scope=TenantScope(repokit_tenant)
        )
        await repo.batch_create([new_item(other) for _ in range(3)], scope=TenantScope(other))
        page = await repo.search(scope=TenantScope(repokit_tenant), total_count=True)
        assert {item.id for item in page.items} == {item.id for item in mine}
        assert page.total_count == 2

    @pytest.mark.asyncio
    async def test_scope_is_anded_with_the_conditions(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.create(
            new_item(repokit_tenant, "shared"), scope=TenantScope(repokit_tenant)
        )
        await repo.create(new_item(other, "shared"), scope=TenantScope(other))
        page = await repo.search(
            conditions=[items.c.name == "shared"], scope=TenantScope(repokit_tenant)
        )
        assert page.items == [mine]

    @pytest.mark.asyncio
    async def test_batch_update_by_conditions_touches_only_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        await repo.batch_create([new_item(repokit_tenant, score=1) for _ in range(2)])
        theirs = await repo.create(new_item(other, score=1))
        changed = await repo.batch_update(
            {"score": 9}, conditions=[items.c.score == 1], scope=TenantScope(repokit_tenant)
        )
        assert changed == 2
        assert await repo.get(theirs.id, scope=TenantScope(other)) == theirs

    @pytest.mark.asyncio
    async def test_batch_update_by_ids_outside_the_scope_changes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        theirs = await repo.create(new_item(other, score=1))
        changed = await repo.batch_update(
            {"score": 9}, ids=[theirs.id], scope=TenantScope(repokit_tenant)
        )
        assert changed == 0
        assert await repo.get(theirs.id, scope=TenantScope(other)) == theirs

    @pytest.mark.asyncio
    async def test_batch_delete_touches_only_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.create(new_item(repokit_tenant))
        theirs = await repo.create(new_item(other))
        changed = await repo.batch_delete(
            ids=[mine.id, theirs.id], scope=TenantScope(repokit_tenant)
        )
        assert changed == 1
        assert await item_names(repokit_db, repokit_tenant) == []
        assert await repo.get(theirs.id, scope=TenantScope(other)) == theirs

    @pytest.mark.asyncio
    async def test_batch_purge_touches_only_the_scope(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        await repo.create(new_item(repokit_tenant))
        theirs = await repo.create(new_item(other))
        changed = await repo.batch_purge(conditions=[TRUE], scope=TenantScope(repokit_tenant))
        assert changed == 1
        assert await item_names(repokit_db, repokit_tenant, Deleted.INCLUDE) == []
        assert await repo.get(theirs.id, scope=TenantScope(other)) == theirs


class TestScopeWrites:
    """Writes never put an entity outside the caller's scope."""

    @pytest.mark.asyncio
    async def test_create_outside_the_scope_raises_scope_violation_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        stranger = new_item(other)
        with pytest.raises(ScopeViolation):
            await repo.create(stranger, scope=TenantScope(repokit_tenant))
        with pytest.raises(EntityNotFound):
            await repo.get(stranger.id, scope=None)

    @pytest.mark.asyncio
    async def test_batch_create_with_one_entity_outside_the_scope_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        with pytest.raises(ScopeViolation):
            await repo.batch_create(
                [new_item(repokit_tenant), new_item(other), new_item(repokit_tenant)],
                scope=TenantScope(repokit_tenant),
            )
        assert await count_items(repokit_db, repokit_tenant) == 0
        assert await count_items(repokit_db, other) == 0

    @pytest.mark.asyncio
    async def test_create_within_any_of_several_scopes_is_allowed(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        scopes = [TenantScope(repokit_tenant), TenantScope(other)]
        created = await repo.create(new_item(other), scope=scopes)
        assert await repo.get(created.id, scope=TenantScope(other)) == created

    @pytest.mark.asyncio
    async def test_update_moving_the_entity_out_of_the_scope_raises_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(ScopeViolation):
            await repo.update(item.id, {"tenant": new_tenant()}, scope=TenantScope(repokit_tenant))
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    async def test_update_may_move_the_entity_between_ored_scopes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        item = await repo.create(new_item(repokit_tenant))
        scopes = [TenantScope(repokit_tenant), TenantScope(other)]
        moved = await repo.update(item.id, {"tenant": other}, scope=scopes)
        assert moved.tenant == other
        assert await repo.get(item.id, scope=TenantScope(other)) == moved

    @pytest.mark.asyncio
    async def test_batch_update_moving_entities_out_of_the_scope_raises_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.batch_create([new_item(repokit_tenant) for _ in range(3)])
        with pytest.raises(ScopeViolation):
            await repo.batch_update(
                {"tenant": other}, conditions=[TRUE], scope=TenantScope(repokit_tenant)
            )
        assert await item_names(repokit_db, repokit_tenant) == sorted(item.name for item in mine)
        assert await count_items(repokit_db, other) == 0

    @pytest.mark.asyncio
    async def test_batch_update_moving_some_entity_out_of_the_scope_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        flagged = await repo.create(new_item(repokit_tenant, score=1, flag=True))
        plain = await repo.create(new_item(repokit_tenant, score=2))
        scope = ShortlistScope(repokit_tenant, below=10)
        with pytest.raises(ScopeViolation):
            await repo.batch_update({"score": 50}, ids=[flagged.id, plain.id], scope=scope)
        assert await repo.get(flagged.id, scope=scope) == flagged
        assert await repo.get(plain.id, scope=scope) == plain

    @pytest.mark.asyncio
    async def test_batch_update_keeping_every_entity_in_the_scope_succeeds(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        flagged = await repo.create(new_item(repokit_tenant, score=1, flag=True))
        scope = ShortlistScope(repokit_tenant, below=10)
        assert await repo.batch_update({"score": 50}, ids=[flagged.id], scope=scope) == 1
        assert (await repo.get(flagged.id, scope=scope)).score == 50


class TestScopeArguments:
    """Several scopes are ORed; "no scope" is explicit; bad scopes are refused."""

    @pytest.mark.asyncio
    async def test_several_scopes_are_ored(self, repokit_db: Database, repokit_tenant: str) -> None:
        repo = item_repository(repokit_db)
        second, third = new_tenant(), new_tenant()
        for owner in (repokit_tenant, second, third):
            await repo.create(new_item(owner, f"of-{owner}"))
        scopes = [TenantScope(repokit_tenant), TenantScope(second)]
        page = await repo.search(scope=scopes, total_count=True)
        assert sorted(item.name for item in page.items) == sorted(
            [f"of-{repokit_tenant}", f"of-{second}"]
        )
        assert page.total_count == 2
        assert await repo.count(scope=scopes) == 2

    @pytest.mark.asyncio
    async def test_get_succeeds_within_any_of_several_scopes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        scopes = [TenantScope(new_tenant()), TenantScope(repokit_tenant)]
        assert await repo.get(item.id, scope=scopes) == item

    @pytest.mark.asyncio
    @pytest.mark.parametrize("unscoped", [None, GlobalScope()], ids=["none", "global"])
    async def test_no_scope_reaches_every_tenant(
        self, repokit_db: Database, repokit_tenant: str, unscoped: ScopeArg
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.create(new_item(repokit_tenant))
        theirs = await repo.create(new_item(other))
        assert await repo.get(theirs.id, scope=unscoped) == theirs
        both = items.c.tenant.in_([repokit_tenant, other])
        assert await repo.count(conditions=[both], scope=unscoped) == 2
        page = await repo.search(conditions=[both], scope=unscoped)
        assert {item.id for item in page.items} == {mine.id, theirs.id}

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_ALL))
    async def test_an_empty_list_of_scopes_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(InvalidQuery):
            await _ALL[operation](repo, item, [])
        assert await item_names(repokit_db, repokit_tenant) == [item.name]
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_ALL))
    async def test_a_scope_reading_another_table_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        repo = item_repository(repokit_db)
        item = await repo.create(new_item(repokit_tenant))
        with pytest.raises(InvalidQuery):
            await _ALL[operation](repo, item, TenantScope(repokit_tenant, notes))
        assert await item_names(repokit_db, repokit_tenant) == [item.name]
        assert await repo.get(item.id, scope=TenantScope(repokit_tenant)) == item


class TestExistenceAcrossScopes:
    """What a unique-key collision may reveal across scopes, and the keys that reveal nothing.

    A collision raises ``EntityAlreadyExists`` whoever holds the key (uniqueness
    is enforced on the whole table). Keys designed the recommended way
    (server-chosen uuid4 primary keys; unique keys that include the tenant
    field, as ``rk_items``' ``(tenant, name)`` and ``(tenant, code)``) never
    collide across tenants.
    """

    @pytest.mark.asyncio
    async def test_tenant_qualified_unique_keys_and_fresh_uuid_keys_never_collide(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = item_repository(repokit_db)
        other = new_tenant()
        mine = await repo.create(
            Item(ItemId(uuid.uuid4()), repokit_tenant, "same-name", code="same-code"),
            scope=TenantScope(repokit_tenant),
        )
        theirs = await repo.create(
            Item(ItemId(uuid.uuid4()), other, "same-name", code="same-code"),
            scope=TenantScope(other),
        )
        for tenant, own in ((repokit_tenant, mine), (other, theirs)):
            page = await repo.search(
                conditions=[items.c.name == "same-name"], scope=TenantScope(tenant)
            )
            assert page.items == [own]
            assert await repo.count(scope=TenantScope(tenant)) == 1

    @pytest.mark.asyncio
    async def test_a_primary_key_reused_across_tenants_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # The documented leak: the caller learns that the key exists somewhere,
        # and nothing more (not the entity, not its scope).
        repo = item_repository(repokit_db)
        other = new_tenant()
        theirs = await repo.create(new_item(other), scope=TenantScope(other))
        reused = Item(theirs.id, repokit_tenant, "mine")
        with pytest.raises(EntityAlreadyExists) as caught:
            await repo.create(reused, scope=TenantScope(repokit_tenant))
        assert caught.value.fields == ("id",)
        assert other not in str(caught.value)
        assert await count_items(repokit_db, repokit_tenant, deleted=Deleted.INCLUDE) == 0
        with pytest.raises(EntityNotFound):
            await repo.get(theirs.id, scope=TenantScope(repokit_tenant))
        assert await repo.get(theirs.id, scope=TenantScope(other)) == theirs
