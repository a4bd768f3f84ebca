"""The contention tests of the contract suite raced for real (CONTRACT §14).

The suite (``repokit.testing.suite.cancellation.TestContention``) checks on
every backend that writers racing on one entity in the retrying block form
reach the same outcome. Here, on MongoDB, which fails the losers at once
with a write conflict, the race is shown to be real: some blocks re-ran.
PostgreSQL makes them wait on the row lock instead, SQLite and memory run
them one after the other, so there nothing re-runs.
"""

from __future__ import annotations

import pytest

from reliability.sizes import scaled
from repokit import Database
from repokit.testing import Harness
from repokit.testing.runner import prepare_tables
from repokit.testing.schema import new_tenant
from repokit.testing.suite._entities import item_repository, new_item
from repokit.testing.suite.cancellation import WRITERS, race
from repokit_mongodb import MongoBackend


@pytest.mark.asyncio
@pytest.mark.parametrize("expected_version", [False, True], ids=["plain", "versioned"])
async def test_mongodb_losers_conflict_and_re_run(mongodb_url: str, expected_version: bool) -> None:
    harness = Harness(url=mongodb_url)
    db = await harness.open()
    try:
        await prepare_tables(harness, db)
        await _race_rounds(db, expected_version)
    finally:
        await db.close()


async def _race_rounds(db: Database, expected_version: bool) -> None:
    assert isinstance(db.backend, MongoBackend)
    repo = item_repository(db)
    rounds = scaled(3)
    runs = 0
    for _ in range(rounds):
        item = await repo.create(new_item(new_tenant(), score=-1))
        outcomes, ran = await race(db, item, expected=item.version if expected_version else None)
        runs += ran
        applied = WRITERS if not expected_version else 1
        assert outcomes.count("applied") == applied
    assert runs > WRITERS * rounds
