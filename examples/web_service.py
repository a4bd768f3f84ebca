"""repokit behind a web API: a multi-tenant project service on FastAPI.

FastAPI is a development dependency of this repository, not of repokit: the
example shows one way to wire repokit into a web framework. Run it with any
ASGI server, for example (uvicorn is not installed by ``uv sync``)::

    uv run --with uvicorn uvicorn examples.web_service:app
    REPOKIT_DATABASE_URL=memory:// uv run --with uvicorn uvicorn examples.web_service:app

What it shows:

* **One Database per process**, connected in the app's lifespan; the tables are
  created there too (``create_tables`` creates what is missing).
* **A session per request.** Reads take a read-only session from the
  ``read_session`` dependency and pass it to the repository (``session=``).
  Writes go through :class:`~repokit.Repository`, whose every write runs in
  the transaction runner, so a transient conflict is retried; the one endpoint
  of several steps (``POST /projects/{id}/copy``) runs them in one
  ``db.transaction()`` block, retried as a whole.
* **Tenant scoping from a header.** ``X-Tenant: acme`` (or ``acme, globex``
  for a caller in several tenants) becomes the ``scope=`` of every operation:
  another tenant's project is not found (404), and a write that would put a
  project outside the caller's tenants is refused (403).
* **repokit's errors as HTTP statuses**, in one exception handler.

Routes (all take ``X-Tenant``)::

    POST   /projects                 create        201 project
    GET    /projects                 search        200 page
    GET    /projects/{id}            get           200 project
    PATCH  /projects/{id}            update        200 project
    DELETE /projects/{id}            soft delete   204
    POST   /projects/{id}/restore    restore       200 project
    POST   /projects/{id}/copy       copy          201 project (get + create, one transaction)

``GET /projects`` takes ``first`` and ``after`` (forward) or ``last`` and
``before`` (backward), 20 items forward by default; ``name`` (contains,
ignoring case) and ``status`` filter; ``total_count=true`` counts the whole
filtered set. Projects come newest first. A cursor belongs to its query:
reuse ``end_cursor`` with the same filters.

JSON shapes::

    project: {"id": "3f1c…", "tenant": "acme", "name": "Apollo", "status": "active",
              "description": null, "version": 1, "created_at": "2025-01-31T12:00:00Z"}

    page:    {"items": [project, …],
              "total_count": 42,            # null unless total_count=true
              "page_info": {"has_next_page": true, "has_previous_page": false,
                            "start_cursor": "AQ…", "end_cursor": "AQ…"}}  # null when empty

    error:   {"error": {"type": "EntityNotFound", "message": "Project 3f1c… not found"}}

``PATCH`` takes a JSON merge patch: an absent field stays as it is, ``null``
clears ``description`` (``name`` and ``tenant`` cannot be null), and
``expected_version`` makes the update conditional on the stored version.

Errors (the most specific class first; the rest of :class:`~repokit.RepositoryError` is 500)::

    400  InvalidValue, InvalidQuery, InvalidCursor    the request breaks a value or query rule
    403  ScopeViolation                               the write would leave the caller's tenants
    404  EntityNotFound                               missing, soft-deleted, or another tenant's
    409  EntityAlreadyExists, IntegrityViolation,     a conflict with the stored state
         ConcurrentModification (expected_version, or a conflict still there after retries)
    500  TableNotFound (an InvalidQuery, but the server's fault), any other RepositoryError
    503  BackendUnavailable

A request FastAPI cannot parse (a missing ``X-Tenant``, a malformed id, a body
of the wrong shape, ``first=abc``) is answered by FastAPI itself: 422, with its
own error shape. Messages of 5xx responses are not echoed to the client.
"""

from __future__ import annotations

import enum
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, field_validator

from repokit import (
    BackendUnavailable,
    ConcurrentModification,
    Condition,
    CursorPagination,
    Database,
    EntityAlreadyExists,
    EntityNotFound,
    IntegrityViolation,
    InvalidCursor,
    InvalidQuery,
    InvalidValue,
    MaxLength,
    OptionalState,
    Page,
    Repository,
    RepositoryError,
    ScopeViolation,
    SearchScope,
    Session,
    StatusMarker,
    Table,
    TableNotFound,
    TriState,
    Unique,
    UpdaterSpec,
)

# -- the domain --------------------------------------------------------------------------------


