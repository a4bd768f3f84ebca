"""The tables and scopes the contract suite runs on.

Three tables cover the shapes the contract distinguishes: ``rk_items`` (every
value kind, a status soft-delete marker, a version field, an ignore-case
field, a unique key among live entities and a nullable unique key),
``rk_notes`` (integer keys, a ``deleted_at`` marker) and ``rk_labels``
(string keys, no soft delete); ``rk_records`` declares what repokit maintains
(CONTRACT §21): domain exceptions of its keys and created / updated
timestamps; ``rk_tenants`` holds the tenants themselves, which
:class:`CheckedTenantScope` requires to exist (CONTRACT §24). ``rk_shares``
has a composite primary key and ``rk_slots`` a unique key whose nulls are
equal (CONTRACT §22). Tests isolate themselves by tenant: every
test works inside fresh tenants, so the tables are created once per session.
"""

from __future__ import annotations

import enum
import itertools
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, NewType

from repokit.conditions import Condition, exists
from repokit.errors import EntityAlreadyExists, IntegrityViolation
from repokit.references import OnPurge, Reference
from repokit.scope import Requires, SearchScope
from repokit.tables import StatusMarker, Table, TimestampMarker, Timestamps, Unique
from repokit.types import MaxLength, Numeric

__all__ = [
    "ALL_TABLES",
    "REFERENCE_TABLES",
    "CheckedTenantScope",
    "Chunk",
    "File",
    "Folder",
    "FolderPinned",
    "Item",
    "ItemId",
    "Label",
    "Level",
    "Member",
    "MemberScope",
    "Note",
    "Pin",
    "Record",
    "RecordIdTaken",
    "RecordNameTaken",
    "Share",
    "Slot",
    "Status",
    "Tag",
    "Tenant",
    "TenantScope",
    "chunks",
    "files",
    "folders",
    "items",
    "labels",
    "members",
    "new_member_id",
    "new_note_id",
    "new_tenant",
    "notes",
    "pins",
    "records",
    "shares",
    "slots",
    "tags",
    "tenants",
]

ItemId = NewType("ItemId", uuid.UUID)


