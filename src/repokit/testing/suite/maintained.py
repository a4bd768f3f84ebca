"""Contract tests: CONTRACT §21 domain errors and maintained timestamps.

A key that declares a domain exception raises it, chained to repokit's
``EntityAlreadyExists``, from every write that collides on it (create, the
batch and bulk writes, update, restore, upsert); the transaction runner does
not retry it and a bulk item meeting it fails alone. Created / updated
timestamps are set by repokit from the database's clock: both on every
insert, the updated one on every write that changes an entity, never on one
that changes nothing; an update cannot name them. They run on ``rk_records``.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from repokit import (
    Database,
    Deleted,
    EntityAlreadyExists,
    InvalidQuery,
    Repository,
    TransactionAborted,
)
from repokit.testing.schema import (
    Record,
    RecordIdTaken,
    RecordNameTaken,
    TenantScope,
    records,
)

__all__ = ["TestDomainErrors", "TestMaintainedTimestamps"]


class _Clock:
    """A clock a test moves by hand (``Database.clock``), off the millisecond grid."""

    def __init__(self) -> None:
        self.time = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.time

    def tick(self) -> datetime:
        """Move one second on; the time as stored (floored to milliseconds)."""
        self.time += timedelta(seconds=1)
        return self.stored

    @property
    def stored(self) -> datetime:
        return self.time.replace(microsecond=self.time.microsecond // 1000 * 1000)


def _clocked(db: Database) -> _Clock:
    """A clock of the test's own, installed on its database (a fresh one per test)."""
    clock = _Clock()
    db.clock = clock
    return clock


def _repo(db: Database) -> Repository[Record, Any]:
    return Repository(db, records)


def _scope(tenant: str) -> TenantScope:
    return TenantScope(tenant, records)


def _record(tenant: str, name: str, **fields: Any) -> Record:
    return Record(uuid.uuid4(), tenant, name, **fields)


def _taken(raised: pytest.ExceptionInfo[Exception], fields: tuple[str, ...]) -> None:
    """The domain exception is chained to repokit's error, which names the key."""
    cause = raised.value.__cause__
    assert isinstance(cause, EntityAlreadyExists)
    assert cause.entity == records.entity_name
    assert set(cause.fields) == set(fields)


