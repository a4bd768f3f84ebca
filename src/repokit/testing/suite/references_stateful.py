"""Contract stateful test: purging parents with each ``on_purge`` rule (CONTRACT §23).

A hypothesis state machine creates folders and children of each kind
(``rk_files`` CASCADE → ``rk_chunks`` CASCADE, ``rk_tags`` SET NULL,
``rk_pins`` RESTRICT), sometimes naming a parent that is missing; soft-deletes
and restores folders; repoints tags; and purges folders one at a time, in
atomic batches and per item in bulk, and purges children, on the backend
under test and on the reference backend at once. An explicit Python model
(one dict per table) predicts every answer and every error, naming the
reference it must name; after each step both backends must hold exactly the
model's rows, no child may reference a missing parent, and no tag may carry
an updated timestamp other than the one its own last write gave it (a set
null touches neither version nor timestamp).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from repokit import (
    Database,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    IntegrityViolation,
    Outcome,
    Repository,
    RepositoryError,
)
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import (
    Chunk,
    File,
    Folder,
    FolderPinned,
    Pin,
    Tag,
    TenantScope,
    chunks,
    files,
    folders,
    new_tenant,
    pins,
    tags,
)
from repokit.testing.suite.properties import property_settings

__all__ = ["TestReferenceSequences"]

_STEPS = 15
#: How many folder keys the machine draws from: enough to miss some, few enough to collide.
_FOLDER_KEYS = 5
#: What a soft-deleted folder's ``deleted_at`` reads as (each database's clock differs).
_DELETED = datetime(2000, 1, 1, tzinfo=UTC)
_FILES, _PINS, _TAGS, _CHUNKS = (
    "fk_rk_files_folder",
    "fk_rk_pins_folder",
    "fk_rk_tags_folder",
    "fk_rk_chunks_file",
)


@dataclass(frozen=True)
class _Error:
    """A predicted error: its class; for a reference's, its entity, reference and values.

    ``values`` holds the key values it may name (a batch may be refused for
    any of its pinned folders); ``child`` the child table a refused purge names.
    """

    kind: type[Exception]
    reference: str | None = None
    entity: str = ""
    values: frozenset[tuple[Any, ...]] = frozenset()
    child: str | None = None


@dataclass(frozen=True)
class _Item:
    """A predicted bulk outcome: the item's key, entity (``None`` for a purge) and error."""

    key: Any
    entity: object = None
    error: _Error | None = None


def _comparable(entity: object) -> object:
    """An entity as the model holds it: no per-database clock readings."""
    if isinstance(entity, Folder) and entity.deleted_at is not None:
        return dataclasses.replace(entity, deleted_at=_DELETED)
    if isinstance(entity, Tag):
        return dataclasses.replace(entity, updated_at=None)
    return entity


def _violation(exc: BaseException) -> IntegrityViolation | None:
    """The ``IntegrityViolation`` an error is or carries (a reference's ``error=`` chains it)."""
    if isinstance(exc, IntegrityViolation):
        return exc
    cause = exc.__cause__
    return cause if isinstance(cause, IntegrityViolation) else None


def _error_agrees(exc: BaseException | None, expected: _Error) -> bool:
    """Whether *exc* is the predicted error, naming what it must (CONTRACT §23)."""
    if exc is None or type(exc) is not expected.kind:
        return False
    if expected.reference is None:
        return True
    violation = _violation(exc)
    if violation is None or violation.reference != expected.reference:
        return False
    if violation.entity != expected.entity or violation.value not in expected.values:
        return False
    # A refused purge names the child table, besides the reference (which contains it).
    return expected.child is None or expected.child in str(violation).replace(
        expected.reference, ""
    )


def _agrees(seen: object, expected: object) -> bool:
    """Whether a backend's answer is the model's prediction."""
    if isinstance(expected, _Error):
        return isinstance(seen, BaseException) and _error_agrees(seen, expected)
    if isinstance(seen, BaseException):
        return False
    if isinstance(expected, list):
        return (
            isinstance(seen, list)
            and len(seen) == len(expected)
            and all(_agrees(s, e) for s, e in zip(seen, expected, strict=True))
        )
    if isinstance(expected, _Item):
        if not isinstance(seen, Outcome) or seen.key != expected.key:
            return False
        if expected.error is not None:
            return seen.entity is None and _error_agrees(seen.error, expected.error)
        return seen.error is None and _comparable(seen.entity) == expected.entity
    return _comparable(seen) == expected


