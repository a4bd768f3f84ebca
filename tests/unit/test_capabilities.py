"""Capabilities: documented data, read by core and by the suite alike."""

import dataclasses

import pytest

from repokit.capabilities import Capabilities, describe
from repokit.memory import MemoryBackend

NAMES = [f.name for f in dataclasses.fields(Capabilities)]


@pytest.mark.parametrize("name", NAMES)
def test_every_capability_is_documented(name: str) -> None:
    field = next(f for f in dataclasses.fields(Capabilities) if f.name == name)
    assert len(field.metadata.get("doc", "")) > 20


@pytest.mark.parametrize("name", NAMES)
def test_describe_names_the_capability_and_gives_its_documentation(name: str) -> None:
    field = next(f for f in dataclasses.fields(Capabilities) if f.name == name)
    assert describe(name) == f"backend lacks capability {name!r}: {field.metadata['doc']}"


def test_describe_refuses_an_unknown_capability() -> None:
    with pytest.raises(KeyError, match="unknown capability 'teleport'"):
        describe("teleport")


def test_the_defaults_describe_a_full_featured_persistent_backend() -> None:
    caps = Capabilities()
    assert (caps.transactions, caps.persistent, caps.concurrent_sessions) == (True, True, True)
    assert caps.max_ids_per_statement >= 1


@pytest.mark.parametrize("size", [0, -1])
def test_max_ids_per_statement_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="max_ids_per_statement"):
        Capabilities(max_ids_per_statement=size)


def test_capabilities_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Capabilities().transactions = False  # type: ignore[misc]


def test_the_memory_backend_declares_itself_not_persistent() -> None:
    assert MemoryBackend.capabilities.persistent is False
