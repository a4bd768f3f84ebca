"""Connecting: URLs, ``from_client``, the entry point and transaction detection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from repokit import Database, Repository, Table
from repokit.registry import backend_for_url
from repokit_mongodb import MongoBackend
from repokit_mongodb.backend import database_name_of, supports_transactions

from .conftest import Thing


@pytest_asyncio.fixture
async def client(mongodb_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    """A client the test owns, with PyMongo's default options (no UUID representation)."""
    owned: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url)
    try:
        yield owned
    finally:
        await owned.close()


def test_both_url_schemes_find_the_mongodb_backend() -> None:
    assert backend_for_url("mongodb://localhost/db") is MongoBackend
    assert backend_for_url("mongodb+srv://cluster.example.com/db") is MongoBackend


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("mongodb://h/app", "app"),
        ("mongodb://u:p@h1:1,h2:2/app?replicaSet=rs", "app"),
        ("mongodb+srv://cluster.example.com/my%20db?retryWrites=true", "my db"),
        ("mongodb://h/", None),
        ("mongodb://h", None),
        ("mongodb://h/?w=1", None),
    ],
)
def test_the_database_name_comes_from_the_url_path(url: str, name: str | None) -> None:
    assert database_name_of(url) == name


@pytest.mark.parametrize(
    ("hello", "expected"),
    [
        ({"setName": "rs0", "logicalSessionTimeoutMinutes": 30}, True),
        ({"msg": "isdbgrid", "logicalSessionTimeoutMinutes": 30}, True),
        ({"logicalSessionTimeoutMinutes": 30}, False),  # a standalone mongod
        ({"setName": "rs0"}, False),  # no sessions, no transactions
    ],
)
def test_transactions_are_detected_from_hello(hello: dict[str, Any], expected: bool) -> None:
    assert supports_transactions(hello) is expected


@pytest.mark.asyncio
async def test_connect_declares_what_the_server_answers(mongodb_url: str) -> None:
    db = await Database.connect(mongodb_url)
    try:
        backend = db.backend
        assert isinstance(backend, MongoBackend)
        hello = await backend.client.admin.command("hello")
        assert db.capabilities.transactions is supports_transactions(hello)
    finally:
        await db.close()


@pytest.mark.asyncio
async def test_from_client_works_whatever_the_client_codec_options(
    client: AsyncMongoClient[Any],
    mongodb_url: str,
    things: Table[Thing],
    new_thing: Callable[..., Thing],
) -> None:
    name = database_name_of(mongodb_url)
    assert name is not None
    db = Database(MongoBackend.from_client(client, name))
    await db.create_tables(things)
    try:
        repo: Repository[Thing, uuid.UUID] = Repository(db, things)
        thing = await repo.create(new_thing(ref=uuid.uuid4()))
        assert await repo.get(thing.id) == thing
        hello = await client.admin.command("hello")
        assert db.capabilities.transactions is supports_transactions(hello)
    finally:
        await db.drop_tables(things)
        await db.close()
    # The application owns the client: closing the database leaves it usable.
    assert (await client.admin.command("ping"))["ok"] == 1


@pytest.mark.asyncio
async def test_from_client_takes_the_transaction_capability_when_given(
    client: AsyncMongoClient[Any],
) -> None:
    backend = MongoBackend.from_client(client, "anything", transactions=False)
    assert backend.capabilities.transactions is False
