"""Contract tests: CONTRACT §22 composite primary keys and null-equal unique keys.

``rk_shares`` is keyed by ``(tenant, folder, name)``: every single-entity
operation, batch and bulk operation takes the key as a tuple in field order;
cursors walk through ties on the first key fields; id lists longer than a
statement holds are chunked; a key of the wrong arity or type is refused
before any write. ``rk_slots`` declares ``Unique(("tenant", "zone", "code"),
nulls="equal")``: ``None`` there equals ``None``, and decides an upsert.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit import (
    TRUE,
    ConcurrentModification,
    CursorPagination,
    Database,
    EntityAlreadyExists,
    EntityNotFound,
    InvalidQuery,
    InvalidValue,
    Repository,
    ScopeViolation,
)
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Share, Slot, TenantScope, new_tenant, shares, slots
from repokit.testing.suite.pagination import walk_pages
from repokit.testing.suite.properties import property_settings
from repokit.utilities import Deleted

__all__ = [
    "TestCompositeCursorWalksAgreeWithTheReference",
    "TestCompositeKeys",
    "TestNullEqualUniqueKeys",
]

Key = tuple[str, str, str]


def share_repository(db: Database) -> Repository[Share, Key]:
    """A repository of the suite's ``rk_shares`` table (a composite key)."""
    return Repository(db, shares)


def slot_repository(db: Database) -> Repository[Slot, uuid.UUID]:
    """A repository of the suite's ``rk_slots`` table (a null-equal unique key)."""
    return Repository(db, slots)


def key(share: Share) -> Key:
    return (share.tenant, share.folder, share.name)


def scope(tenant: str) -> TenantScope:
    return TenantScope(tenant, shares)