class ProjectStatus(enum.StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    tenant: Annotated[str, MaxLength(64)]
    name: Annotated[str, MaxLength(100)]
    status: ProjectStatus
    description: str | None
    version: int
    created_at: datetime


projects = Table(
    Project,
    "web_projects",
    primary_key="id",
    key_type=uuid.UUID,
    unique=[Unique(("tenant", "name"), among_live=True)],
    indexes=[("tenant", "created_at")],
    soft_delete=StatusMarker(
        "status", deleted=ProjectStatus.DELETED, restored=ProjectStatus.ACTIVE
    ),
    ignore_case=["name"],
    version="version",
)
c = projects.c


@dataclass(frozen=True)
class TenantScope(SearchScope):
    tenant: str

    def to_condition(self) -> Condition:
        return c.tenant == self.tenant


@dataclass(frozen=True)
class ProjectUpdate(UpdaterSpec):
    tenant: OptionalState[str] = OptionalState.nop()
    name: OptionalState[str] = OptionalState.nop()
    description: TriState[str] = TriState.nop()


# -- the wire format ---------------------------------------------------------------------------


class ProjectOut(BaseModel):
    id: uuid.UUID
    tenant: str
    name: str
    status: ProjectStatus
    description: str | None
    version: int
    created_at: datetime

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.id,
            tenant=project.tenant,
            name=project.name,
            status=project.status,
            description=project.description,
            version=project.version,
            created_at=project.created_at,
        )


class PageInfo(BaseModel):
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


class PageOut(BaseModel):
    items: list[ProjectOut]
    total_count: int | None
    page_info: PageInfo

    @classmethod
    def of(cls, page: Page[Project]) -> PageOut:
        return cls(
            items=[ProjectOut.of(project) for project in page.items],
            total_count=page.total_count,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.start_cursor,
                end_cursor=page.end_cursor,
            ),
        )


class ProjectIn(BaseModel):
    """A new project; ``tenant`` defaults to the first tenant of ``X-Tenant``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    tenant: str | None = None


class ProjectPatch(BaseModel):
    """A JSON merge patch: absent fields stay, ``null`` clears ``description``."""

    model_config = ConfigDict(extra="forbid")

    tenant: str | None = None
    name: str | None = None
    description: str | None = None
    expected_version: int | None = None

    @field_validator("tenant", "name")
    @classmethod
    def _not_null(cls, value: str | None) -> str:
        # Runs only for fields the patch gives: an absent field keeps its default.
        if value is None:
            raise ValueError("cannot be null")
        return value

    def update(self) -> ProjectUpdate:
        given = self.model_fields_set

        def optional(field: str, value: str | None) -> OptionalState[str]:
            if field in given and value is not None:
                return OptionalState.update(value)
            return OptionalState.nop()

        description: TriState[str] = TriState.nop()
        if "description" in given:
            description = (
                TriState.nullify()
                if self.description is None
                else TriState.update(self.description)
            )
        return ProjectUpdate(
            tenant=optional("tenant", self.tenant),
            name=optional("name", self.name),
            description=description,
        )


class CopyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


# -- errors ------------------------------------------------------------------------------------

#: repokit's errors and their statuses, the most specific first (TableNotFound is an
#: InvalidQuery, but a missing table is the server's fault, not the request's).
ERROR_STATUSES: Sequence[tuple[type[RepositoryError], int]] = (
    (TableNotFound, status.HTTP_500_INTERNAL_SERVER_ERROR),
    (InvalidValue, status.HTTP_400_BAD_REQUEST),
    (InvalidQuery, status.HTTP_400_BAD_REQUEST),
    (InvalidCursor, status.HTTP_400_BAD_REQUEST),
    (ScopeViolation, status.HTTP_403_FORBIDDEN),
    (EntityNotFound, status.HTTP_404_NOT_FOUND),
    (EntityAlreadyExists, status.HTTP_409_CONFLICT),
    (IntegrityViolation, status.HTTP_409_CONFLICT),
    (ConcurrentModification, status.HTTP_409_CONFLICT),  # TransactionConflict too
    (BackendUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE),
)


def error_status(error: RepositoryError) -> int:
    """The HTTP status of a repokit error (500 for one not listed)."""
    for kind, code in ERROR_STATUSES:
        if isinstance(error, kind):
            return code
    return status.HTTP_500_INTERNAL_SERVER_ERROR


async def repository_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RepositoryError)
    code = error_status(exc)
    # A client learns what was wrong with its request, never the server's internals.
    message = str(exc) if code < 500 else "the service could not complete the request"
    return JSONResponse(
        {"error": {"type": type(exc).__name__, "message": message}}, status_code=code
    )


# -- dependencies ------------------------------------------------------------------------------


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def repository(request: Request) -> Repository[Project, uuid.UUID]:
    repo: Repository[Project, uuid.UUID] = request.app.state.projects
    return repo


async def read_session(db: Annotated[Database, Depends(database)]) -> AsyncIterator[Session]:
    """A read-only session for the request, closed when the response is ready."""
    async with db.begin_readonly_session() as session:
        yield session


def tenants(x_tenant: Annotated[str, Header(min_length=1)]) -> list[TenantScope]:
    """``X-Tenant: acme`` or ``X-Tenant: acme, globex``: the caller's tenants."""
    names = [name.strip() for name in x_tenant.split(",") if name.strip()]
    if not names:
        raise InvalidQuery("X-Tenant names no tenant")
    return [TenantScope(name) for name in names]


