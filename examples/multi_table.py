"""repokit on a multi-table platform: domains → projects → users, with memberships.

The data model a multi-tenant platform needs, in four tables:

- ``domains``: keyed by name, soft-deletable;
- ``projects``: a composite primary key ``(domain_name, name)`` and a
  reference to their domain (purging a domain purges its projects);
- ``users``: a reference to their domain that *restricts* purging it;
- ``memberships``: keyed by ``(domain_name, project_name, user_id)``, with
  references to the project and to the user (both cascade).

Every repository requires an explicit scope (``scope_required=True``), and the
scopes are *checked*: a ``DomainScope`` needs its domain to exist and be live,
a ``ProjectMembersScope`` its project; the members of a project are a
condition on another table (a semi-join on ``memberships``), in one statement.

Run it with no setup (SQLite in a temporary directory)::

    uv run python examples/multi_table.py

or against any backend (MongoDB needs a server with transactions)::

    export REPOKIT_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test
    uv run python examples/multi_table.py
    REPOKIT_DATABASE_URL=memory:// uv run python examples/multi_table.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from repokit import (
    TRUE,
    Condition,
    Database,
    EntityNotFound,
    GlobalScope,
    IntegrityViolation,
    InvalidQuery,
    Repository,
    Requires,
    SearchScope,
    Table,
    TimestampMarker,
    Unique,
    exists,
)
from repokit.references import OnPurge, Reference

# -- the data model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    name: str
    description: str | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Project:
    domain_name: str
    name: str
    owner: str
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class User:
    id: uuid.UUID
    domain_name: str
    email: str


@dataclass(frozen=True)
class Membership:
    domain_name: str
    project_name: str
    user_id: uuid.UUID
    role: str = "member"


domains: Table[Domain, str] = Table(
    Domain, "pf_domains", primary_key="name", soft_delete=TimestampMarker("deleted_at")
)
projects: Table[Project, tuple[str, str]] = Table(
    Project,
    "pf_projects",
    primary_key=("domain_name", "name"),
    key_type=tuple[str, str],
    soft_delete=TimestampMarker("deleted_at"),
    references=[Reference(("domain_name",), domains, on_purge=OnPurge.CASCADE)],
    scope_required=True,
)
users: Table[User, uuid.UUID] = Table(
    User,
    "pf_users",
    primary_key="id",
    key_type=uuid.UUID,
    unique=[Unique(("domain_name", "email"))],
    references=[Reference(("domain_name",), domains, on_purge=OnPurge.RESTRICT)],
    scope_required=True,
)
memberships: Table[Membership, tuple[str, str, uuid.UUID]] = Table(
    Membership,
    "pf_memberships",
    primary_key=("domain_name", "project_name", "user_id"),
    key_type=tuple[str, str, uuid.UUID],
    references=[
        Reference(("domain_name", "project_name"), projects, on_purge=OnPurge.CASCADE),
        Reference(("user_id",), users, on_purge=OnPurge.CASCADE),
    ],
    scope_required=True,
)

# -- scopes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainScope(SearchScope):
    """Everything of one domain, on any of its tables; the domain must exist and be live."""

    domain_name: str
    table: Table[Any] = field(default=projects, compare=False)

    def to_condition(self) -> Condition:
        return self.table.c.domain_name == self.domain_name

    def requires(self) -> Iterable[Requires]:
        return (Requires(domains, self.domain_name),)


@dataclass(frozen=True)
class ProjectMembersScope(SearchScope):
    """The users with a membership in one project: a condition on another table."""

    domain_name: str
    project_name: str

    def to_condition(self) -> Condition:
        return exists(
            memberships,
            on={"user_id": users.c.id},
            where=(memberships.c.domain_name == self.domain_name)
            & (memberships.c.project_name == self.project_name),
        )

    def requires(self) -> Iterable[Requires]:
        return (Requires(projects, (self.domain_name, self.project_name)),)


# -- the job -------------------------------------------------------------------------------------


async def main(url: str) -> None:
    async with await Database.connect(url) as db:
        # Created parents first (and dropped children first), whatever the order given.
        await db.create_tables([memberships, users, projects, domains])
        try:
            await run(db)
        finally:
            await db.drop_tables([memberships, users, projects, domains])


async def run(db: Database) -> None:
    domain_repo = Repository(db, domains)
    project_repo = Repository(db, projects)
    user_repo = Repository(db, users)
    member_repo = Repository(db, memberships)
    everything = GlobalScope()  # the explicit way past a required scope (admin paths)

    await domain_repo.batch_create([Domain("acme"), Domain("globex")])
    acme = DomainScope("acme")
    await project_repo.batch_create(
        [Project("acme", "apollo", "alice"), Project("acme", "zeus", "bob")], scope=acme
    )
    alice, bob = (
        User(uuid.uuid4(), "acme", "alice@acme.test"),
        User(uuid.uuid4(), "acme", "bob@acme.test"),
    )
    await user_repo.batch_create([alice, bob], scope=DomainScope("acme", users))
    await member_repo.batch_create(
        [
            Membership("acme", "apollo", alice.id, "owner"),
            Membership("acme", "apollo", bob.id),
            Membership("acme", "zeus", bob.id, "owner"),
        ],
        scope=DomainScope("acme", memberships),
    )

    # A composite key is a tuple in key order.
    apollo = await project_repo.get(("acme", "apollo"), scope=acme)
    print(f"get ('acme', 'apollo'): owner {apollo.owner}")
    page = await project_repo.search(scope=acme, orders=[projects.c.name.asc()])
    print(f"projects of acme: {[p.name for p in page.items]}")

    # The users of a project: a semi-join on memberships, one statement.
    members = await user_repo.search(
        scope=ProjectMembersScope("acme", "apollo"), orders=[users.c.email.asc()]
    )
    print(f"members of apollo: {[u.email for u in members.items]}")

    # Required scope: an unscoped call is a mistake, refused before any I/O.
    try:
        await project_repo.search()
    except InvalidQuery as exc:
        print(f"unscoped search refused: {type(exc).__name__}")
    print(f"projects everywhere (GlobalScope): {await project_repo.count(scope=everything)}")

    # Checked scope: a scope whose domain does not exist is EntityNotFound, not an empty page.
    try:
        await project_repo.search(scope=DomainScope("initech"))
    except EntityNotFound as exc:
        print(f"scope of a missing domain: EntityNotFound({exc.entity}, {exc.key!r})")

    # References: a child needs its parent; a restricting child holds the parent back.
    try:
        await user_repo.create(User(uuid.uuid4(), "initech", "eve@initech.test"), scope=everything)
    except IntegrityViolation as exc:
        print(f"user of a missing domain refused: {exc}")
    try:
        await domain_repo.purge("acme", scope=everything)
    except IntegrityViolation as exc:
        print(f"purging acme refused while it has users: {exc}")

    # Purging a project purges its memberships (cascade), in the same transaction.
    await project_repo.purge(("acme", "zeus"), scope=acme)
    left = await member_repo.count(scope=DomainScope("acme", memberships))
    print(f"memberships left after purging zeus: {left}")

    # Soft-deleting the domain makes every scope on it EntityNotFound.
    await domain_repo.delete("acme", scope=everything)
    try:
        await project_repo.count(scope=acme)
    except EntityNotFound:
        print("acme is deleted: its scope is EntityNotFound")
    await domain_repo.restore("acme", scope=everything)

    # Purging a domain: its users first (restrict), then the domain, whose projects cascade
    # (and their memberships with them).
    await user_repo.batch_purge(conditions=[TRUE], scope=DomainScope("acme", users))
    await domain_repo.purge("acme", scope=everything)
    print(f"after purging acme: {await project_repo.count(scope=everything)} projects left")


def default_url() -> str:
    url = os.environ.get("REPOKIT_DATABASE_URL")
    if url:
        return url
    return f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='repokit-')}/multi_table.db"


if __name__ == "__main__":
    asyncio.run(main(default_url()))
