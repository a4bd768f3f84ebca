"""Update states: what an update does to each field, and specs built from them.

:class:`OptionalState` either sets a value or leaves the field alone;
:class:`TriState` can also set it to null. An :class:`UpdaterSpec` is a frozen
dataclass of such states whose values derive from its fields: no
hand-written ``build_values``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Generic, Never, TypeVar, cast

from repokit.errors import InvalidQuery, excerpt

__all__ = ["OptionalState", "TriState", "UpdaterSpec"]

# Covariant: a state only hands its value out, so ``OptionalState.nop()`` (an
# ``OptionalState[Never]``) fits a field of any ``OptionalState[X]``, and the
# constructors are static methods with their own type variable: a type checker
# infers ``TriState.update(3)`` as ``TriState[int]`` instead of binding the
# class's parameter to Unknown when the class is used without arguments.
T_co = TypeVar("T_co", covariant=True)
V = TypeVar("V")


class _Action(enum.Enum):
    UPDATE = "update"
    NULLIFY = "nullify"
    NOP = "nop"


@dataclass(frozen=True, slots=True)
class OptionalState(Generic[T_co]):
    """Set a field to a value, or leave it as it is."""

    _action: _Action
    _value: T_co | None = None

    @staticmethod
    def update(value: V) -> OptionalState[V]:
        """Set the field to *value*."""
        return OptionalState(_Action.UPDATE, value)

    @staticmethod
    def nop() -> OptionalState[Never]:
        """Leave the field as it is."""
        return OptionalState(_Action.NOP)

    @property
    def is_nop(self) -> bool:
        return self._action is _Action.NOP

    def value(self) -> T_co:
        """The value to set; ``ValueError`` for a no-op."""
        if self._action is _Action.NOP:
            raise ValueError("a no-op state has no value")
        return cast(T_co, self._value)

    def __repr__(self) -> str:
        return "OptionalState.nop()" if self.is_nop else f"OptionalState.update({self._value!r})"


@dataclass(frozen=True, slots=True)
class TriState(Generic[T_co]):
    """Set a field to a value, set it to null, or leave it as it is."""

    _action: _Action
    _value: T_co | None = None

    @staticmethod
    def update(value: V) -> TriState[V]:
        """Set the field to *value*."""
        return TriState(_Action.UPDATE, value)

    @staticmethod
    def nullify() -> TriState[Never]:
        """Set the field to null."""
        return TriState(_Action.NULLIFY)

    @staticmethod
    def nop() -> TriState[Never]:
        """Leave the field as it is."""
        return TriState(_Action.NOP)

    @property
    def is_nop(self) -> bool:
        return self._action is _Action.NOP

    def value(self) -> T_co | None:
        """The value to set (``None`` for nullify); ``ValueError`` for a no-op."""
        if self._action is _Action.NOP:
            raise ValueError("a no-op state has no value")
        return self._value

    def __repr__(self) -> str:
        if self._action is _Action.UPDATE:
            return f"TriState.update({self._value!r})"
        return f"TriState.{self._action.value}()"


@dataclass(frozen=True)
class UpdaterSpec:
    """Base of update specs: a frozen dataclass of :class:`OptionalState` / :class:`TriState`.

    Each field names the entity field it updates; no-op states are left out::

        @dataclass(frozen=True)
        class ProjectUpdate(UpdaterSpec):
            name: OptionalState[str] = OptionalState.nop()
            description: TriState[str] = TriState.nop()
    """

    def values(self) -> dict[str, Any]:
        """The fields to set and their new values."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            state = getattr(self, f.name)
            if not isinstance(state, OptionalState | TriState):
                raise InvalidQuery(
                    f"{type(self).__name__}.{f.name} must be an OptionalState or TriState, "
                    f"got {excerpt(state)}"
                )
            if not state.is_nop:
                out[f.name] = state.value()
        return out