@dataclass
class _Model:
    """What both backends must hold: every row of the machine's tenant, by table."""

    folders: dict[str, Folder] = dataclasses.field(default_factory=dict)
    files: dict[uuid.UUID, File] = dataclasses.field(default_factory=dict)
    chunks: dict[uuid.UUID, Chunk] = dataclasses.field(default_factory=dict)
    tags: dict[uuid.UUID, Tag] = dataclasses.field(default_factory=dict)
    pins: dict[uuid.UUID, Pin] = dataclasses.field(default_factory=dict)

    def tables(self) -> dict[str, dict[Any, Any]]:
        return {
            "folders": self.folders,
            "files": self.files,
            "chunks": self.chunks,
            "tags": self.tags,
            "pins": self.pins,
        }

    def pinned(self, folder: str) -> bool:
        return any(pin.folder == folder for pin in self.pins.values())

    def drop_file(self, key: uuid.UUID) -> None:
        """Purge a file: its chunks go with it (CASCADE)."""
        del self.files[key]
        if any(c.file == key for c in self.chunks.values()):
            event("chunks purged with their file (CASCADE)")
        for chunk in [c for c in self.chunks.values() if c.file == key]:
            del self.chunks[chunk.id]

    def drop_folder(self, key: str) -> None:
        """Purge an unpinned folder: files (and their chunks) go, tags are set to None."""
        del self.folders[key]
        if any(f.folder == key for f in self.files.values()):
            event("files purged with their folder (CASCADE)")
        if any(t.folder == key for t in self.tags.values()):
            event("tags nulled (SET NULL)")
        for file in [f for f in self.files.values() if f.folder == key]:
            self.drop_file(file.id)
        for tag in [t for t in self.tags.values() if t.folder == key]:
            # SET NULL is not the tag's own write: its version stays (CONTRACT §23).
            self.tags[tag.id] = dataclasses.replace(tag, folder=None)


class _Repos:
    """The repositories of the reference tables on one database."""

    def __init__(self, name: str, db: Database) -> None:
        self.name = name
        self.folders = Repository(db, folders)
        self.files = Repository(db, files)
        self.chunks = Repository(db, chunks)
        self.tags = Repository(db, tags)
        self.pins = Repository(db, pins)

    def by_table(self) -> dict[str, Repository[Any, Any]]:
        return {
            "folders": self.folders,
            "files": self.files,
            "chunks": self.chunks,
            "tags": self.tags,
            "pins": self.pins,
        }


Call = Callable[[_Repos], Coroutine[Any, Any, Any]]


def _batch_create(table: str, rows: list[Any], repos: _Repos) -> Coroutine[Any, Any, Any]:
    return repos.by_table()[table].batch_create(rows)


