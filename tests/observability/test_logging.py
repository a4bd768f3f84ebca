"""The loggers: backend calls at DEBUG without values, sessions, and transaction retries."""

from __future__ import annotations

import logging
import uuid

import pytest

from observability.backends import SQL_BACKENDS, Open
from repokit import Database, EntityAlreadyExists, Repository, TransactionConflict
from repokit.backend import BackendSession
from repokit.observability import render_condition
from repokit.testing.schema import Item, ItemId, Label, items, labels, new_tenant

SECRET = "secret-name-4711"


def _item(tenant: str, name: str = SECRET) -> Item:
    return Item(id=ItemId(uuid.uuid4()), tenant=tenant, name=name)


def _records(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


async def _conflict(_: BackendSession) -> None:
    raise TransactionConflict("simulated serialisation failure")


# -- repokit.statements ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_nothing_is_logged_at_the_default_levels(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    await repo.get(item.id)
    assert not [record for record in caplog.records if record.name.startswith("repokit")]


@pytest.mark.asyncio
async def test_each_backend_call_is_logged_at_debug_with_operation_table_rows_and_duration(
    db: Database, caplog: pytest.LogCaptureFixture, backend_name: str
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    caplog.set_level(logging.DEBUG, logger="repokit.statements")
    await repo.get(item.id)
    (record,) = _records(caplog, "repokit.statements")
    assert record.levelno == logging.DEBUG
    assert record.__dict__["db_operation"] == "select"
    assert record.__dict__["db_table"] == items.name
    assert record.__dict__["rows"] == 1
    assert record.__dict__["duration_ms"] > 0
    assert record.__dict__["db_system"] == db.backend.endpoint.system
    assert record.getMessage().startswith(f"select {items.name}: 1 row in ")


@pytest.mark.asyncio
async def test_statement_records_hold_no_values(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="repokit")
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    await repo.get(item.id)
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("repokit")]
    assert any("where (id == ? AND status != ?)" in message for message in messages)
    for message in messages:
        assert SECRET not in message
        assert str(item.id) not in message
        assert item.tenant not in message


@pytest.mark.asyncio
async def test_values_are_logged_only_when_the_database_opts_in(
    open_db: Open, caplog: pytest.LogCaptureFixture
) -> None:
    db = await open_db(log_values=True)
    caplog.set_level(logging.DEBUG, logger="repokit.statements")
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    await repo.get(item.id)
    insert, select = (r.getMessage() for r in _records(caplog, "repokit.statements"))
    assert SECRET in insert
    assert repr(item.id) in select


@pytest.mark.asyncio
async def test_a_failed_call_is_logged_with_its_error_type_and_not_its_message(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    repo: Repository[Label, str] = Repository(db, labels)
    key = f"key-{uuid.uuid4().hex}"
    await repo.create(Label(key, new_tenant()))
    caplog.set_level(logging.DEBUG, logger="repokit.statements")
    with pytest.raises(EntityAlreadyExists):
        await repo.create(Label(key, new_tenant()))
    (record,) = _records(caplog, "repokit.statements")
    assert record.__dict__["error_type"] == "EntityAlreadyExists"
    assert record.getMessage().startswith(f"insert {labels.name}: failed in ")
    assert "(EntityAlreadyExists)" in record.getMessage()
    assert key not in record.getMessage()


@pytest.mark.asyncio
async def test_a_level_change_takes_effect_at_the_next_call(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    logger = logging.getLogger("repokit.statements")
    await repo.get(item.id)
    logger.setLevel(logging.DEBUG)
    try:
        await repo.get(item.id)
        logger.setLevel(logging.INFO)
        await repo.get(item.id)
    finally:
        logger.setLevel(logging.NOTSET)
    assert len(_records(caplog, "repokit.statements")) == 1


def test_conditions_render_with_placeholders_unless_values_are_asked_for() -> None:
    c = labels.c
    condition = (c.tenant == "acme") & c.weight.in_([1, 2, 3]) & ~c.color.is_null()
    assert (
        render_condition(condition)
        == "(tenant == ? AND weight IN (3 values) AND NOT color IS NULL)"
    )
    shown = render_condition(condition, values=True)
    assert "'acme'" in shown
    assert "(1, 2, 3)" in shown


@pytest.mark.asyncio
@pytest.mark.parametrize("backend_name", SQL_BACKENDS, indirect=True)
async def test_the_sql_backend_logs_each_statements_text_without_parameters(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="repokit.sqlalchemy")
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant()))
    insert, *_ = (r.getMessage() for r in _records(caplog, "repokit.sqlalchemy"))
    assert "INSERT INTO rk_items" in insert
    assert SECRET not in insert
    assert str(item.id) not in insert


# -- repokit.database: sessions ---------------------------------------------------------


@pytest.mark.asyncio
async def test_sessions_log_how_they_ended(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="repokit.database")
    repo: Repository[Label, str] = Repository(db, labels)
    key = f"key-{uuid.uuid4().hex}"
    await repo.create(Label(key, new_tenant()))
    await repo.get(key)
    with pytest.raises(EntityAlreadyExists):
        await repo.create(Label(key, new_tenant()))
    messages = [r.getMessage() for r in _records(caplog, "repokit.database")]
    assert [message.split(" after ")[0] for message in messages] == [
        "read-write session committed",
        "read-only session ended",
        "read-write session rolled back",
    ]
    assert messages[-1].endswith("(EntityAlreadyExists)")


# -- repokit.database: retries ----------------------------------------------------------


@pytest.mark.asyncio
async def test_a_conflict_in_a_transaction_block_is_logged_with_its_reason_and_attempt(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repokit.database")
    runs = 0
    async for attempt in db.transaction(attempts=3):
        async with attempt as session:
            runs += 1
            if runs == 1:
                await session.run(_conflict)
    assert runs == 2
    (record,) = _records(caplog, "repokit.database")
    assert record.levelno == logging.INFO
    assert record.__dict__["attempt"] == 1
    assert record.__dict__["attempts"] == 3
    assert record.__dict__["error_type"] == "TransactionConflict"
    assert record.__dict__["reason"].endswith("simulated serialisation failure")
    assert record.__dict__["retry_delay_ms"] >= 0
    message = record.getMessage()
    assert message.startswith("transaction attempt 1 of 3 failed with a transient conflict")
    assert message.endswith("simulated serialisation failure")
    assert "TransactionConflict: " in message


@pytest.mark.asyncio
async def test_a_conflict_raised_by_the_block_itself_is_logged_too(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repokit.database")
    runs = 0
    async for attempt in db.transaction():
        async with attempt:
            runs += 1
            if runs < 3:
                raise TransactionConflict("raised by the block")
    attempts = [r.__dict__["attempt"] for r in _records(caplog, "repokit.database")]
    assert attempts == [1, 2]


@pytest.mark.asyncio
async def test_run_in_transaction_logs_its_retries(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repokit.database")
    runs = 0

    async def work(session: object) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise TransactionConflict("deadlock detected")

    await db.run_in_transaction(work)
    (record,) = _records(caplog, "repokit.database")
    assert record.__dict__["attempt"] == 1
    assert "retrying in" in record.getMessage()
    assert record.getMessage().endswith("deadlock detected")


@pytest.mark.asyncio
async def test_a_conflict_on_the_last_attempt_is_logged_as_not_retried(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repokit.database")

    async def block() -> None:
        async for attempt in db.transaction(attempts=2):
            async with attempt as session:
                await session.run(_conflict)

    with pytest.raises(TransactionConflict):
        await block()
    messages = [r.getMessage() for r in _records(caplog, "repokit.database")]
    assert len(messages) == 2
    assert "attempt 1 of 2" in messages[0]
    assert "retrying in" in messages[0]
    assert "attempt 2 of 2" in messages[1]
    assert "not retried" in messages[1]


@pytest.mark.asyncio
async def test_errors_that_are_not_conflicts_are_not_logged_as_retries(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="repokit.database")

    async def block() -> None:
        async for attempt in db.transaction():
            async with attempt:
                raise KeyError("not transient")

    with pytest.raises(KeyError):
        await block()
    assert not _records(caplog, "repokit.database")
