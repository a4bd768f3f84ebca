"""Annotation parsing: what an entity's annotation means to repokit (repokit.types)."""

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NewType, Optional, Union

import pytest

from repokit.errors import InvalidTableDefinition
from repokit.types import (
    MAX_DECIMAL_PRECISION,
    FieldType,
    Kind,
    MaxLength,
    Numeric,
    parse_annotation,
)

UserId = NewType("UserId", uuid.UUID)
UserName = NewType("UserName", str)
NestedName = NewType("NestedName", UserName)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 2


class Mixed(enum.Enum):
    ONE = 1
    TWO = "two"


class Flags(enum.Enum):
    YES = True
    NO = False


class Floaty(enum.Enum):
    HALF = 0.5


class Empty(enum.Enum):
    pass


def parse(annotation: Any) -> FieldType:
    return parse_annotation("Thing", "field", annotation)


@pytest.mark.parametrize(
    ("annotation", "kind"),
    [
        (str, Kind.STR),
        (int, Kind.INT),
        (float, Kind.FLOAT),
        (bool, Kind.BOOL),
        (datetime, Kind.DATETIME),
        (date, Kind.DATE),
        (uuid.UUID, Kind.UUID),
        (dict, Kind.JSON),
        (list, Kind.JSON),
        (dict[str, Any], Kind.JSON),
        (list[int], Kind.JSON),
    ],
)
def test_scalar_annotations_map_to_their_kind(annotation: Any, kind: Kind) -> None:
    assert parse(annotation) == FieldType(kind)


def test_bool_is_its_own_kind_not_int() -> None:
    assert parse(bool).kind is Kind.BOOL


def test_newtype_is_unwrapped_to_its_supertype() -> None:
    assert parse(UserId) == FieldType(Kind.UUID)


def test_nested_newtypes_are_unwrapped() -> None:
    assert parse(NestedName) == FieldType(Kind.STR)


def test_pipe_none_makes_a_field_nullable() -> None:
    assert parse(int | None) == FieldType(Kind.INT, nullable=True)


def test_optional_makes_a_field_nullable() -> None:
    assert parse(Optional[str]) == FieldType(Kind.STR, nullable=True)  # noqa: UP045


def test_union_with_none_makes_a_field_nullable() -> None:
    assert parse(Union[date, None]) == FieldType(Kind.DATE, nullable=True)  # noqa: UP007


def test_optional_newtype_is_nullable_and_unwrapped() -> None:
    assert parse(UserName | None) == FieldType(Kind.STR, nullable=True)


def test_a_field_without_none_is_not_nullable() -> None:
    assert parse(str).nullable is False


def test_annotated_max_length_sets_max_length() -> None:
    assert parse(Annotated[str, MaxLength(10)]) == FieldType(Kind.STR, max_length=10)


def test_annotated_max_length_inside_optional_keeps_both() -> None:
    ftype = parse(Annotated[str, MaxLength(3)] | None)
    assert (ftype.kind, ftype.nullable, ftype.max_length) == (Kind.STR, True, 3)


def test_optional_inside_annotated_keeps_both() -> None:
    ftype = parse(Annotated[UserName | None, MaxLength(5)])
    assert (ftype.kind, ftype.nullable, ftype.max_length) == (Kind.STR, True, 5)


def test_annotated_numeric_sets_precision_and_scale() -> None:
    ftype = parse(Annotated[Decimal, Numeric(12, 2)])
    assert (ftype.kind, ftype.precision, ftype.scale) == (Kind.DECIMAL, 12, 2)


def test_annotated_metadata_repokit_does_not_know_is_ignored() -> None:
    assert parse(Annotated[int, "a note"]) == FieldType(Kind.INT)


def test_decimal_without_numeric_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Thing\.field: .*Numeric"):
        parse(Decimal)


def test_max_length_on_a_non_str_field_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Thing\.field: MaxLength applies to str"):
        parse(Annotated[int, MaxLength(3)])


def test_numeric_on_a_non_decimal_field_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Thing\.field: Numeric applies to Decimal"):
        parse(Annotated[int, Numeric(5, 0)])


def test_str_enum_is_an_enum_kind_carrying_its_class() -> None:
    assert parse(Color) == FieldType(Kind.ENUM, enum=Color)


def test_int_enum_is_an_enum_kind_carrying_its_class() -> None:
    assert parse(Size | None) == FieldType(Kind.ENUM, nullable=True, enum=Size)


@pytest.mark.parametrize("enum_cls", [Mixed, Flags, Floaty, Empty])
def test_enums_without_only_str_or_only_int_values_are_refused(enum_cls: type[enum.Enum]) -> None:
    with pytest.raises(InvalidTableDefinition, match=rf"Thing\.field: enum {enum_cls.__name__}"):
        parse(enum_cls)


@pytest.mark.parametrize(
    "annotation",
    [bytes, tuple, set, Any, object, complex, Literal["a"], type(None), frozenset[int]],
)
def test_unsupported_types_are_refused_naming_entity_and_field(annotation: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Thing\.field: unsupported type"):
        parse(annotation)


@pytest.mark.parametrize("annotation", [int | str, Union[int, str, None], int | float])  # noqa: UP007
def test_unions_of_several_types_are_refused(annotation: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Thing\.field: unions of several types"):
        parse(annotation)


@pytest.mark.parametrize("length", [0, -1, True, 2.5, "3"])
def test_max_length_needs_a_positive_integer(length: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match="MaxLength"):
        MaxLength(length)


@pytest.mark.parametrize(
    ("precision", "scale"),
    [(0, 0), (MAX_DECIMAL_PRECISION + 1, 2), (5, 6), (5, -1)],
)
def test_numeric_precision_and_scale_are_bounded(precision: int, scale: int) -> None:
    with pytest.raises(InvalidTableDefinition, match="Numeric"):
        Numeric(precision, scale)


def test_numeric_accepts_the_maximum_precision() -> None:
    assert Numeric(MAX_DECIMAL_PRECISION, 0).precision == MAX_DECIMAL_PRECISION


def test_every_kind_but_json_is_ordered() -> None:
    assert [k for k in Kind if not FieldType(k).ordered] == [Kind.JSON]


def test_only_str_is_textual() -> None:
    assert [k for k in Kind if FieldType(k).textual] == [Kind.STR]
