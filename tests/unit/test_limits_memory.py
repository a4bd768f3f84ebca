"""The limits on the reference backend (memory://): refused before any I/O, served up to them.

The same cases run on SQLite, PostgreSQL and MongoDB in
``tests/reliability/test_bad_input.py``; here every write the backend would
receive is recorded, so "before any I/O" is checked directly.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from repokit import (
    MAX_CURSOR_LENGTH,
    MAX_ENTITY_BYTES,
    MAX_PAGE_SIZE,
    CursorPagination,
    Database,
    InvalidCursor,
    InvalidQuery,
    InvalidValue,
    OffsetPagination,
    Repository,
)
from repokit.cursors import CursorCodec
from repokit.database import Session
from repokit.testing.schema import (
    ALL_TABLES,
    Item,
    ItemId,
    Note,
    TenantScope,
    items,
    new_note_id,
    new_tenant,
    notes,
)


@pytest_asyncio.fixture
async def db() -> AsyncIterator[Database]:
    database = await Database.connect("memory://")
    await database.create_tables(*ALL_TABLES)
    yield database
    await database.close()


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the write calls that reached the backend."""
    seen: list[str] = []
    for name in ("insert", "update", "update_one"):
        original = getattr(Session, name)

        async def record(
            self: Session, *args: Any, _name: str = name, _call: Any = original, **kwargs: Any
        ) -> Any:
            seen.append(_name)
            return await _call(self, *args, **kwargs)

        monkeypatch.setattr(Session, name, record)
    return seen


def note_of_size(size: int, tenant: str) -> Note:
    """A note whose estimated stored size is exactly *size* bytes."""
    empty = Note(new_note_id(), tenant, "")
    body = "b" * (size - notes.entity_size.measure(notes.to_row(empty)))
    return Note(empty.id, tenant, body)


