"""Helpers of the scope, soft-delete, uniqueness and write tests (CONTRACT §6–§9).

Fresh notes and labels for a tenant (items come from
:mod:`repokit.testing.suite._entities`), the repositories over them, and
reads that always stay inside one tenant's scope, so tests never see each
other's data on a persistent backend.
"""

from __future__ import annotations

import uuid
from typing import Any

from repokit.database import Database
from repokit.repository import Repository
from repokit.testing.schema import Label, Note, TenantScope, labels, new_note_id, notes
from repokit.testing.suite._entities import item_repository
from repokit.utilities import Deleted

__all__ = [
    "failure_payload",
    "item_names",
    "label_repository",
    "new_label",
    "new_note",
    "note_repository",
]


def new_note(tenant: str, body: str = "note", **fields: Any) -> Note:
    """A note of *tenant* with a fresh integer key."""
    return Note(new_note_id(), tenant, body, **fields)


def new_label(tenant: str, **fields: Any) -> Label:
    """A label of *tenant* with a fresh string key."""
    return Label(f"{tenant}-{uuid.uuid4().hex[:12]}", tenant, **fields)


def note_repository(db: Database) -> Repository[Note, int]:
    """A repository of the suite's ``rk_notes`` table."""
    return Repository(db, notes)


def label_repository(db: Database) -> Repository[Label, str]:
    """A repository of the suite's ``rk_labels`` table."""
    return Repository(db, labels)


async def item_names(db: Database, tenant: str, deleted: Deleted = Deleted.EXCLUDE) -> list[str]:
    """The names of *tenant*'s items (as *deleted* sees them), sorted."""
    page = await item_repository(db).search(scope=TenantScope(tenant), deleted=deleted)
    return sorted(item.name for item in page.items)


def failure_payload(exc: BaseException) -> tuple[Any, ...]:
    """Everything an exception tells its catcher: class, arguments, message and attributes."""
    return type(exc), exc.args, str(exc), dict(vars(exc))
