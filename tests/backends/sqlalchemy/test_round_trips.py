"""A write of one entity outside a session is one statement: no BEGIN, no COMMIT.

Counted on the dialect of a real database (SQLite file, PostgreSQL server):
every call that reaches the driver — a statement, with the BEGIN it
carries, or a transaction's end — is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from repokit import Database, Repository, Requires, SearchScope, Table
from repokit.conditions import Condition
from repokit_sqlalchemy import SQLAlchemyBackend

from .conftest import Thing

pytestmark = pytest.mark.asyncio

Calls = list[tuple[str, str | None]]


@pytest.fixture(name="calls")
def calls_fixture(db: Database, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """(what, BEGIN it carried) for each driver call of *db*'s dialect from now on."""
    return calls(db, monkeypatch)


def calls(db: Database, monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Record (what, BEGIN it carried) for each driver call of *db*'s dialect from now on."""
    backend = db.backend
    assert isinstance(backend, SQLAlchemyBackend)
    dialect = backend.dialect
    recorded: Calls = []

    def counting(name: str) -> Any:
        original = getattr(dialect, name)

        async def call(driver: Any, sql: str, params: Any, begin: str | None) -> Any:
            recorded.append((name, begin))
            return await original(driver, sql, params, begin)

        return call

    for name in ("fetch", "execute", "executemany"):
        monkeypatch.setattr(dialect, name, counting(name))
    end = dialect.end

    async def counted_end(driver: Any, *, commit: bool) -> None:
        recorded.append(("commit" if commit else "rollback", None))
        await end(driver, commit=commit)

    monkeypatch.setattr(dialect, "end", counted_end)
    return recorded


def _thing(tenant: str, name: str) -> Thing:
    return Thing(uuid.uuid4(), tenant, name)


async def test_each_write_of_one_entity_is_one_statement_alone(
    db: Database, things: Table[Thing], calls: Calls
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    created = await repo.create(_thing(tenant, "a"))
    await repo.update(created.id, {"count": 3})
    await repo.delete(created.id)
    restored = await repo.restore(created.id)
    assert restored.status == "live"
    await repo.purge(created.id)
    assert [what for what, _ in calls] == ["execute", "fetch", "execute", "fetch", "execute"]
    assert all(begin is None for _, begin in calls), calls


@dataclass(frozen=True)
class Owner:
    name: str


_owners: Table[Owner] = Table(Owner, "sa_round_trip_owners", primary_key="name")


@dataclass(frozen=True)
class OwnerScope(SearchScope):
    """A tenant's things, which needs the tenant stored as an owner (CONTRACT §24)."""

    things: Table[Thing]
    tenant: str

    def to_condition(self) -> Condition:
        return self.things.c.tenant == self.tenant

    def requires(self) -> Iterable[Requires]:
        return (Requires(_owners, self.tenant),)


async def test_under_a_checked_scope_each_write_of_one_entity_is_still_one_statement(
    db: Database, things: Table[Thing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scope's target rides in the write's own statement: no BEGIN, no check of its own."""
    await db.create_tables(_owners)
    try:
        tenant = f"t-{uuid.uuid4().hex[:8]}"
        await Repository(db, _owners).create(Owner(tenant))
        repo: Repository[Thing, uuid.UUID] = Repository(db, things)
        scope = OwnerScope(things, tenant)
        recorded = calls(db, monkeypatch)
        created = await repo.create(_thing(tenant, "a"), scope=scope)
        await repo.update(created.id, {"count": 3}, scope=scope)
        await repo.delete(created.id, scope=scope)
        await repo.restore(created.id, scope=scope)
        assert (await repo.get(created.id, scope=scope)).count == 3
        await repo.purge(created.id, scope=scope)
        assert [what for what, _ in recorded] == [
            "execute",
            "fetch",
            "execute",
            "fetch",
            "fetch",
            "execute",
        ]
        assert all(begin is None for _, begin in recorded), recorded
    finally:
        await db.drop_tables(_owners)


async def test_a_session_still_begins_and_commits(
    db: Database, things: Table[Thing], calls: Calls
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    async with db.begin_session() as session:
        created = await repo.create(_thing(tenant, "a"), session=session)
        await repo.update(created.id, {"count": 3}, session=session)
    assert calls[0][1] is not None  # the first statement carries the BEGIN
    assert [begin for _, begin in calls[1:-1]] == [None]
    assert calls[-1] == ("commit", None)


async def test_a_failed_single_write_leaves_nothing_open(
    db: Database, things: Table[Thing], calls: Calls
) -> None:
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    first = await repo.create(_thing(tenant, "a"))
    with pytest.raises(Exception, match="already exists"):
        await repo.create(Thing(first.id, tenant, "b"))
    assert not [what for what, _ in calls if what in ("commit", "rollback")]
    assert (await repo.get(first.id)).name == "a"
    # The connection went back without a transaction open: the next write is served.
    await repo.create(_thing(tenant, "c"))


async def test_a_begin_that_says_more_is_kept(
    postgres_url: str, things: Table[Thing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An engine's isolation level is in the BEGIN: a single write keeps it."""
    from sqlalchemy.ext.asyncio import create_async_engine

    owner = await Database.connect(postgres_url)
    await owner.create_tables(things)
    engine = create_async_engine(postgres_url).execution_options(isolation_level="SERIALIZABLE")
    db = Database(SQLAlchemyBackend.from_engine(engine))
    try:
        recorded = calls(db, monkeypatch)
        repo: Repository[Thing, uuid.UUID] = Repository(db, things)
        await repo.create(_thing(f"t-{uuid.uuid4().hex[:8]}", "a"))
        assert recorded[0] == ("execute", "BEGIN ISOLATION LEVEL SERIALIZABLE")
        assert recorded[-1] == ("commit", None)
    finally:
        await db.close()
        await engine.dispose()
        await owner.drop_tables(things)
        await owner.close()
