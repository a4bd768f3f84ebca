"""Table's key type: ``key_type=`` is checked against the primary key's annotation, and
``Table[Entity]`` keeps working at run time (the static side: tests/typing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, NewType
from uuid import UUID, uuid4

import pytest

from repokit import Database, InvalidTableDefinition, MaxLength, Repository, Table

ProjectId = NewType("ProjectId", UUID)


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str


@dataclass(frozen=True)
class Member:
    id: ProjectId
    name: str


@dataclass(frozen=True)
class Tag:
    id: Annotated[str, MaxLength(20)]


def test_a_key_type_matching_the_annotation_is_accepted() -> None:
    assert Table(Project, "projects", primary_key="id", key_type=UUID).primary_key == "id"


def test_a_key_type_not_matching_the_annotation_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Project\.id: key_type=int .*key_type=UUID"):
        Table(Project, "projects", primary_key="id", key_type=int)


def test_a_new_type_key_takes_the_new_type_or_what_it_stands_for() -> None:
    Table(Member, "members", primary_key="id", key_type=ProjectId)
    Table(Member, "members", primary_key="id", key_type=UUID)


def test_a_plain_key_refuses_a_new_type_over_it() -> None:
    with pytest.raises(InvalidTableDefinition, match="key_type=ProjectId"):
        Table(Project, "projects", primary_key="id", key_type=ProjectId)


def test_an_annotated_key_takes_its_underlying_type() -> None:
    Table(Tag, "tags", primary_key="id", key_type=str)


def test_the_one_argument_subscription_still_works_at_run_time() -> None:
    assert Table[Project].__args__ == (Project, Any)
    assert Table[Project, UUID].__args__ == (Project, UUID)


@pytest.mark.asyncio
async def test_a_repository_over_a_keyed_table_runs_as_before() -> None:
    projects = Table(Project, "projects", primary_key="id", key_type=UUID)
    async with await Database.connect("memory://") as db:
        await db.create_tables(projects)
        repo = Repository(db, projects)
        project = await repo.create(Project(uuid4(), "moon"))
        assert await repo.get(project.id) == project
