"""Contract tests: CONTRACT §24 required and checked scopes.

A repository (or table) declared ``scope_required=True`` refuses every
operation without an explicit scope, before any I/O; ``GlobalScope()`` is
the explicit way past it. A scope that requires entities to exist
(:meth:`~repokit.SearchScope.requires`, here :class:`CheckedTenantScope`,
which requires its tenant in ``rk_tenants``) makes every operation under it
raise ``EntityNotFound`` for the target when the target is missing or
soft-deleted, checked in the operation's own session: inside the operation's
own statements where the backend runs semi-joins there
(``Capabilities.native_semijoins``), one extra statement otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from repokit import (
    Database,
    EntityNotFound,
    GlobalScope,
    InvalidQuery,
    Repository,
    Requires,
    SearchScope,
    Table,
)
from repokit.conditions import Condition
from repokit.testing.schema import (
    CheckedTenantScope,
    Item,
    ItemId,
    Tenant,
    TenantScope,
    items,
    new_tenant,
    tenants,
)
from repokit.testing.suite._entities import new_item
from repokit.utilities import Deleted
from repokit.utilities.bulk import Outcome

__all__ = ["TestCheckedScopes", "TestRequiredScope"]

Repo = Repository[Item, ItemId]


@dataclass(frozen=True)
class Stored:
    """What an operation of the table below works on: a tenant's live and deleted items."""

    tenant: str
    live: Item
    gone: Item

    def items(self) -> list[Item]:
        """Both, as :func:`_snapshot` lists them."""
        return sorted((self.live, self.gone), key=lambda item: item.id)


def _failed(outcomes: list[Outcome[Item]]) -> list[Outcome[Item]]:
    """A bulk call's outcomes; the first item error raised, as the single operation would."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    return outcomes


def _own(stored: Stored) -> list[Condition]:
    """The tenant's items: what a many-entity operation touches, whatever its scope."""
    return [items.c.tenant == stored.tenant]


async def _streamed(repo: Repo, scope: Any, stored: Stored) -> list[Item]:
    stream = repo.stream(conditions=_own(stored), scope=scope, chunk_size=2)
    return [item async for item in stream]


Operation = Callable[[Repo, Any, Stored], Awaitable[object]]

#: Every operation of a repository, each valid but for its scope.
OPERATIONS: dict[str, Operation] = {
    "create": lambda r, s, st: r.create(new_item(st.tenant), scope=s),
    "batch_create": lambda r, s, st: r.batch_create([new_item(st.tenant)], scope=s),
    "upsert": lambda r, s, st: r.upsert(new_item(st.tenant), on="id", scope=s),
    "batch_upsert": lambda r, s, st: r.batch_upsert([new_item(st.tenant)], on="id", scope=s),
    "get": lambda r, s, st: r.get(st.live.id, scope=s),
    "get_many": lambda r, s, st: r.get_many([st.live.id], scope=s),
    "exists": lambda r, s, st: r.exists(conditions=_own(st), scope=s),
    "search": lambda r, s, st: r.search(conditions=_own(st), scope=s),
    "count": lambda r, s, st: r.count(conditions=_own(st), scope=s),
    "stream": lambda r, s, st: _streamed(r, s, st),
    "update": lambda r, s, st: r.update(st.live.id, {"score": 7}, scope=s),
    "delete": lambda r, s, st: r.delete(st.live.id, scope=s),
    "delete_returning": lambda r, s, st: r.delete_returning(st.live.id, scope=s),
    "restore": lambda r, s, st: r.restore(st.gone.id, scope=s),
    "purge": lambda r, s, st: r.purge(st.live.id, scope=s),
    "purge_returning": lambda r, s, st: r.purge_returning(st.live.id, scope=s),
    "batch_update": lambda r, s, st: r.batch_update({"score": 7}, conditions=_own(st), scope=s),
    "batch_delete": lambda r, s, st: r.batch_delete(ids=[st.live.id], scope=s),
    "batch_purge": lambda r, s, st: r.batch_purge(ids=[st.live.id], scope=s),
    "batch_purge_returning": lambda r, s, st: r.batch_purge_returning(ids=[st.live.id], scope=s),
    "bulk_create": lambda r, s, st: _bulk(r.bulk_create([new_item(st.tenant)], scope=s)),
    "bulk_update": lambda r, s, st: _bulk(r.bulk_update({st.live.id: {"score": 7}}, scope=s)),
    "bulk_delete": lambda r, s, st: _bulk(r.bulk_delete([st.live.id], scope=s)),
    "bulk_purge": lambda r, s, st: _bulk(r.bulk_purge([st.live.id], scope=s)),
}


