"""The backend registry: URL scheme -> backend class, in-process first, then entry points."""

import re
from importlib.metadata import EntryPoint

import pytest

from repokit import registry
from repokit.errors import BackendNotInstalled
from repokit.memory import MemoryBackend
from repokit.registry import ENTRY_POINT_GROUP, backend_for_url, register_backend, scheme_of


class FakeBackend(MemoryBackend):
    """A backend registered in-process by a test."""


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no in-process registrations and leaves none behind."""
    monkeypatch.setattr(registry, "_registered", {})


def without_entry_points(monkeypatch: pytest.MonkeyPatch, *found: EntryPoint) -> None:
    """Make the entry-point group hold only *found* (as if no backend were installed)."""

    def entry_points(*, group: str, name: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return [entry for entry in found if entry.name == name]

    monkeypatch.setattr(registry, "entry_points", entry_points)


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("postgresql+asyncpg://user:pw@host:5432/db", "postgresql+asyncpg"),
        ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite"),
        ("mongodb+srv://cluster.example/db", "mongodb+srv"),
        ("memory://", "memory"),
        ("MEMORY://", "memory"),
        ("memory:", "memory"),
    ],
)
def test_scheme_of_reads_the_url_scheme(url: str, scheme: str) -> None:
    assert scheme_of(url) == scheme


@pytest.mark.parametrize("url", ["", "app.db", "://host/db", "memory"])
def test_a_string_without_a_scheme_is_not_a_database_url(url: str) -> None:
    with pytest.raises(BackendNotInstalled, match="not a database URL"):
        scheme_of(url)


def test_memory_resolves_through_the_entry_point() -> None:
    assert backend_for_url("memory://") is MemoryBackend


def test_a_resolved_entry_point_is_remembered() -> None:
    backend_for_url("memory://")
    assert registry._registered["memory"] is MemoryBackend


def test_an_in_process_registration_wins_over_entry_points() -> None:
    register_backend("memory", FakeBackend)
    assert backend_for_url("memory://") is FakeBackend


def test_registration_is_case_insensitive() -> None:
    register_backend("Fake", FakeBackend)
    assert backend_for_url("FAKE://x") is FakeBackend


def test_an_unknown_scheme_is_backend_not_installed() -> None:
    with pytest.raises(BackendNotInstalled, match="no repokit backend for URL scheme 'nosuchdb'"):
        backend_for_url("nosuchdb://host")


def test_backend_not_installed_is_an_import_error() -> None:
    with pytest.raises(ImportError):
        backend_for_url("nosuchdb://host")


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("postgresql://host/db", "repokit[postgres]"),
        ("postgresql+asyncpg://host/db", "repokit[postgres]"),
        ("sqlite:///app.db", "repokit[sqlite]"),
        ("sqlite+aiosqlite:///app.db", "repokit[sqlite]"),
        ("mongodb://host", "repokit[mongodb]"),
        ("mongodb+srv://host", "repokit[mongodb]"),
    ],
)
def test_a_missing_first_party_backend_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, url: str, package: str
) -> None:
    without_entry_points(monkeypatch)
    with pytest.raises(BackendNotInstalled, match=re.escape(f"install '{package}'")):
        backend_for_url(url)


def test_a_backend_that_fails_to_import_names_the_extra_and_chains_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = EntryPoint(
        name="postgresql", value="repokit_no_such_module_for_tests:Backend", group=ENTRY_POINT_GROUP
    )
    without_entry_points(monkeypatch, broken)
    with pytest.raises(BackendNotInstalled, match=r"repokit\[postgres\]") as info:
        backend_for_url("postgresql://host/db")
    assert isinstance(info.value.__cause__, ImportError)


def test_any_entry_point_in_the_group_provides_its_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = EntryPoint(name="other", value="repokit.memory:MemoryBackend", group=ENTRY_POINT_GROUP)
    without_entry_points(monkeypatch, entry)
    assert backend_for_url("other://x") is MemoryBackend


@pytest.mark.parametrize(
    ("url", "instead", "package"),
    [
        ("postgres://user@host/db", "postgresql+asyncpg://", "repokit[postgres]"),
        ("postgresql+psycopg://user@host/db", "postgresql+asyncpg://", "repokit[postgres]"),
        ("postgresql+psycopg2://user@host/db", "postgresql+asyncpg://", "repokit[postgres]"),
        ("sqlite+pysqlite:///app.db", "sqlite+aiosqlite://", "repokit[sqlite]"),
    ],
)
def test_a_scheme_with_a_driver_repokit_does_not_run_on_says_what_to_use_instead(
    url: str, instead: str, package: str
) -> None:
    with pytest.raises(BackendNotInstalled) as caught:
        backend_for_url(url)
    assert f"use {instead} instead" in str(caught.value)
    assert package in str(caught.value)


def test_a_backend_registered_for_postgres_wins_over_the_advice() -> None:
    register_backend("postgres", FakeBackend)
    assert backend_for_url("postgres://host/db") is FakeBackend
