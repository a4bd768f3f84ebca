"""Schema drift in core: ``Database.create_tables`` / ``schema_changes`` on the memory backend.

The memory backend compares a table's new definition with the one it was
created with, as the other backends compare theirs with what they store;
a backend that does not look (the SPI's default) reports nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import pytest

from repokit import (
    Backend,
    Database,
    EntityAlreadyExists,
    Remedy,
    Repository,
    SchemaAction,
    SchemaChange,
    SchemaDrift,
    StatusMarker,
    Table,
    Unique,
    UnsupportedOperation,
)
from repokit.memory import MemoryBackend


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    team: str
    email: str
    status: str = "active"


@dataclass(frozen=True)
class Member2:
    id: uuid.UUID
    team: str
    email: str
    status: str = "active"
    nickname: str | None = None


def _members(
    *unique: Unique | tuple[str, ...], indexes: Sequence[tuple[str, ...]] = ()
) -> Table[Member]:
    return Table(
        Member,
        "unit_members",
        primary_key="id",
        unique=list(unique),
        indexes=list(indexes),
        soft_delete=StatusMarker("status", deleted="gone", restored="active"),
    )


def _member(email: str) -> Member:
    return Member(uuid.uuid4(), "core", email)


def _actions(changes: Sequence[SchemaChange]) -> set[tuple[SchemaAction, str, Remedy]]:
    return {(change.action, change.name, change.remedy) for change in changes}


@pytest.mark.asyncio
async def test_an_unchanged_definition_is_no_change() -> None:
    async with Database.connect("memory://") as db:
        await db.create_tables(_members(("team", "email")))
        assert await db.schema_changes(_members(("team", "email"))) == []
        assert await db.create_tables(_members(("team", "email"))) == []


@pytest.mark.asyncio
async def test_a_removed_unique_key_is_drift_until_reconciled() -> None:
    async with Database.connect("memory://") as db:
        await db.create_tables(_members(("team", "email")))
        repo: Repository[Member, uuid.UUID] = Repository(db, _members(("team", "email")))
        await repo.create(_member("a@x"))

        relaxed = _members()
        with pytest.raises(SchemaDrift) as caught:
            await db.create_tables(relaxed)
        assert _actions(caught.value.changes) == {
            (SchemaAction.DROP_INDEX, "uq_unit_members_team_email", Remedy.RECONCILE)
        }
        message = str(caught.value)
        assert "uq_unit_members_team_email" in message
        assert "reconcile=True" in message

        await db.create_tables(relaxed, reconcile=True)
        await Repository(db, relaxed).create(_member("a@x"))  # the key is gone


@pytest.mark.asyncio
async def test_a_new_unique_key_must_hold_for_the_stored_entities() -> None:
    async with Database.connect("memory://") as db:
        await db.create_tables(_members())
        repo: Repository[Member, uuid.UUID] = Repository(db, _members())
        await repo.create(_member("a@x"))
        await repo.create(_member("a@x"))
        with pytest.raises(EntityAlreadyExists):
            await db.create_tables(_members(("team", "email")))


@pytest.mark.asyncio
async def test_a_changed_key_and_a_new_field_are_listed_with_their_remedies() -> None:
    async with Database.connect("memory://") as db:
        await db.create_tables(_members(("team", "email")))
        live = _members(Unique(("team", "email"), among_live=True), indexes=[("team",)])
        assert _actions(await db.schema_changes(live)) == {
            (SchemaAction.REPLACE_INDEX, "uq_unit_members_team_email", Remedy.RECONCILE),
            (SchemaAction.CREATE_INDEX, "ix_unit_members_team", Remedy.CREATE),
        }
        wider = Table(Member2, "unit_members", primary_key="id", unique=[("team", "email")])
        assert _actions(await db.schema_changes(wider)) == {
            (SchemaAction.ADD_COLUMN, "nickname", Remedy.MIGRATION)
        }
        with pytest.raises(SchemaDrift) as caught:
            await db.create_tables(wider, reconcile=True)  # no backend migrates fields
        assert "migration" in str(caught.value)


class _Plain(Backend):
    """A third-party backend that implements only the abstract methods."""

    def __init__(self) -> None:
        self.inner = MemoryBackend()
        self.capabilities = self.inner.capabilities

    @classmethod
    async def connect(cls, url: str, **options: Any) -> Self:
        return cls()

    async def create_tables(self, tables: Sequence[Table[Any]]) -> None:
        await self.inner.create_tables(tables)

    async def drop_tables(self, tables: Sequence[Table[Any]]) -> None:
        await self.inner.drop_tables(tables)

    async def open_session(self, *, read_only: bool) -> Any:
        return await self.inner.open_session(read_only=read_only)

    async def close(self) -> None:
        await self.inner.close()


@pytest.mark.asyncio
async def test_a_backend_without_schema_changes_reports_none_and_reconciles_nothing() -> None:
    backend = _Plain()
    db = Database(backend)
    assert await db.schema_changes(_members()) == []
    assert await db.create_tables(_members()) == []
    assert await db.create_tables(_members(("team", "email")), reconcile=True) == []
    change = SchemaChange("t", SchemaAction.DROP_INDEX, "ix_t_a", Remedy.RECONCILE)
    with pytest.raises(UnsupportedOperation):
        await backend.reconcile_tables([_members()], [change])
    await db.close()