class ReferenceOperations(RuleBasedStateMachine):
    """Both backends against a dict-per-table model of one tenant; built with the runner."""

    def __init__(self, runner: SuiteRunner) -> None:
        super().__init__()
        self.runner = runner
        self.tenant = new_tenant()
        self.scope = TenantScope(self.tenant, folders)
        self.folder_keys = tuple(f"{self.tenant}-f{i}" for i in range(_FOLDER_KEYS))
        self.model = _Model()
        self.sides = (_Repos("backend under test", runner.db), _Repos("reference", runner.oracle))
        #: Per backend, each tag's updated timestamp as its own last write returned it.
        self.stamps: tuple[dict[uuid.UUID, datetime | None], ...] = ({}, {})
        self._prefix = uuid.uuid4().int >> 64
        self._made = 0

    # -- helpers ----------------------------------------------------------------------------

    def _new_id(self) -> uuid.UUID:
        """A key no row of any run holds (a chunk naming it names a missing file)."""
        self._made += 1
        return uuid.UUID(int=self._prefix << 64 | self._made)

    def _folder(self, data: st.DataObject) -> str:
        """A stored folder's key, usually; else any of the machine's keys (maybe missing)."""
        stored = sorted(self.model.folders)
        if stored and data.draw(st.integers(0, 3), label="stored folder") > 0:
            return data.draw(st.sampled_from(stored), label="folder")
        return data.draw(st.sampled_from(self.folder_keys), label="any folder")

    def _key_of(self, data: st.DataObject, rows: dict[uuid.UUID, Any]) -> uuid.UUID:
        """A stored row's key, usually; else one nothing holds."""
        if rows and data.draw(st.integers(0, 4), label="stored key") > 0:
            return data.draw(st.sampled_from(sorted(rows)), label="key")
        return self._new_id()

    def _missing(self, entity: str, reference: str, value: Any) -> _Error:
        """The error of a write of an *entity* naming a missing parent."""
        kind = FolderPinned if reference == _PINS else IntegrityViolation
        return _Error(kind, reference, entity, frozenset({(value,)}))

    def _refused(self, pinned: Iterable[str]) -> _Error:
        """The error of a purge of pinned folders: RESTRICT, naming one of them."""
        event("a purge refused (RESTRICT)")
        values = frozenset((key,) for key in pinned)
        return _Error(FolderPinned, _PINS, "Folder", values, child="rk_pins")

    def _expect(self, call: Call, expected: object) -> list[Any]:
        """Run *call* on both backends; each must answer *expected*. Their answers."""
        answers = []
        for side in self.sides:
            try:
                seen: object = self.runner.run(call(side))
            except (RepositoryError, FolderPinned) as exc:
                seen = exc
            assert _agrees(seen, expected), f"{side.name}: got {seen!r}, expected {expected!r}"
            answers.append(seen)
        return answers

    def _stamp(self, answers: list[Any]) -> None:
        """Record the updated timestamp each backend gave the tags it wrote (one, or a list)."""
        for stamps, answer in zip(self.stamps, answers, strict=True):
            for tag in answer if isinstance(answer, list) else [answer]:
                if isinstance(tag, Tag):
                    stamps[tag.id] = tag.updated_at

    # -- folders ----------------------------------------------------------------------------

    @initialize(data=st.data())
    def some_folders(self, data: st.DataObject) -> None:
        """One to three folders, with children of every kind drawn for each, batch-created."""
        count = data.draw(st.integers(1, 3), label="folders")
        batch = [Folder(key, self.tenant) for key in self.folder_keys[:count]]
        self._expect(lambda r: r.folders.batch_create(batch), batch)
        self.model.folders.update((f.id, f) for f in batch)
        few = st.integers(0, 2)
        made: dict[str, list[Any]] = {"files": [], "chunks": [], "tags": [], "pins": []}
        for folder in batch:
            for _ in range(data.draw(few, label="files")):
                file = File(self._new_id(), self.tenant, folder.id)
                made["files"].append(file)
                for _ in range(data.draw(few, label="chunks")):
                    made["chunks"].append(Chunk(self._new_id(), self.tenant, file.id))
            for _ in range(data.draw(few, label="tags")):
                made["tags"].append(Tag(self._new_id(), self.tenant, folder.id))
            if data.draw(st.integers(0, 3), label="pinned") == 0:
                made["pins"].append(Pin(self._new_id(), self.tenant, folder.id))
        for name, rows in made.items():
            self.model.tables()[name].update((row.id, row) for row in rows)
            self._stamp(self._expect(partial(_batch_create, name, rows), rows))

    @rule(data=st.data())
    def create_folder(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.folder_keys), label="folder")
        folder = Folder(key, self.tenant)
        expected: object = _Error(EntityAlreadyExists)
        if key not in self.model.folders:
            expected = self.model.folders[key] = folder
        self._expect(lambda r: r.folders.create(folder), expected)

    @rule(data=st.data())
    def delete_folder(self, data: st.DataObject) -> None:
        """Soft delete: the children stay as they are (CONTRACT §23)."""
        key = self._folder(data)
        current = self.model.folders.get(key)
        expected: object = _Error(EntityNotFound)
        if current is not None and current.deleted_at is None:
            self.model.folders[key] = dataclasses.replace(current, deleted_at=_DELETED)
            expected = None
        self._expect(lambda r: r.folders.delete(key), expected)

    @rule(data=st.data())
    def restore_folder(self, data: st.DataObject) -> None:
        key = self._folder(data)
        current = self.model.folders.get(key)
        expected: object = _Error(EntityNotFound)
        if current is not None and current.deleted_at is not None:
            expected = self.model.folders[key] = dataclasses.replace(current, deleted_at=None)
        self._expect(lambda r: r.folders.restore(key), expected)

    # -- children ---------------------------------------------------------------------------

    @rule(data=st.data())
    def create_file(self, data: st.DataObject) -> None:
        file = File(self._new_id(), self.tenant, self._folder(data))
        expected: object = self._missing("File", _FILES, file.folder)
        if file.folder in self.model.folders:  # soft-deleted or not (CONTRACT §23)
            expected = self.model.files[file.id] = file
        self._expect(lambda r: r.files.create(file), expected)

    @rule(data=st.data())
    def create_chunk(self, data: st.DataObject) -> None:
        chunk = Chunk(self._new_id(), self.tenant, self._key_of(data, self.model.files))
        expected: object = self._missing("Chunk", _CHUNKS, chunk.file)
        if chunk.file in self.model.files:
            expected = self.model.chunks[chunk.id] = chunk
        self._expect(lambda r: r.chunks.create(chunk), expected)

    @rule(data=st.data())
    def create_tag(self, data: st.DataObject) -> None:
        folder = (
            None if data.draw(st.integers(0, 3), label="no folder") == 0 else self._folder(data)
        )
        tag = Tag(self._new_id(), self.tenant, folder)
        expected: object = self._missing("Tag", _TAGS, folder)
        if folder is None or folder in self.model.folders:  # None references nothing
            expected = self.model.tags[tag.id] = tag
        self._stamp(self._expect(lambda r: r.tags.create(tag), expected))

    @rule(data=st.data())
    def repoint_tag(self, data: st.DataObject) -> None:
        """An update of a tag's folder: checked like a create; its own write moves the version."""
        key = self._key_of(data, self.model.tags)
        folder = None if data.draw(st.booleans(), label="to None") else self._folder(data)
        current = self.model.tags.get(key)
        expected: object
        if folder is not None and folder not in self.model.folders:
            # Core holds the parents before it looks for the child (CONTRACT §23).
            expected = self._missing("Tag", _TAGS, folder)
        elif current is None:
            expected = _Error(EntityNotFound)
        elif current.folder == folder:
            expected = current  # changes nothing: writes nothing, the version stays
        else:
            expected = self.model.tags[key] = dataclasses.replace(
                current, folder=folder, version=current.version + 1
            )
        self._stamp(self._expect(lambda r: r.tags.update(key, {"folder": folder}), expected))

    @rule(data=st.data())
    def create_pin(self, data: st.DataObject) -> None:
        pin = Pin(self._new_id(), self.tenant, self._folder(data))
        expected: object = self._missing("Pin", _PINS, pin.folder)
        if pin.folder in self.model.folders:
            expected = self.model.pins[pin.id] = pin
        self._expect(lambda r: r.pins.create(pin), expected)

    # -- purges -----------------------------------------------------------------------------

    @rule(data=st.data())
    def purge_folder(self, data: st.DataObject) -> None:
        key = self._folder(data)
        returning = data.draw(st.booleans(), label="returning")
        current = self.model.folders.get(key)
        expected: object
        if current is None:
            expected = _Error(EntityNotFound)
        elif self.model.pinned(key):
            expected = self._refused([key])
        else:
            self.model.drop_folder(key)
            expected = current if returning else None

        def purge(r: _Repos) -> Coroutine[Any, Any, Any]:
            return r.folders.purge_returning(key) if returning else r.folders.purge(key)

        self._expect(purge, expected)

    @rule(data=st.data())
    def batch_purge_folders(self, data: st.DataObject) -> None:
        """All or nothing: one pinned folder among them and none is purged."""
        keys = [self._folder(data) for _ in range(data.draw(st.integers(2, 4), label="keys"))]
        returning = data.draw(st.booleans(), label="returning")
        present = [self.model.folders[k] for k in sorted(set(keys)) if k in self.model.folders]
        pinned = [f.id for f in present if self.model.pinned(f.id)]
        expected: object
        if pinned:
            expected = self._refused(pinned)
        else:
            for folder in present:
                self.model.drop_folder(folder.id)
            expected = present if returning else len(present)

        def purge(r: _Repos) -> Coroutine[Any, Any, Any]:
            if returning:
                return r.folders.batch_purge_returning(ids=keys, scope=self.scope)
            return r.folders.batch_purge(ids=keys, scope=self.scope)

        self._expect(purge, expected)

    @rule(data=st.data())
    def bulk_purge_folders(self, data: st.DataObject) -> None:
        """Item by item, in order: a pinned folder fails alone; a repeated key is gone."""
        keys = [self._folder(data) for _ in range(data.draw(st.integers(1, 4), label="keys"))]
        expected: list[_Item] = []
        for key in keys:
            if key not in self.model.folders:
                expected.append(_Item(key, error=_Error(EntityNotFound)))
            elif self.model.pinned(key):
                expected.append(_Item(key, error=self._refused([key])))
            else:
                self.model.drop_folder(key)
                expected.append(_Item(key))
        self._expect(lambda r: r.folders.bulk_purge(keys, scope=self.scope), expected)

    @rule(data=st.data())
    def purge_file(self, data: st.DataObject) -> None:
        """A file takes its chunks with it (CASCADE)."""
        key = self._key_of(data, self.model.files)
        expected: object = _Error(EntityNotFound)
        if key in self.model.files:
            self.model.drop_file(key)
            expected = None
        self._expect(lambda r: r.files.purge(key), expected)

    @rule(data=st.data())
    def purge_child(self, data: st.DataObject) -> None:
        """A chunk, tag or pin goes alone (purging a pin unpins its folder)."""
        table = data.draw(st.sampled_from(("chunks", "tags", "pins")), label="table")
        rows = self.model.tables()[table]
        key = self._key_of(data, rows)
        expected: object = _Error(EntityNotFound)
        if rows.pop(key, None) is not None:
            expected = None
        self._expect(lambda r: r.by_table()[table].purge(key), expected)

    # -- after every step, and at the end ---------------------------------------------------

    @invariant()
    def both_backends_hold_exactly_the_model(self) -> None:
        for side, stamps in zip(self.sides, self.stamps, strict=True):
            stored: dict[str, dict[Any, Any]] = {}
            for name, repo in side.by_table().items():
                page = self.runner.run(
                    repo.search(
                        conditions=[repo.table.c.tenant == self.tenant], deleted=Deleted.INCLUDE
                    )
                )
                stored[name] = {row.id: row for row in page.items}
                seen = {key: _comparable(row) for key, row in stored[name].items()}
                assert seen == self.model.tables()[name], f"{side.name}: {name} differ"
            for tag in stored["tags"].values():
                assert tag.updated_at == stamps[tag.id], f"{side.name}: {tag} was touched"
            self._no_orphans(side.name, stored)

    @staticmethod
    def _no_orphans(name: str, stored: dict[str, dict[Any, Any]]) -> None:
        """No stored child references a parent the same backend does not store."""
        parents = (
            ("files", "folder", "folders"),
            ("chunks", "file", "files"),
            ("tags", "folder", "folders"),
            ("pins", "folder", "folders"),
        )
        for child, field, parent in parents:
            for row in stored[child].values():
                value = getattr(row, field)
                assert value is None or value in stored[parent], f"{name}: orphan {row}"

    def teardown(self) -> None:
        # Keeps both databases as small as one run, so later runs and shrinking stay fast.
        for side in self.sides:
            for repo in (side.pins, side.tags, side.folders):  # folders cascade the rest
                self.runner.run(repo.batch_purge(conditions=[repo.table.c.tenant == self.tenant]))


class TestReferenceSequences:
    """Random creates and purges under each on_purge rule agree with a model, leave no orphan."""

    @pytest.mark.repokit_requires("references")
    def test_purges_with_each_on_purge_rule_agree_with_the_model(
        self, repokit_runner: SuiteRunner
    ) -> None:
        # Hypothesis takes any factory of machines; its annotation says a class.
        factory = cast(type[RuleBasedStateMachine], lambda: ReferenceOperations(repokit_runner))
        run_state_machine_as_test(factory, settings=property_settings(stateful_step_count=_STEPS))
