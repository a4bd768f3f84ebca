"""repokit quickstart: a small multi-tenant domain, end to end.

Domains own projects; users see the projects of their domain. The script
creates, gets, searches (with scopes, required on every call, offset and
cursor pagination), updates
with ``TriState``, soft-deletes, restores, purges, runs batch operations,
upserts, runs a bulk update with an outcome per item and streams a domain's
projects, printing what it does.

Run it with no setup (SQLite in a temporary directory)::

    uv run python examples/quickstart.py

or against any backend::

    export REPOKIT_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test
    uv run python examples/quickstart.py
    REPOKIT_DATABASE_URL=mongodb://127.0.0.1:27017/quickstart uv run python examples/quickstart.py
    REPOKIT_DATABASE_URL=memory:// uv run python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
import enum
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, NewType

from repokit import (
    Condition,
    CursorPagination,
    Database,
    Deleted,
    EntityNotFound,
    GlobalScope,
    InvalidQuery,
    MaxLength,
    OffsetPagination,
    OptionalState,
    Page,
    Repository,
    ScopeViolation,
    SearchScope,
    StatusMarker,
    Table,
    TriState,
    Unique,
    UpdaterSpec,
)

# -- the domain --------------------------------------------------------------------------------

ProjectId = NewType("ProjectId", uuid.UUID)
DomainName = NewType("DomainName", str)


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    DELETED = "deleted"


@dataclass(frozen=True)
class Project:
    id: ProjectId
    domain_name: DomainName
    name: Annotated[str, MaxLength(64)]
    owner: str
    status: ProjectStatus
    description: str | None
    created_at: datetime


projects: Table[Project] = Table(
    Project,
    "projects",
    primary_key="id",
    unique=[Unique(("domain_name", "name"), among_live=True)],
    indexes=[("domain_name", "status"), ("domain_name", "created_at")],
    soft_delete=StatusMarker(
        "status", deleted=ProjectStatus.DELETED, restored=ProjectStatus.ACTIVE
    ),
    ignore_case=["name"],
)
c = projects.c


@dataclass(frozen=True)
class DomainScope(SearchScope):
    """Everything in one domain: what a domain administrator sees."""

    domain_name: DomainName

    def to_condition(self) -> Condition:
        return c.domain_name == self.domain_name


@dataclass(frozen=True)
class UserScope(SearchScope):
    """The projects a user owns inside their domain."""

    domain_name: DomainName
    user: str

    def to_condition(self) -> Condition:
        return (c.domain_name == self.domain_name) & (c.owner == self.user)


@dataclass(frozen=True)
class ProjectUpdate(UpdaterSpec):
    name: OptionalState[str] = OptionalState.nop()
    status: OptionalState[ProjectStatus] = OptionalState.nop()
    description: TriState[str] = TriState.nop()


class ProjectRepository(Repository[Project, ProjectId]):
    """The domain repository: the generic operations plus a domain query."""

    async def active_in(
        self, domain: DomainName, *, first: int, after: str | None = None
    ) -> Page[Project]:
        return await self.search(
            scope=DomainScope(domain),
            conditions=[c.status == ProjectStatus.ACTIVE],
            orders=[c.created_at.desc()],
            pagination=CursorPagination(first=first, after=after),
            total_count=True,
        )


# -- the walk-through ----------------------------------------------------------------------------


def new_project(domain: str, name: str, owner: str, minutes_ago: int) -> Project:
    return Project(
        id=ProjectId(uuid.uuid4()),
        domain_name=DomainName(domain),
        name=name,
        owner=owner,
        status=ProjectStatus.ACTIVE,
        description=None,
        created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


async def main(url: str) -> None:
    print(f"database: {url}")
    async with await Database.connect(url) as db:
        await db.drop_tables(projects)
        await db.create_tables(projects)
        # scope_required: every call names its scope; scope=None is refused before any I/O
        repo = ProjectRepository(db, projects, scope_required=True)
        acme, globex = DomainScope(DomainName("acme")), DomainScope(DomainName("globex"))

        # create, one and many
        apollo = await repo.create(new_project("acme", "Apollo", "ada", 90), scope=acme)
        print(f"created {apollo.name} in {apollo.domain_name}")
        batch = [
            new_project("acme", f"Project {i:02}", "bob" if i % 2 else "ada", i) for i in range(12)
        ]
        batch.append(new_project("globex", "Hermes", "hal", 5))
        created = await repo.batch_create(batch, scope=[acme, globex])
        print(f"batch-created {len(created)} projects")
        try:
            await repo.count()
        except InvalidQuery as exc:
            print(f"refused: {exc}")
        print(f"an admin counts every domain: {await repo.count(scope=GlobalScope())}")

        # scope: globex cannot see acme's project, and cannot create into acme
        try:
            await repo.get(apollo.id, scope=globex)
        except EntityNotFound:
            print("globex cannot see Apollo: EntityNotFound, as if it did not exist")
        try:
            await repo.create(new_project("acme", "Intruder", "eve", 0), scope=globex)
        except ScopeViolation as exc:
            print(f"refused: {exc}")

        # get and search
        print(f"get: {(await repo.get(apollo.id, scope=acme)).name}")
        page = await repo.search(
            scope=acme,
            conditions=[c.name.contains("project", ignore_case=True)],
            orders=[c.name.asc()],
            pagination=OffsetPagination(limit=5, offset=5),
            total_count=True,
        )
        print(
            f"offset page: {[p.name for p in page.items]} of {page.total_count}, "
            f"next={page.has_next_page} previous={page.has_previous_page}"
        )
        cursor, walked = None, 0
        while True:
            keyset = await repo.search(
                scope=UserScope(DomainName("acme"), "ada"),
                orders=[c.created_at.desc()],
                pagination=CursorPagination(first=3, after=cursor),
            )
            walked += 1
            print(f"  ada's page {walked}: {[p.name for p in keyset.items]}")
            if not keyset.has_next_page:
                break
            cursor = keyset.end_cursor

        # update with TriState / OptionalState
        updated = await repo.update(
            apollo.id,
            ProjectUpdate(
                description=TriState.update("to the moon"), name=OptionalState.update("Apollo 11")
            ),
            scope=acme,
        )
        print(f"updated: {updated.name!r}, description={updated.description!r}")
        cleared = await repo.update(
            apollo.id, ProjectUpdate(description=TriState.nullify()), scope=acme
        )
        print(f"nullified description: {cleared.description!r}")

        # soft delete, restore, purge
        await repo.delete(apollo.id, scope=acme)
        print(
            f"deleted; live count {await repo.count(scope=acme)}, "
            f"deleted count {await repo.count(scope=acme, deleted=Deleted.ONLY)}"
        )
        restored = await repo.restore(apollo.id, scope=acme)
        print(f"restored: {restored.name} is {restored.status.value}")

        # batch operations
        archived = await repo.batch_update(
            ProjectUpdate(status=OptionalState.update(ProjectStatus.ARCHIVED)),
            conditions=[c.owner == "bob"],
            scope=acme,
        )
        print(f"archived {archived} of bob's projects")
        deleted = await repo.batch_delete(
            conditions=[c.status == ProjectStatus.ARCHIVED], scope=acme
        )
        print(f"soft-deleted {deleted} archived projects")
        purged = await repo.batch_purge(conditions=[c.status == ProjectStatus.DELETED], scope=acme)
        print(f"purged {purged} deleted projects")
        await repo.purge(apollo.id, scope=acme)
        print(
            f"purged Apollo; acme now has {await repo.count(scope=acme)} projects, "
            f"globex {await repo.count(scope=globex)}"
        )

        # several repositories (here: two calls) in one transaction, re-run on a
        # transient conflict with a concurrent writer
        async for attempt in db.transaction():
            async with attempt as session:
                zeus = new_project("globex", "Zeus", "hal", 1)
                one = await repo.create(zeus, scope=globex, session=session)
                await repo.update(
                    one.id,
                    ProjectUpdate(description=TriState.update("same transaction")),
                    scope=globex,
                    session=session,
                )
        print("committed two writes in one transaction")

        # upsert by a unique key: insert the first time, update the holder afterwards
        for description in ("first import", "second import"):
            done = await repo.upsert(
                new_project("globex", "Athena", "hal", 0),  # a new id each time
                on=("domain_name", "name"),
                update=ProjectUpdate(description=TriState.update(description)),
                scope=globex,
            )
            action = "inserted" if done.inserted else "updated"
            print(f"upsert {action} Athena: {done.entity.description!r}")
        athena = done.entity

        # bulk: each item on its own (batch_* is all or nothing)
        zeus = (await repo.search(scope=globex, conditions=[c.name == "Zeus"])).items[0]
        outcomes = await repo.bulk_update(
            {
                zeus.id: ProjectUpdate(description=TriState.update("bulk")),
                athena.id: ProjectUpdate(name=OptionalState.update("Zeus")),  # name taken
                ProjectId(uuid.uuid4()): ProjectUpdate(description=TriState.nullify()),
            },
            scope=globex,
        )
        for outcome in outcomes:
            print(f"  bulk item: {'ok' if outcome.ok else type(outcome.error).__name__}")

        # stream every project of a domain in order, in chunks, with flat memory
        names = [p.name async for p in repo.stream(scope=globex, orders=[c.name.asc()])]
        print(f"streamed globex: {names}")


def default_url() -> str:
    url = os.environ.get("REPOKIT_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='repokit-')}/quickstart.db"


if __name__ == "__main__":
    asyncio.run(main(default_url()))
