"""Contract tests: CONTRACT §23 references between tables.

A write whose referencing fields name a missing parent raises
``IntegrityViolation`` naming the reference and writes nothing; ``None``
references nothing. Purging a parent applies each reference's ``on_purge``:
``RESTRICT`` refuses, ``CASCADE`` purges the children recursively, ``SET NULL``
nulls their fields without touching their version or updated timestamp;
batch purges are all or nothing. Soft delete and restore touch no child. A
child created while its parent is purged concurrently never outlives it. The
tests run on ``rk_folders`` and its children (``rk_files`` → ``rk_chunks``,
``rk_tags``, ``rk_pins``), each in fresh tenants and keys.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit import (
    Database,
    Deleted,
    EntityNotFound,
    IntegrityViolation,
    Repository,
    RepositoryError,
    TransactionAborted,
)
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import (
    Chunk,
    File,
    Folder,
    FolderPinned,
    Pin,
    Tag,
    chunks,
    files,
    folders,
    pins,
    tags,
)
from repokit.testing.suite.properties import property_settings

__all__ = ["TestOnPurge", "TestReferenceChecks", "TestReferencesAgreeWithTheReference"]

_requires = pytest.mark.repokit_requires("references")


class _Repos:
    """The repositories of the reference tables on one database."""

    def __init__(self, db: Database) -> None:
        self.folders = Repository(db, folders)
        self.files = Repository(db, files)
        self.chunks = Repository(db, chunks)
        self.tags = Repository(db, tags)
        self.pins = Repository(db, pins)


def _key(tenant: str) -> str:
    return f"{tenant}-{uuid.uuid4().hex[:8]}"


async def _folder(repos: _Repos, tenant: str) -> Folder:
    return await repos.folders.create(Folder(_key(tenant), tenant))


async def _find(repo: Repository[Any, Any], key: Any) -> Any:
    """The stored entity of *key*, soft-deleted or not; ``None`` if there is none."""
    try:
        return await repo.get(key, deleted=Deleted.INCLUDE)
    except EntityNotFound:
        return None


def _file(tenant: str, folder: str) -> File:
    return File(uuid.uuid4(), tenant, folder)


@_requires
class TestReferenceChecks:
    """Writes naming a missing parent are refused; None references nothing."""

    @pytest.mark.asyncio
    async def test_a_create_naming_a_missing_parent_raises_integrity_violation(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        missing = _key(repokit_tenant)
        child = _file(repokit_tenant, missing)
        with pytest.raises(IntegrityViolation) as caught:
            await repos.files.create(child)
        error = caught.value
        assert error.reference == "fk_rk_files_folder"
        assert error.entity == "File"
        assert error.fields == ("folder",)
        assert error.value == (missing,)
        assert "fk_rk_files_folder" in str(error)
        assert missing in str(error)
        assert await _find(repos.files, child.id) is None

    @pytest.mark.asyncio
    async def test_a_batch_create_with_one_missing_parent_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        good, bad = _file(repokit_tenant, folder.id), _file(repokit_tenant, _key(repokit_tenant))
        with pytest.raises(IntegrityViolation):
            await repos.files.batch_create([good, bad])
        assert await _find(repos.files, good.id) is None

    @pytest.mark.asyncio
    async def test_an_update_to_a_missing_parent_is_refused_and_changes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        tag = await repos.tags.create(Tag(uuid.uuid4(), repokit_tenant, folder.id))
        with pytest.raises(IntegrityViolation) as caught:
            await repos.tags.update(tag.id, {"folder": _key(repokit_tenant)})
        assert caught.value.reference == "fk_rk_tags_folder"
        assert await repos.tags.get(tag.id) == tag

    @pytest.mark.asyncio
    async def test_a_batch_update_to_a_missing_parent_changes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        tag = await repos.tags.create(Tag(uuid.uuid4(), repokit_tenant, folder.id))
        with pytest.raises(IntegrityViolation):
            await repos.tags.batch_update({"folder": _key(repokit_tenant)}, ids=[tag.id])
        assert await repos.tags.get(tag.id) == tag

    @pytest.mark.asyncio
    async def test_an_upsert_naming_a_missing_parent_writes_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        child = _file(repokit_tenant, _key(repokit_tenant))
        with pytest.raises(IntegrityViolation):
            await repos.files.upsert(child, on="id")
        assert await _find(repos.files, child.id) is None

    @pytest.mark.asyncio
    async def test_a_bulk_create_item_naming_a_missing_parent_fails_alone(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        good, bad = _file(repokit_tenant, folder.id), _file(repokit_tenant, _key(repokit_tenant))
        outcomes = await repos.files.bulk_create([good, bad])
        assert [o.ok for o in outcomes] == [True, False]
        assert isinstance(outcomes[1].error, IntegrityViolation)
        assert await repos.files.get(good.id) == good
        assert await _find(repos.files, bad.id) is None

    @pytest.mark.asyncio
    async def test_none_references_nothing(self, repokit_db: Database, repokit_tenant: str) -> None:
        repos = _Repos(repokit_db)
        tag = await repos.tags.create(Tag(uuid.uuid4(), repokit_tenant, None))
        assert (await repos.tags.get(tag.id)).folder is None
        folder = await _folder(repos, repokit_tenant)
        await repos.tags.update(tag.id, {"folder": folder.id})
        await repos.tags.update(tag.id, {"folder": None})
        assert (await repos.tags.get(tag.id)).folder is None

    @pytest.mark.asyncio
    async def test_a_reference_binds_to_a_soft_deleted_parent(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        before = await repos.files.create(_file(repokit_tenant, folder.id))
        await repos.folders.delete(folder.id)
        # Soft delete touched no child; a new child may name the deleted parent.
        assert await repos.files.get(before.id) == before
        after = await repos.files.create(_file(repokit_tenant, folder.id))
        await repos.folders.restore(folder.id)
        assert await repos.files.get(after.id) == after
        assert await repos.files.get(before.id) == before


@_requires
class TestOnPurge:
    """Purging a parent: RESTRICT refuses, CASCADE purges, SET NULL nulls; all or nothing."""

    @pytest.mark.asyncio
    async def test_restrict_refuses_the_purge_naming_the_child_table(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        pin = await repos.pins.create(Pin(uuid.uuid4(), repokit_tenant, folder.id))
        with pytest.raises(FolderPinned) as caught:
            await repos.folders.purge(folder.id)
        cause = caught.value.__cause__
        assert isinstance(cause, IntegrityViolation)
        assert cause.reference == "fk_rk_pins_folder"
        assert "rk_pins" in str(cause)
        assert await repos.folders.get(folder.id) == folder
        assert await repos.pins.get(pin.id) == pin

    @pytest.mark.asyncio
    async def test_a_restricted_purge_leaves_the_session_usable(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        await repos.pins.create(Pin(uuid.uuid4(), repokit_tenant, folder.id))
        async with repokit_db.begin_session() as session:
            with pytest.raises(FolderPinned):
                await repos.folders.purge(folder.id, session=session)
            # Core refused before writing anything: the transaction goes on (§9).
            assert await repos.folders.get(folder.id, session=session) == folder

    @pytest.mark.asyncio
    async def test_cascade_purges_children_and_grandchildren(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        gone, kept = await _folder(repos, repokit_tenant), await _folder(repos, repokit_tenant)
        doomed = await repos.files.create(_file(repokit_tenant, gone.id))
        other = await repos.files.create(_file(repokit_tenant, kept.id))
        chunk = await repos.chunks.create(Chunk(uuid.uuid4(), repokit_tenant, doomed.id))
        chunk_kept = await repos.chunks.create(Chunk(uuid.uuid4(), repokit_tenant, other.id))
        await repos.folders.purge(gone.id)
        assert await _find(repos.files, doomed.id) is None
        assert await _find(repos.chunks, chunk.id) is None
        assert await repos.files.get(other.id) == other
        assert await repos.chunks.get(chunk_kept.id) == chunk_kept

    @pytest.mark.asyncio
    async def test_set_null_nulls_the_fields_and_touches_no_version_or_timestamp(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        folder = await _folder(repos, repokit_tenant)
        tag = await repos.tags.create(Tag(uuid.uuid4(), repokit_tenant, folder.id))
        await repos.folders.purge(folder.id)
        after = await repos.tags.get(tag.id)
        assert after.folder is None
        assert (after.version, after.updated_at) == (tag.version, tag.updated_at)

    @pytest.mark.asyncio
    async def test_a_batch_purge_with_one_restricted_parent_purges_nothing(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        free, pinned = await _folder(repos, repokit_tenant), await _folder(repos, repokit_tenant)
        child = await repos.files.create(_file(repokit_tenant, free.id))
        tag = await repos.tags.create(Tag(uuid.uuid4(), repokit_tenant, free.id))
        await repos.pins.create(Pin(uuid.uuid4(), repokit_tenant, pinned.id))
        with pytest.raises(FolderPinned):
            await repos.folders.batch_purge(ids=[free.id, pinned.id])
        assert await repos.folders.get(free.id) == free
        assert await repos.files.get(child.id) == child
        assert await repos.tags.get(tag.id) == tag

    @pytest.mark.asyncio
    async def test_purge_returning_and_batch_purge_returning_cascade(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        one, two = await _folder(repos, repokit_tenant), await _folder(repos, repokit_tenant)
        three = await _folder(repos, repokit_tenant)
        children = [
            await repos.files.create(_file(repokit_tenant, f.id)) for f in (one, two, three)
        ]
        assert await repos.folders.purge_returning(one.id) == one
        returned = await repos.folders.batch_purge_returning(ids=[two.id, three.id])
        assert sorted(f.id for f in returned) == sorted((two.id, three.id))
        for child in children:
            assert await _find(repos.files, child.id) is None

    @pytest.mark.asyncio
    async def test_a_bulk_purge_item_of_a_restricted_parent_fails_alone(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        free, pinned = await _folder(repos, repokit_tenant), await _folder(repos, repokit_tenant)
        child = await repos.files.create(_file(repokit_tenant, free.id))
        await repos.pins.create(Pin(uuid.uuid4(), repokit_tenant, pinned.id))
        outcomes = await repos.folders.bulk_purge([free.id, pinned.id])
        assert [o.ok for o in outcomes] == [True, False]
        assert isinstance(outcomes[1].error, FolderPinned)
        assert await _find(repos.files, child.id) is None
        assert await repos.folders.get(pinned.id) == pinned

    @pytest.mark.asyncio
    @pytest.mark.repokit_requires("concurrent_sessions")
    async def test_children_created_while_the_parent_is_purged_leave_no_orphan(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        repos = _Repos(repokit_db)
        failures: list[BaseException] = []

        async def attempt(work: Any) -> None:
            try:
                await work
            except (RepositoryError, FolderPinned) as exc:
                failures.append(exc)

        shuffle = random.Random(23).shuffle
        for round_ in range(30):
            folder = await _folder(repos, repokit_tenant)
            work: list[Coroutine[Any, Any, Any]] = [
                repos.files.create(_file(repokit_tenant, folder.id)) for _ in range(3)
            ]
            if round_ % 2:  # a pin: the purge is refused while it stands (RESTRICT)
                work.append(repos.pins.create(Pin(uuid.uuid4(), repokit_tenant, folder.id)))
            work.append(repos.folders.purge(folder.id))
            shuffle(work)
            await asyncio.gather(*(attempt(w) for w in work))
        for exc in failures:
            assert isinstance(exc, RepositoryError | FolderPinned), exc
            assert not isinstance(exc, TransactionAborted) or exc.__cause__ is not None
        stored: list[File | Pin] = []
        for repo in (repos.files, repos.pins):
            page = await repo.search(conditions=[repo.table.c.tenant == repokit_tenant])
            stored += page.items
        assert stored, "every round lost every child: the test proves nothing"
        for child in stored:
            assert await _find(repos.folders, child.folder) is not None, child


_Op = tuple[str, int, int]
_OPS = st.lists(
    st.tuples(
        st.sampled_from(["folder", "file", "tag", "pin", "purge", "batch_purge", "unpin"]),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=25,
)


async def _play(db: Database, tenant: str, ops: list[_Op]) -> list[Any]:
    """Run *ops* on *db*; what each came to, then what is stored, in comparable form."""
    repos = _Repos(db)
    names = [f"{tenant}-f{i}" for i in range(5)]
    outcomes: list[Any] = []
    pins_made: list[uuid.UUID] = []
    for n, (op, a, b) in enumerate(ops):
        ident = uuid.UUID(int=(hash(tenant) & 0xFFFF) << 64 | n)
        try:
            if op == "folder":
                await repos.folders.create(Folder(names[a], tenant))
            elif op == "file":
                await repos.files.create(File(ident, tenant, names[a], str(b)))
            elif op == "tag":
                await repos.tags.create(Tag(ident, tenant, names[a]))
            elif op == "pin":
                await repos.pins.create(Pin(ident, tenant, names[a]))
                pins_made.append(ident)
            elif op == "unpin" and pins_made:
                await repos.pins.purge(pins_made.pop())
            elif op == "purge":
                await repos.folders.purge(names[a])
            elif op == "batch_purge":
                await repos.folders.batch_purge(ids=[names[a], names[b]])
            outcomes.append("ok")
        except (RepositoryError, FolderPinned) as exc:
            outcomes.append(type(exc).__name__)
    state: list[Any] = []
    for repo in (repos.folders, repos.files, repos.tags, repos.pins):
        table = repo.table
        page = await repo.search(conditions=[table.c.tenant == tenant])
        rows = [dataclass_row(e) for e in page.items]
        state.append(sorted(rows, key=repr))
    return [outcomes, state]


def dataclass_row(entity: Any) -> tuple[Any, ...]:
    """An entity without its maintained timestamp (each database's clock differs)."""
    return tuple(v for k, v in vars(entity).items() if k != "updated_at")


class TestReferencesAgreeWithTheReference:
    """Random creates and purges give the reference backend's outcomes and data."""

    @_requires
    @property_settings(max_examples=15)
    @given(ops=_OPS)
    def test_purges_with_every_on_purge_rule_match_the_reference(
        self, repokit_runner: SuiteRunner, ops: list[_Op]
    ) -> None:
        tenant = f"d-{uuid.uuid4().hex[:10]}"
        actual = repokit_runner.run(_play(repokit_runner.db, tenant, ops))
        expected = repokit_runner.run(_play(repokit_runner.oracle, tenant, ops))
        assert actual == expected
