"""The one SQLAlchemy private the backend reads, pinned: ``QueuePool._max_overflow``.

The fair gate admits as many sessions as the pool lends connections
(``pool_size + max_overflow``); ``QueuePool`` has public ``size()`` and
``timeout()`` but nothing for ``max_overflow``. A SQLAlchemy upgrade that
renames it fails here, not in a user's service (the gate would go unbounded).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from repokit_sqlalchemy.backend import TESTED_SQLALCHEMY, pool_limits


def test_the_installed_sqlalchemy_is_a_tested_version() -> None:
    version = importlib.metadata.version("sqlalchemy")
    major_minor = tuple(int(part) for part in version.split(".")[:2])
    assert major_minor in TESTED_SQLALCHEMY, (
        f"SQLAlchemy {version}: check QueuePool._max_overflow (pool_limits), then add it"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(("size", "overflow", "wait"), [(3, 4, 7.5), (5, 0, 30.0)])
async def test_pool_limits_read_the_pools_configuration(
    tmp_path: Path, size: int, overflow: int, wait: float
) -> None:
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}",
        poolclass=sa.pool.AsyncAdaptedQueuePool,
        pool_size=size,
        max_overflow=overflow,
        pool_timeout=wait,
    )
    try:
        assert engine.sync_engine.pool._max_overflow == overflow  # type: ignore[attr-defined]
        assert pool_limits(engine) == (size + overflow, wait)
    finally:
        await engine.dispose()


@pytest.mark.asyncio
async def test_an_unbounded_pool_has_no_capacity(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}"
    unbounded = create_async_engine(url, poolclass=sa.pool.AsyncAdaptedQueuePool, pool_size=0)
    null = create_async_engine(url, poolclass=sa.pool.NullPool)
    try:
        assert pool_limits(unbounded)[0] is None
        assert pool_limits(null) == (None, None)
    finally:
        await unbounded.dispose()
        await null.dispose()