Repo = Annotated[Repository[Project, uuid.UUID], Depends(repository)]
Scopes = Annotated[list[TenantScope], Depends(tenants)]
# scope="function": the session ends with the endpoint, before the response is sent.
ReadSession = Annotated[Session, Depends(read_session, scope="function")]


# -- the app -----------------------------------------------------------------------------------


def create_app(url: str, **options: Any) -> FastAPI:
    """The service on the database at *url* (``options`` go to ``Database.connect``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None, None]:
        async with await Database.connect(url, **options) as db:
            await db.create_tables(projects)
            app.state.database = db
            app.state.projects = Repository(db, projects)
            yield

    app = FastAPI(title="projects", lifespan=lifespan)
    app.add_exception_handler(RepositoryError, repository_error)

    @app.post("/projects", status_code=status.HTTP_201_CREATED)
    async def create_project(body: ProjectIn, repo: Repo, scopes: Scopes) -> ProjectOut:
        project = Project(
            id=uuid.uuid4(),
            tenant=body.tenant or scopes[0].tenant,
            name=body.name,
            status=ProjectStatus.ACTIVE,
            description=body.description,
            version=1,
            created_at=datetime.now(UTC),
        )
        return ProjectOut.of(await repo.create(project, scope=scopes))

    @app.get("/projects")
    async def search_projects(
        repo: Repo,
        scopes: Scopes,
        session: ReadSession,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        name: Annotated[str | None, Query(description="contains, ignoring case")] = None,
        project_status: Annotated[ProjectStatus | None, Query(alias="status")] = None,
        total_count: bool = False,
    ) -> PageOut:
        if first is None and last is None:
            first = 20
        conditions: list[Condition] = []
        if name is not None:
            conditions.append(c.name.contains(name, ignore_case=True))
        if project_status is not None:
            conditions.append(c.status == project_status)
        page = await repo.search(
            conditions=conditions,
            orders=[c.created_at.desc()],
            pagination=CursorPagination(first=first, after=after, last=last, before=before),
            scope=scopes,
            total_count=total_count,
            session=session,
        )
        return PageOut.of(page)

    @app.get("/projects/{project_id}")
    async def get_project(
        project_id: uuid.UUID, repo: Repo, scopes: Scopes, session: ReadSession
    ) -> ProjectOut:
        return ProjectOut.of(await repo.get(project_id, scope=scopes, session=session))

    @app.patch("/projects/{project_id}")
    async def update_project(
        project_id: uuid.UUID, patch: ProjectPatch, repo: Repo, scopes: Scopes
    ) -> ProjectOut:
        updated = await repo.update(
            project_id, patch.update(), scope=scopes, expected_version=patch.expected_version
        )
        return ProjectOut.of(updated)

    @app.delete("/projects/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_project(project_id: uuid.UUID, repo: Repo, scopes: Scopes) -> Response:
        await repo.delete(project_id, scope=scopes)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @app.post("/projects/{project_id}/restore")
    async def restore_project(project_id: uuid.UUID, repo: Repo, scopes: Scopes) -> ProjectOut:
        return ProjectOut.of(await repo.restore(project_id, scope=scopes))

    @app.post("/projects/{project_id}/copy", status_code=status.HTTP_201_CREATED)
    async def copy_project(
        project_id: uuid.UUID,
        body: CopyIn,
        db: Annotated[Database, Depends(database)],
        repo: Repo,
        scopes: Scopes,
    ) -> ProjectOut:
        # Two steps, one transaction: the block runs again on a transient conflict, so
        # it keeps no state from a failed attempt (it builds everything anew). The result
        # is used after the loop, which ends once an attempt committed: a `return` inside
        # the block would leave before a conflicting COMMIT could be retried.
        created: Project | None = None
        async for attempt in db.transaction():
            async with attempt as session:
                source = await repo.get(project_id, scope=scopes, session=session)
                copy = Project(
                    id=uuid.uuid4(),
                    tenant=source.tenant,
                    name=body.name,
                    status=ProjectStatus.ACTIVE,
                    description=source.description,
                    version=1,
                    created_at=datetime.now(UTC),
                )
                created = await repo.create(copy, scope=scopes, session=session)
        assert created is not None  # the loop ends after a commit, or raises
        return ProjectOut.of(created)

    return app


app = create_app(os.environ.get("REPOKIT_DATABASE_URL", "sqlite+aiosqlite:///web_service.db"))