class TestCompositeKeys:
    """Every operation by a composite primary key (CONTRACT §22)."""

    @pytest.mark.asyncio
    async def test_each_single_entity_operation_takes_the_key_as_a_tuple(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        first = await repo.create(Share(repokit_tenant, "docs", "a", rank=1))
        # Same first two fields, another name: another entity.
        other = await repo.create(Share(repokit_tenant, "docs", "b", rank=2))
        assert await repo.get(key(first)) == first
        assert await repo.get(list(key(other))) == other  # type: ignore[call-overload]
        updated = await repo.update(key(first), {"rank": 10}, expected_version=0)
        assert (updated.rank, updated.version) == (10, 1)
        assert (await repo.get(key(other))).rank == 2  # only its own key's entity
        assert await repo.exists(conditions=[shares.c.name == "a"], scope=scope(repokit_tenant))
        deleted = await repo.delete_returning(key(first))
        assert deleted.deleted_at is not None
        with pytest.raises(EntityNotFound) as missing:
            await repo.get(key(first))
        assert missing.value.key == key(first)
        restored = await repo.restore(key(first))
        assert restored.deleted_at is None
        purged = await repo.purge_returning(key(first))
        assert purged.name == "a"
        await repo.purge(key(other))
        assert await repo.count(scope=scope(repokit_tenant), deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_a_collision_names_every_key_field_and_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        await repo.create(Share(repokit_tenant, "docs", "a", rank=1))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(Share(repokit_tenant, "docs", "a", rank=2))
        assert raised.value.entity == shares.entity_name
        assert raised.value.fields == ("tenant", "folder", "name")
        with pytest.raises(EntityAlreadyExists):
            await repo.batch_create(
                [Share(repokit_tenant, "x", "y"), Share(repokit_tenant, "x", "y")]
            )
        assert (await repo.get((repokit_tenant, "docs", "a"))).rank == 1
        assert await repo.count(scope=scope(repokit_tenant)) == 1

    @pytest.mark.asyncio
    @pytest.mark.parametrize(
        ("bad", "field"),
        [
            ("t", "(tenant, folder, name)"),
            (("t", "docs"), "(tenant, folder, name)"),
            (("t", "docs", "a", "b"), "(tenant, folder, name)"),
            (("t", None, "a"), "folder"),
            (("t", "docs", 7), "name"),
            ({"tenant": "t"}, "(tenant, folder, name)"),
        ],
    )
    async def test_a_key_of_the_wrong_arity_or_type_is_refused_naming_the_field(
        self, repokit_db: Database, repokit_tenant: str, bad: object, field: str
    ) -> None:
        repo = share_repository(repokit_db)
        await repo.create(Share(repokit_tenant, "docs", "a"))
        calls = (
            lambda: repo.get(bad),  # type: ignore[call-overload]
            lambda: repo.update(bad, {"rank": 3}),  # type: ignore[arg-type]
            lambda: repo.purge(bad),  # type: ignore[arg-type]
            lambda: repo.get_many([bad]),  # type: ignore[list-item]
            lambda: repo.batch_purge(ids=[(repokit_tenant, "docs", "a"), bad]),  # type: ignore[list-item]
        )
        for call in calls:
            with pytest.raises(InvalidValue) as raised:
                await call()
            assert (raised.value.entity, raised.value.field) == (shares.entity_name, field)
        assert await repo.count(scope=scope(repokit_tenant)) == 1

    @pytest.mark.asyncio
    async def test_a_key_field_cannot_be_updated(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        share = await repo.create(Share(repokit_tenant, "docs", "a"))
        with pytest.raises(InvalidQuery, match="folder"):
            await repo.update(key(share), {"folder": "other"})

    @pytest.mark.asyncio
    async def test_errors_carry_the_key_tuple(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        share = await repo.create(Share(repokit_tenant, "docs", "a"))
        with pytest.raises(ConcurrentModification) as stale:
            await repo.update(key(share), {"rank": 1}, expected_version=5)
        assert stale.value.key == key(share)
        with pytest.raises(ScopeViolation) as outside:
            await repo.create(
                Share(repokit_tenant + "-x", "docs", "a"), scope=scope(repokit_tenant)
            )
        assert outside.value.key == (repokit_tenant + "-x", "docs", "a")
        with pytest.raises(EntityNotFound):
            await repo.get(key(share), scope=scope(repokit_tenant + "-x"))

    @pytest.mark.asyncio
    async def test_batch_and_bulk_operations_take_lists_of_key_tuples(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        made = [Share(repokit_tenant, f, n) for f in ("a", "b") for n in ("a", "b")]
        await repo.batch_create(made)
        keys = [key(s) for s in made]
        found = await repo.get_many([*keys, (repokit_tenant, "a", "zz")])
        assert list(found.entities) == keys
        assert found.missing == [(repokit_tenant, "a", "zz")]
        # ("a", "b") and ("b", "a") each share one field with ("a", "a"): only the keys given.
        assert await repo.batch_update({"rank": 7}, ids=[keys[0], keys[3]]) == 2
        ranks = {key(s): s.rank for s in (await repo.get_many(keys)).entities.values()}
        assert ranks == {keys[0]: 7, keys[1]: 0, keys[2]: 0, keys[3]: 7}
        outcomes = await repo.bulk_update({keys[1]: {"rank": 1}, (repokit_tenant, "q", "q"): {}})
        assert [o.key for o in outcomes] == [keys[1], (repokit_tenant, "q", "q")]
        assert isinstance(outcomes[1].error, EntityNotFound | InvalidQuery)
        created = await repo.bulk_create(
            [Share(repokit_tenant, "a", "a"), Share(repokit_tenant, "c", "c")]
        )
        assert [o.key for o in created] == [keys[0], (repokit_tenant, "c", "c")]
        assert isinstance(created[0].error, EntityAlreadyExists)
        assert created[1].error is None
        assert [o.error for o in await repo.bulk_delete([keys[2]])] == [None]
        assert await repo.batch_delete(ids=[keys[3]]) == 1
        returned = await repo.batch_purge_returning(ids=keys)
        assert [key(s) for s in returned] == keys  # ordered by the key's fields
        assert [o.error for o in await repo.bulk_purge([(repokit_tenant, "c", "c")])] == [None]
        assert await repo.count(scope=scope(repokit_tenant), deleted=Deleted.INCLUDE) == 0

    @pytest.mark.asyncio
    async def test_an_upsert_on_the_composite_key_updates_its_holder(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = share_repository(repokit_db)
        on = ("tenant", "folder", "name")
        first = await repo.upsert(Share(repokit_tenant, "docs", "a", rank=1), on=on)
        again = await repo.upsert(Share(repokit_tenant, "docs", "a", rank=2), on=on)
        other = await repo.upsert(Share(repokit_tenant, "docs", "b", rank=3), on=on)
        assert (first.inserted, again.inserted, other.inserted) == (True, False, True)
        assert (again.entity.rank, again.entity.version) == (2, 1)
        assert await repo.count(scope=scope(repokit_tenant)) == 2

    @pytest.mark.asyncio
    @pytest.mark.parametrize("backward", [False, True])
    async def test_a_cursor_walk_breaks_ties_by_every_key_field(
        self, repokit_db: Database, repokit_tenant: str, backward: bool
    ) -> None:
        repo = share_repository(repokit_db)
        made = [
            Share(repokit_tenant, folder, name, rank=(i % 2))
            for i, (folder, name) in enumerate(
                (f, n) for f in ("a", "b", "c") for n in ("x", "y", "z", "w")
            )
        ]
        await repo.batch_create(list(reversed(made)))
        expected = sorted(made, key=lambda s: (-s.rank, s.folder, s.name))
        seen: list[Share] = []
        cursor: str | None = None
        for _ in range(20):
            pagination = (
                CursorPagination(last=5, before=cursor)
                if backward
                else CursorPagination(first=5, after=cursor)
            )
            page = await repo.search(
                orders=[shares.c.rank.desc()], pagination=pagination, scope=scope(repokit_tenant)
            )
            seen = [*page.items, *seen] if backward else [*seen, *page.items]
            if not (page.has_previous_page if backward else page.has_next_page):
                break
            cursor = page.start_cursor if backward else page.end_cursor
        assert seen == expected
        # Without orders: by the key's fields, in key order.
        everything = await repo.search(scope=scope(repokit_tenant))
        assert list(everything.items) == sorted(made, key=lambda s: (s.folder, s.name))

    @pytest.mark.asyncio
    async def test_id_lists_longer_than_a_statement_holds_are_chunked(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # A composite key binds one value per field: the chunks hold a third as many keys.
        # The backend's limit lowered for this test (core reads it as it chunks), so that
        # the lists span several chunks at a size every server handles in one transaction
        # (3,338 three-field keys took SecantusDB past its transaction lifetime).
        backend = repokit_db.backend
        declared = backend.capabilities
        backend.capabilities = replace(declared, max_ids_per_statement=30)
        try:
            per_chunk = repokit_db.capabilities.max_ids_per_statement // len(shares.key_fields)
            assert per_chunk == 10
            size = 3 * per_chunk + 5
            repo = share_repository(repokit_db)
            made = [Share(repokit_tenant, "f", f"n{i:05}") for i in range(size)]
            await repo.batch_create(made)
            keys = [key(s) for s in made]
            found = await repo.get_many(keys)
            assert len(found.entities) == size
            assert not found.missing
            assert await repo.batch_update({"rank": 1}, ids=keys) == size
            assert await repo.batch_purge(ids=keys) == size
            assert await repo.count(scope=scope(repokit_tenant)) == 0
        finally:
            backend.capabilities = declared


class TestNullEqualUniqueKeys:
    """``Unique(fields, nulls="equal")``: ``None`` equals ``None`` in the key (CONTRACT §22)."""

    @pytest.mark.asyncio
    @pytest.mark.parametrize(("zone", "code"), [(None, None), (None, 1), ("z", None), ("z", 1)])
    async def test_equal_keys_collide_nulls_included(
        self, repokit_db: Database, repokit_tenant: str, zone: str | None, code: int | None
    ) -> None:
        repo = slot_repository(repokit_db)
        await repo.create(Slot(uuid.uuid4(), repokit_tenant, zone, code))
        with pytest.raises(EntityAlreadyExists) as raised:
            await repo.create(Slot(uuid.uuid4(), repokit_tenant, zone, code))
        assert raised.value.fields == ("tenant", "zone", "code")
        assert await repo.count(conditions=[slots.c.tenant == repokit_tenant]) == 1

    @pytest.mark.asyncio
    async def test_a_null_never_equals_a_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        # Values an emulation might stand nulls in for (0, "", "0") stay distinct from None.
        repo = slot_repository(repokit_db)
        pairs = [(None, None), ("", None), (None, 0), ("", 0), ("0", None), (None, -1), ("0", 0)]
        await repo.batch_create([Slot(uuid.uuid4(), repokit_tenant, z, c) for z, c in pairs])
        assert await repo.count(conditions=[slots.c.tenant == repokit_tenant]) == len(pairs)

    @pytest.mark.asyncio
    async def test_an_update_into_a_null_key_collides(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = slot_repository(repokit_db)
        await repo.create(Slot(uuid.uuid4(), repokit_tenant, None, None))
        moved = await repo.create(Slot(uuid.uuid4(), repokit_tenant, None, 5))
        with pytest.raises(EntityAlreadyExists):
            await repo.update(moved.id, {"code": None})
        assert (await repo.get(moved.id)).code == 5

    @pytest.mark.asyncio
    async def test_a_null_decides_an_upsert(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repo = slot_repository(repokit_db)
        on = ("tenant", "zone", "code")
        held = await repo.create(Slot(uuid.uuid4(), repokit_tenant, None, None, weight=1))
        result = await repo.upsert(Slot(uuid.uuid4(), repokit_tenant, None, None, weight=2), on=on)
        assert not result.inserted
        assert result.entity == replace(held, weight=2)
        fresh = await repo.upsert(Slot(uuid.uuid4(), repokit_tenant, "z", None, weight=3), on=on)
        assert fresh.inserted
        assert await repo.count(conditions=[slots.c.tenant == repokit_tenant]) == 2
        await repo.batch_purge(conditions=[TRUE], scope=TenantScope(repokit_tenant, slots))


#: Few distinct values per key field, so that walks meet long runs of ties on each.
_SHARES = st.lists(
    st.tuples(st.sampled_from("ab"), st.sampled_from("xyz"), st.integers(0, 2)),
    max_size=12,
    unique_by=lambda t: t[:2],
)
_SHARE_ORDERS: st.SearchStrategy[tuple[str, bool] | None] = st.sampled_from(
    [None, ("rank", False), ("rank", True), ("name", True), ("folder", True)]
)


class TestCompositeCursorWalksAgreeWithTheReference:
    """A cursor walk over a composite key equals the reference backend's (CONTRACT §10, §22)."""

    @property_settings()
    @given(data=st.data())
    def test_cursor_walks_over_a_composite_key_equal_the_reference_walks(
        self, repokit_runner: SuiteRunner, data: st.DataObject
    ) -> None:
        tenant = new_tenant()
        made = [
            Share(tenant, folder, name, rank=rank)
            for folder, name, rank in data.draw(_SHARES, label="shares")
        ]
        order = data.draw(_SHARE_ORDERS, label="order")
        orders = (
            [] if order is None else [getattr(shares.c[order[0]], "desc" if order[1] else "asc")()]
        )
        size = data.draw(st.integers(1, 4), label="page size")
        query: dict[str, Any] = {"orders": orders, "scope": scope(tenant)}
        dbs = (repokit_runner.db, repokit_runner.oracle)
        try:
            for db in dbs:
                repokit_runner.run(share_repository(db).batch_create(made))
            for backward in (False, True):
                actual, expected = (
                    repokit_runner.run(
                        walk_pages(share_repository(db), size, backward=backward, **query)  # type: ignore[arg-type]
                    )
                    for db in dbs
                )
                shape = [(list(p.items), p.has_previous_page, p.has_next_page) for p in actual]
                assert shape == [
                    (list(p.items), p.has_previous_page, p.has_next_page) for p in expected
                ]
        finally:
            for db in dbs:
                repokit_runner.run(
                    share_repository(db).batch_purge(conditions=TRUE, scope=scope(tenant))
                )