#: The operations that check a scope's targets before their first statement everywhere.
_CHECKED_FIRST = frozenset({"batch_create", "upsert", "batch_upsert"})


async def _bulk(call: Awaitable[list[Outcome[Item]]]) -> list[Outcome[Item]]:
    return _failed(await call)


async def _stored(db: Database, tenant: str) -> Stored:
    """A live and a soft-deleted item of *tenant*, written without any scope check."""
    repo: Repo = Repository(db, items)
    live, gone = await repo.batch_create([new_item(tenant), new_item(tenant)])
    return Stored(tenant, live, await repo.delete_returning(gone.id))


async def _tenant(db: Database, *, deleted: bool = False) -> str:
    """A fresh tenant stored in ``rk_tenants`` (soft-deleted if asked)."""
    name = new_tenant()
    repo: Repository[Tenant, str] = Repository(db, tenants)
    await repo.create(Tenant(name))
    if deleted:
        await repo.delete(name)
    return name


async def _snapshot(db: Database, tenant: str) -> list[Item]:
    """Every item of *tenant*, soft-deleted ones included, by key."""
    page = await Repository(db, items).search(scope=TenantScope(tenant), deleted=Deleted.INCLUDE)
    return sorted(page.items, key=lambda item: item.id)


@contextmanager
def _statements(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The backend calls made inside the block (the ``repokit.statements`` log)."""
    with caplog.at_level(logging.DEBUG, logger="repokit.statements"):
        caplog.clear()
        records: list[logging.LogRecord] = []
        yield records
        records.extend(r for r in caplog.records if r.name == "repokit.statements")


def _calls(statements: list[logging.LogRecord]) -> list[str]:
    """Each logged backend call as "<operation> <table>"."""
    return [r.getMessage().split(":")[0] for r in statements]


@dataclass(frozen=True)
class _Declaring(SearchScope):
    """A tenant's items, requiring whatever *needs* says."""

    tenant: str
    needs: tuple[Any, ...]

    def to_condition(self) -> Condition:
        return items.c.tenant == self.tenant

    def requires(self) -> tuple[Any, ...]:
        return self.needs


_NEVER_CREATED: Table[Tenant] = Table(Tenant, "rk_tenants_never_created", primary_key="name")


class TestRequiredScope:
    """scope_required: scope=None is refused before any I/O; GlobalScope() passes."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    async def test_an_operation_without_a_scope_is_refused_before_any_io(
        self,
        repokit_db: Database,
        repokit_tenant: str,
        operation: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items, scope_required=True)
        with _statements(caplog) as statements, pytest.raises(InvalidQuery) as caught:
            await OPERATIONS[operation](repo, None, stored)
        assert statements == []
        message = str(caught.value)
        assert "Item" in message
        assert operation in message
        assert "GlobalScope()" in message
        assert await _snapshot(repokit_db, repokit_tenant) == stored.items()

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    async def test_an_operation_under_global_scope_passes(
        self, repokit_db: Database, repokit_tenant: str, operation: str
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items, scope_required=True)
        await OPERATIONS[operation](repo, GlobalScope(), stored)

    @pytest.mark.asyncio
    async def test_a_table_declared_scope_required_refuses_an_unscoped_read(
        self, repokit_db: Database, repokit_tenant: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        required = Table(Item, items.name, primary_key="id", scope_required=True)
        repo: Repo = Repository(repokit_db, required)
        with _statements(caplog) as statements, pytest.raises(InvalidQuery, match="get"):
            await repo.get(stored.live.id)
        assert statements == []
        assert await repo.get(stored.live.id, scope=TenantScope(repokit_tenant)) == stored.live

    @pytest.mark.asyncio
    async def test_a_refused_operation_leaves_the_outer_transaction_usable(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items, scope_required=True)
        async with repokit_db.begin_session() as session:
            with pytest.raises(InvalidQuery):
                await repo.update(stored.live.id, {"score": 1}, session=session)
            updated = await repo.update(
                stored.live.id, {"score": 1}, scope=TenantScope(repokit_tenant), session=session
            )
        assert updated.score == 1


class TestCheckedScopes:
    """A scope's targets must be stored and live; EntityNotFound names the target."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize("deleted", [False, True], ids=["missing", "soft-deleted"])
    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    async def test_an_operation_under_a_scope_whose_target_is_gone_raises_entity_not_found(
        self, repokit_db: Database, operation: str, deleted: bool
    ) -> None:
        tenant = await _tenant(repokit_db, deleted=True) if deleted else new_tenant()
        stored = await _stored(repokit_db, tenant)
        with pytest.raises(EntityNotFound) as caught:
            await OPERATIONS[operation](
                Repository(repokit_db, items), CheckedTenantScope(tenant), stored
            )
        assert caught.value.entity == "Tenant"
        assert caught.value.key == tenant
        assert await _snapshot(repokit_db, tenant) == stored.items()

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    async def test_an_operation_under_a_scope_whose_target_is_live_runs(
        self, repokit_db: Database, operation: str
    ) -> None:
        tenant = await _tenant(repokit_db)
        stored = await _stored(repokit_db, tenant)
        await OPERATIONS[operation](
            Repository(repokit_db, items), CheckedTenantScope(tenant), stored
        )

    @pytest.mark.asyncio
    async def test_a_read_under_a_checked_scope_sees_what_the_unchecked_scope_sees(
        self, repokit_db: Database
    ) -> None:
        tenant = await _tenant(repokit_db)
        stored = await _stored(repokit_db, tenant)
        repo: Repo = Repository(repokit_db, items)
        checked = await repo.search(scope=CheckedTenantScope(tenant))
        assert checked.items == [stored.live]
        assert await repo.get(stored.live.id, scope=CheckedTenantScope(tenant)) == stored.live

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(OPERATIONS))
    async def test_the_check_rides_in_the_operation_or_costs_one_statement(
        self, repokit_db: Database, operation: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        repo: Repo = Repository(repokit_db, items)
        counts = []
        for checked_scope in (False, True):
            tenant = await _tenant(repokit_db)
            stored = await _stored(repokit_db, tenant)
            scope = CheckedTenantScope(tenant) if checked_scope else TenantScope(tenant)
            with _statements(caplog) as statements:
                await OPERATIONS[operation](repo, scope, stored)
            counts.append(len(statements))
        unchecked, checked = counts
        # Upserts read before they write: their check is one statement of its own.
        rides = repokit_db.capabilities.native_semijoins and operation not in _CHECKED_FIRST
        assert checked == unchecked + (0 if rides else 1)

    @pytest.mark.asyncio
    async def test_several_scopes_check_together(
        self, repokit_db: Database, caplog: pytest.LogCaptureFixture
    ) -> None:
        first, second = await _tenant(repokit_db), await _tenant(repokit_db)
        stored = await _stored(repokit_db, first)
        repo: Repo = Repository(repokit_db, items)
        scopes = [CheckedTenantScope(first), CheckedTenantScope(second)]
        with _statements(caplog) as statements:
            assert await repo.get(stored.live.id, scope=scopes) == stored.live
        tables = _calls(statements)
        if repokit_db.capabilities.native_semijoins:
            # Both tenants inside the get's own statement.
            assert tables == [f"select {items.name}"]
        else:
            # Both tenants in one select of rk_tenants, then the get itself.
            assert tables == [f"select {tenants.name}", f"select {items.name}"]

    @pytest.mark.asyncio
    async def test_targets_in_two_tables_are_asked_together(
        self, repokit_db: Database, caplog: pytest.LogCaptureFixture
    ) -> None:
        tenant = await _tenant(repokit_db)
        stored = await _stored(repokit_db, tenant)
        repo: Repo = Repository(repokit_db, items)
        both = _Declaring(tenant, (Requires(tenants, tenant), Requires(items, stored.live.id)))
        with _statements(caplog) as statements:
            assert await repo.get(stored.live.id, scope=both) == stored.live
        tables = _calls(statements)
        if repokit_db.capabilities.native_semijoins:
            assert tables == [f"select {items.name}"]
        else:
            # One read of both target tables (MongoDB: one aggregate with $unionWith).
            assert tables == [f"select_each {tenants.name}", f"select {items.name}"]
        gone = new_item(tenant).id
        for needs in (
            (Requires(tenants, tenant), Requires(items, gone)),
            (Requires(items, gone), Requires(tenants, new_tenant())),
        ):
            with pytest.raises(EntityNotFound) as caught:
                await repo.get(stored.live.id, scope=_Declaring(tenant, needs))
            assert (caught.value.entity, caught.value.key) == ("Item", gone)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", ["get", "update", "create", "search"])
    async def test_a_missing_target_is_named_by_one_select(
        self, repokit_db: Database, operation: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        tenant = await _tenant(repokit_db)
        stored = await _stored(repokit_db, tenant)
        await Repository(repokit_db, tenants).delete(tenant)
        repo: Repo = Repository(repokit_db, items)
        with _statements(caplog) as statements, pytest.raises(EntityNotFound) as caught:
            await OPERATIONS[operation](repo, CheckedTenantScope(tenant), stored)
        assert (caught.value.entity, caught.value.key) == ("Tenant", tenant)
        tables = _calls(statements)
        if repokit_db.capabilities.native_semijoins:
            # The operation's own statements found nothing; one select then names the target.
            assert tables[0] != f"select {tenants.name}"
            assert tables[-1] == f"select {tenants.name}"
            assert tables.count(f"select {tenants.name}") == 1
        else:
            # The check came first, and nothing else ran.
            assert tables == [f"select {tenants.name}"]

    @pytest.mark.asyncio
    async def test_a_scope_without_requirements_adds_no_statement(
        self, repokit_db: Database, repokit_tenant: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        with _statements(caplog) as statements:
            await repo.get(stored.live.id, scope=TenantScope(repokit_tenant))
        assert len(statements) == 1

    @pytest.mark.asyncio
    async def test_under_several_scopes_every_target_must_exist(self, repokit_db: Database) -> None:
        live, gone = await _tenant(repokit_db), new_tenant()
        stored = await _stored(repokit_db, live)
        repo: Repo = Repository(repokit_db, items)
        for scopes in (
            [CheckedTenantScope(live), CheckedTenantScope(gone)],
            [CheckedTenantScope(gone), CheckedTenantScope(live)],
        ):
            with pytest.raises(EntityNotFound) as caught:
                await repo.get(stored.live.id, scope=scopes)
            assert caught.value.key == gone

    @pytest.mark.asyncio
    async def test_the_check_reads_in_the_operations_own_transaction(
        self, repokit_db: Database
    ) -> None:
        tenant = new_tenant()
        repo: Repo = Repository(repokit_db, items)
        async with repokit_db.begin_session() as session:
            await Repository(repokit_db, tenants).create(Tenant(tenant), session=session)
            created = await repo.create(
                new_item(tenant), scope=CheckedTenantScope(tenant), session=session
            )
        assert await repo.get(created.id, scope=CheckedTenantScope(tenant)) == created

    @pytest.mark.asyncio
    async def test_a_stream_stops_when_its_target_is_deleted_between_chunks(
        self, repokit_db: Database
    ) -> None:
        tenant = await _tenant(repokit_db)
        repo: Repo = Repository(repokit_db, items)
        await repo.batch_create([new_item(tenant) for _ in range(3)])
        seen: list[Item] = []

        async def walk() -> None:
            async for item in repo.stream(scope=CheckedTenantScope(tenant), chunk_size=2):
                seen.append(item)
                if len(seen) == 1:
                    await Repository(repokit_db, tenants).delete(tenant)

        with pytest.raises(EntityNotFound):
            await walk()
        assert len(seen) == 2

    @pytest.mark.asyncio
    async def test_global_scope_requires_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)  # no tenant stored
        repo: Repo = Repository(repokit_db, items)
        assert await repo.get(stored.live.id, scope=GlobalScope()) == stored.live

    @pytest.mark.asyncio
    async def test_a_key_of_the_wrong_type_is_an_invalid_query_before_any_io(
        self, repokit_db: Database, repokit_tenant: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        wrong = _Declaring(repokit_tenant, (Requires(tenants, 42),))
        with _statements(caplog) as statements, pytest.raises(InvalidQuery, match="Tenant"):
            await repo.get(stored.live.id, scope=wrong)
        assert statements == []

    @pytest.mark.asyncio
    async def test_a_requirement_on_a_table_never_created_is_an_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        stored = await _stored(repokit_db, repokit_tenant)
        repo: Repo = Repository(repokit_db, items)
        scope = _Declaring(repokit_tenant, (Requires(_NEVER_CREATED, repokit_tenant),))
        with pytest.raises(InvalidQuery, match=_NEVER_CREATED.name):
            await repo.get(stored.live.id, scope=scope)
