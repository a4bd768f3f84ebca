"""Scopes: multi-tenant access control as conditions (CONTRACT §6).

A :class:`SearchScope` is a frozen dataclass that turns into a condition.
Every operation takes ``scope=``: one scope, several (ORed), or ``None`` for
explicitly unscoped access. An empty list is a mistake, never "no scope".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from repokit.conditions import TRUE, Condition, or_
from repokit.errors import InvalidQuery, excerpt

__all__ = ["GlobalScope", "ScopeArg", "SearchScope", "scope_condition"]


@dataclass(frozen=True)
class SearchScope(ABC):
    """A caller's reach: the entities an operation may see and touch.

    Subclass it as a frozen dataclass and return the condition the scope
    stands for::

        @dataclass(frozen=True)
        class DomainScope(SearchScope):
            domain_name: str

            def to_condition(self) -> Condition:
                return projects.c.domain_name == self.domain_name
    """

    @abstractmethod
    def to_condition(self) -> Condition:
        """The condition an entity must satisfy to be within this scope."""


@dataclass(frozen=True)
class GlobalScope(SearchScope):
    """Explicitly everything: for administrators and maintenance jobs."""

    def to_condition(self) -> Condition:
        return TRUE


#: What ``scope=`` takes: one scope, several (an entity in any of them), or ``None``
#: (unscoped). An empty list of scopes is refused (CONTRACT §6).
ScopeArg: TypeAlias = SearchScope | Sequence[SearchScope] | None


def scope_condition(scope: ScopeArg, table: Any) -> Condition | None:
    """The condition of *scope* on *table*; ``None`` when unscoped.

    Raises:
        InvalidQuery: an empty list of scopes, something that is not a
            scope, or a scope whose condition reads another table's fields
            directly (a semi-join, ``exists(...)``, is how a scope looks into
            another table: CONTRACT §25).
    """
    if scope is None:
        return None
    scopes = [scope] if isinstance(scope, SearchScope) else list(scope)
    if not scopes:
        raise InvalidQuery(
            "an empty list of scopes matches nothing; pass scope=None or GlobalScope() "
            "for unscoped access"
        )
    conditions = []
    for item in scopes:
        if not isinstance(item, SearchScope):
            raise InvalidQuery(f"expected a SearchScope, got {excerpt(item)}")
        condition = item.to_condition()
        if not isinstance(condition, Condition):
            raise InvalidQuery(
                f"{excerpt(item)}.to_condition() returned {excerpt(condition)}, not a condition"
            )
        conditions.append(table.check_condition(condition))
    return or_(*conditions)
