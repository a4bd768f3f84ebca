"""The multi-table example (examples/multi_table.py) on every backend, as a user runs it.

It prints what it does; the test checks the lines that prove each rule of the
example: composite keys, a semi-join scope, required and checked scopes,
references refusing a missing parent and restricting a purge, a cascade.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from examples.multi_table import main


@pytest.fixture(params=["sqlite", "memory", "postgres", "mongodb"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'multi_table.db'}"
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.mark.asyncio
async def test_the_multi_table_example_runs_every_rule_it_shows(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await main(url)
    out = capsys.readouterr().out.splitlines()
    assert out[:5] == [
        "get ('acme', 'apollo'): owner alice",
        "projects of acme: ['apollo', 'zeus']",
        "members of apollo: ['alice@acme.test', 'bob@acme.test']",
        "unscoped search refused: InvalidQuery",
        "projects everywhere (GlobalScope): 2",
    ]
    assert out[5] == "scope of a missing domain: EntityNotFound(Domain, 'initech')"
    assert out[6].startswith("user of a missing domain refused: ")
    assert "fk_pf_users_domain_name" in out[6]
    assert "'initech'" in out[6]
    assert out[7].startswith("purging acme refused while it has users: ")
    assert "pf_users" in out[7]
    assert "RESTRICT" in out[7]
    assert out[8:] == [
        "memberships left after purging zeus: 2",
        "acme is deleted: its scope is EntityNotFound",
        "after purging acme: 0 projects left",
    ]
