"""Value kinds (repokit.kinds): one descriptor per Kind, which core reads instead of the kind.

A new :class:`Kind` member needs its descriptor in ``KINDS`` and a sample here
(CONTRIBUTING.md, "Adding a value kind").
"""

import copy
import enum
import json
import pickle
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from repokit import types
from repokit.kinds import KINDS, Kind, ValueKind
from repokit.types import FieldType
from repokit.values import Rejected, converter, normalize_value


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


#: Per kind: a field type and a storage-normal value of it.
SAMPLES: dict[Kind, tuple[FieldType, Any]] = {
    Kind.STR: (FieldType(Kind.STR, max_length=20), 'tenant ✓ "quoted"'),
    Kind.INT: (FieldType(Kind.INT), -(2**63)),
    Kind.FLOAT: (FieldType(Kind.FLOAT), 0.1),
    Kind.BOOL: (FieldType(Kind.BOOL), False),
    Kind.DECIMAL: (FieldType(Kind.DECIMAL, precision=5, scale=2), Decimal("-12.30")),
    Kind.DATETIME: (FieldType(Kind.DATETIME), datetime(1969, 7, 20, 20, 17, 40, 123_000, UTC)),
    Kind.DATE: (FieldType(Kind.DATE), date(1, 1, 1)),
    Kind.UUID: (FieldType(Kind.UUID), uuid.UUID(int=2**128 - 1)),
    Kind.ENUM: (FieldType(Kind.ENUM, enum=Color), "blue"),
    Kind.JSON: (FieldType(Kind.JSON), {"a": [1, "x", None, 2.5]}),
}


def test_every_kind_has_a_descriptor_of_its_own() -> None:
    assert set(KINDS) == set(Kind)
    for kind, descriptor in KINDS.items():
        assert descriptor.kind is kind


def test_the_samples_cover_every_kind() -> None:
    assert set(SAMPLES) == set(Kind)


def test_types_reexports_the_same_kind() -> None:
    assert types.Kind is Kind


def test_field_types_read_their_kinds_descriptor() -> None:
    for kind, (ftype, _value) in SAMPLES.items():
        assert ftype.value_kind is KINDS[kind]
        assert ftype.ordered is KINDS[kind].ordered
        assert ftype.textual is KINDS[kind].textual


def test_a_copied_or_unpickled_field_type_holds_the_registered_descriptor() -> None:
    ftype = FieldType(Kind.DECIMAL, precision=5, scale=2)
    for other in (copy.deepcopy(ftype), pickle.loads(pickle.dumps(ftype))):
        assert other == ftype
        assert other.value_kind is KINDS[Kind.DECIMAL]


@pytest.mark.parametrize("kind", [k for k in Kind if KINDS[k].ordered], ids=lambda k: k.value)
def test_each_descriptor_round_trips_a_cursor_value(kind: Kind) -> None:
    ftype, value = SAMPLES[kind]
    descriptor = KINDS[kind]
    raw = json.loads(json.dumps(descriptor.to_cursor(value)))  # what a cursor carries
    decoded = descriptor.from_cursor(ftype, raw)
    assert decoded == value
    assert type(decoded) is type(value)


def test_an_unordered_kind_is_never_read_from_a_cursor() -> None:
    # JSON sorts nowhere, so no cursor holds it: decoding one is a malformed cursor.
    ftype, value = SAMPLES[Kind.JSON]
    with pytest.raises(KeyError):
        KINDS[Kind.JSON].from_cursor(ftype, value)


@pytest.mark.parametrize("kind", [k for k in Kind if KINDS[k].ordered], ids=lambda k: k.value)
def test_a_cursor_value_of_the_wrong_json_type_is_refused(kind: Kind) -> None:
    ftype, _value = SAMPLES[kind]
    with pytest.raises(ValueError, match=r"expected|is not a valid"):
        KINDS[kind].from_cursor(ftype, [])


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_the_normaliser_gives_the_normal_form(kind: Kind) -> None:
    ftype, value = SAMPLES[kind]
    given = Color(value) if kind is Kind.ENUM else value  # an enum's normal form is its value
    assert converter(ftype)(given) == value
    assert normalize_value("E", "f", ftype, given) == value


def test_kinds_normalised_alike_for_every_field_type_share_one_normaliser() -> None:
    # converter() is a lookup for them, not a build: tables and columns call it per field.
    for kind, (ftype, _value) in SAMPLES.items():
        if KINDS[kind].normalise is not None:
            assert converter(ftype) is converter(FieldType(kind, nullable=True))


def test_a_descriptor_has_exactly_one_normaliser() -> None:
    base = KINDS[Kind.INT]
    with pytest.raises(TypeError, match="exactly one"):
        ValueKind(
            kind=Kind.INT,
            annotations=(),
            to_cursor=base.to_cursor,
            from_cursor=base.from_cursor,
            size=base.size,
        )
    with pytest.raises(TypeError, match="exactly one"):
        ValueKind(
            kind=Kind.INT,
            annotations=(),
            normalise=base.normalise,
            make_normaliser=lambda ftype: base.normalise or converter(ftype),
            to_cursor=base.to_cursor,
            from_cursor=base.from_cursor,
            size=base.size,
        )


def test_no_annotation_type_declares_two_kinds() -> None:
    annotations = [a for descriptor in KINDS.values() for a in descriptor.annotations]
    assert len(annotations) == len(set(annotations))


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.value)
def test_each_size_plan_measures_a_value(kind: Kind) -> None:
    ftype, value = SAMPLES[kind]
    bound, fixed, exact = KINDS[kind].size(ftype)
    assert bound in (0, 1, 2)
    assert exact(value) >= 1
    assert bound != 0 or exact(value) <= fixed  # a fixed size bounds every value


def test_the_kinds_that_take_operands_off_the_grid_floor_them() -> None:
    ftype, _value = SAMPLES[Kind.DECIMAL]
    on_grid = KINDS[Kind.DECIMAL].on_grid
    assert on_grid is not None
    assert on_grid(ftype)(Decimal("1.005")) == (Decimal("1.00"), False)
    with pytest.raises(Rejected, match=r"outside NUMERIC\(5, 2\)"):
        on_grid(ftype)(Decimal("-999.995"))
    on_grid = KINDS[Kind.DATETIME].on_grid
    assert on_grid is not None
    fine = datetime(2024, 1, 1, 0, 0, 0, 500, UTC)
    assert on_grid(SAMPLES[Kind.DATETIME][0])(fine) == (datetime(2024, 1, 1, tzinfo=UTC), False)