class Status(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


class Level(enum.IntEnum):
    LOW = 1
    MID = 2
    HIGH = 3


@dataclass(frozen=True)
class Item:
    """An entity with a field of every kind."""

    id: ItemId
    tenant: str
    name: Annotated[str, MaxLength(64)]
    status: Status = Status.ACTIVE
    code: str | None = None
    score: int | None = None
    ratio: float | None = None
    price: Annotated[Decimal, Numeric(12, 2)] | None = None
    flag: bool | None = None
    level: Level | None = None
    at: datetime | None = None
    day: date | None = None
    ref: uuid.UUID | None = None
    data: dict[str, Any] | None = None
    version: int = 0


items: Table[Item] = Table(
    Item,
    "rk_items",
    primary_key="id",
    unique=[Unique(("tenant", "name"), among_live=True), ("tenant", "code")],
    indexes=[("tenant", "status"), ("tenant", "score")],
    soft_delete=StatusMarker("status", deleted=Status.DELETED, restored=Status.ACTIVE),
    ignore_case=["name"],
    version="version",
)


@dataclass(frozen=True)
class Note:
    """Integer keys, soft delete by timestamp, no version."""

    id: int
    tenant: str
    body: str
    rank: int | None = None
    deleted_at: datetime | None = None


notes: Table[Note] = Table(
    Note,
    "rk_notes",
    primary_key="id",
    indexes=[("tenant", "rank")],
    soft_delete=TimestampMarker("deleted_at"),
)


@dataclass(frozen=True)
class Label:
    """String keys, no soft-delete marker: labels can only be purged."""

    key: str
    tenant: str
    color: str | None = None
    weight: int = 0


labels: Table[Label] = Table(Label, "rk_labels", primary_key="key", unique=[("tenant", "color")])


class RecordNameTaken(Exception):
    """The domain exception of ``rk_records``' unique key (tenant, name)."""

    def __init__(self, error: EntityAlreadyExists) -> None:
        super().__init__(f"the name is taken ({error})")
        self.error = error


class RecordIdTaken(Exception):
    """The domain exception of ``rk_records``' primary key."""

    def __init__(self, error: EntityAlreadyExists) -> None:
        super().__init__(f"the id is taken ({error})")


#: What a record holds in its maintained timestamps until repokit sets them.
_UNSET = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    """Keys with domain exceptions, timestamps repokit maintains (CONTRACT §21)."""

    id: uuid.UUID
    tenant: str
    name: str
    code: str | None = None
    rank: int | None = None
    data: dict[str, Any] | None = None
    created_at: datetime = _UNSET
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    version: int = 0


records: Table[Record] = Table(
    Record,
    "rk_records",
    primary_key="id",
    unique=[Unique(("tenant", "name"), among_live=True, error=RecordNameTaken), ("tenant", "code")],
    soft_delete=TimestampMarker("deleted_at"),
    version="version",
    timestamps=Timestamps(created="created_at", updated="updated_at"),
    primary_key_error=RecordIdTaken,
)


@dataclass(frozen=True)
class Member:
    """An association to ``rk_items`` (CONTRACT §25): a role on an item, soft-deletable."""

    id: int
    tenant: str
    item_id: uuid.UUID | None = None
    role: str | None = None
    rank: int | None = None
    deleted_at: datetime | None = None


members: Table[Member] = Table(
    Member,
    "rk_members",
    primary_key="id",
    indexes=[("item_id", "role")],
    soft_delete=TimestampMarker("deleted_at"),
)


@dataclass(frozen=True)
class Share:
    """A composite primary key (tenant, folder, name), soft delete, a version (CONTRACT §22)."""

    tenant: str
    folder: str
    name: str
    rank: int = 0
    note: str | None = None
    deleted_at: datetime | None = None
    version: int = 0


shares: Table[Share, tuple[str, str, str]] = Table(
    Share,
    "rk_shares",
    primary_key=("tenant", "folder", "name"),
    key_type=tuple[str, str, str],
    indexes=[("tenant", "rank")],
    soft_delete=TimestampMarker("deleted_at"),
    version="version",
)


@dataclass(frozen=True)
class Tenant:
    """A tenant, by name: what :class:`CheckedTenantScope` requires (CONTRACT §24)."""

    name: str
    deleted_at: datetime | None = None


tenants: Table[Tenant, str] = Table(
    Tenant, "rk_tenants", primary_key="name", soft_delete=TimestampMarker("deleted_at")
)


@dataclass(frozen=True)
class Slot:
    """A unique key whose nulls are equal: (tenant, zone, code), ``nulls="equal"`` (§22)."""

    id: uuid.UUID
    tenant: str
    zone: str | None = None
    code: int | None = None
    weight: int = 0


slots: Table[Slot, uuid.UUID] = Table(
    Slot,
    "rk_slots",
    primary_key="id",
    key_type=uuid.UUID,
    unique=[Unique(("tenant", "zone", "code"), nulls="equal")],
)

ALL_TABLES: tuple[Table[Any], ...] = (
    items,
    notes,
    labels,
    records,
    members,
    tenants,
    shares,
    slots,
)


# -- references (CONTRACT §23) ----------------------------------------------------------------


@dataclass(frozen=True)
class Folder:
    """The parent of the reference tables: string keys, soft-deleted by a timestamp."""

    id: str
    tenant: str
    deleted_at: datetime | None = None


folders: Table[Folder] = Table(
    Folder, "rk_folders", primary_key="id", soft_delete=TimestampMarker("deleted_at")
)


@dataclass(frozen=True)
class File:
    """A child of a folder, purged with it (CASCADE); itself the parent of chunks."""

    id: uuid.UUID
    tenant: str
    folder: str
    name: str = ""


files: Table[File] = Table(
    File,
    "rk_files",
    primary_key="id",
    references=[Reference(("folder",), folders, on_purge=OnPurge.CASCADE)],
)


@dataclass(frozen=True)
class Chunk:
    """A grandchild of a folder: purged with its file (CASCADE), so with the folder."""

    id: uuid.UUID
    tenant: str
    file: uuid.UUID


chunks: Table[Chunk] = Table(
    Chunk,
    "rk_chunks",
    primary_key="id",
    references=[Reference(("file",), files, on_purge=OnPurge.CASCADE)],
)


@dataclass(frozen=True)
class Tag:
    """A child whose folder is set to None when the folder is purged (SET NULL)."""

    id: uuid.UUID
    tenant: str
    folder: str | None = None
    updated_at: datetime | None = None
    version: int = 0


tags: Table[Tag] = Table(
    Tag,
    "rk_tags",
    primary_key="id",
    version="version",
    timestamps=Timestamps(updated="updated_at"),
    references=[Reference(("folder",), folders, on_purge=OnPurge.SET_NULL)],
)


class FolderPinned(Exception):
    """The domain exception of ``rk_pins``' reference: a folder with a pin stays."""

    def __init__(self, error: IntegrityViolation) -> None:
        super().__init__(f"the folder is pinned ({error})")
        self.error = error


@dataclass(frozen=True)
class Pin:
    """A child that keeps its folder from being purged (RESTRICT, a domain exception)."""

    id: uuid.UUID
    tenant: str
    folder: str


pins: Table[Pin] = Table(
    Pin,
    "rk_pins",
    primary_key="id",
    references=[
        Reference(("folder",), folders, on_purge=OnPurge.RESTRICT, error=FolderPinned),
    ],
)

#: The tables of the references tests, parents first.
REFERENCE_TABLES: tuple[Table[Any], ...] = (folders, files, chunks, tags, pins)


@dataclass(frozen=True)
class TenantScope(SearchScope):
    """Everything of one tenant, on any of the suite's tables."""

    tenant: str
    table: Table[Any] = field(default=items, compare=False)

    def to_condition(self) -> Condition:
        return self.table.c.tenant == self.tenant


@dataclass(frozen=True)
class MemberScope(SearchScope):
    """The items on which *role* holds a live membership: a scope across tables (§25)."""

    role: str

    def to_condition(self) -> Condition:
        return exists(members, on={"item_id": items.c.id}, where=members.c.role == self.role)


@dataclass(frozen=True)
class CheckedTenantScope(TenantScope):
    """:class:`TenantScope` whose tenant must be stored in ``rk_tenants`` and live (§24)."""

    def requires(self) -> Iterable[Requires]:
        return (Requires(tenants, self.tenant),)


_tenants = itertools.count()
_notes = itertools.count(1)
_RUN = uuid.uuid4().hex[:8]
_NOTE_BASE = int.from_bytes(os.urandom(3), "big") << 32


def new_tenant() -> str:
    """A tenant name no other test (or earlier run on the same server) uses."""
    return f"t-{_RUN}-{next(_tenants)}"


def new_member_id() -> int:
    """A fresh integer key for rk_members."""
    return _NOTE_BASE + next(_notes)


def new_note_id() -> int:
    """A fresh integer key for rk_notes."""
    return _NOTE_BASE + next(_notes)
