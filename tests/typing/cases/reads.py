"""The types of CONTRACT §19's reads: projections through overloads (not a test module).

tests/typing/test_readme_types.py runs ``mypy --strict`` and ``pyright --strict``
on this file. A line ending in ``# E: <mypy code> <pyright rule>`` must get that
error from both; every other line must be clean.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID, uuid4

from repokit import Found, Page, Repository, Table


@dataclass(frozen=True)
class Project:
    id: UUID
    name: str
    description: str | None


@dataclass(frozen=True)
class ProjectSummary:
    id: UUID
    name: str


projects = Table(Project, "projects", primary_key="id", key_type=UUID)
Projects = Repository[Project, UUID]


# -- without into=: entities, as before ------------------------------------------------------


async def a_page_of_entities(repo: Projects) -> Page[Project]:
    return await repo.search()


async def an_entity(repo: Projects) -> Project:
    return await repo.get(uuid4())


def a_stream_of_entities(repo: Projects) -> AsyncIterator[Project]:
    return repo.stream(chunk_size=500)


async def found_entities(repo: Projects) -> Found[Project, UUID]:
    return await repo.get_many([uuid4(), uuid4()])


# -- with into=: the projection's type -------------------------------------------------------


async def a_page_of_summaries(repo: Projects) -> Page[ProjectSummary]:
    return await repo.search(into=ProjectSummary)


async def a_summary(repo: Projects) -> ProjectSummary:
    return await repo.get(uuid4(), into=ProjectSummary)


def a_stream_of_summaries(repo: Projects) -> AsyncIterator[ProjectSummary]:
    return repo.stream(into=ProjectSummary)


async def found_summaries(repo: Projects) -> Found[ProjectSummary, UUID]:
    return await repo.get_many([uuid4()], into=ProjectSummary)


async def a_summary_is_not_an_entity(repo: Projects) -> Page[Project]:
    # (mypy takes P from the return type, then refuses the argument; pyright the return.)
    return await repo.search(into=ProjectSummary)  # E: arg-type reportReturnType


async def a_summary_read_is_no_entity(repo: Projects) -> None:
    summary = await repo.get(uuid4(), into=ProjectSummary)
    entity: Project = summary  # E: assignment reportAssignmentType
    print(entity)


async def streamed_names(repo: Projects) -> list[str]:
    return [summary.name async for summary in repo.stream(into=ProjectSummary)]


# -- the small reads and the writes that return ----------------------------------------------


async def an_existence(repo: Projects) -> bool:
    return await repo.exists()


async def purged(repo: Projects) -> tuple[Project, list[Project], Project]:
    one = await repo.purge_returning(uuid4())
    many = await repo.batch_purge_returning(ids=[uuid4()])
    marked = await repo.delete_returning(uuid4())
    return one, many, marked


async def found_by_the_wrong_key(repo: Projects) -> Found[Project, UUID]:
    return await repo.get_many(["3f1c"])  # E: list-item reportArgumentType


async def missing_keys_are_keys(repo: Projects) -> list[int]:
    found = await repo.get_many([uuid4()])
    return found.missing  # E: return-value reportReturnType
