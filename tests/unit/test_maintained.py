"""What a table declares repokit maintains (CONTRACT §21): key exceptions and timestamps.

Definition errors are raised when the table is declared; the rest is core's
own logic, without I/O (the backends' behaviour is the suite's ``maintained.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from repokit import Database, Repository
from repokit.errors import (
    EntityAlreadyExists,
    InvalidQuery,
    InvalidTableDefinition,
    TransactionAborted,
    TransactionConflict,
)
from repokit.memory import MemoryBackend
from repokit.tables import Table, TimestampMarker, Timestamps, Unique
from repokit.testing.schema import Record, RecordIdTaken, RecordNameTaken, records
from repokit.utilities import Updater
from repokit.utilities.bulk import item_error
from repokit.utilities.updater import spec_values

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Doc:
    id: int
    name: str
    data: dict[str, Any] | None = None
    day: datetime | None = None
    created: datetime = EPOCH
    updated: datetime | None = None
    deleted_at: datetime | None = None
    version: int = 0


class NameTaken(Exception):
    def __init__(self, error: EntityAlreadyExists) -> None:
        super().__init__(str(error))


class NeedsTwo(Exception):
    def __init__(self, name: str, tenant: str) -> None:
        super().__init__(name, tenant)


class Retried(TransactionConflict):
    pass


class Aborted(TransactionAborted):
    pass


def _table(**options: Any) -> Table[Doc]:
    return Table(Doc, "docs", primary_key="id", **options)


# -- domain exceptions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [NameTaken(EntityAlreadyExists("Doc", ("name",))), "NameTaken", len, BaseException],
    ids=["an instance", "a string", "a function", "not an Exception"],
)
def test_a_key_error_must_be_an_exception_class(error: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match="Exception subclass"):
        _table(unique=[Unique(("name",), error=error)])
    with pytest.raises(InvalidTableDefinition, match="Exception subclass"):
        _table(primary_key_error=error)


@pytest.mark.parametrize("error", [Retried, Aborted, TransactionConflict])
def test_a_key_error_cannot_be_one_the_transaction_runner_reads_as_transient(
    error: type[Exception],
) -> None:
    with pytest.raises(InvalidTableDefinition, match="TransactionConflict"):
        _table(unique=[Unique(("name",), error=error)])


def test_a_key_error_must_take_the_entity_already_exists_as_its_one_argument() -> None:
    with pytest.raises(InvalidTableDefinition, match="one positional argument"):
        _table(unique=[Unique(("name",), error=NeedsTwo)])
    with pytest.raises(InvalidTableDefinition, match="one positional argument"):
        _table(primary_key_error=NeedsTwo)


def test_a_declared_key_error_is_built_from_repokits_error_of_that_key() -> None:
    table = _table(unique=[Unique(("name",), error=NameTaken)], primary_key_error=KeyError)
    assert table.unique[0].error is NameTaken
    taken = EntityAlreadyExists("Doc", ("name",))
    domain = table.domain_error(taken)
    assert isinstance(domain, NameTaken)
    assert isinstance(table.domain_error(EntityAlreadyExists("Doc", ("id",))), KeyError)
    assert table.domain_error(EntityAlreadyExists("Doc", ())) is None  # no key named
    assert table.key_errors == (NameTaken, KeyError)
    assert _table().domain_error(taken) is None


def test_a_bulk_item_fails_alone_only_with_the_domain_exception_core_raised() -> None:
    taken = EntityAlreadyExists(records.entity_name, ("tenant", "name"))
    raised = RecordNameTaken(taken)
    raised.__cause__ = taken
    assert item_error(raised, records)
    assert item_error(taken, records)
    assert not item_error(RecordNameTaken(taken), records)  # not chained: not core's
    assert not item_error(RecordIdTaken(taken), Table(Doc, "docs", primary_key="id"))


# -- maintained timestamps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamps", "match"),
    [
        (Timestamps(), "needs a created or an updated"),
        (Timestamps(created="missing"), "not a field"),
        (Timestamps(created="name"), "must be a datetime"),
        (Timestamps(updated="data"), "must be a datetime"),
        (Timestamps(created="version"), "must be a datetime"),
        (Timestamps(created="created", updated="created"), "two different fields"),
        (Timestamps(updated="deleted_at"), "soft-delete marker"),
    ],
)
def test_timestamps_are_two_distinct_datetime_fields(timestamps: Timestamps, match: str) -> None:
    with pytest.raises(InvalidTableDefinition, match=match):
        _table(timestamps=timestamps, soft_delete=TimestampMarker("deleted_at"))


def test_timestamps_must_be_a_timestamps() -> None:
    with pytest.raises(InvalidTableDefinition, match="takes a Timestamps"):
        _table(timestamps=("created", "updated"))


def test_either_timestamp_may_be_alone_and_nullable() -> None:
    assert _table(timestamps=Timestamps(updated="updated")).maintained == {"updated"}
    table = _table(timestamps=Timestamps(created="day"))
    assert (table.maintained, table.stamped) == ({"day"}, None)


def test_to_row_puts_the_time_in_the_timestamps_whatever_the_entity_holds() -> None:
    table = _table(timestamps=Timestamps(created="created", updated="updated"))
    now = datetime(2030, 1, 2, 3, 4, 5, 678999, tzinfo=timezone(timedelta(hours=2)))
    stored = datetime(2030, 1, 2, 1, 4, 5, 678000, tzinfo=UTC)
    row = table.to_row(Doc(1, "a", created="not a datetime", updated=None), now)  # type: ignore[arg-type]
    assert (row["created"], row["updated"]) == (stored, stored)
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    assert table.to_row(Doc(1, "a"))["created"] >= before  # without a time: the current one


def test_an_update_cannot_name_a_timestamp() -> None:
    updater = Updater(_table(timestamps=Timestamps(created="created", updated="updated")))
    for field in ("created", "updated"):
        with pytest.raises(InvalidQuery, match="maintained by repokit"):
            spec_values(updater, {field: EPOCH})
    assert spec_values(updater, {"day": EPOCH}) == {"day": EPOCH}


def test_stamp_sets_the_updated_field_only() -> None:
    table = _table(timestamps=Timestamps(created="created", updated="updated"))
    assert table.stamp({"name": "b"}, EPOCH) == {"name": "b", "updated": EPOCH}
    plain = _table()
    values = {"name": "b"}
    assert plain.stamp(values, EPOCH) is values


# -- the clock --------------------------------------------------------------------------------


def test_the_databases_clock_is_floored_to_milliseconds_in_utc() -> None:
    local = datetime(2030, 1, 1, 12, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-5)))
    db = Database(MemoryBackend(), clock=lambda: local)
    assert db.now() == datetime(2030, 1, 1, 17, 0, 0, 999000, tzinfo=UTC)
    assert Database(MemoryBackend()).now().tzinfo is UTC


@pytest.mark.parametrize("value", [datetime(2030, 1, 1), "2030-01-01", None])
def test_a_clock_must_return_an_aware_datetime(value: Any) -> None:
    db = Database(MemoryBackend(), clock=lambda: value)
    with pytest.raises(TypeError, match="aware datetime"):
        db.now()


def test_a_clock_must_be_callable() -> None:
    with pytest.raises(TypeError, match="clock"):
        Database(MemoryBackend(), clock=datetime.now(UTC))  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_create_reads_the_clock_once_for_the_whole_batch() -> None:
    calls = 0

    def clock() -> datetime:
        nonlocal calls
        calls += 1
        return EPOCH + timedelta(days=calls)

    async with Database(MemoryBackend(), clock=clock) as db:
        await db.create_tables(records)
        repo = Repository(db, records)
        created = await repo.batch_create(
            [Record(uuid.uuid4(), "t", name) for name in ("a", "b", "c")]
        )
    assert calls == 1
    assert {r.created_at for r in created} == {EPOCH + timedelta(days=1)}
