"""Bad input, on every backend: a clear repokit error and nothing written, or a literal value.

Each case is one class of hostile or mistaken input. *Rejected* cases must
raise the named repokit error, with a message naming what is wrong, and
leave the tenant's entities exactly as they were. *Literal* cases (SQL
metacharacters, quotes, regex and LIKE wildcards, ``$``-strings, operator-
looking JSON, huge strings and id lists) are valid input: they must be
stored and matched as plain data, touching nothing else.

Hostile sizes and depths (JSON nested 10,000 deep, values whose ``repr``
fails, entities over ``MAX_ENTITY_BYTES``, pages over ``MAX_PAGE_SIZE`` /
``MAX_OFFSET``, cursors over ``MAX_CURSOR_LENGTH`` or nested 100,000 deep)
are rejected like any other bad input, with a bounded message; input at the
limits is served.
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from repokit import (
    MAX_CURSOR_LENGTH,
    MAX_ENTITY_BYTES,
    MAX_OFFSET,
    MAX_PAGE_SIZE,
    TRUE,
    CursorPagination,
    Database,
    Deleted,
    InvalidCursor,
    InvalidQuery,
    InvalidValue,
    OffsetPagination,
    Repository,
    RepositoryError,
    Table,
    TimestampMarker,
)
from repokit.cursors import CursorCodec
from repokit.testing.schema import (
    Item,
    ItemId,
    Label,
    Note,
    TenantScope,
    items,
    labels,
    new_note_id,
    new_tenant,
    notes,
)

Repo = Repository[Item, ItemId]


@dataclass
class Context:
    db: Database
    repo: Repo
    tenant: str
    scope: TenantScope
    seeded: list[Item]

    def item(self, **values: Any) -> Item:
        return replace(
            Item(ItemId(uuid.uuid4()), self.tenant, f"new-{uuid.uuid4().hex[:8]}"), **values
        )

    async def snapshot(self) -> list[Item]:
        page = await self.repo.search(
            scope=self.scope, orders=[items.c.id.asc()], deleted=Deleted.INCLUDE
        )
        return page.items


@pytest_asyncio.fixture
async def ctx(db: Database) -> AsyncIterator[Context]:
    repo: Repo = Repository(db, items)
    tenant = new_tenant()
    seeded = [
        Item(ItemId(uuid.uuid4()), tenant, name, score=n, code=f"code-{n}")
        for n, name in enumerate(["alpha", "beta", "gamma"])
    ]
    await repo.batch_create(seeded, scope=TenantScope(tenant))
    yield Context(db, repo, tenant, TenantScope(tenant), seeded)


# -- rejected input --------------------------------------------------------------------------

Run = Callable[[Context], Awaitable[Any]]


@dataclass(frozen=True)
class Rejected:
    """Input that must raise *error*, whose message mentions *mentions*, writing nothing."""

    name: str
    error: type[RepositoryError]
    run: Run
    mentions: str = ""


def _create(**values: Any) -> Run:
    return lambda c: c.repo.create(c.item(**values), scope=c.scope)


def _update(values: dict[str, Any]) -> Run:
    return lambda c: c.repo.update(c.seeded[0].id, values, scope=c.scope)


def _search(**kwargs: Any) -> Run:
    return lambda c: c.repo.search(scope=c.scope, **kwargs)


def _where(make: Callable[[], Any]) -> Run:
    async def run(c: Context) -> Any:
        return await c.repo.search(conditions=make(), scope=c.scope)

    return run


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


NAIVE = datetime(2024, 1, 1, 12, 0)


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class RecursingRepr:
    def __repr__(self) -> str:
        return repr(self)


def _batch(*changes: dict[str, Any]) -> Run:
    return lambda c: c.repo.batch_create([c.item(**values) for values in changes], scope=c.scope)


def _token(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _cursor(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def _forged(payload: Callable[[bytes], bytes], codec: CursorCodec | None = None) -> Run:
    """A search after a cursor carrying ``payload(fingerprint)``, signed with *codec*'s key.

    Without *codec* the cursor is signed with the database's own key, as if
    that key had leaked: the payload is then parsed, and must still fail cleanly.
    """

    async def run(c: Context) -> Any:
        genuine = await c.repo.search(scope=c.scope, pagination=CursorPagination(first=1))
        assert genuine.end_cursor is not None
        data = payload(_token(genuine.end_cursor)[17:29])
        signer = codec or c.db.cursors
        cursor = _cursor(b"\x01" + signer._mac(data) + data)
        return await c.repo.search(
            scope=c.scope, pagination=CursorPagination(first=1, after=cursor)
        )

    return run


def _nested_payload(levels: int) -> Callable[[bytes], bytes]:
    return lambda bound: bound + b"[" * levels + b"]" * levels


def _page(**arguments: Any) -> Run:
    make = OffsetPagination if {"limit", "offset"} & set(arguments) else CursorPagination
    return lambda c: c.repo.search(scope=c.scope, pagination=make(**arguments))


OLD_PUBLIC_KEY = CursorCodec(b"repokit cursor v1")
OVER = "x" * (MAX_ENTITY_BYTES + 1)

REJECTED = [
    # operator injection and hostile field names
    Rejected("operator dict as a str value", InvalidValue, _create(name={"$gt": ""}), "name"),
    Rejected(
        "operator dict as a condition operand",
        InvalidQuery,
        _where(lambda: items.c.name == {"$gt": ""}),
        "name",
    ),
    Rejected(
        "operator dict as a key",
        InvalidValue,
        lambda c: c.repo.get({"$gt": ""}, scope=c.scope),
        "id",
    ),  # type: ignore[arg-type]
    Rejected(
        "operator dict as an id in a batch",
        InvalidValue,
        lambda c: c.repo.batch_purge(ids=[{"$ne": None}], scope=c.scope),
        "id",
    ),  # type: ignore[list-item]
    Rejected(
        "$where as an update field", InvalidQuery, _update({"$where": "sleep(100)"}), "$where"
    ),
    Rejected(
        "$set as an update field", InvalidQuery, _update({"$set": {"tenant": "other"}}), "$set"
    ),
    Rejected(
        "dotted field name in an update", InvalidQuery, _update({"data.owner": "x"}), "data.owner"
    ),
    Rejected(
        "dollar field name in a condition",
        InvalidQuery,
        _where(lambda: items.c["$where"] == "x"),
        "$where",
    ),
    Rejected(
        "dotted field name in a condition",
        InvalidQuery,
        _where(lambda: items.c["data.owner"] == "x"),
        "data.owner",
    ),
    # unknown fields and foreign conditions
    Rejected("unknown field in an update", InvalidQuery, _update({"colour": "red"}), "colour"),
    Rejected(
        "unknown field in a condition",
        InvalidQuery,
        _where(lambda: items.c.colour == "red"),
        "colour",
    ),
    Rejected(
        "condition on another table", InvalidQuery, _where(lambda: notes.c.body == "x"), "rk_notes"
    ),
    Rejected(
        "order on another table", InvalidQuery, _search(orders=[labels.c.weight.asc()]), "rk_labels"
    ),
    Rejected(
        "updating the primary key", InvalidQuery, _update({"id": uuid.uuid4()}), "primary key"
    ),
    Rejected("updating the version field", InvalidQuery, _update({"version": 99}), "version"),
    Rejected(
        "a batch update of nothing in particular",
        InvalidQuery,
        lambda c: c.repo.batch_update({"score": 1}, scope=c.scope),
        "ids or conditions",
    ),
    Rejected(
        "a string as the id list",
        InvalidQuery,
        lambda c: c.repo.batch_purge(ids="abc", scope=c.scope),
        "string",
    ),  # type: ignore[arg-type]
    # wrong types
    Rejected("str in an int field", InvalidValue, _create(score="1"), "score"),
    Rejected("bool in an int field", InvalidValue, _create(score=True), "score"),
    Rejected("float in an int field", InvalidValue, _create(score=1.5), "score"),
    Rejected("int in a bool field", InvalidValue, _create(flag=1), "flag"),
    Rejected("str in a uuid field", InvalidValue, _create(ref=str(uuid.uuid4())), "ref"),
    Rejected("plain value in an enum field", InvalidValue, _create(level=2), "level"),
    Rejected(
        "datetime in a date field",
        InvalidValue,
        _create(day=datetime(2024, 1, 1, tzinfo=UTC)),
        "day",
    ),
    Rejected("date in a datetime field", InvalidValue, _create(at=date(2024, 1, 1)), "at"),
    Rejected("float in a decimal field", InvalidValue, _create(price=1.5), "price"),
    Rejected("None in a non-null field", InvalidValue, _create(name=None), "name"),
    Rejected("None as a key", InvalidValue, lambda c: c.repo.get(None, scope=c.scope), "id"),  # type: ignore[arg-type]
    Rejected(
        "an entity of another table",
        InvalidValue,
        lambda c: c.repo.create(Note(1, c.tenant, "x"), scope=c.scope),
        "Note",
    ),  # type: ignore[arg-type]
    Rejected(
        "str operand for an int field", InvalidQuery, _where(lambda: items.c.score > "1"), "score"
    ),
    Rejected("ordering a JSON field", InvalidQuery, _where(lambda: items.c.data > {}), "data"),
    # datetimes
    Rejected("naive datetime value", InvalidValue, _create(at=NAIVE), "naive"),
    Rejected(
        "naive datetime operand", InvalidQuery, _where(lambda: items.c.at < NAIVE), "timezone-aware"
    ),
    Rejected("naive datetime in an update", InvalidValue, _update({"at": NAIVE}), "naive"),
    # non-finite and out-of-range numbers
    Rejected("NaN", InvalidValue, _create(ratio=math.nan), "NaN"),
    Rejected("positive infinity", InvalidValue, _create(ratio=math.inf), "infinit"),
    Rejected("negative infinity", InvalidValue, _create(ratio=-math.inf), "infinit"),
    Rejected("NaN operand", InvalidQuery, _where(lambda: items.c.ratio < math.nan), "NaN"),
    Rejected("NaN inside JSON", InvalidValue, _create(data={"x": math.nan}), "NaN"),
    Rejected("decimal NaN", InvalidValue, _create(price=Decimal("NaN")), "NaN"),
    Rejected(
        "decimal with too many places", InvalidValue, _create(price=Decimal("1.234")), "digits"
    ),
    Rejected("decimal out of range", InvalidValue, _create(price=Decimal(10**12)), "NUMERIC"),
    Rejected("int above 64 bits", InvalidValue, _create(score=2**63), "64-bit"),
    Rejected("int below 64 bits", InvalidValue, _create(score=-(2**63) - 1), "64-bit"),
    Rejected("int above 64 bits in JSON", InvalidValue, _create(data={"n": 2**64}), "64-bit"),
    Rejected(
        "int above 64 bits as an operand",
        InvalidQuery,
        _where(lambda: items.c.score == 2**63),
        "64-bit",
    ),
    Rejected("int above 64 bits in an update", InvalidValue, _update({"score": 2**70}), "64-bit"),
    # strings
    Rejected("string over its max length", InvalidValue, _create(name="x" * 65), "longer than 64"),
    Rejected("NUL character", InvalidValue, _create(code="a\x00b"), "NUL"),
    Rejected("lone surrogate", InvalidValue, _create(code="a\ud800b"), "surrogate"),
    Rejected("JSON nested 65 levels deep", InvalidValue, _create(data=_deep(66)), "deeper"),
    Rejected("JSON with a non-str key", InvalidValue, _create(data={1: "x"}), "keys"),
    Rejected("JSON with a set", InvalidValue, _create(data={"x": {1, 2}}), "set"),
    # scopes
    Rejected(
        "an empty scope list",
        InvalidQuery,
        lambda c: c.repo.get(c.seeded[0].id, scope=[]),
        "empty list of scopes",
    ),
    Rejected(
        "an empty scope list in a batch",
        InvalidQuery,
        lambda c: c.repo.batch_purge(conditions=[TRUE], scope=[]),
        "empty list of scopes",
    ),
    Rejected(
        "a string as a scope", InvalidQuery, lambda c: c.repo.count(scope=[c.tenant]), "SearchScope"
    ),  # type: ignore[list-item]
    # pages
    Rejected(
        "zero page size",
        InvalidQuery,
        lambda c: c.repo.search(pagination=CursorPagination(first=0)),
        "first",
    ),
    Rejected(
        "negative page size",
        InvalidQuery,
        lambda c: c.repo.search(pagination=CursorPagination(last=-5)),
        "last",
    ),
    Rejected(
        "zero limit",
        InvalidQuery,
        lambda c: c.repo.search(pagination=OffsetPagination(limit=0)),
        "limit",
    ),
    Rejected(
        "negative offset",
        InvalidQuery,
        lambda c: c.repo.search(pagination=OffsetPagination(10, -1)),
        "offset",
    ),
    Rejected(
        "bool as a page size",
        InvalidQuery,
        lambda c: c.repo.search(pagination=CursorPagination(first=True)),
        "first",
    ),
    Rejected(
        "both directions at once",
        InvalidQuery,
        lambda c: c.repo.search(pagination=CursorPagination(first=1, last=1)),
        "exactly one",
    ),
    Rejected(
        "a non-string cursor",
        InvalidQuery,
        lambda c: c.repo.search(pagination=CursorPagination(first=1, after=b"abc")),
        "cursor",
    ),  # type: ignore[arg-type]
    Rejected(
        "a random-text cursor",
        InvalidCursor,
        _search(pagination=CursorPagination(first=1, after="hello, world")),
        "cursor",
    ),
    Rejected(
        "an empty cursor",
        InvalidCursor,
        _search(pagination=CursorPagination(first=1, after="")),
        "cursor",
    ),
    # hostile sizes and depths: a repokit error with a bounded message, before any I/O
    Rejected("JSON nested 10,000 levels deep", InvalidValue, _create(data=_deep(10_000)), "deeper"),
    Rejected(
        "JSON nested 10,000 levels deep in an update",
        InvalidValue,
        _update({"data": _deep(10_000)}),
        "deeper",
    ),
    Rejected("a value whose repr raises", InvalidValue, _create(code=RaisingRepr()), "code"),
    Rejected("a value whose repr recurses", InvalidValue, _create(code=RecursingRepr()), "code"),
    Rejected(
        "an operand whose repr raises",
        InvalidQuery,
        _where(lambda: items.c.score == RaisingRepr()),
        "score",
    ),
    Rejected("an int of 10,001 digits", InvalidValue, _create(score=10**10_000), "64-bit"),
    Rejected(
        "an int of 10,001 digits as an operand",
        InvalidQuery,
        _where(lambda: items.c.score < 10**10_000),
        "64-bit",
    ),
    Rejected(
        "an entity over MAX_ENTITY_BYTES",
        InvalidValue,
        _create(data={"text": OVER}),
        "MAX_ENTITY_BYTES",
    ),
    Rejected(
        "a JSON array of small ints over MAX_ENTITY_BYTES (as stored, not as text)",
        InvalidValue,
        _create(data={"n": [1] * 600_000}),
        "MAX_ENTITY_BYTES",
    ),
    Rejected(
        "an update over MAX_ENTITY_BYTES",
        InvalidValue,
        _update({"data": {"text": OVER}}),
        "MAX_ENTITY_BYTES",
    ),
    Rejected(
        "a batch with one entity over MAX_ENTITY_BYTES",
        InvalidValue,
        _batch({}, {"data": {"text": OVER}}, {}),
        "MAX_ENTITY_BYTES",
    ),
    Rejected(
        "a batch update over MAX_ENTITY_BYTES",
        InvalidValue,
        lambda c: c.repo.batch_update({"data": {"text": OVER}}, conditions=[TRUE], scope=c.scope),
        "MAX_ENTITY_BYTES",
    ),
    *(
        Rejected(f"{argument} of {shown}", InvalidQuery, _page(**{argument: size}), argument)
        for argument in ("limit", "first", "last")
        for size, shown in (
            (MAX_PAGE_SIZE + 1, "MAX_PAGE_SIZE + 1"),
            (2**31, "2**31"),
            (2**63, "2**63"),
        )
    ),
    *(
        Rejected(f"offset of {shown}", InvalidQuery, _page(limit=1, offset=size), "offset")
        for size, shown in ((MAX_OFFSET + 1, "MAX_OFFSET + 1"), (2**31, "2**31"), (2**63, "2**63"))
    ),
    Rejected(
        "a cursor over MAX_CURSOR_LENGTH",
        InvalidCursor,
        _search(pagination=CursorPagination(first=1, after="A" * (MAX_CURSOR_LENGTH + 1))),
        "MAX_CURSOR_LENGTH",
    ),
    Rejected(
        "random bytes as a cursor",
        InvalidCursor,
        _search(
            pagination=CursorPagination(last=1, before=_cursor(random.Random(1).randbytes(999)))
        ),
        "cursor",
    ),
    Rejected(
        "a cursor minted with the old public key",
        InvalidCursor,
        _forged(lambda bound: bound + b'["00000000000000000000000000000000"]', OLD_PUBLIC_KEY),
        "tampered",
    ),
    Rejected(
        "a signed cursor nested 100,000 deep",
        InvalidCursor,
        _forged(_nested_payload(100_000)),
        "MAX_CURSOR_LENGTH",
    ),
    Rejected(
        "a signed cursor nested 10,000 deep",
        InvalidCursor,
        _forged(_nested_payload(10_000)),
        "nested too deeply",
    ),
]


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: c.name)
@pytest.mark.asyncio
async def test_bad_input_raises_a_clear_error_and_writes_nothing(
    case: Rejected, ctx: Context
) -> None:
    before = await ctx.snapshot()
    with pytest.raises(case.error) as raised:
        await case.run(ctx)
    message = str(raised.value)
    assert case.mentions in message, f"the message does not mention {case.mentions!r}: {message}"
    assert len(message) < 1500, f"an unbounded message: {message[:300]}..."
    assert await ctx.snapshot() == before


# -- literal input ---------------------------------------------------------------------------

HOSTILE_TEXT = [
    "O'Brien",
    "x'); DROP TABLE rk_items; --",
    'say "hi" \\ bye',
    "100%",
    "under_score",
    "back\\slash\\",
    "^.*[a-z]+(?:x)$",
    "$gt",
    "$where: function() { return true }",
    '{"$ne": null}',
    "a.b.c",
    "line\nbreak\ttab",
    "😀 astral",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
@pytest.mark.asyncio
async def test_metacharacters_in_values_are_stored_and_matched_literally(
    text: str, ctx: Context
) -> None:
    item = ctx.item(name=f"n{text}"[:64], code=text, data={"text": text})
    await ctx.repo.create(item, scope=ctx.scope)
    assert await ctx.repo.get(item.id, scope=ctx.scope) == item
    for condition in (
        items.c.code == text,
        items.c.code.contains(text),
        items.c.code.startswith(text),
        items.c.code.endswith(text),
        items.c.code.contains(text, ignore_case=False),
        items.c.name.eq(f"n{text}"[:64].upper(), ignore_case=True),
    ):
        page = await ctx.repo.search(conditions=condition, scope=ctx.scope)
        assert [e.id for e in page.items] == [item.id], f"{condition!r} matched {page.items}"
    everything = await ctx.snapshot()
    assert len(everything) == len(ctx.seeded) + 1


@pytest.mark.parametrize("pattern", ["%", "_", "\\", ".*", "^", "$", "[a]", "%a%", "?", "*"])
@pytest.mark.asyncio
async def test_pattern_wildcards_match_only_themselves(pattern: str, ctx: Context) -> None:
    holder = ctx.item(code=f"x{pattern}y")
    await ctx.repo.create(holder, scope=ctx.scope)
    for condition in (
        items.c.code.contains(pattern),
        items.c.code.startswith(f"x{pattern}"),
        items.c.code.endswith(f"{pattern}y"),
    ):
        page = await ctx.repo.search(conditions=condition, scope=ctx.scope)
        assert [e.id for e in page.items] == [holder.id], f"{condition!r} matched {page.items}"


OPERATOR_JSON = [
    {"$gt": ""},
    {"$where": "sleep(1000)"},
    {"a.b": 1, "$": 2},
    {"nested": {"$ne": None, "$or": [{"x": 1}]}},
    ["$in", {"$regex": ".*"}],
]


@pytest.mark.parametrize("data", OPERATOR_JSON, ids=repr)
@pytest.mark.asyncio
async def test_operator_looking_json_is_stored_as_plain_data(data: Any, ctx: Context) -> None:
    item = ctx.item(data=data)
    await ctx.repo.create(item, scope=ctx.scope)
    assert await ctx.repo.get(item.id, scope=ctx.scope) == item
    assert await ctx.repo.count(conditions=items.c.data != None, scope=ctx.scope) == 1  # noqa: E711
    await ctx.repo.update(item.id, {"data": {"replaced": data}}, scope=ctx.scope)
    assert (await ctx.repo.get(item.id, scope=ctx.scope)).data == {"replaced": data}


BIG = "ab'%_$\\" * 150_000  # about 1 MB


@pytest.mark.asyncio
async def test_a_huge_string_in_a_field_without_an_index_round_trips(db: Database) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    note = Note(new_note_id(), tenant, BIG)
    await repo.create(note, scope=TenantScope(tenant, notes))
    assert await repo.get(note.id, scope=TenantScope(tenant, notes)) == note
    assert await repo.count(conditions=notes.c.body == BIG, scope=TenantScope(tenant, notes)) == 1


@pytest.mark.asyncio
async def test_a_huge_string_in_an_indexed_field_is_stored_or_refused_up_front(
    ctx: Context,
) -> None:
    limit = ctx.db.capabilities.max_indexed_text_bytes
    item = ctx.item(code=BIG)
    if limit is None:
        await ctx.repo.create(item, scope=ctx.scope)
        assert (await ctx.repo.get(item.id, scope=ctx.scope)).code == BIG
        assert await ctx.repo.count(conditions=items.c.code == BIG, scope=ctx.scope) == 1
        return
    before = await ctx.snapshot()
    with pytest.raises(InvalidValue, match=f"Item.code: .* at most {limit}"):
        await ctx.repo.create(item, scope=ctx.scope)
    with pytest.raises(InvalidValue, match=f"Item.code: .* at most {limit}"):
        await ctx.repo.update(ctx.seeded[0].id, {"code": BIG}, scope=ctx.scope)
    assert await ctx.snapshot() == before
    fits = ctx.item(code=_incompressible(limit))
    assert await ctx.repo.create(fits, scope=ctx.scope) == fits


def _incompressible(size: int) -> str:
    return random.Random(size).randbytes(size // 2).hex()


@pytest.mark.asyncio
async def test_a_key_too_large_for_an_index_is_stored_or_refused_cleanly(db: Database) -> None:
    limit = db.capabilities.max_indexed_text_bytes or 2000
    repo: Repo = Repository(db, items)
    tenant = f"{new_tenant()}-{_incompressible(limit - 40)}"[:limit]
    item = Item(ItemId(uuid.uuid4()), tenant, "wide", code=_incompressible(limit))
    refused: InvalidValue | None = None
    try:
        await repo.create(item, scope=TenantScope(tenant))
    except InvalidValue as exc:  # the key as a whole is beyond the backend's index rows
        refused = exc
    if refused is None:
        assert await repo.get(item.id, scope=TenantScope(tenant)) == item
    else:
        assert "too large for a key or index" in str(refused)
        assert await repo.count(scope=TenantScope(tenant), deleted=Deleted.INCLUDE) == 0


# -- the limits: served up to them ---------------------------------------------------------------


def _note_of_size(size: int, tenant: str) -> Note:
    """A note whose estimated stored size (repokit.sizes) is exactly *size* bytes."""
    empty = Note(new_note_id(), tenant, "")
    return replace(empty, body="b" * (size - notes.entity_size.measure(notes.to_row(empty))))


@pytest.mark.asyncio
async def test_an_entity_at_the_size_limit_is_stored_and_read_back_identically(
    db: Database,
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    scope = TenantScope(tenant, notes)
    note = _note_of_size(MAX_ENTITY_BYTES, tenant)
    assert await repo.create(note, scope=scope) == note
    assert await repo.get(note.id, scope=scope) == note
    with pytest.raises(InvalidValue, match=r"Note\.body: .*\(MAX_ENTITY_BYTES\)"):
        await repo.create(_note_of_size(MAX_ENTITY_BYTES + 1, tenant), scope=scope)
    assert await repo.count(scope=scope, deleted=Deleted.INCLUDE) == 1


@pytest.mark.asyncio
async def test_json_at_the_size_limit_as_stored_is_stored_and_read_back(ctx: Context) -> None:
    # An array of small ints: about eight times larger in BSON than as JSON text.
    probe = ctx.item(data={"n": []})
    room = MAX_ENTITY_BYTES - items.entity_size.measure(items.to_row(probe))
    count = room // 16  # an element below index 10**6: 1 type byte, 6 + 1 key bytes, 8
    item = replace(probe, data={"n": [7] * count})
    assert items.entity_size.measure(items.to_row(item)) <= MAX_ENTITY_BYTES
    await ctx.repo.create(item, scope=ctx.scope)
    assert await ctx.repo.get(item.id, scope=ctx.scope) == item


@pytest.mark.asyncio
async def test_pages_of_the_maximum_size_and_offset_are_served(ctx: Context) -> None:
    everything = sorted(ctx.seeded, key=lambda e: e.id)
    for pagination in (
        OffsetPagination(MAX_PAGE_SIZE),
        CursorPagination(first=MAX_PAGE_SIZE),
        CursorPagination(last=MAX_PAGE_SIZE),
    ):
        page = await ctx.repo.search(
            scope=ctx.scope, orders=[items.c.id.asc()], pagination=pagination
        )
        assert page.items == everything
        assert not page.has_next_page
        assert not page.has_previous_page
    far = await ctx.repo.search(
        scope=ctx.scope, pagination=OffsetPagination(MAX_PAGE_SIZE, MAX_OFFSET)
    )
    assert far.items == []
    assert far.has_previous_page


@pytest.mark.asyncio
async def test_a_sort_value_too_long_for_a_cursor_is_refused_and_shorter_ones_walk(
    db: Database,
) -> None:
    repo: Repository[Note, int] = Repository(db, notes)
    tenant = new_tenant()
    scope = TenantScope(tenant, notes)
    long_ones = [Note(new_note_id(), tenant, char * 40_000) for char in "abc"]
    await repo.batch_create(long_ones, scope=scope)
    seen: list[Note] = []
    after: str | None = None
    while True:  # every cursor of 40,000-character sort values decodes
        page = await repo.search(
            scope=scope,
            orders=[notes.c.body.asc()],
            pagination=CursorPagination(first=1, after=after),
        )
        seen += page.items
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == long_ones
    await repo.create(Note(new_note_id(), tenant, "d" * MAX_CURSOR_LENGTH), scope=scope)
    with pytest.raises(InvalidQuery, match=r"Note\.body: a sort-key value too long for a cursor"):
        await repo.search(
            scope=scope, orders=[notes.c.body.desc()], pagination=CursorPagination(first=2)
        )
    # An offset page needs no cursor: it is served, the cursor that does not fit left out.
    page = await repo.search(scope=scope, orders=[notes.c.body.desc()])
    assert len(page.items) == 4
    assert page.start_cursor is None
    assert page.end_cursor is not None


@dataclass(frozen=True)
class Blob:
    id: uuid.UUID
    a: str = ""
    b: str = ""
    c: str = ""


blobs = Table(Blob, "rel_blobs", primary_key="id")


@pytest.mark.asyncio
async def test_an_entity_grown_past_the_database_limit_by_updates_is_stored_or_refused_cleanly(
    db: Database, with_tables: Callable[..., Awaitable[None]]
) -> None:
    # Each write is within MAX_ENTITY_BYTES; together they pass MongoDB's 16 MiB, which
    # the backend maps to InvalidValue. The other backends store the row.
    await with_tables(db, blobs)
    repo: Repository[Blob, uuid.UUID] = Repository(db, blobs)
    part = "z" * (MAX_ENTITY_BYTES - 1000)
    blob = await repo.create(Blob(uuid.uuid4(), a=part))
    await repo.update(blob.id, {"b": part})
    refused: InvalidValue | None = None
    try:
        await repo.update(blob.id, {"c": part})
    except InvalidValue as exc:
        refused = exc
    if refused is None:
        assert await repo.get(blob.id) == Blob(blob.id, a=part, b=part, c=part)
    else:
        assert "too large" in str(refused)
        assert len(str(refused)) < 1500
        assert await repo.get(blob.id) == Blob(blob.id, a=part, b=part)


# -- id lists --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_empty_id_lists_match_nothing(ctx: Context) -> None:
    before = await ctx.snapshot()
    assert await ctx.repo.batch_update({"score": 7}, ids=[], scope=ctx.scope) == 0
    assert await ctx.repo.batch_delete(ids=[], scope=ctx.scope) == 0
    assert await ctx.repo.batch_purge(ids=[], scope=ctx.scope) == 0
    assert (await ctx.repo.search(conditions=items.c.id.in_([]), scope=ctx.scope)).items == []
    assert await ctx.snapshot() == before


HUGE = 100_000


@dataclass(frozen=True)
class Thing:
    id: uuid.UUID
    tenant: str
    score: int = 0
    deleted_at: datetime | None = None


# A table of its own: a test server without an index on $in scans every document of
# the collection for each of the 100,000 keys, which says nothing about repokit.
things = Table(Thing, "rel_huge_ids", primary_key="id", soft_delete=TimestampMarker())


@pytest_asyncio.fixture
async def seeded_things(
    db: Database, with_tables: Callable[..., Awaitable[None]]
) -> tuple[Repository[Thing, uuid.UUID], list[Thing]]:
    await with_tables(db, things)
    repo: Repository[Thing, uuid.UUID] = Repository(db, things)
    seeded = [Thing(uuid.uuid4(), "t", score=n) for n in range(3)]
    await repo.batch_create(seeded)
    return repo, seeded


@pytest.mark.asyncio
async def test_huge_id_lists_work_in_chunks(
    db: Database, seeded_things: tuple[Repository[Thing, uuid.UUID], list[Thing]]
) -> None:
    repo, seeded = seeded_things
    assert db.capabilities.max_ids_per_statement < HUGE
    strangers = [uuid.uuid4() for _ in range(HUGE - 2)]
    ids = [*strangers[: HUGE // 2], seeded[0].id, *strangers[HUGE // 2 :], seeded[2].id]
    assert len(ids) == HUGE
    assert await repo.batch_update({"score": 99}, ids=ids) == 2
    assert await repo.count(conditions=things.c.id.in_(ids)) == 2
    assert await repo.batch_delete(ids=ids) == 2
    assert await repo.batch_purge(ids=ids) == 2
    left = (await repo.search(deleted=Deleted.INCLUDE)).items
    assert left == [seeded[1]]


@pytest.mark.asyncio
async def test_a_huge_id_list_in_a_search_condition_works(
    seeded_things: tuple[Repository[Thing, uuid.UUID], list[Thing]],
) -> None:
    repo, seeded = seeded_things
    ids = [uuid.uuid4() for _ in range(HUGE - 1)] + [seeded[1].id]
    page = await repo.search(conditions=things.c.id.in_(ids), total_count=True)
    assert page.items == [seeded[1]]
    assert page.total_count == 1


@pytest.mark.asyncio
async def test_expected_version_on_a_table_without_versions_is_refused(db: Database) -> None:
    repo: Repository[Label, str] = Repository(db, labels)
    tenant = new_tenant()
    await repo.create(Label(f"{tenant}-k", tenant), scope=TenantScope(tenant, labels))
    with pytest.raises(InvalidQuery, match="version"):
        await repo.update(f"{tenant}-k", {"weight": 1}, expected_version=0)
    assert (await repo.get(f"{tenant}-k")).weight == 0
