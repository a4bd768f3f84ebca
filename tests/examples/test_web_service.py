"""The example web service (examples/web_service.py), over HTTP, on SQLite and memory://.

Requests go through ``httpx.AsyncClient`` on ``httpx.ASGITransport``; the
app's lifespan (connect, create the tables, close) runs around each test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from examples.web_service import create_app, error_status, projects

from repokit import (
    BackendUnavailable,
    EntityNotFound,
    InvalidCursor,
    RepositoryError,
    ScopeViolation,
    TableNotFound,
    TransactionConflict,
)

ACME = {"X-Tenant": "acme"}
GLOBEX = {"X-Tenant": "globex"}
BOTH = {"X-Tenant": "acme, globex"}


@pytest.fixture(params=["sqlite", "memory"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    return "memory://"


@pytest_asyncio.fixture
async def app(url: str) -> AsyncIterator[Any]:
    service = create_app(url)
    async with service.router.lifespan_context(service):
        yield service


@pytest_asyncio.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def create(
    client: httpx.AsyncClient, name: str, headers: dict[str, str] = ACME, **body: Any
) -> dict[str, Any]:
    response = await client.post("/projects", json={"name": name, **body}, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message"}
    kind: str = body["error"]["type"]
    return kind


# -- create and get ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_created_project_is_returned_in_the_documented_shape(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Apollo", description="to the moon")
    assert set(created) == {
        "id",
        "tenant",
        "name",
        "status",
        "description",
        "version",
        "created_at",
    }
    assert created["tenant"] == "acme"
    assert created["status"] == "active"
    assert created["version"] == 1
    response = await client.get(f"/projects/{created['id']}", headers=ACME)
    assert response.status_code == 200
    assert response.json() == created


@pytest.mark.asyncio
async def test_another_tenants_project_is_not_found(client: httpx.AsyncClient) -> None:
    created = await create(client, "Apollo")
    response = await client.get(f"/projects/{created['id']}", headers=GLOBEX)
    assert response.status_code == 404
    assert error_of(response) == "EntityNotFound"


@pytest.mark.asyncio
async def test_a_missing_project_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/projects/{uuid.uuid4()}", headers=ACME)
    assert response.status_code == 404
    assert error_of(response) == "EntityNotFound"


@pytest.mark.asyncio
async def test_a_duplicate_name_in_the_tenant_conflicts(client: httpx.AsyncClient) -> None:
    await create(client, "Apollo")
    response = await client.post("/projects", json={"name": "Apollo"}, headers=ACME)
    assert response.status_code == 409
    assert error_of(response) == "EntityAlreadyExists"


@pytest.mark.asyncio
async def test_the_same_name_in_another_tenant_is_fine(client: httpx.AsyncClient) -> None:
    await create(client, "Apollo")
    assert (await create(client, "Apollo", GLOBEX))["tenant"] == "globex"


@pytest.mark.asyncio
async def test_a_value_breaking_a_rule_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/projects", json={"name": "x" * 101}, headers=ACME)
    assert response.status_code == 400
    assert error_of(response) == "InvalidValue"
    assert "Project.name" in response.json()["error"]["message"]


@pytest.mark.asyncio
async def test_creating_into_a_tenant_outside_the_callers_is_forbidden(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/projects", json={"name": "Intruder", "tenant": "globex"}, headers=ACME
    )
    assert response.status_code == 403
    assert error_of(response) == "ScopeViolation"


@pytest.mark.asyncio
async def test_a_caller_of_several_tenants_creates_in_any_of_them(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Hermes", BOTH, tenant="globex")
    response = await client.get(f"/projects/{created['id']}", headers=BOTH)
    assert response.status_code == 200
    assert response.json()["tenant"] == "globex"


@pytest.mark.asyncio
async def test_a_request_without_a_tenant_is_refused_by_fastapi(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/projects")
    assert response.status_code == 422


@pytest.mark.asyncio
async def test_a_tenant_header_naming_no_tenant_is_a_bad_request(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/projects", headers={"X-Tenant": " , "})
    assert response.status_code == 400
    assert error_of(response) == "InvalidQuery"


# -- search and pagination ---------------------------------------------------------------------


async def seed(client: httpx.AsyncClient, count: int) -> list[str]:
    """*count* projects in acme, one in globex; acme's ids newest first."""
    ids = []
    for i in range(count):
        ids.append((await create(client, f"Project {i:02}"))["id"])
        # created_at is stored to the millisecond: two in one would tie and sort by id.
        await asyncio.sleep(0.002)
    await create(client, "Elsewhere", GLOBEX)
    return ids[::-1]


