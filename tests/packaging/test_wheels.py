"""The built wheels, installed with plain pip tools into a fresh environment, do what a team needs.

One virtual environment (uv, the same Python) gets the three wheels built
from this checkout (``repokit[testing]``, ``repokit-sqlalchemy[sqlite]``,
``repokit-mongodb``) plus Alembic from the package registry, and runs, each in
a project folder of its own that knows nothing of this repository:

* a third-party backend beside a user project: registered with
  ``register_backend`` and judged by the whole contract suite through the
  pytest plugin (``from repokit.testing.suite import *``);
* Alembic: autogenerate a migration from ``repokit_sqlalchemy.metadata``,
  upgrade a SQLite file, autogenerate again (empty), downgrade.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fresh_env import check, uv_binary, venv

pytestmark = pytest.mark.network

ROOT = Path(__file__).resolve().parents[2]

BACKEND = '''
"""A third-party backend: the reference backend under a scheme of its own."""

from repokit import register_backend
from repokit.memory import MemoryBackend


class ThirdPartyBackend(MemoryBackend):
    """Stands for a backend a team writes beside its project."""


register_backend("thirdparty", ThirdPartyBackend)
'''

CONTRACT_TEST = """
import pytest

import thirdparty  # noqa: F401  (registers the scheme)
from repokit.testing import Harness
from repokit.testing.suite import *  # noqa: F403


@pytest.fixture(scope="session")
def repokit_harness() -> Harness:
    return Harness(url="thirdparty://")
"""

PYTEST_INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""

MIGRATE = '''
"""Autogenerate, upgrade, autogenerate again, downgrade: on a SQLite file."""

import ast
import asyncio
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import alembic
from alembic import command
from alembic.config import Config

from repokit import Database, Table, Unique

here = Path(sys.argv[1])


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    tenant: str
    name: str
    note: str | None = None


projects = Table(Project, "projects", primary_key="id", unique=[Unique(("tenant", "name"))],
                 indexes=[("tenant",)], ignore_case=["name"])
url = f"sqlite+aiosqlite:///{here / 'app.db'}"

location = here / "migrations"
(location / "versions").mkdir(parents=True)
shutil.copy(Path(alembic.__file__).parent / "templates" / "async" / "script.py.mako",
            location / "script.py.mako")
(location / "env.py").write_text("""
import asyncio
from alembic import context
from sqlalchemy import pool
from sqlalchemy.ext.asyncio import create_async_engine
from repokit_sqlalchemy import metadata, render_item

config = context.config

def run(connection):
    context.configure(connection=connection, render_item=render_item,
                      target_metadata=metadata(*config.attributes["tables"],
                                               dialect=connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()

async def main():
    engine = create_async_engine(config.attributes["url"], poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()

asyncio.run(main())
""")
cfg = Config()
cfg.set_main_option("script_location", str(location))
cfg.attributes["tables"] = [projects]
cfg.attributes["url"] = url


def body(script):
    tree = ast.parse(Path(script.path).read_text())
    [up] = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"]
    return [s for s in up.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]


first = command.revision(cfg, message="create", autogenerate=True)
assert "repokit" not in Path(first.path).read_text(), "the migration imports repokit"
assert body(first), "the first migration is empty"
command.upgrade(cfg, "head")


async def use():
    async with Database.connect(url) as db:
        assert await db.schema_changes(projects) == []
        from repokit import Repository
        repo = Repository(db, projects)
        stored = await repo.create(Project(uuid.uuid4(), "acme", "Apollo"))
        assert await repo.get(stored.id) == stored


asyncio.run(use())
second = command.revision(cfg, message="again", autogenerate=True)
assert [type(s).__name__ for s in body(second)] == ["Pass"], "the second migration is not empty"
command.downgrade(cfg, "base")
print("migrations ok")
'''


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment with the three wheels of this checkout and Alembic."""
    uv = uv_binary()
    dist = tmp_path_factory.mktemp("dist")
    check(uv, "build", "--all-packages", "--wheel", "--out-dir", dist, cwd=ROOT)
    (core,) = dist.glob("repokit-[0-9]*.whl")
    (sql,) = dist.glob("repokit_sqlalchemy-*.whl")
    (mongo,) = dist.glob("repokit_mongodb-*.whl")
    return venv(
        tmp_path_factory.mktemp("venv"),
        f"repokit[testing] @ {core.as_uri()}",
        f"repokit-sqlalchemy[sqlite] @ {sql.as_uri()}",
        f"repokit-mongodb @ {mongo.as_uri()}",
        "alembic",
    )


def test_a_third_party_backend_passes_the_contract_suite_from_the_wheels(
    venv_python: Path, tmp_path: Path
) -> None:
    project = tmp_path / "thirdparty"
    project.mkdir()
    (project / "thirdparty.py").write_text(BACKEND)
    (project / "test_contract.py").write_text(CONTRACT_TEST)
    (project / "pytest.ini").write_text(PYTEST_INI)
    out = check(venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    last = out.strip().splitlines()[-1]
    assert " passed" in last
    assert "failed" not in last
    assert "error" not in last


def test_alembic_migrates_a_sqlite_database_from_the_wheels(
    venv_python: Path, tmp_path: Path
) -> None:
    script = tmp_path / "migrate.py"
    script.write_text(textwrap.dedent(MIGRATE))
    out = check(venv_python, script, tmp_path, cwd=tmp_path)
    assert "migrations ok" in out