def _nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.asyncio
async def test_an_entity_at_the_size_limit_is_stored_and_read_back(
    db: Database, writes: list[str]
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    note = note_of_size(MAX_ENTITY_BYTES, tenant)
    assert await repo.create(note) == note
    assert writes == ["insert"]
    assert await repo.get(note.id) == note


@pytest.mark.asyncio
async def test_an_entity_over_the_size_limit_is_refused_before_any_write(
    db: Database, writes: list[str]
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    with pytest.raises(InvalidValue, match=r"Note\.body: .*MAX_ENTITY_BYTES"):
        await repo.create(note_of_size(MAX_ENTITY_BYTES + 1, tenant))
    assert writes == []
    assert await repo.count(scope=TenantScope(tenant, notes)) == 0


@pytest.mark.asyncio
async def test_a_batch_with_one_entity_over_the_size_limit_writes_nothing(
    db: Database, writes: list[str]
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    batch = [Note(new_note_id(), tenant, "small") for _ in range(3)]
    batch.insert(1, note_of_size(MAX_ENTITY_BYTES + 1, tenant))
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES"):
        await repo.batch_create(batch)
    assert writes == []
    assert await repo.count(scope=TenantScope(tenant, notes)) == 0


@pytest.mark.asyncio
async def test_an_update_over_the_size_limit_writes_nothing(
    db: Database, writes: list[str]
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    note = await repo.create(Note(new_note_id(), new_tenant(), "small"))
    writes.clear()
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES"):
        await repo.update(note.id, {"body": "x" * MAX_ENTITY_BYTES})
    with pytest.raises(InvalidValue, match="MAX_ENTITY_BYTES"):
        await repo.batch_update({"body": "x" * MAX_ENTITY_BYTES}, ids=[note.id])
    assert writes == []
    assert await repo.get(note.id) == note


@pytest.mark.asyncio
async def test_json_nested_10_000_deep_is_refused_on_create_and_update(
    db: Database, writes: list[str]
) -> None:
    repo: Repository[Item, ItemId] = Repository(db, items)
    item = Item(ItemId(uuid.uuid4()), new_tenant(), "n")
    with pytest.raises(InvalidValue, match="deeper than 64") as created:
        await repo.create(Item(item.id, item.tenant, "n", data=_nested(10_000)))
    assert len(str(created.value)) < 600
    assert writes == []
    await repo.create(item)
    writes.clear()
    with pytest.raises(InvalidValue, match="deeper than 64") as updated:
        await repo.update(item.id, {"data": _nested(10_000)})
    assert len(str(updated.value)) < 600
    assert writes == []


@pytest.mark.asyncio
async def test_pages_of_the_maximum_size_are_served(db: Database) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    scope = TenantScope(tenant, notes)
    batch = [Note(new_note_id(), tenant, f"n{n}") for n in range(3)]
    await repo.batch_create(batch)
    for pagination in (
        OffsetPagination(MAX_PAGE_SIZE),
        CursorPagination(first=MAX_PAGE_SIZE),
        CursorPagination(last=MAX_PAGE_SIZE),
    ):
        page = await repo.search(scope=scope, orders=[notes.c.id.asc()], pagination=pagination)
        assert page.items == sorted(batch, key=lambda n: n.id)
    with pytest.raises(InvalidQuery, match="MAX_PAGE_SIZE"):
        await repo.search(scope=scope, pagination=CursorPagination(first=MAX_PAGE_SIZE + 1))


@pytest.mark.asyncio
async def test_hostile_cursors_are_invalid_cursors(db: Database) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    scope = TenantScope(tenant, notes)
    await repo.batch_create([Note(new_note_id(), tenant, f"n{n}") for n in range(3)])
    genuine = (await repo.search(scope=scope, pagination=CursorPagination(first=1))).end_cursor
    assert genuine is not None
    token = base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4))
    bound = token[17:29]
    old = CursorCodec(b"repokit cursor v1")
    deep = bound + b"[" * 100_000 + b"]" * 100_000
    cursors = {
        "the old public key": old.encode(notes, (notes.c.id.asc(),), bound, {"id": 1}),
        "over the maximum length": "A" * (MAX_CURSOR_LENGTH + 1),
        "100,000 deep, signed": _signed(db.cursors, deep),
        "5,000 deep, signed": _signed(db.cursors, bound + b"[" * 5_000 + b"]" * 5_000),
        "random bytes": base64.urlsafe_b64encode(bytes(range(256)) * 3).decode().rstrip("="),
        "signed JSON of the wrong shape": _signed(db.cursors, bound + json.dumps({}).encode()),
    }
    for what, cursor in cursors.items():
        for pagination in (
            CursorPagination(first=1, after=cursor),
            CursorPagination(last=1, before=cursor),
        ):
            try:
                await repo.search(scope=scope, pagination=pagination)
            except InvalidCursor:
                continue
            raise AssertionError(f"a cursor ({what}) was accepted")


def _signed(codec: CursorCodec, payload: bytes) -> str:
    return base64.urlsafe_b64encode(b"\x01" + codec._mac(payload) + payload).decode().rstrip("=")


@pytest.mark.asyncio
async def test_a_sort_value_too_long_for_a_cursor_is_an_invalid_query(db: Database) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    scope = TenantScope(tenant, notes)
    long_ones = [Note(new_note_id(), tenant, c * 40_000) for c in "abc"]
    await repo.batch_create(long_ones)
    order = [notes.c.body.asc()]
    seen: list[Note] = []
    after = None
    while True:  # 40,000 characters still fit: every page, every cursor
        page = await repo.search(
            scope=scope, orders=order, pagination=CursorPagination(first=1, after=after)
        )
        seen += page.items
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == long_ones
    await repo.create(Note(new_note_id(), tenant, "d" * MAX_CURSOR_LENGTH))
    with pytest.raises(InvalidQuery, match=r"Note\.body: a sort-key value too long"):
        await repo.search(
            scope=scope, orders=[notes.c.body.desc()], pagination=CursorPagination(first=2)
        )
    # An offset page needs no cursor: served, with the cursor that does not fit left out.
    page = await repo.search(scope=scope, orders=[notes.c.body.desc()])
    assert page.start_cursor is None
    assert len(page.items) == 4