@pytest.mark.asyncio
async def test_a_page_has_the_documented_shape(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    response = await client.get("/projects", params={"total_count": "true"}, headers=ACME)
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"items", "total_count", "page_info"}
    assert set(page["page_info"]) == {
        "has_next_page",
        "has_previous_page",
        "start_cursor",
        "end_cursor",
    }
    assert page["total_count"] == 3
    assert [item["tenant"] for item in page["items"]] == ["acme"] * 3


@pytest.mark.asyncio
async def test_the_total_count_is_null_unless_asked_for(client: httpx.AsyncClient) -> None:
    await seed(client, 2)
    page = (await client.get("/projects", headers=ACME)).json()
    assert page["total_count"] is None
    assert len(page["items"]) == 2


@pytest.mark.asyncio
async def test_cursors_in_the_query_string_walk_forward_through_every_project(
    client: httpx.AsyncClient,
) -> None:
    ids = await seed(client, 5)
    seen: list[str] = []
    params: dict[str, Any] = {"first": 2}
    while True:
        page = (await client.get("/projects", params=params, headers=ACME)).json()
        seen.extend(item["id"] for item in page["items"])
        assert page["page_info"]["has_previous_page"] is (len(seen) > 2)
        if not page["page_info"]["has_next_page"]:
            break
        params = {"first": 2, "after": page["page_info"]["end_cursor"]}
    assert seen == ids


@pytest.mark.asyncio
async def test_last_and_before_walk_backward(client: httpx.AsyncClient) -> None:
    ids = await seed(client, 5)
    end = (await client.get("/projects", params={"first": 4}, headers=ACME)).json()
    cursor = end["page_info"]["end_cursor"]
    page = (
        await client.get("/projects", params={"last": 2, "before": cursor}, headers=ACME)
    ).json()
    assert [item["id"] for item in page["items"]] == ids[1:3]
    assert page["page_info"]["has_previous_page"] is True
    assert page["page_info"]["has_next_page"] is True


@pytest.mark.asyncio
async def test_an_empty_page_has_no_cursors(client: httpx.AsyncClient) -> None:
    page = (await client.get("/projects", headers=ACME)).json()
    assert page == {
        "items": [],
        "total_count": None,
        "page_info": {
            "has_next_page": False,
            "has_previous_page": False,
            "start_cursor": None,
            "end_cursor": None,
        },
    }


