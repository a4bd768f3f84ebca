"""What a user's type checker must catch, and what it must accept (not a test module).

tests/typing/test_readme_types.py runs ``mypy --strict`` and ``pyright --strict``
on this file. A line ending in ``# E: <mypy code> <pyright rule>`` must get that
error from both; every other line must be clean.
"""

from dataclasses import dataclass
from typing import NewType
from uuid import UUID, uuid4

from repokit import Database, OptionalState, Repository, Table, TriState, UpdaterSpec

ProjectId = NewType("ProjectId", UUID)


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str
    description: str | None


@dataclass(frozen=True)
class Member:
    id: ProjectId
    name: str


projects = Table(Project, "projects", primary_key="id", key_type=UUID)
untyped = Table(Project, "projects", primary_key="id")
# pyright infers Any from a NewType: the annotation states the key type.
members: Table[Member, ProjectId] = Table(Member, "members", primary_key="id", key_type=ProjectId)


@dataclass(frozen=True)
class ProjectUpdate(UpdaterSpec):
    name: OptionalState[str] = OptionalState.nop()
    description: TriState[str] = TriState.nop()


# -- the key type travels from the table to the repository ----------------------------------


def uuid_repository(db: Database) -> Repository[Project, UUID]:
    return Repository(db, projects)


def int_repository_over_a_uuid_table(db: Database) -> Repository[Project, int]:
    return Repository(db, projects)  # E: arg-type reportReturnType


async def get_by_a_uuid(db: Database) -> Project:
    return await Repository(db, projects).get(uuid4())


async def get_by_an_int(db: Database) -> None:
    # (get is overloaded on into=: mypy reports the key as matching no overload)
    await Repository(db, projects).get(3)  # E: call-overload reportArgumentType


async def delete_by_a_str(repo: Repository[Project, UUID]) -> None:
    await repo.delete("3f1c")  # E: arg-type reportArgumentType


async def get_by_a_new_type(db: Database) -> Member:
    return await Repository(db, members).get(ProjectId(uuid4()))


async def get_by_the_bare_uuid(db: Database) -> None:
    await Repository(db, members).get(uuid4())  # E: call-overload reportArgumentType


def a_table_without_key_type_is_unchecked(db: Database) -> Repository[Project, int]:
    return Repository(db, untyped)


def the_one_argument_form_still_works(table: Table[Project]) -> Table[Project, UUID]:
    return table


# -- update states take their type from the context -----------------------------------------


def updates() -> list[ProjectUpdate]:
    return [
        ProjectUpdate(),
        ProjectUpdate(name=OptionalState.update("Moonshot")),
        ProjectUpdate(description=TriState.nullify()),
        ProjectUpdate(description=TriState.update("about")),
        ProjectUpdate(name=OptionalState.update(3)),  # E: arg-type reportArgumentType
        ProjectUpdate(name=TriState.update("x")),  # E: arg-type reportArgumentType
    ]


def a_nop_value_is_never() -> str:
    state: OptionalState[str] = OptionalState.nop()
    return state.value()
