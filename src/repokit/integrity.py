"""What references make writes and purges do, once, for every backend (CONTRACT §23).

:class:`~repokit.database.Session` calls these around its SPI calls, so every
utility (create, update, upsert, the batch and bulk writes, purge) follows
the same rules without knowing about them:

* a write that sets referencing fields first *holds* the parents it names
  (:meth:`~repokit.backend.BackendSession.hold`: counts them, keeping a
  concurrent purge of them out) and refuses with ``IntegrityViolation`` a
  value naming no stored parent, before anything is written; ``None``
  references nothing;
* a purge first reads the keys it removes, refuses if a ``RESTRICT`` child
  references one (before anything is written), then purges ``CASCADE``
  children (recursively, through the same session call) and nulls the fields
  of ``SET NULL`` children; these writes touch no version and no maintained
  timestamp, as a SQL foreign key's actions do not.

SQL backends also declare the references as FOREIGN KEYs, which enforce them
against every concurrent writer; :func:`dependency_order` is the order tables
are created in (parents first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from repokit.backend import Select
from repokit.capabilities import describe
from repokit.conditions import FALSE, Compare, Condition, In, Op, and_, or_
from repokit.errors import IntegrityViolation, InvalidQuery, RepositoryError, UnsupportedOperation
from repokit.references import OnPurge, Reference, key_fields

if TYPE_CHECKING:
    from repokit.database import Session
    from repokit.tables import Table

__all__ = [
    "dependency_order",
    "matching",
    "purge_dependents",
    "reference_error",
    "reference_errors",
    "require_parents",
]

Key = tuple[Any, ...]


def matching(table: Table[Any], fields: Sequence[str], keys: Sequence[Key]) -> Condition:
    """*table*'s rows whose *fields* hold one of *keys* (tuples, one value per field)."""
    if not keys:
        return FALSE
    if len(fields) == 1:
        return In(table.name, fields[0], tuple(dict.fromkeys(key[0] for key in keys)))
    return or_(
        *(
            and_(*(Compare(table.name, f, Op.EQ, v) for f, v in zip(fields, key, strict=True)))
            for key in keys
        )
    )


def _require(session: Session, table: Table[Any], what: str) -> None:
    if not session.database.capabilities.references:
        raise UnsupportedOperation(f"{table.entity_name}: {what}: {describe('references')}")


def _needed(
    table: Table[Any], rows: Iterable[Mapping[str, Any]]
) -> list[tuple[Reference, list[Key]]]:
    """Each reference the *rows* (complete rows, or an update's values) set, with its keys."""
    needed: list[tuple[Reference, list[Key]]] = []
    rows = list(rows)
    for reference in table.references:
        fields = reference.fields
        keys: dict[Key, None] = {}
        for row in rows:
            given = [f in row for f in fields]
            if not any(given):
                continue
            if not all(given):
                raise InvalidQuery(
                    f"{table.entity_name}: a write sets the fields of reference "
                    f"{reference.name} ({', '.join(fields)}) together or not at all"
                )
            key = tuple(row[f] for f in fields)
            if None not in key:  # None references nothing, as in SQL
                keys[key] = None
        if keys:
            needed.append((reference, list(keys)))
    return needed


def _raise(reference: Reference, violation: IntegrityViolation) -> NoReturn:
    if reference.error is not None:
        raise reference.error(violation) from violation
    raise violation


