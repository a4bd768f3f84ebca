"""OpenTelemetry spans: one CLIENT span per backend call, in the database conventions."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from observability.backends import SYSTEMS, Open
from repokit import (
    Database,
    EntityAlreadyExists,
    OffsetPagination,
    OptionalState,
    Repository,
    UpdaterSpec,
)
from repokit.backend import BackendSession
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant

TABLE = items.name


@dataclass(frozen=True)
class Rename(UpdaterSpec):
    name: OptionalState[str] = OptionalState.nop()


def _item(tenant: str, name: str = "first") -> Item:
    return Item(id=ItemId(uuid.uuid4()), tenant=tenant, name=name)


def _spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


@pytest.mark.asyncio
async def test_every_standard_operation_is_one_client_span_named_operation_and_table(
    db: Database, exporter: InMemorySpanExporter
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    tenant = new_tenant()
    item = await repo.create(_item(tenant))
    await repo.get(item.id)
    await repo.search(
        scope=TenantScope(tenant), pagination=OffsetPagination(limit=10), total_count=True
    )
    await repo.update(item.id, Rename(name=OptionalState.update("second")))
    await repo.purge(item.id)

    spans = _spans(exporter)
    operations = ["insert", "select", "select_page", "update_one", "delete"]
    assert [span.name for span in spans] == [f"{op} {TABLE}" for op in operations]
    for span, operation in zip(spans, operations, strict=True):
        assert span.kind is SpanKind.CLIENT
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes is not None
        assert span.attributes["db.operation.name"] == operation
        assert span.attributes["db.collection.name"] == TABLE
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "repokit"


@pytest.mark.asyncio
async def test_spans_name_the_database_system(
    db: Database, exporter: InMemorySpanExporter, backend_name: str
) -> None:
    await Repository(db, items).create(_item(new_tenant()))
    (span,) = _spans(exporter)
    assert span.attributes is not None
    assert span.attributes["db.system.name"] == SYSTEMS[backend_name]
    assert span.attributes["db.system"] == SYSTEMS[backend_name]


@pytest.mark.asyncio
async def test_spans_carry_the_backends_namespace_and_server(
    db: Database, exporter: InMemorySpanExporter, backend_name: str
) -> None:
    await Repository(db, items).create(_item(new_tenant()))
    (span,) = _spans(exporter)
    assert span.attributes is not None
    endpoint = db.backend.endpoint
    if backend_name == "memory":
        assert "db.namespace" not in span.attributes
        return
    assert endpoint.namespace
    assert span.attributes["db.namespace"] == endpoint.namespace
    if backend_name in ("postgres", "mongodb"):
        assert endpoint.address
        assert span.attributes["server.address"] == endpoint.address
    if endpoint.port is not None:
        assert span.attributes["server.port"] == endpoint.port


@pytest.mark.asyncio
async def test_reads_report_the_rows_they_returned(
    db: Database, exporter: InMemorySpanExporter
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    tenant = new_tenant()
    for name in ("a", "b", "c"):
        await repo.create(_item(tenant, name))
    exporter.clear()
    await repo.search(
        scope=TenantScope(tenant), pagination=OffsetPagination(limit=2), total_count=True
    )
    (span,) = _spans(exporter)
    assert span.attributes is not None
    # The page asks for one more than its size, to know whether a next page exists.
    assert span.attributes["db.response.returned_rows"] == 3
    assert span.attributes["repokit.rows"] == 3


@pytest.mark.asyncio
async def test_writes_report_the_rows_they_wrote_or_matched(
    db: Database, exporter: InMemorySpanExporter
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    tenant = new_tenant()
    await repo.batch_create([_item(tenant, "a"), _item(tenant, "b")])
    (span,) = _spans(exporter)
    assert span.attributes is not None
    assert span.attributes["repokit.rows"] == 2
    assert span.attributes["db.operation.batch.size"] == 2
    assert "db.response.returned_rows" not in span.attributes


@pytest.mark.asyncio
async def test_a_duplicate_create_ends_its_span_in_error_without_values(
    db: Database, exporter: InMemorySpanExporter
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant(), "twice"))
    exporter.clear()
    with pytest.raises(EntityAlreadyExists):
        await repo.create(item)
    (span,) = _spans(exporter)
    assert span.name == f"insert {TABLE}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "EntityAlreadyExists"
    assert span.attributes is not None
    assert span.attributes["error.type"] == "EntityAlreadyExists"
    assert not span.events  # no exception event: its message may quote the key


@pytest.mark.asyncio
async def test_a_failed_span_carries_the_message_when_the_database_logs_values(
    open_db: Open, exporter: InMemorySpanExporter
) -> None:
    db = await open_db(log_values=True)
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = await repo.create(_item(new_tenant(), "twice"))
    exporter.clear()
    with pytest.raises(EntityAlreadyExists):
        await repo.create(item)
    (span,) = _spans(exporter)
    assert span.status.description is not None
    assert span.status.description.startswith("EntityAlreadyExists: ")
    assert [event.name for event in span.events] == ["exception"]


@pytest.mark.asyncio
async def test_the_span_is_current_while_the_backend_call_runs(
    db: Database, tracer_provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[trace.Span] = []

    async def call(_: BackendSession) -> None:
        seen.append(trace.get_current_span())

    outer = tracer_provider.get_tracer("test")
    with outer.start_as_current_span("request") as request:
        async with db.begin_readonly_session() as session:
            await session.run(call, "select", items)
    assert trace.get_current_span() is not seen[0]
    spans = {span.name: span for span in _spans(exporter)}
    inner = spans[f"select {TABLE}"]
    assert seen[0].get_span_context() == inner.get_span_context()
    # A driver's own spans nest inside repokit's, repokit's inside the caller's.
    assert inner.parent is not None
    assert inner.parent.span_id == request.get_span_context().span_id


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_using_repokit_imports_no_opentelemetry() -> None:
    # Importing the API costs ~75 ms: repokit leaves it to the application.
    found = _python(
        """
        import asyncio, sys
        from repokit import Database, Repository
        from repokit.testing.schema import labels, Label

        async def main():
            async with Database.connect("memory://") as db:
                await db.create_tables(labels)
                repo = Repository(db, labels)
                await repo.create(Label("k", "t"))
                await repo.get("k")

        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    assert found == "[]"


def test_spans_go_to_the_global_tracer_provider_once_one_is_set() -> None:
    # A process of its own: the global provider can be set only once.
    found = _python(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from repokit import Database, Repository
        from repokit.testing.schema import labels, Label

        async def main():
            async with Database.connect("memory://") as db:
                await db.create_tables(labels)
                repo = Repository(db, labels)
                await repo.create(Label("k", "t"))  # no provider yet: no span
                exporter = InMemorySpanExporter()
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)
                await repo.get("k")
                print([span.name for span in exporter.get_finished_spans()])

        asyncio.run(main())
        """
    )
    assert found == "['select rk_labels']"