class TestDomainErrors:
    """``Unique(..., error=E)`` / ``primary_key_error=E``: collisions raise ``E`` from repokit's."""

    @pytest.mark.asyncio
    async def test_create_raises_the_keys_domain_exception(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        await repo.create(_record(repokit_tenant, "a"), scope=scope)
        with pytest.raises(RecordNameTaken) as raised:
            await repo.create(_record(repokit_tenant, "a"), scope=scope)
        _taken(raised, ("tenant", "name"))
        assert raised.value.error is raised.value.__cause__

    @pytest.mark.asyncio
    async def test_a_key_without_a_declared_exception_raises_entity_already_exists(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        await repo.create(_record(repokit_tenant, "a", code="c"), scope=scope)
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(_record(repokit_tenant, "b", code="c"), scope=scope)
        assert set(raised.value.fields) == {"tenant", "code"}

    @pytest.mark.asyncio
    async def test_the_primary_key_raises_its_domain_exception(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        first = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        with pytest.raises(RecordIdTaken) as raised:
            await repo.create(Record(first.id, repokit_tenant, "b"), scope=scope)
        _taken(raised, ("id",))

    @pytest.mark.asyncio
    async def test_batch_create_raises_it_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        with pytest.raises(RecordNameTaken) as raised:
            await repo.batch_create(
                [_record(repokit_tenant, "a"), _record(repokit_tenant, "a")], scope=scope
            )
        _taken(raised, ("tenant", "name"))
        if repokit_db.capabilities.transactions:
            assert (await repo.search(scope=scope)).items == []

    @pytest.mark.asyncio
    async def test_update_and_batch_update_raise_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        _, b = await repo.batch_create(
            [_record(repokit_tenant, "a"), _record(repokit_tenant, "b")], scope=scope
        )
        with pytest.raises(RecordNameTaken) as raised:
            await repo.update(b.id, {"name": "a"}, scope=scope)
        _taken(raised, ("tenant", "name"))
        with pytest.raises(RecordNameTaken) as raised:
            await repo.batch_update({"name": "a"}, ids=[b.id], scope=scope)
        _taken(raised, ("tenant", "name"))
        assert (await repo.get(b.id, scope=scope)).name == "b"

    @pytest.mark.asyncio
    async def test_restore_raises_it(self, repokit_db: Database, repokit_tenant: str) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        old = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        await repo.delete(old.id, scope=scope)
        await repo.create(_record(repokit_tenant, "a"), scope=scope)
        with pytest.raises(RecordNameTaken) as raised:
            await repo.restore(old.id, scope=scope)
        _taken(raised, ("tenant", "name"))

    @pytest.mark.asyncio
    async def test_upsert_raises_it_whether_the_database_or_core_finds_the_collision(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        a = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        # Another key collides: the database reports it.
        with pytest.raises(RecordNameTaken) as raised:
            await repo.upsert(_record(repokit_tenant, "a"), on="id", scope=scope)
        _taken(raised, ("tenant", "name"))
        # The deciding key is held by a deleted entity: core reads the holder.
        await repo.delete(a.id, scope=scope)
        with pytest.raises(RecordIdTaken) as raised_id:
            await repo.upsert(Record(a.id, repokit_tenant, "z"), on="id", scope=scope)
        _taken(raised_id, ("id",))

    @pytest.mark.asyncio
    async def test_a_bulk_item_fails_alone_with_the_domain_exception(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        await repo.create(_record(repokit_tenant, "taken"), scope=scope)
        entities = [_record(repokit_tenant, n) for n in ("x", "taken", "y")]
        created = await repo.bulk_create(entities, scope=scope)
        assert [type(o.error) if o.error else None for o in created] == [
            None,
            RecordNameTaken,
            None,
        ]
        assert isinstance(created[1].error, RecordNameTaken)
        assert isinstance(created[1].error.__cause__, EntityAlreadyExists)
        x = created[0].entity
        assert x is not None
        updated = await repo.bulk_update({x.id: {"name": "taken"}}, scope=scope)
        assert isinstance(updated[0].error, RecordNameTaken)
        names = {r.name for r in (await repo.search(scope=scope)).items}
        assert names == {"taken", "x", "y"}

    @pytest.mark.asyncio
    async def test_a_bulk_item_in_a_session_fails_alone_with_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        if not repokit_db.capabilities.savepoints:
            return  # bulk writes in a session need savepoints (suite: bulk.py)
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        async with repokit_db.begin_session() as session:
            outcomes = await repo.bulk_create(
                [_record(repokit_tenant, "a"), _record(repokit_tenant, "a")],
                scope=scope,
                session=session,
            )
            assert isinstance(outcomes[1].error, RecordNameTaken)
            await repo.create(_record(repokit_tenant, "b"), scope=scope, session=session)
        assert {r.name for r in (await repo.search(scope=scope)).items} == {"a", "b"}

    @pytest.mark.asyncio
    async def test_the_transaction_runner_does_not_retry_it(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        await repo.create(_record(repokit_tenant, "a"), scope=scope)
        runs = 0

        async def work(session: Any) -> None:
            nonlocal runs
            runs += 1
            await repo.create(_record(repokit_tenant, "a"), scope=scope, session=session)

        with pytest.raises(RecordNameTaken):
            await repokit_db.run_in_transaction(work)
        assert runs == 1

    @pytest.mark.asyncio
    async def test_it_aborts_the_transaction_like_the_error_it_stands_for(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        await repo.create(_record(repokit_tenant, "a"), scope=scope)

        async def swallowed() -> None:
            async with repokit_db.begin_session() as session:
                with contextlib.suppress(RecordNameTaken):
                    await repo.create(_record(repokit_tenant, "a"), scope=scope, session=session)

        with pytest.raises(TransactionAborted) as raised:
            await swallowed()
        assert isinstance(raised.value.__cause__, EntityAlreadyExists)


class TestMaintainedTimestamps:
    """``Timestamps(created=..., updated=...)``: set by repokit, from the database's clock."""

    @pytest.mark.asyncio
    async def test_create_sets_both_to_the_clocks_time_whatever_was_given(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        given = datetime(2000, 1, 1, tzinfo=UTC)
        created = await repo.create(
            _record(repokit_tenant, "a", created_at=given, updated_at=given), scope=scope
        )
        assert (created.created_at, created.updated_at) == (clock.stored, clock.stored)
        assert await repo.get(created.id, scope=scope) == created

    @pytest.mark.asyncio
    async def test_batch_and_bulk_create_and_an_upserts_insert_set_both(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        batch = await repo.batch_create(
            [_record(repokit_tenant, "a"), _record(repokit_tenant, "b")], scope=scope
        )
        now = clock.tick()
        bulk = await repo.bulk_create([_record(repokit_tenant, "c")], scope=scope)
        later = clock.tick()
        upserted = await repo.upsert(_record(repokit_tenant, "d"), on="id", scope=scope)
        assert upserted.inserted
        stamps = [(r.created_at, r.updated_at) for r in (await repo.search(scope=scope)).items]
        first = clock.stored - timedelta(seconds=2)
        assert sorted(stamps) == [(first, first), (first, first), (now, now), (later, later)]
        assert [e.created_at for e in batch] == [first, first]
        assert bulk[0].entity is not None
        assert bulk[0].entity.updated_at == now

    @pytest.mark.asyncio
    async def test_an_update_that_changes_sets_updated_only(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        record = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        now = clock.tick()
        updated = await repo.update(record.id, {"rank": 1}, scope=scope)
        assert (updated.created_at, updated.updated_at) == (record.created_at, now)
        assert updated.version == record.version + 1
        assert await repo.get(record.id, scope=scope) == updated

    @pytest.mark.asyncio
    async def test_an_update_that_changes_nothing_leaves_updated(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        record = await repo.create(_record(repokit_tenant, "a", rank=1), scope=scope)
        clock.tick()
        assert await repo.update(record.id, {"rank": 1}, scope=scope) == record
        assert await repo.update(record.id, {}, scope=scope) == record
        assert await repo.get(record.id, scope=scope) == record

    @pytest.mark.asyncio
    async def test_json_updates_set_it_only_when_the_document_changes(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        record = await repo.create(_record(repokit_tenant, "a", data={"k": 1}), scope=scope)
        clock.tick()
        assert await repo.update(record.id, {"data": {"k": 1}}, scope=scope) == record
        now = clock.tick()
        updated = await repo.update(record.id, {"data": {"k": 2}}, scope=scope)
        assert updated.updated_at == now
        assert (await repo.get(record.id, scope=scope)).updated_at == now

    @pytest.mark.asyncio
    async def test_an_update_cannot_name_them(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        record = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        when = datetime(2040, 1, 1, tzinfo=UTC)
        async with repokit_db.begin_session() as session:
            for field in ("created_at", "updated_at"):
                with pytest.raises(InvalidQuery, match=field):
                    await repo.update(record.id, {field: when}, session=session)
                with pytest.raises(InvalidQuery, match=field):
                    await repo.batch_update({field: when}, ids=[record.id], session=session)
                with pytest.raises(InvalidQuery, match=field):
                    await repo.upsert(record, on="id", update={field: when}, session=session)
            # Refused before any I/O: the transaction goes on.
            await repo.update(record.id, {"rank": 2}, session=session)

    @pytest.mark.asyncio
    async def test_batch_and_bulk_update_set_it_on_every_entity_they_write(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        a, b = await repo.batch_create(
            [_record(repokit_tenant, "a", rank=1), _record(repokit_tenant, "b")], scope=scope
        )
        now = clock.tick()
        # batch_update writes every matched entity, as its version says (CONTRACT §9).
        assert await repo.batch_update({"rank": 1}, ids=[a.id, b.id], scope=scope) == 2
        stored = (await repo.search(scope=scope)).items
        assert [r.updated_at for r in stored] == [now, now]
        later = clock.tick()
        outcomes = await repo.bulk_update({a.id: {"rank": 5}, b.id: {"rank": 1}}, scope=scope)
        assert [o.entity.updated_at if o.entity else None for o in outcomes] == [later, now]
        assert {r.name: r.created_at for r in (await repo.search(scope=scope)).items} == {
            "a": a.created_at,
            "b": b.created_at,
        }

    @pytest.mark.asyncio
    async def test_an_upsert_sets_it_only_when_it_changes_the_holder(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        record = await repo.create(_record(repokit_tenant, "a", rank=1), scope=scope)
        clock.tick()
        unchanged = await repo.upsert(
            _record(repokit_tenant, "a", rank=1), on=("tenant", "name"), scope=scope
        )
        assert (unchanged.entity, unchanged.inserted) == (record, False)
        same = await repo.upsert(record, on="id", update={"rank": 1}, scope=scope)
        assert same.entity == record
        now = clock.tick()
        changed = await repo.upsert(
            _record(repokit_tenant, "a", rank=2), on=("tenant", "name"), scope=scope
        )
        assert not changed.inserted
        assert (changed.entity.created_at, changed.entity.updated_at) == (record.created_at, now)
        json = await repo.upsert(record, on="id", update={"data": {"k": 1}}, scope=scope)
        assert json.entity.updated_at == now
        later = clock.tick()
        json = await repo.upsert(record, on="id", update={"data": {"k": 2}}, scope=scope)
        assert json.entity.updated_at == later
        assert await repo.get(record.id, scope=scope) == json.entity

    @pytest.mark.asyncio
    async def test_delete_and_restore_set_it_and_the_marker_reads_the_same_clock(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        clock = _clocked(repokit_db)
        record = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        deleted_at = clock.tick()
        deleted = await repo.delete_returning(record.id, scope=scope)
        assert (deleted.deleted_at, deleted.updated_at) == (deleted_at, deleted_at)
        restored_at = clock.tick()
        restored = await repo.restore(record.id, scope=scope)
        assert (restored.deleted_at, restored.updated_at) == (None, restored_at)
        assert restored.created_at == record.created_at
        again = clock.tick()
        assert await repo.batch_delete(ids=[record.id], scope=scope) == 1
        stored = (await repo.search(scope=scope, deleted=Deleted.INCLUDE)).items
        assert [(r.deleted_at, r.updated_at) for r in stored] == [(again, again)]

    @pytest.mark.asyncio
    async def test_without_a_clock_they_hold_the_current_time(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo, scope = _repo(repokit_db), _scope(repokit_tenant)
        before = datetime.now(UTC) - timedelta(milliseconds=1)
        created = await repo.create(_record(repokit_tenant, "a"), scope=scope)
        after = datetime.now(UTC)
        assert before <= created.created_at <= after
        assert created.updated_at == created.created_at
        assert created.created_at.microsecond % 1000 == 0
