"""The harness: how a backend hands itself to the contract suite."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from repokit.capabilities import Capabilities
from repokit.database import Database

__all__ = ["Harness"]


@dataclass(frozen=True)
class Harness:
    """A backend under test.

    Give either ``url`` (opened with :meth:`Database.connect` and
    ``options``) or ``factory`` (an async callable returning a fresh
    :class:`Database`). Each test opens its own database object, so the
    factory must be cheap and must reach the same data every time.

    Attributes:
        url: the database URL.
        factory: builds a database; overrides ``url``.
        options: backend options for ``Database.connect``.
        capabilities: the capabilities the backend is expected to declare;
            the suite checks the backend agrees (``None``: take them as declared).
        expected_failures: suite test names (``"TestClass::test_name"`` or
            ``"test_name"``) mapped to the reason they fail; they run as
            strict xfail, so a fixed one fails loudly until removed.
    """

    url: str | None = None
    factory: Callable[[], Awaitable[Database]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    capabilities: Capabilities | None = None
    expected_failures: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.url is None) == (self.factory is None):
            raise ValueError("a Harness needs exactly one of url and factory")
        for name, reason in self.expected_failures.items():
            if not reason.strip():
                raise ValueError(f"expected failure {name!r} needs a reason")

    async def open(self) -> Database:
        """A new :class:`Database` on the backend under test."""
        if self.factory is not None:
            return await self.factory()
        assert self.url is not None
        return await Database.connect(self.url, **self.options)

    def expected_failure(self, class_name: str | None, test_name: str) -> str | None:
        """The declared reason *test_name* fails, if it is declared."""
        base = test_name.split("[", 1)[0]
        for key in (f"{class_name}::{base}" if class_name else None, base):
            if key is not None and key in self.expected_failures:
                return self.expected_failures[key]
        return None
