"""Conditions and orders on MongoDB: literal matching, injection safety, nulls and arrays."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from repokit import Database, Repository, Table
from repokit.conditions import MatchKind
from repokit_mongodb.query import literal_regex

from .conftest import Thing

HOSTILE = [
    ".*",
    "^a$",
    "a|b",
    "(?i)A",
    "\\",
    "\\z",
    "[a-z]",
    "a{2}",
    "$where",
    '{"$gt": ""}',
    "a\nb",
    "%_",
]


def _repo(db: Database, things: Table[Thing]) -> Repository[Thing, uuid.UUID]:
    return Repository(db, things)


async def _names(repo: Repository[Thing, uuid.UUID], *conditions: object) -> set[str]:
    page = await repo.search(conditions=list(conditions))  # type: ignore[arg-type]
    return {thing.name for thing in page.items}


@pytest.mark.parametrize("text", HOSTILE)
def test_a_literal_regex_escapes_every_metacharacter(text: str) -> None:
    import re

    pattern = literal_regex(text, MatchKind.CONTAINS)
    assert re.fullmatch(pattern, text)
    assert re.search(pattern, "x" + text + "y")


@pytest.mark.asyncio
@pytest.mark.parametrize("text", HOSTILE)
async def test_regex_metacharacters_and_operators_in_operands_match_literally(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing], text: str
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="ab"))
    await repo.create(new_thing(name="a" + text + "b"))
    c = things.c
    assert await _names(repo, c.name.contains(text)) == {"a" + text + "b"}
    assert await _names(repo, c.name.startswith("a" + text)) == {"a" + text + "b"}
    assert await _names(repo, c.name.endswith(text + "b")) == {"a" + text + "b"}
    assert await _names(repo, c.name == text) == set()
    assert await _names(repo, c.code == text) == set()


@pytest.mark.asyncio
async def test_endswith_does_not_match_before_a_trailing_newline(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="tail\n"))
    assert await _names(repo, things.c.name.endswith("tail")) == set()
    assert await _names(repo, things.c.name.endswith("tail\n")) == {"tail\n"}


@pytest.mark.asyncio
async def test_startswith_does_not_match_after_a_newline(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="x\nhead"))
    assert await _names(repo, things.c.name.startswith("head")) == set()


@pytest.mark.asyncio
async def test_a_json_array_holding_null_is_not_null(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="array", data=[None]))  # type: ignore[arg-type]
    await repo.create(new_thing(name="empty", data=[]))  # type: ignore[arg-type]
    await repo.create(new_thing(name="none"))
    assert await _names(repo, things.c.data == None) == {"none"}  # noqa: E711
    assert await _names(repo, things.c.data != None) == {"array", "empty"}  # noqa: E711


@pytest.mark.asyncio
async def test_not_equal_and_not_in_match_null_and_missing(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    repo = _repo(db, things)
    await repo.create(new_thing(name="null"))
    await repo.create(new_thing(name="x", code="x"))
    c = things.c
    assert await _names(repo, c.code != "x") == {"null"}
    assert await _names(repo, c.code.not_in(["x"])) == {"null"}
    assert await _names(repo, c.code.in_(["x"])) == {"x"}
    assert await _names(repo, ~(c.code < "y")) == {"null"}


@pytest.mark.asyncio
async def test_strings_sort_by_code_point_with_null_first(
    db: Database, things: Table[Thing], new_thing: Callable[..., Thing]
) -> None:
    codes = ["b", "B", "é", "e\u0301", "\U0001f600", "\uffff", "a", "aa"]
    repo = _repo(db, things)
    for code in codes:
        await repo.create(new_thing(code=code))
    await repo.create(new_thing())
    page = await repo.search(orders=[things.c.code.asc()])
    assert [thing.code for thing in page.items] == [None, *sorted(codes)]
    page = await repo.search(orders=[things.c.code.desc()])
    assert [thing.code for thing in page.items] == [*sorted(codes, reverse=True), None]
