"""The condition tree and sort orders: immutable, backend-neutral, type-checked.

Conditions are built from a table's field references (``items.c.name == "x"``)
and combined with ``&``, ``|`` and ``~`` (or :func:`and_`, :func:`or_`,
:func:`not_`). Every operand is checked against the field's type and brought
to its storage-normal form (:mod:`repokit.values`) when the condition is
built, so a mistake raises :class:`~repokit.errors.InvalidQuery` before any
I/O.

Semantics are two-valued (CONTRACT §3): every predicate is true or false for
every entity. Construction already settles what can be settled in one place:

* ``f == None`` / ``f != None`` become :class:`IsNull` / ``~IsNull``;
* ``f.in_([])`` is :data:`FALSE`, ``f.not_in([])`` is :data:`TRUE`, and a
  ``None`` among the values becomes ``In(...) | IsNull(...)``, so an
  :class:`In` node never holds ``None`` and is never empty;
* ``not_in`` is ``~in_`` exactly;
* an operand finer than the stored precision (a datetime with microseconds,
  a decimal with more digits than the scale) is rewritten into the
  equivalent comparison on the stored grid (``f < 12:00:00.0005`` becomes
  ``f <= 12:00:00.000``) because stored values never have finer parts;
* ``ignore_case=True`` becomes the same operation on the field's casefolded
  shadow with a casefolded operand (CONTRACT §4).

Backends therefore translate only :class:`Const`, :class:`Compare`,
:class:`In`, :class:`IsNull`, :class:`Match`, :class:`And`, :class:`Or`,
:class:`Not` and :class:`Exists` (a semi-join on another table, CONTRACT
§25), each to a never-unknown native predicate. :data:`Condition` is
their closed union: every interpreter dispatches over exactly these and ends
with ``raise unknown_node(node)``, so ``mypy --strict`` names each one a new
node class leaves unhandled (CONTRIBUTING.md, "Adding a predicate").
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Never, NoReturn, TypeAlias

from repokit.errors import InvalidQuery, clip, excerpt
from repokit.types import FieldType
from repokit.values import Rejected, converter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from repokit.tables import Table

__all__ = [
    "FALSE",
    "MAX_CONDITION_DEPTH",
    "TRUE",
    "And",
    "Column",
    "Compare",
    "Condition",
    "Const",
    "Exists",
    "In",
    "IsNull",
    "Match",
    "MatchKind",
    "Node",
    "Not",
    "Op",
    "Or",
    "Order",
    "and_",
    "crosses",
    "exists",
    "not_",
    "or_",
    "unknown_node",
]


class Op(enum.Enum):
    """Comparison operators."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class MatchKind(enum.Enum):
    """Literal, case-sensitive text matching operators."""

    CONTAINS = "contains"
    STARTSWITH = "startswith"
    ENDSWITH = "endswith"


class Node:
    """Base of every condition node; combine with ``&``, ``|`` and ``~``.

    Annotate with :data:`Condition` (the closed union of the node classes),
    not with this class: only the union lets ``match`` statements be checked
    exhaustive. The base holds the operators and serves runtime checks
    (``isinstance(x, Node)`` is one type check, where the union tries eight).
    """

    __slots__ = ()

    # ``self`` is always a member of Condition, which mypy cannot see from the base.
    def __and__(self, other: Condition) -> Condition:
        return and_(self, other)  # type: ignore[arg-type]

    def __or__(self, other: Condition) -> Condition:
        return or_(self, other)  # type: ignore[arg-type]

    def __invert__(self) -> Condition:
        return not_(self)  # type: ignore[arg-type]

    def __bool__(self) -> NoReturn:
        raise TypeError(
            "a condition has no truth value; combine conditions with &, | and ~, "
            "not with 'and', 'or' and 'not'"
        )


@dataclass(frozen=True, slots=True, eq=True)
class Const(Node):
    """A constant: true for every entity, or for none."""

    value: bool

    def __repr__(self) -> str:
        return "TRUE" if self.value else "FALSE"

    def fields(self) -> Iterator[tuple[str, str]]:
        """Yield ``(table, field)`` for every field the condition reads: none."""
        return iter(())