@pytest.mark.asyncio
async def test_filters_narrow_the_search(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    await create(client, "Moonshot")
    page = (await client.get("/projects", params={"name": "MOON"}, headers=ACME)).json()
    assert [item["name"] for item in page["items"]] == ["Moonshot"]
    page = (await client.get("/projects", params={"status": "active"}, headers=ACME)).json()
    assert len(page["items"]) == 4


@pytest.mark.asyncio
async def test_a_garbled_cursor_is_a_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/projects", params={"after": "garbage"}, headers=ACME)
    assert response.status_code == 400
    assert error_of(response) == "InvalidCursor"


@pytest.mark.asyncio
async def test_a_cursor_of_another_query_is_a_bad_request(client: httpx.AsyncClient) -> None:
    await seed(client, 3)
    page = (await client.get("/projects", params={"first": 1}, headers=ACME)).json()
    params = {"first": 1, "after": page["page_info"]["end_cursor"], "name": "Project"}
    response = await client.get("/projects", params=params, headers=ACME)
    assert response.status_code == 400
    assert error_of(response) == "InvalidCursor"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params", [{"first": 0}, {"first": 2, "last": 2}, {"last": 2, "after": "x"}]
)
async def test_a_bad_page_request_is_a_bad_request(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/projects", params=params, headers=ACME)
    assert response.status_code == 400
    assert error_of(response) == "InvalidQuery"


@pytest.mark.asyncio
async def test_a_page_size_that_is_not_a_number_is_refused_by_fastapi(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/projects", params={"first": "ten"}, headers=ACME)
    assert response.status_code == 422


# -- update, delete, restore -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_patch_leaves_absent_fields_and_clears_null_ones(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Apollo", description="to the moon")
    response = await client.patch(
        f"/projects/{created['id']}", json={"description": None}, headers=ACME
    )
    assert response.status_code == 200
    updated = response.json()
    assert updated["description"] is None
    assert updated["name"] == "Apollo"
    assert updated["version"] == 2
    response = await client.patch(
        f"/projects/{created['id']}", json={"name": "Artemis"}, headers=ACME
    )
    assert response.json()["name"] == "Artemis"
    assert response.json()["description"] is None


@pytest.mark.asyncio
async def test_a_null_name_is_refused_by_fastapi(client: httpx.AsyncClient) -> None:
    created = await create(client, "Apollo")
    response = await client.patch(f"/projects/{created['id']}", json={"name": None}, headers=ACME)
    assert response.status_code == 422


@pytest.mark.asyncio
async def test_a_stale_expected_version_conflicts(client: httpx.AsyncClient) -> None:
    created = await create(client, "Apollo")
    path = f"/projects/{created['id']}"
    ok = await client.patch(path, json={"name": "Artemis", "expected_version": 1}, headers=ACME)
    assert ok.status_code == 200
    stale = await client.patch(path, json={"name": "Gemini", "expected_version": 1}, headers=ACME)
    assert stale.status_code == 409
    assert error_of(stale) == "ConcurrentModification"
    assert (await client.get(path, headers=ACME)).json()["name"] == "Artemis"


@pytest.mark.asyncio
async def test_moving_a_project_out_of_the_callers_tenants_is_forbidden(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client, "Apollo")
    path = f"/projects/{created['id']}"
    response = await client.patch(path, json={"tenant": "globex"}, headers=ACME)
    assert response.status_code == 403
    assert error_of(response) == "ScopeViolation"
    moved = await client.patch(path, json={"tenant": "globex"}, headers=BOTH)
    assert moved.status_code == 200
    assert (await client.get(path, headers=GLOBEX)).json()["tenant"] == "globex"


@pytest.mark.asyncio
async def test_a_deleted_project_is_gone_until_restored(client: httpx.AsyncClient) -> None:
    created = await create(client, "Apollo")
    path = f"/projects/{created['id']}"
    deleted = await client.delete(path, headers=ACME)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(path, headers=ACME)).status_code == 404
    assert (await client.delete(path, headers=ACME)).status_code == 404
    restored = await client.post(f"{path}/restore", headers=ACME)
    assert restored.status_code == 200
    assert restored.json()["status"] == "active"
    assert (await client.get(path, headers=ACME)).status_code == 200


# -- a multi-step endpoint ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_copy_is_created_from_the_source(client: httpx.AsyncClient) -> None:
    source = await create(client, "Apollo", description="to the moon")
    response = await client.post(
        f"/projects/{source['id']}/copy", json={"name": "Apollo II"}, headers=ACME
    )
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != source["id"]
    assert (copy["name"], copy["description"]) == ("Apollo II", "to the moon")
    page = (await client.get("/projects", params={"total_count": "true"}, headers=ACME)).json()
    assert page["total_count"] == 2


@pytest.mark.asyncio
async def test_a_copy_under_a_taken_name_conflicts_and_creates_nothing(
    client: httpx.AsyncClient,
) -> None:
    source = await create(client, "Apollo")
    response = await client.post(
        f"/projects/{source['id']}/copy", json={"name": "Apollo"}, headers=ACME
    )
    assert response.status_code == 409
    assert error_of(response) == "EntityAlreadyExists"
    page = (await client.get("/projects", params={"total_count": "true"}, headers=ACME)).json()
    assert page["total_count"] == 1


@pytest.mark.asyncio
async def test_a_copy_of_another_tenants_project_is_not_found(
    client: httpx.AsyncClient,
) -> None:
    source = await create(client, "Apollo", GLOBEX)
    response = await client.post(
        f"/projects/{source['id']}/copy", json={"name": "Mine"}, headers=ACME
    )
    assert response.status_code == 404


# -- server-side errors ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_missing_table_is_a_server_error_without_details(
    app: Any, client: httpx.AsyncClient
) -> None:
    await app.state.database.drop_tables(projects)
    response = await client.get("/projects", headers=ACME)
    assert response.status_code == 500
    assert error_of(response) == "TableNotFound"
    assert "web_projects" not in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (EntityNotFound("Project", 1), 404),
        (InvalidCursor("bad"), 400),
        (ScopeViolation("Project", 1), 403),
        (TransactionConflict("still conflicting after every attempt"), 409),
        (TableNotFound("projects"), 500),
        (BackendUnavailable("down"), 503),
        (RepositoryError("other"), 500),
    ],
)
def test_errors_map_to_statuses_most_specific_first(error: RepositoryError, expected: int) -> None:
    assert error_status(error) == expected
