"""The harness: how a backend hands itself to the contract suite.

A harness names the backend (a URL or a factory) and the suite tests it is
known to fail; :class:`HarnessError` refuses one that names no suite test.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from repokit.capabilities import Capabilities
from repokit.database import Database

__all__ = ["Harness", "HarnessError", "suite_test_names"]


class HarnessError(ValueError):
    """A :class:`Harness` is declared wrongly (the message says how)."""


@functools.cache
def suite_test_names() -> frozenset[str]:
    """Every name an expected failure may use: ``"TestClass::test_name"`` and ``"test_name"``."""
    from repokit.testing import suite  # imports pytest and hypothesis: only when needed

    names: set[str] = set()
    for class_name in suite.__all__:
        cls = getattr(suite, class_name)
        for attribute in dir(cls):
            if attribute.startswith("test") and callable(getattr(cls, attribute)):
                names.update((f"{class_name}::{attribute}", attribute))
    return frozenset(names)


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
            ``"test_name"``, without parameters) mapped to the reason they
            fail; they run as strict xfail, so a fixed one fails loudly until
            removed.

    Raises:
        HarnessError: neither or both of ``url`` and ``factory``; an expected
            failure without a reason, or naming no test of the suite.
    """

    url: str | None = None
    factory: Callable[[], Awaitable[Database]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    capabilities: Capabilities | None = None
    expected_failures: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.url is None) == (self.factory is None):
            raise HarnessError("a Harness needs exactly one of url and factory")
        for name, reason in self.expected_failures.items():
            if not reason.strip():
                raise HarnessError(f"{self.label}: expected failure {name!r} needs a reason")
        if self.expected_failures:
            known = suite_test_names()
            for name in self.expected_failures:
                if name not in known:
                    close = difflib.get_close_matches(name, known, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise HarnessError(
                        f"{self.label}: expected_failures key {name!r} names no test of the "
                        "contract suite (keys are 'TestClass::test_name' or 'test_name', "
                        f"without parameters){hint}"
                    )

    @property
    def label(self) -> str:
        """How messages name this harness: its URL or its factory."""
        if self.url is not None:
            return f"Harness(url={self.url!r})"
        return f"Harness(factory={getattr(self.factory, '__qualname__', repr(self.factory))})"

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
