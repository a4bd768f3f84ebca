"""A SQLite database file deleted or replaced under a running Database (issue 10 §4).

Open connections keep the file they opened, so without a check writes would
go on into a deleted file, or into the file a restore moved aside, and vanish
on reopen. The backend records the file's identity when it prepares and
compares it as every session opens and just before COMMIT: a changed file
raises BackendUnavailable naming it, nothing is reported as written, and the
idle connections on the old file are closed. Read-only sessions are refused
as well (the chosen rule: which file a pooled connection reads would depend
on when it was opened). Sessions work again once the original file is back.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from repokit import BackendUnavailable, Database, Repository, Table


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "app.db"


@pytest_asyncio.fixture
async def db(path: Path, things: Table[Any]) -> AsyncIterator[Database]:
    """A database on *path* with the things table and one pooled idle connection."""
    async with Database.connect(f"sqlite+aiosqlite:///{path}") as database:
        await database.create_tables(things)
        yield database


def _repo(db: Database, things: Table[Any]) -> Repository[Any, uuid.UUID]:
    return Repository(db, things)


async def _stored_ids(path: Path, things: Table[Any]) -> set[uuid.UUID]:
    """The ids of the things in the file at *path*, read by a fresh Database."""
    async with Database.connect(f"sqlite+aiosqlite:///{path}") as fresh:
        page = await _repo(fresh, things).search()
        return {thing.id for thing in page.items}


def _delete(path: Path, suffixes: tuple[str, ...] = ("", "-wal", "-shm")) -> None:
    """``rm app.db`` (the WAL and shared-memory files go too, as a cleanup would do)."""
    for suffix in suffixes:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _replace(path: Path, things: Table[Any]) -> None:
    """Move another database file (with the same table) into place, as a restore would.

    The old file's WAL goes first: SQLite would apply it to the new file.
    """
    other = path.with_name("other.db")
    async with Database.connect(f"sqlite+aiosqlite:///{other}") as database:
        await database.create_tables(things)
    _delete(path, ("-wal", "-shm"))
    os.replace(other, path)


def _open_files_named(path: Path) -> list[str]:
    """What this process's open file descriptors point at, among *path*'s files."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


@pytest.mark.asyncio
async def test_a_write_after_the_file_is_deleted_raises_backend_unavailable_naming_it(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing())
    _delete(path)
    with pytest.raises(BackendUnavailable, match="deleted") as caught:
        await repo.create(new_thing())
    assert str(path) in str(caught.value)


@pytest.mark.asyncio
async def test_a_write_after_the_file_is_replaced_raises_and_writes_nothing(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing())
    await _replace(path, things)
    with pytest.raises(BackendUnavailable, match="replaced") as caught:
        await repo.create(new_thing())
    assert str(path) in str(caught.value)
    assert await _stored_ids(path, things) == set()


@pytest.mark.asyncio
async def test_a_write_session_whose_file_is_moved_away_before_commit_commits_nothing(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    kept = await repo.create(new_thing())
    aside = path.with_name("aside.db")

    async def write_then_move_the_file_away() -> None:
        async with db.begin_session() as session:
            await repo.create(new_thing(), session=session)
            os.rename(path, aside)  # the session's connection keeps writing to the moved file

    with pytest.raises(BackendUnavailable, match="deleted"):
        await write_then_move_the_file_away()
    os.rename(aside, path)
    assert await _stored_ids(path, things) == {kept.id}


@pytest.mark.asyncio
async def test_a_read_only_session_after_the_file_is_replaced_raises_backend_unavailable(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    created = await repo.create(new_thing())
    await _replace(path, things)
    with pytest.raises(BackendUnavailable, match="replaced"):
        await repo.get(created.id)


@pytest.mark.asyncio
async def test_schema_changes_after_the_file_is_deleted_raise_backend_unavailable(
    db: Database, path: Path, things: Table[Any]
) -> None:
    _delete(path)
    with pytest.raises(BackendUnavailable, match="deleted"):
        await db.drop_tables(things)


@pytest.mark.asyncio
async def test_sessions_work_again_once_the_original_file_is_back(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    aside = path.with_name("aside.db")
    os.rename(path, aside)
    with pytest.raises(BackendUnavailable):
        await repo.create(new_thing())
    os.rename(aside, path)
    created = await repo.create(new_thing())
    assert await repo.get(created.id) == created
    assert await _stored_ids(path, things) == {created.id}


@pytest.mark.asyncio
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
async def test_the_idle_connections_on_a_deleted_file_are_closed(
    db: Database, path: Path, things: Table[Any], new_thing: Callable[..., Any]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing())
    assert _open_files_named(path)  # the idle pooled connection holds the file open
    _delete(path)
    with pytest.raises(BackendUnavailable):
        await repo.create(new_thing())
    assert _open_files_named(path) == []
