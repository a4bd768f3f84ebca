"""Scopes: multi-tenant access control as conditions (CONTRACT §6, §24).

A :class:`SearchScope` is a frozen dataclass that turns into a condition.
Every operation takes ``scope=``: one scope, several (ORed), or ``None`` for
explicitly unscoped access. An empty list is a mistake, never "no scope".

A scope may also declare what must exist for it to mean anything
(:meth:`SearchScope.requires`): an operation under it first checks, in its
own session, that those entities are stored and live (CONTRACT §24).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from repokit.backend import Select
from repokit.conditions import TRUE, Condition, Exists, and_, or_
from repokit.errors import EntityNotFound, InvalidQuery, InvalidValue, excerpt
from repokit.evaluate import predicate
from repokit.tables import Table

if TYPE_CHECKING:
    from repokit.database import Session

__all__ = [
    "GlobalScope",
    "Requirement",
    "Requires",
    "ScopeArg",
    "SearchScope",
    "check_requirements",
    "name_missing",
    "requirement_guard",
    "requirements",
    "scope_condition",
    "scopes_of",
]


@dataclass(frozen=True)
class Requires:
    """What a scope needs to mean anything: the entity *key* of *table*, stored and live.

    ``Requires(tenants, "acme")``: the tenant ``acme`` must exist and must not
    be soft-deleted (CONTRACT §24). *key* is the target's primary key, as a
    ``get`` on *table* takes it.
    """

    table: Table[Any]
    key: Any


@dataclass(frozen=True)
class SearchScope(ABC):
    """A caller's reach: the entities an operation may see and touch.

    Subclass it as a frozen dataclass and return the condition the scope
    stands for; override :meth:`requires` when the scope names something
    that must exist::

        @dataclass(frozen=True)
        class DomainScope(SearchScope):
            domain_name: str

            def to_condition(self) -> Condition:
                return projects.c.domain_name == self.domain_name

            def requires(self) -> Iterable[Requires]:
                return (Requires(domains, self.domain_name),)
    """

    @abstractmethod
    def to_condition(self) -> Condition:
        """The condition an entity must satisfy to be within this scope."""

    def requires(self) -> Iterable[Requires]:
        """The entities that must be stored and live for this scope to mean anything.

        None by default: the scope is its condition alone. An operation under
        a scope whose target is missing or soft-deleted raises
        ``EntityNotFound`` for the target (CONTRACT §24).
        """
        return ()


@dataclass(frozen=True)
class GlobalScope(SearchScope):
    """Explicitly everything: for administrators and maintenance jobs."""

    def to_condition(self) -> Condition:
        return TRUE


#: What ``scope=`` takes: one scope, several (an entity in any of them), or ``None``
#: (unscoped). An empty list of scopes is refused (CONTRACT §6).
ScopeArg: TypeAlias = SearchScope | Sequence[SearchScope] | None


def scopes_of(scope: ScopeArg) -> list[SearchScope]:
    """The scopes *scope* names (none for ``None``).

    Raises:
        InvalidQuery: an empty list of scopes, or something that is not a scope.
    """
    if scope is None:
        return []
    scopes = [scope] if isinstance(scope, SearchScope) else list(scope)
    if not scopes:
        raise InvalidQuery(
            "an empty list of scopes matches nothing; pass scope=None or GlobalScope() "
            "for unscoped access"
        )
    for item in scopes:
        if not isinstance(item, SearchScope):
            raise InvalidQuery(f"expected a SearchScope, got {excerpt(item)}")
    return scopes


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
    conditions = []
    for item in scopes_of(scope):
        condition = item.to_condition()
        if not isinstance(condition, Condition):
            raise InvalidQuery(
                f"{excerpt(item)}.to_condition() returned {excerpt(condition)}, not a condition"
            )
        conditions.append(table.check_condition(condition))
    return or_(*conditions)


@dataclass(frozen=True, slots=True)
class Requirement:
    """A scope's target, checked: its table, its key as given and the condition finding it."""

    table: Table[Any]
    key: Any
    condition: Condition


def requirements(scope: ScopeArg) -> tuple[Requirement, ...]:
    """Every target of every scope in *scope*, each once, in the order declared (no I/O).

    The strict rule for several scopes (ORed): the caller named each of them,
    so each one's targets must exist, not just those of one (CONTRACT §24).

    Raises:
        InvalidQuery: a scope whose ``requires()`` yields something that is not
            a :class:`Requires` of a :class:`~repokit.Table`, or a key its table
            refuses (wrong type, ``None``), naming the scope, entity and key.
    """
    found: dict[tuple[str, Any], Requirement] = {}
    for item in scopes_of(scope):
        declared = item.requires()
        if isinstance(declared, Requires):
            declared = (declared,)
        for need in declared:
            if not isinstance(need, Requires) or not isinstance(need.table, Table):
                raise InvalidQuery(
                    f"{excerpt(item)}.requires() gave {excerpt(need)}: expected "
                    "Requires(table, key) of a repokit Table"
                )
            table = need.table
            normal = _target_key(item, table, need.key)
            # Keyed by table name: the same table declared twice is one check.
            found.setdefault(
                (table.name, normal), Requirement(table, need.key, table.key_condition(normal))
            )
    return tuple(found.values())


def _target_key(scope: SearchScope, table: Table[Any], key: Any) -> Any:
    """The target's key normalised as a get on *table* normalises it."""
    try:
        return table.normalize_key(key)
    except InvalidValue as exc:
        raise InvalidQuery(
            f"{excerpt(scope)} requires {table.entity_name} {excerpt(key)}, which is not a key "
            f"of {table.name!r}: {exc}"
        ) from exc


def requirement_guard(table: str, needed: Sequence[Requirement]) -> Condition:
    """*needed* as a condition on the rows of *table* that is the same for every row.

    One uncorrelated semi-join per target, each finding it stored and live:
    what an operation ANDs into its own statement on a backend that runs
    semi-joins there (``Capabilities.native_semijoins``), so that a scope's
    check costs no statement of its own (CONTRACT §24). ``TRUE`` for nothing.
    """
    return and_(
        *(
            Exists(table, need.table, (), and_(need.condition, need.table.live_condition()))
            for need in needed
        )
    )


async def check_requirements(session: Session, needed: Sequence[Requirement]) -> None:
    """Raise ``EntityNotFound`` for the first of *needed* not stored and live in *session*.

    Read in the operation's own session (CONTRACT §24). Where the backend runs
    semi-joins in its statements, every target of every table is asked in one
    statement (an ``exists`` on the first target's table, the others as
    uncorrelated semi-joins); otherwise, and to name the missing target when
    that one says no, one select per target table, of the targets' keys under
    the live condition.

    Raises:
        EntityNotFound: the target's entity name and its key as declared.
    """
    if not needed:
        return
    if session.database.capabilities.native_semijoins:
        first = needed[0]
        together = and_(
            first.condition,
            first.table.live_condition(),
            requirement_guard(first.table.name, needed[1:]),
        )
        if await session.exists(first.table, together):
            return
    await name_missing(session, needed)


async def name_missing(session: Session, needed: Sequence[Requirement]) -> None:
    """Raise ``EntityNotFound`` for the first of *needed* missing: a select per target table.

    The selects go together (``BackendSession.select_each``: one round trip
    where the backend reads several tables at once). Returns when every
    target is there (a guarded statement that matched nothing then matched
    nothing for its own reasons).
    """
    by_table: dict[str, list[Requirement]] = {}
    for need in needed:
        by_table.setdefault(need.table.name, []).append(need)
    queries = []
    for group in by_table.values():
        table = group[0].table
        keys = tuple(dict.fromkeys(field for need in group for _, field in need.condition.fields()))
        where = and_(or_(*(need.condition for need in group)), table.live_condition())
        queries.append(Select(table, where, columns=keys))
    found = dict(zip(by_table, await session.select_each(queries), strict=True))
    for need in needed:
        rows = found[need.table.name]
        matches = predicate(need.condition)
        if not any(matches(row) for row in rows):
            raise EntityNotFound(need.table.entity_name, need.key)