def _chunks(keys: Sequence[Key], size: int) -> Iterable[Sequence[Key]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


async def require_parents(
    session: Session, table: Table[Any], rows: Iterable[Mapping[str, Any]]
) -> None:
    """Hold the parents *rows* reference; refuse a reference to a missing one.

    Raises:
        IntegrityViolation: (or the reference's ``error``) a value names no
            stored parent; nothing was written.
        InvalidQuery: an update sets part of a reference of several fields.
        UnsupportedOperation: the backend cannot enforce references.
    """
    needed = _needed(table, rows)
    if not needed:
        return
    _require(session, table, "a write referencing another table")
    size = session.database.capabilities.max_ids_per_statement
    for reference, keys in needed:
        target = reference.target
        fields = key_fields(target)
        for part in _chunks(keys, size):
            where = matching(target, fields, part)
            if await session.hold(target, where) == len(part):
                continue
            stored = await session.select(Select(target, where, columns=fields))
            present = {tuple(row[f] for f in fields) for row in stored}
            missing = next(key for key in part if key not in present)
            shown = missing[0] if len(missing) == 1 else missing
            _raise(
                reference,
                IntegrityViolation(
                    table.entity_name,
                    f"reference {reference.name}: ({', '.join(reference.fields)}) = {shown!r} "
                    f"names no {target.entity_name}",
                    reference=reference.name,
                    fields=reference.fields,
                    value=missing,
                ),
            )


async def purge_dependents(session: Session, table: Table[Any], where: Condition) -> None:
    """Before *table*'s rows matching *where* are purged: apply each reference's on_purge.

    Raises:
        IntegrityViolation: (or the reference's ``error``) a ``RESTRICT`` child
            references a row being purged; nothing was written when it is a
            child of *table* itself (a grandchild found after a cascade wrote
            aborts the session instead: the purge is all or nothing).
        UnsupportedOperation: the backend cannot enforce references.
    """
    children = table.referenced_by
    if not children:
        return
    _require(session, table, "a purge of a referenced table")
    fields = key_fields(table)
    stored = await session.select(Select(table, where, columns=fields))
    if not stored:
        return
    keys = [tuple(row[f] for f in fields) for row in stored]
    size = session.database.capabilities.max_ids_per_statement
    for reference in children:
        if reference.on_purge is OnPurge.RESTRICT:
            await _restrict(session, reference, keys, size)
    try:
        for reference in children:
            child = reference.child
            for part in _chunks(keys, size):
                found = matching(child, reference.fields, part)
                if reference.on_purge is OnPurge.CASCADE:
                    await session.delete(child, found)
                elif reference.on_purge is OnPurge.SET_NULL:
                    nulls = child.normalize_values(dict.fromkeys(reference.fields))
                    await session.update(child, found, nulls)
    except RepositoryError as exc:
        session.fail(exc)  # something was written: the purge is all or nothing
        raise


async def _restrict(session: Session, reference: Reference, keys: Sequence[Key], size: int) -> None:
    child = reference.child
    for part in _chunks(keys, size):
        columns = tuple(dict.fromkeys((*child.key_fields, *reference.fields)))
        query = Select(child, matching(child, reference.fields, part), limit=1, columns=columns)
        found = await session.select(query)
        if found:
            value = tuple(found[0][f] for f in reference.fields)
            _raise(
                reference,
                IntegrityViolation(
                    reference.target.entity_name,
                    f"reference {reference.name}: {child.entity_name} "
                    f"{child.key_of(found[0])!r} (table {child.name}) references "
                    f"({', '.join(reference.fields)}) = "
                    f"{value[0] if len(value) == 1 else value!r}, which would be purged "
                    "(on_purge=RESTRICT)",
                    reference=reference.name,
                    fields=reference.fields,
                    value=value,
                ),
            )


def reference_error(table: Table[Any], violation: IntegrityViolation) -> Exception | None:
    """The declared exception of the reference *violation* names (to or from *table*), built."""
    for reference in (*table.references, *table.referenced_by):
        if reference.name == violation.reference and reference.error is not None:
            return reference.error(violation)
    return None


def reference_errors(table: Table[Any]) -> tuple[type[Exception], ...]:
    """The domain exceptions the references to and from *table* declare."""
    errors = (r.error for r in (*table.references, *table.referenced_by))
    return tuple(dict.fromkeys(e for e in errors if e is not None))


def dependency_order(tables: Sequence[Table[Any]]) -> list[Table[Any]]:
    """*tables* with every parent before its children (the order to create them in).

    References only name tables defined before, so there is no cycle; the
    order is otherwise the given one.
    """
    given = {id(table): table for table in tables}
    ordered: list[Table[Any]] = []
    seen: set[int] = set()

    def visit(table: Table[Any]) -> None:
        if id(table) in seen:
            return
        seen.add(id(table))
        for reference in table.references:
            if id(reference.target) in given:
                visit(reference.target)
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered
