"""Fixtures for the MongoDB backend's own tests (SecantusDB or $REPOKIT_TEST_MONGODB_URL).

Tests here work on their own collections (``mg_*``), created for the test and
dropped after it, so they never meet the contract suite's tables.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient, monitoring

from repokit import Database, MaxLength, Numeric, StatusMarker, Table, Unique
from repokit_mongodb.backend import database_name_of


class Mood(enum.StrEnum):
    CALM = "calm"
    BUSY = "busy"
    GONE = "gone"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


@dataclass(frozen=True)
class Thing:
    """A field of every kind, a status soft-delete marker and two unique keys."""

    id: uuid.UUID
    tenant: str
    name: Annotated[str, MaxLength(20)]
    code: str | None = None
    count: int = 0
    ratio: float | None = None
    price: Annotated[Decimal, Numeric(18, 4)] | None = None
    flag: bool | None = None
    at: datetime | None = None
    day: date | None = None
    ref: uuid.UUID | None = None
    data: dict[str, Any] | None = None
    size: Size | None = None
    mood: Mood = Mood.CALM


def thing_table(name: str) -> Table[Thing]:
    """A fresh table definition named *name*."""
    return Table(
        Thing,
        name,
        primary_key="id",
        unique=[Unique(("tenant", "name"), among_live=True), ("tenant", "code")],
        indexes=[("tenant", "count")],
        soft_delete=StatusMarker("mood", deleted=Mood.GONE, restored=Mood.CALM),
        ignore_case=["name"],
    )


@pytest.fixture
def things() -> Table[Thing]:
    """A table of things with a name no other test uses."""
    return thing_table(f"mg_things_{uuid.uuid4().hex[:8]}")


@pytest_asyncio.fixture
async def db(mongodb_url: str, things: Table[Thing]) -> AsyncIterator[Database]:
    """A database with the ``things`` collection, dropped after the test."""
    database = await Database.connect(mongodb_url)
    await database.create_tables(things)
    try:
        yield database
    finally:
        await database.drop_tables(things)
        await database.close()


@pytest_asyncio.fixture
async def raw(mongodb_url: str) -> AsyncIterator[Any]:
    """The test database through a plain PyMongo client, to look at what is stored."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongodb_url, uuidRepresentation="standard")
    try:
        yield client[database_name_of(mongodb_url) or "repokit_test"]
    finally:
        await client.close()


def _new_thing(tenant: str = "acme", **values: Any) -> Thing:
    values.setdefault("name", f"n-{uuid.uuid4().hex[:8]}")
    return Thing(uuid.uuid4(), tenant, **values)


@pytest.fixture
def new_thing() -> Callable[..., Thing]:
    """``new_thing(tenant="acme", **values)``: a thing with a fresh id and name."""
    return _new_thing


class Commands(monitoring.CommandListener):
    """The names of the commands sent, with their bodies, while recording."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.recording = False

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording and event.command_name not in ("hello", "endSessions"):
            self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    @contextlib.contextmanager
    def record(self) -> Iterator[None]:
        self.sent.clear()
        self.recording = True
        try:
            yield
        finally:
            self.recording = False


@pytest_asyncio.fixture
async def watched(
    mongodb_url: str, things: Table[Thing]
) -> AsyncIterator[tuple[Database, Commands]]:
    """A database whose client reports every command it sends."""
    commands = Commands()
    database = await Database.connect(mongodb_url, event_listeners=[commands])
    await database.create_tables(things)
    try:
        yield database, commands
    finally:
        await database.drop_tables(things)
        await database.close()