#: True for every entity (``and_()`` of nothing). A batch write over every entity in
#: its scope says so with ``conditions=[TRUE]``; an empty list of conditions is refused.
TRUE = Const(True)
#: True for no entity (``or_()`` of nothing, ``f.in_([])``).
FALSE = Const(False)


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``field <op> value``; ``value`` is never ``None`` and already normalised.

    ``NE`` matches nulls; the other operators never match null.
    """

    table: str
    field: str
    op: Op
    value: Any

    def fields(self) -> Iterator[tuple[str, str]]:
        yield self.table, self.field


@dataclass(frozen=True, slots=True)
class In(Node):
    """``field`` equals one of ``values`` (non-empty, no ``None``, normalised)."""

    table: str
    field: str
    values: tuple[Any, ...]

    def fields(self) -> Iterator[tuple[str, str]]:
        yield self.table, self.field


@dataclass(frozen=True, slots=True)
class IsNull(Node):
    """``field`` is null (``None``, or missing in a document)."""

    table: str
    field: str

    def fields(self) -> Iterator[tuple[str, str]]:
        yield self.table, self.field


@dataclass(frozen=True, slots=True)
class Match(Node):
    """Literal, case-sensitive substring / prefix / suffix match; never matches null."""

    table: str
    field: str
    kind: MatchKind
    pattern: str

    def fields(self) -> Iterator[tuple[str, str]]:
        yield self.table, self.field


#: How deeply ``and_`` / ``or_`` / ``not_`` may nest (CONTRACT §13): every interpreter
#: walks the tree recursively, and a hostile filter must fail with ``InvalidQuery``, not
#: with a ``RecursionError`` deep inside a backend.
MAX_CONDITION_DEPTH = 64


def _depth(condition: Condition) -> int:
    return getattr(condition, "depth", 0)


def _nested(node: Condition, children: Iterable[Condition]) -> None:
    depth = 1 + max(map(_depth, children), default=0)
    if depth > MAX_CONDITION_DEPTH:
        raise InvalidQuery(
            f"a condition nested {depth} levels deep: at most {MAX_CONDITION_DEPTH} are allowed"
        )
    object.__setattr__(node, "depth", depth)


@dataclass(frozen=True, slots=True)
class And(Node):
    """All of ``items`` (two or more)."""

    items: tuple[Condition, ...]
    #: How deeply the tree under this node nests (leaves count 0).
    depth: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        _nested(self, self.items)

    def fields(self) -> Iterator[tuple[str, str]]:
        for item in self.items:
            yield from item.fields()


@dataclass(frozen=True, slots=True)
class Or(Node):
    """Any of ``items`` (two or more)."""

    items: tuple[Condition, ...]
    depth: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        _nested(self, self.items)

    def fields(self) -> Iterator[tuple[str, str]]:
        for item in self.items:
            yield from item.fields()


@dataclass(frozen=True, slots=True)
class Not(Node):
    """The exact complement of ``item``."""

    item: Condition
    depth: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        _nested(self, (self.item,))

    def fields(self) -> Iterator[tuple[str, str]]:
        return self.item.fields()


@dataclass(frozen=True, slots=True)
class Exists(Node):
    """A semi-join (CONTRACT §25): some entity of ``inner`` matches ``where`` and this one.

    True for an entity of ``table`` when a row of the other table ``inner``
    satisfies ``where`` and, for every ``(inner_field, outer_field)`` pair of
    ``on``, holds in ``inner_field`` a value equal to the entity's
    ``outer_field``. A null on either side of a pair matches nothing. Built
    by :func:`exists`, which puts the inner table's live condition into
    ``where`` unless asked not to, so ``where`` is the whole inner test.

    ``on`` is empty only in the conditions core derives for a known entity
    (:func:`repokit.evaluate.substitute`): then the node is the same for
    every entity, "some row of ``inner`` matches ``where``".
    """

    table: str
    #: The other table (a :class:`~repokit.tables.Table`; that module imports this one).
    inner: Table[Any]
    #: ``(inner field, outer field)`` pairs that must be equal (and not null).
    on: tuple[tuple[str, str], ...]
    #: The condition on ``inner``'s rows (its fields only).
    where: Condition
    depth: int = field(default=1, compare=False, repr=False)

    def __post_init__(self) -> None:
        _nested(self, (self.where,))

    def fields(self) -> Iterator[tuple[str, str]]:
        """The outer fields the pairs read (the inner condition reads another table)."""
        for _, outer in self.on:
            yield self.table, outer


#: A condition: one of the node classes, a closed union. Every interpreter ends with
#: ``raise unknown_node(node)``, so adding a node class here makes ``mypy --strict``
#: name each interpreter that misses it (CONTRIBUTING.md, "Adding a predicate").
Condition: TypeAlias = Const | Compare | In | IsNull | Match | And | Or | Not | Exists


def unknown_node(node: Never) -> TypeError:
    """The error of an interpreter's last line: ``raise unknown_node(node)``.

    :func:`typing.assert_never` for condition nodes. Statically *node* must
    have been narrowed to nothing, by a ``match`` (``case _: raise
    unknown_node(node)``) or by a chain of ``isinstance`` tests that each
    return, so mypy reports every node class left unhandled. At run time
    (an object outside the union, such as a foreign subclass of
    :class:`Node`) the error is a ``TypeError``, as it always was.

    Interpreters on a per-call or per-row path (``predicate``,
    ``substitute``, the SQL ``shape`` and compiler, the MongoDB ``to_query``)
    use the ``isinstance`` chain: a class pattern that matches allocates (a
    set and a list, in CPython 3.11 and 3.13), which made them 5-17% slower.
    """
    return TypeError(f"unknown condition node {node!r}")


def _check(condition: Any) -> Condition:
    if not isinstance(condition, Node):
        raise InvalidQuery(f"expected a condition, got {excerpt(condition)}")
    return condition  # type: ignore[return-value]  # a Node is one of Condition's members


def and_(*conditions: Condition) -> Condition:
    """All of *conditions*; ``and_()`` is :data:`TRUE`."""
    items: list[Condition] = []
    for condition in map(_check, conditions):
        if isinstance(condition, Const):
            if not condition.value:
                return FALSE
            continue
        items.extend(condition.items if isinstance(condition, And) else (condition,))
    if not items:
        return TRUE
    return items[0] if len(items) == 1 else And(tuple(items))


def or_(*conditions: Condition) -> Condition:
    """Any of *conditions*; ``or_()`` is :data:`FALSE`."""
    items: list[Condition] = []
    for condition in map(_check, conditions):
        if isinstance(condition, Const):
            if condition.value:
                return TRUE
            continue
        items.extend(condition.items if isinstance(condition, Or) else (condition,))
    if not items:
        return FALSE
    return items[0] if len(items) == 1 else Or(tuple(items))


def not_(condition: Condition) -> Condition:
    """The exact complement of *condition*."""
    condition = _check(condition)
    if isinstance(condition, Const):
        return FALSE if condition.value else TRUE
    if isinstance(condition, Not):
        return condition.item
    return Not(condition)


def exists(
    inner: Table[Any],
    *,
    on: Mapping[str, Column],
    where: Condition = TRUE,
    include_deleted: bool = False,
) -> Condition:
    """A semi-join: some live entity of *inner* matches *where* and is paired by *on*.

    ::

        in_project = exists(
            memberships,
            on={"user_id": users.c.id},
            where=memberships.c.project_id == project_id,
        )

    *on* maps fields of *inner* to columns of the outer table (one table, one
    or more pairs; the same value kind on both sides, no JSON field). *where*
    is an ordinary condition on *inner* and may hold semi-joins itself.
    Soft-deleted entities of *inner* count only with ``include_deleted=True``.
    A null on either side of a pair matches nothing, so ``~exists(...)`` is
    true for an entity whose paired field is null (CONTRACT §25).

    Raises:
        InvalidQuery: *inner* is not a table, *on* is empty or pairs a field
            with a column of another kind (or of a second outer table), or
            *where* reads another table than *inner*.
    """
    from repokit.tables import Table  # repokit.tables imports this module

    if not isinstance(inner, Table):
        raise InvalidQuery(f"exists() takes a Table to look in, got {excerpt(inner)}")
    if isinstance(on, str | bytes) or not hasattr(on, "items") or not on:
        raise InvalidQuery(
            f"exists({inner.entity_name}): on= maps at least one field of {inner.name!r} "
            f"to a column of the outer table, got {excerpt(on)}"
        )
    pairs: list[tuple[str, str]] = []
    outer: str | None = None
    for name, column in on.items():
        if name not in inner.fields or inner.fields[name].shadow_of is not None:
            raise InvalidQuery(
                f"exists({inner.entity_name}): {excerpt(name)} is not a field of {inner.name!r}"
            )
        if not isinstance(column, Column):
            raise InvalidQuery(
                f"exists({inner.entity_name}): on[{name!r}] must be a column of the outer "
                f"table (table.c.field), got {excerpt(column)}"
            )
        mine = inner.c[name].type
        if mine.kind is not column.type.kind or not mine.value_kind.comparable:
            raise InvalidQuery(
                f"exists({inner.entity_name}): {inner.entity_name}.{name} "
                f"({mine.kind.value}) cannot be paired with {column.entity}.{column.name} "
                f"({column.type.kind.value}): the fields must be of one kind, and not JSON"
            )
        if outer is not None and column.table != outer:
            raise InvalidQuery(
                f"exists({inner.entity_name}): on= pairs columns of two tables, "
                f"{outer!r} and {column.table!r}"
            )
        outer = column.table
        pairs.append((name, column.name))
    assert outer is not None
    condition = inner.check_condition(_check(where))
    if not include_deleted:
        condition = and_(condition, inner.live_condition())
    if condition == FALSE:
        return FALSE
    return Exists(outer, inner, tuple(pairs), condition)


def crosses(condition: Condition) -> bool:
    """Whether *condition* holds a semi-join (:class:`Exists`) anywhere."""
    if isinstance(condition, Exists):
        return True
    if isinstance(condition, And | Or):
        return any(map(crosses, condition.items))
    if isinstance(condition, Not):
        return crosses(condition.item)
    if isinstance(condition, Const | Compare | In | IsNull | Match):
        return False
    raise unknown_node(condition)  # mypy: every member of Condition is handled above


@dataclass(frozen=True, slots=True)
class Order:
    """Sort by ``field``, ascending unless ``descending``. ``None`` sorts first ascending."""

    table: str
    field: str
    descending: bool = False


class Column:
    """A reference to one field of a table: the building block of conditions.

    Obtained from ``table.c.<field>``; comparison operators build conditions.
    """

    __slots__ = (
        "_on_grid_of",
        "_operand_of",
        "_ordered",
        "_textual",
        "entity",
        "name",
        "shadow",
        "table",
        "type",
    )

    def __init__(
        self, table: str, entity: str, name: str, ftype: FieldType, shadow: str | None
    ) -> None:
        self.table: str = table
        self.entity: str = entity
        self.name: str = name
        self.type: FieldType = ftype
        #: The casefolded shadow field when the field is matched ignoring case.
        self.shadow: str | None = shadow
        # What the kind does with operands (repokit.kinds), bound once per column: the
        # checks below run for every condition built.
        kind = ftype.value_kind
        # Operands may be longer than max_length: they simply match nothing.
        operand_type = replace(ftype, max_length=None)
        self._operand_of: Callable[[Any], Any] = (
            converter(operand_type) if kind.operand is None else kind.operand(operand_type)
        )
        self._on_grid_of: Callable[[Any], tuple[Any, bool]] | None = (
            None if kind.on_grid is None else kind.on_grid(ftype)
        )
        self._ordered: bool = kind.ordered
        self._textual: bool = kind.textual

    def __repr__(self) -> str:
        return f"{self.table}.c.{self.name}"

    # By identity: == builds a condition. Declared, so that checkers need not infer it.
    __hash__: ClassVar[Callable[[object], int]] = object.__hash__

    # -- operands ---------------------------------------------------------------------------

    def _fail(self, value: Any, reason: str) -> NoReturn:
        raise InvalidQuery(
            f"{self.entity}.{self.name}: invalid operand {excerpt(value)}: {clip(reason)}"
        )

    def _operand(self, value: Any) -> Any:
        if value is None:
            self._fail(value, "None is only allowed with ==, != and in_")
        try:
            return self._operand_of(value)
        except Rejected as exc:
            self._fail(value, str(exc))

    def _on_grid(self, value: Any) -> tuple[Any, bool]:
        """Floor a normalised operand onto the stored grid; say whether it was exact."""
        on_grid = self._on_grid_of
        if on_grid is None:
            return value, True
        try:
            return on_grid(value)
        except Rejected as exc:
            self._fail(value, str(exc))

    def _compare(self, op: Op, value: Any) -> Condition:
        if op not in (Op.EQ, Op.NE) and not self._ordered:
            self._fail(value, f"{op.value} needs an ordered type")
        value, exact = self._on_grid(self._operand(value))
        if not exact:
            # No stored value lies strictly between the floor and the operand.
            if op is Op.EQ:
                return FALSE
            if op is Op.NE:
                return TRUE
            op = {Op.LT: Op.LE, Op.GE: Op.GT}.get(op, op)
        return Compare(self.table, self.name, op, value)

    # -- comparisons ------------------------------------------------------------------------

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        if value is None:
            return self.is_null()
        return self._compare(Op.EQ, value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        if value is None:
            return self.is_not_null()
        return self._compare(Op.NE, value)

    def __lt__(self, value: Any) -> Condition:
        return self._compare(Op.LT, value)

    def __le__(self, value: Any) -> Condition:
        return self._compare(Op.LE, value)

    def __gt__(self, value: Any) -> Condition:
        return self._compare(Op.GT, value)

    def __ge__(self, value: Any) -> Condition:
        return self._compare(Op.GE, value)

    def ne(self, value: Any) -> Condition:
        """``!=`` (matches nulls unless *value* is ``None``), for typed call sites."""
        return self.__ne__(value)

    def is_null(self) -> Condition:
        """The field is null."""
        return IsNull(self.table, self.name)

    def is_not_null(self) -> Condition:
        """The field is not null."""
        return Not(IsNull(self.table, self.name))

    def in_(self, values: Iterable[Any]) -> Condition:
        """The field equals one of *values*; matches null only if ``None`` is among them."""
        if isinstance(values, str | bytes):
            raise InvalidQuery(f"{self.entity}.{self.name}: in_() takes a collection, not a string")
        seen: dict[Any, None] = {}
        with_null = False
        for value in values:
            if value is None:
                with_null = True
                continue
            normal, exact = self._on_grid(self._operand(value))
            if exact:
                seen.setdefault(normal, None)
        parts: list[Condition] = []
        if seen:
            parts.append(In(self.table, self.name, tuple(seen)))
        if with_null:
            parts.append(self.is_null())
        return or_(*parts)

    def not_in(self, values: Iterable[Any]) -> Condition:
        """The exact complement of :meth:`in_`: matches null unless ``None`` is among *values*."""
        return not_(self.in_(values))

    def eq(self, value: Any, *, ignore_case: bool = False) -> Condition:
        """``==``, optionally comparing casefolded text (CONTRACT §4)."""
        if not ignore_case:
            return self.__eq__(value)
        if value is None:
            return self.is_null()
        return Compare(self.table, self._shadow(value), Op.EQ, self._fold(value))

    # -- text -------------------------------------------------------------------------------

    def _shadow(self, value: Any) -> str:
        if self.shadow is None:
            self._fail(value, "ignore_case needs the field listed in the table's ignore_case")
        return self.shadow

    def _fold(self, value: Any) -> str:
        if not self._textual:
            self._fail(value, "text matching needs a str field")
        return str(self._operand(value)).casefold()

    def _match(self, kind: MatchKind, value: Any, ignore_case: bool) -> Condition:
        if not self._textual:
            self._fail(value, f"{kind.value} needs a str field")
        if ignore_case:
            return Match(self.table, self._shadow(value), kind, self._fold(value))
        return Match(self.table, self.name, kind, self._operand(value))

    def contains(self, value: str, *, ignore_case: bool = False) -> Condition:
        """The field contains *value* literally; never matches null."""
        return self._match(MatchKind.CONTAINS, value, ignore_case)

    def startswith(self, value: str, *, ignore_case: bool = False) -> Condition:
        """The field starts with *value* literally; never matches null."""
        return self._match(MatchKind.STARTSWITH, value, ignore_case)

    def endswith(self, value: str, *, ignore_case: bool = False) -> Condition:
        """The field ends with *value* literally; never matches null."""
        return self._match(MatchKind.ENDSWITH, value, ignore_case)

    # -- orders -----------------------------------------------------------------------------

    def asc(self) -> Order:
        """Ascending order (``None`` first)."""
        return self._order(False)

    def desc(self) -> Order:
        """Descending order (``None`` last)."""
        return self._order(True)

    def _order(self, descending: bool) -> Order:
        if not self._ordered:
            raise InvalidQuery(f"{self.entity}.{self.name}: cannot sort by a JSON field")
        return Order(self.table, self.name, descending)
