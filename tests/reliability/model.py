"""The replayable model of the load test: a log of successful operations and its replay.

Every load-test worker writes only its own entities (plus compare-and-set
updates of a few shared "hot" entities), so its log replays in its own order,
and the successful compare-and-set updates of a hot entity replay in the
order of the version each one expected: the chain must have no duplicate
(a lost update) and nothing the log does not explain (a phantom write).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from repokit.testing.schema import Item, ItemId, Status

__all__ = ["Entry", "Model", "replay"]


@dataclass(frozen=True)
class Entry:
    """One operation that succeeded, as the worker saw it.

    ``op`` is one of ``create``, ``update``, ``delete``, ``restore``,
    ``purge`` (the batch operations log the same ops over several keys) and
    ``cas`` (a compare-and-set update of a hot entity, from ``expected``).
    """

    op: str
    keys: tuple[ItemId, ...] = ()
    created: tuple[Item, ...] = ()
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    expected: int | None = None


class Model:
    """Entities by key, changed exactly as the contract says each operation changes them."""

    def __init__(self) -> None:
        self.entities: dict[ItemId, Item] = {}

    def live(self, key: ItemId) -> Item | None:
        entity = self.entities.get(key)
        return entity if entity is not None and entity.status is not Status.DELETED else None

    def deleted(self, key: ItemId) -> Item | None:
        entity = self.entities.get(key)
        return entity if entity is not None and entity.status is Status.DELETED else None

    def apply(self, entry: Entry) -> None:
        if entry.op == "create":
            for item in entry.created:
                assert item.id not in self.entities, f"replayed a second create of {item.id}"
                self.entities[item.id] = item
        elif entry.op in ("update", "cas"):
            for key in entry.keys:
                if (current := self.live(key)) is not None:
                    changed = dataclasses.replace(current, **entry.values)
                    self.entities[key] = dataclasses.replace(changed, version=current.version + 1)
        elif entry.op == "delete":
            for key in entry.keys:
                if (current := self.live(key)) is not None:
                    self.entities[key] = dataclasses.replace(
                        current, status=Status.DELETED, version=current.version + 1
                    )
        elif entry.op == "restore":
            for key in entry.keys:
                if (current := self.deleted(key)) is not None:
                    self.entities[key] = dataclasses.replace(
                        current, status=Status.ACTIVE, version=current.version + 1
                    )
        elif entry.op == "purge":
            for key in entry.keys:
                self.entities.pop(key, None)
        else:
            raise AssertionError(f"unknown op {entry.op!r}")


def replay(setup: Sequence[Entry], logs: Iterable[Sequence[Entry]]) -> Model:
    """The state the logs lead to: each worker's log in order, then the hot chains.

    Raises:
        AssertionError: two compare-and-set updates of one entity succeeded from
            the same version (a lost update), or a chain has a gap.
    """
    model = Model()
    for entry in setup:
        model.apply(entry)
    chains: dict[ItemId, list[Entry]] = {}
    for log in logs:
        for entry in log:
            if entry.op == "cas":
                chains.setdefault(entry.keys[0], []).append(entry)
            else:
                model.apply(entry)
    for key, chain in chains.items():
        chain.sort(key=lambda e: e.expected or 0)
        start = model.entities[key].version
        versions = [e.expected for e in chain]
        assert versions == list(range(start, start + len(chain))), (
            f"hot entity {key}: successful compare-and-set updates from versions {versions}"
        )
        for entry in chain:
            model.apply(entry)
    return model
