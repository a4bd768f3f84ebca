"""Table definitions (checked at definition time) and the entity <-> row conversion."""

import copy
import enum
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit.conditions import TRUE, Compare, IsNull, Not, Op
from repokit.errors import InvalidQuery, InvalidTableDefinition, InvalidValue, UnsupportedOperation
from repokit.tables import (
    SHADOW_SUFFIX,
    Index,
    StatusMarker,
    Table,
    TimestampMarker,
    Unique,
)
from repokit.testing.schema import Item, ItemId, Level, Status, items, labels, notes
from repokit.types import Kind


class Phase(enum.StrEnum):
    OPEN = "open"
    GONE = "gone"


@dataclass(frozen=True)
class Doc:
    id: int
    name: str
    title: str | None = None
    payload: dict[str, Any] | None = None
    phase: Phase = Phase.OPEN
    deleted_at: datetime | None = None
    created: datetime | None = None
    rev: int = 0
    maybe_rev: int | None = None
    ratio: float = 0.0


@dataclass
class Mutable:
    id: int


class NotADataclass:
    id: int


@dataclass(frozen=True)
class NoFields:
    pass


@dataclass(frozen=True)
class BadFieldType:
    id: int
    blob: bytes


@dataclass(frozen=True)
class ShadowNamed:
    id: int
    name__casefold: str


@dataclass(frozen=True)
class Unresolvable:
    id: int
    other: "DoesNotExist"  # type: ignore[name-defined]  # noqa: F821


@dataclass(frozen=True)
class NullableKey:
    id: int | None


@dataclass(frozen=True)
class Derived:
    id: int
    computed: int = field(default=0, init=False)


@dataclass(frozen=True)
class Stamped:
    id: int
    at: datetime


def doc_table(**options: Any) -> Table[Doc]:
    options.setdefault("primary_key", "id")
    return Table(Doc, "docs", **options)


def refused(match: str, **options: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match=match):
        doc_table(**options)


# -- definition errors --------------------------------------------------------------------------


def test_an_entity_must_be_a_dataclass() -> None:
    with pytest.raises(
        InvalidTableDefinition, match="NotADataclass: an entity must be a dataclass"
    ):
        Table(NotADataclass, "things", primary_key="id")


def test_a_dataclass_instance_is_not_an_entity_type() -> None:
    with pytest.raises(InvalidTableDefinition, match="must be a dataclass type"):
        Table(Doc(1, "a"), "things", primary_key="id")  # type: ignore[arg-type]


def test_an_entity_must_be_frozen() -> None:
    with pytest.raises(InvalidTableDefinition, match="Mutable: an entity must be a frozen"):
        Table(Mutable, "things", primary_key="id")


def test_an_entity_needs_a_field() -> None:
    with pytest.raises(InvalidTableDefinition, match="NoFields: an entity needs at least one"):
        Table(NoFields, "things", primary_key="id")


def test_an_unsupported_field_type_names_entity_and_field() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"BadFieldType\.blob: unsupported type"):
        Table(BadFieldType, "things", primary_key="id")


def test_unresolvable_annotations_are_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match="Unresolvable: cannot resolve annotations"):
        Table(Unresolvable, "things", primary_key="id")


def test_an_init_false_field_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Derived\.computed: an init=False field"):
        Table(Derived, "derived", primary_key="id")


def test_a_field_named_like_a_shadow_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"ShadowNamed\.name__casefold"):
        Table(ShadowNamed, "things", primary_key="id")


@pytest.mark.parametrize("name", ["", "1docs", "docs-x", "d" * 64, "_docs", "dö", None, 5])
def test_bad_table_names_are_refused(name: Any) -> None:
    with pytest.raises(InvalidTableDefinition, match="Doc: invalid table name"):
        Table(Doc, name, primary_key="id")


def test_a_63_character_table_name_is_accepted() -> None:
    assert Table(Doc, "d" * 63, primary_key="id").name == "d" * 63


def test_an_unknown_primary_key_is_refused() -> None:
    refused(r"Doc\.nope: the primary key is not a field", primary_key="nope")


def test_a_non_str_primary_key_name_is_refused() -> None:
    refused(r"Doc\.5: the primary key is not a field", primary_key=5)


def test_a_nullable_primary_key_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"NullableKey\.id: the primary key must be"):
        Table(NullableKey, "things", primary_key="id")


@pytest.mark.parametrize("key", ["payload", "ratio"])
def test_json_and_float_primary_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidTableDefinition, match=rf"Doc\.{key}: the primary key must be"):
        Table(Doc, "docs", primary_key=key)


def test_a_unique_key_on_an_unknown_field_is_refused() -> None:
    refused(r"Doc\.nope: unique names an unknown field", unique=[("name", "nope")])


def test_a_unique_key_on_a_json_field_is_refused() -> None:
    refused(r"Doc\.payload: unique cannot include a JSON field", unique=[("payload",)])


def test_an_empty_unique_key_is_refused() -> None:
    refused("Doc: unique takes a non-empty tuple", unique=[()])


def test_a_unique_key_given_as_a_string_is_refused() -> None:
    refused("Doc: unique takes a non-empty tuple", unique=["name"])


def test_unique_given_as_a_string_is_refused() -> None:
    refused(r"Doc\.name: unique takes a collection", unique="name")


def test_a_unique_key_that_is_not_a_sequence_is_refused() -> None:
    refused("Doc: unique takes a non-empty tuple", unique=[5])


def test_a_unique_spec_with_a_string_is_refused() -> None:
    refused("Doc: unique takes a non-empty tuple", unique=[Unique("name")])  # type: ignore[arg-type]


def test_an_index_on_an_unknown_field_is_refused() -> None:
    refused(r"Doc\.nope: index names an unknown field", indexes=[("nope",)])


def test_indexes_given_as_a_string_is_refused() -> None:
    refused(r"Doc\.name: indexes takes a collection", indexes="name")


def test_an_index_with_a_non_str_field_name_is_refused() -> None:
    refused(r"Doc\.1: index names an unknown field", indexes=[(1,)])


def test_ignore_case_on_an_unknown_field_is_refused() -> None:
    refused(r"Doc\.nope: ignore_case names an unknown field", ignore_case=["nope"])


def test_ignore_case_on_a_non_str_field_is_refused() -> None:
    refused(r"Doc\.rev: ignore_case applies to str fields only", ignore_case=["rev"])


def test_ignore_case_given_as_a_string_is_refused() -> None:
    refused(r"Doc\.name: ignore_case takes a collection", ignore_case="name")


def test_an_unknown_version_field_is_refused() -> None:
    refused(r"Doc\.nope: the version field is not a field", version="nope")


@pytest.mark.parametrize("version", ["maybe_rev", "name", "ratio"])
def test_the_version_field_must_be_a_non_null_int(version: str) -> None:
    refused(rf"Doc\.{version}: the version field must be a non-null int", version=version)


def test_a_marker_on_an_unknown_field_is_refused() -> None:
    refused(
        r"Doc\.nope: the soft-delete marker is not a field", soft_delete=TimestampMarker("nope")
    )


def test_a_timestamp_marker_on_a_non_nullable_datetime_is_refused() -> None:
    with pytest.raises(InvalidTableDefinition, match=r"Stamped\.at: a timestamp marker"):
        Table(Stamped, "stamped", primary_key="id", soft_delete=TimestampMarker("at"))


@pytest.mark.parametrize("marker_field", ["name", "rev"])
def test_a_timestamp_marker_on_a_non_datetime_is_refused(marker_field: str) -> None:
    refused(rf"Doc\.{marker_field}: a timestamp marker", soft_delete=TimestampMarker(marker_field))


def test_a_status_marker_value_of_the_wrong_type_is_refused() -> None:
    refused(
        r"Doc\.phase: status marker value 'gone'",
        soft_delete=StatusMarker("phase", deleted="gone", restored=Phase.OPEN),
    )


def test_a_status_marker_needs_different_deleted_and_restored_values() -> None:
    refused(
        r"Doc\.phase: the deleted and restored values must differ",
        soft_delete=StatusMarker("phase", deleted=Phase.GONE, restored=Phase.GONE),
    )


def test_a_soft_delete_that_is_not_a_marker_is_refused() -> None:
    refused("Doc: unknown soft-delete marker 'deleted_at'", soft_delete="deleted_at")


def test_a_unique_key_among_live_entities_needs_a_marker() -> None:
    refused(
        "Doc: a unique key among live entities needs a soft-delete marker",
        unique=[Unique(("name",), among_live=True)],
    )


def test_invalid_table_definition_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        doc_table(primary_key="nope")


# -- the schema a table exposes -----------------------------------------------------------------


def test_declared_fields_keep_declaration_order() -> None:
    assert doc_table().declared == (
        "id",
        "name",
        "title",
        "payload",
        "phase",
        "deleted_at",
        "created",
        "rev",
        "maybe_rev",
        "ratio",
    )


def test_an_ignore_case_field_gets_a_str_shadow_of_the_same_nullability() -> None:
    table = doc_table(ignore_case=["name", "title"])
    shadow = table.fields["title" + SHADOW_SUFFIX]
    assert (shadow.type.kind, shadow.type.nullable, shadow.shadow_of) == (Kind.STR, True, "title")
    assert table.fields["name__casefold"].type.nullable is False
    assert table.shadows == {"name": "name__casefold", "title": "title__casefold"}


def test_shadows_come_after_the_declared_fields() -> None:
    assert list(doc_table(ignore_case=["name"]).fields)[-1] == "name__casefold"


def test_a_field_listed_twice_in_ignore_case_gets_one_shadow() -> None:
    assert list(doc_table(ignore_case=["name", "name"]).shadows) == ["name"]


def test_constraints_get_deterministic_names() -> None:
    table = doc_table(unique=[("name", "rev")], indexes=[("phase",)])
    assert table.unique[0].name == "uq_docs_name_rev"
    assert table.indexes[0].name == "ix_docs_phase"


def test_long_constraint_names_are_shortened_with_a_digest() -> None:
    fields = ("name", "title", "phase", "deleted_at", "created", "maybe_rev")
    name = doc_table(indexes=[fields]).indexes[0].name
    assert len(name) <= 60
    assert name.startswith("ix_docs_name_title")
    assert name != doc_table(indexes=[(*fields[:-1], "rev")]).indexes[0].name


def test_explicit_constraint_names_are_kept() -> None:
    table = doc_table(unique=[Unique(("name",), name="my_uq")], indexes=[Index(("rev",), "my_ix")])
    assert (table.unique[0].name, table.indexes[0].name) == ("my_uq", "my_ix")


def test_a_unique_key_among_live_entities_carries_the_live_condition() -> None:
    table = doc_table(
        unique=[Unique(("name",), among_live=True), ("rev",)],
        soft_delete=TimestampMarker("deleted_at"),
    )
    assert table.unique[0].where == table.live_condition()
    assert table.unique[1].where is None


def test_columns_by_attribute_and_by_item_are_the_same() -> None:
    assert items.c.name is items.c["name"]


def test_an_unknown_column_attribute_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="rk_items has no field 'nope'"):
        _ = items.c.nope


def test_an_unknown_column_item_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="rk_items has no field 'nope'"):
        _ = items.c["nope"]


def test_shadow_fields_are_not_columns() -> None:
    assert "name__casefold" not in [column.name for column in items.c]
    with pytest.raises(InvalidQuery):
        _ = items.c["name__casefold"]


def test_private_names_on_columns_are_attribute_errors() -> None:
    assert not hasattr(items.c, "__deepcopy_me__")


def test_a_table_can_be_deep_copied() -> None:
    assert copy.deepcopy(items).c.name.shadow == "name__casefold"


def test_a_column_knows_its_shadow() -> None:
    assert (items.c.name.shadow, items.c.tenant.shadow) == ("name__casefold", None)


# -- soft delete --------------------------------------------------------------------------------


def test_a_status_marker_live_condition_is_status_not_deleted() -> None:
    assert items.live_condition() == Compare("rk_items", "status", Op.NE, "deleted")


def test_a_timestamp_marker_live_condition_is_marker_is_null() -> None:
    assert notes.live_condition() == IsNull("rk_notes", "deleted_at")


def test_without_a_marker_every_entity_is_live() -> None:
    assert labels.live_condition() is TRUE


def test_the_deleted_condition_is_the_complement_of_the_live_one() -> None:
    assert notes.deleted_condition() == Not(IsNull("rk_notes", "deleted_at"))


def test_status_deleted_and_restored_values_are_normalised() -> None:
    assert (items.deleted_values(), items.restored_values()) == (
        {"status": "deleted"},
        {"status": "active"},
    )


def test_timestamp_deleted_value_is_now_floored_to_milliseconds() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=1)))
    assert notes.deleted_values(now) == {
        "deleted_at": datetime(2024, 5, 1, 11, 0, 0, 123_000, tzinfo=UTC)
    }


def test_timestamp_restored_value_is_null() -> None:
    assert notes.restored_values() == {"deleted_at": None}


def test_a_table_without_a_marker_cannot_soft_delete() -> None:
    with pytest.raises(UnsupportedOperation, match="Label has no soft-delete marker"):
        labels.deleted_values()


def test_a_table_without_a_marker_cannot_restore() -> None:
    with pytest.raises(UnsupportedOperation):
        labels.restored_values()


# -- rows ---------------------------------------------------------------------------------------

ITEM = Item(
    id=ItemId(uuid.UUID(int=7)),
    tenant="t",
    name="Straße",
    status=Status.ARCHIVED,
    price=Decimal("1.5"),
    level=Level.HIGH,
    at=datetime(2024, 1, 1, 12, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=-3))),
    day=date(2024, 1, 2),
    data={"k": [1, -0.0]},
    ratio=-0.0,
)


def test_to_row_normalises_every_field_and_adds_shadows() -> None:
    row = items.to_row(ITEM)
    assert row["status"] == "archived"
    assert row["level"] == 3
    assert str(row["price"]) == "1.50"
    assert row["at"] == datetime(2024, 1, 1, 15, 0, 0, 999_000, tzinfo=UTC)
    assert row["name__casefold"] == "strasse"
    assert row["code"] is None
    assert set(row) == set(items.fields)


def test_to_row_of_a_null_ignore_case_field_has_a_null_shadow() -> None:
    table = doc_table(ignore_case=["title"])
    assert table.to_row(Doc(1, "a"))["title__casefold"] is None


def test_to_row_refuses_another_type() -> None:
    with pytest.raises(InvalidValue, match=r"Item\.\*: .*expected a Item, got Label") as info:
        items.to_row(labels.entity("k", "t"))  # type: ignore[arg-type]
    assert info.value.field == "*"


def test_to_row_names_the_field_of_an_invalid_value() -> None:
    with pytest.raises(InvalidValue) as info:
        items.to_row(Item(id=ItemId(uuid.uuid4()), tenant="t", name="x" * 65))
    assert (info.value.entity, info.value.field) == ("Item", "name")


def test_from_row_decodes_enums_to_members() -> None:
    entity = items.from_row(items.to_row(ITEM))
    assert (entity.status, entity.level) == (Status.ARCHIVED, Level.HIGH)


def test_from_row_of_to_row_is_the_normalised_entity() -> None:
    assert items.from_row(items.to_row(ITEM)) == Item(
        id=ITEM.id,
        tenant="t",
        name="Straße",
        status=Status.ARCHIVED,
        price=Decimal("1.50"),
        level=Level.HIGH,
        at=datetime(2024, 1, 1, 15, 0, 0, 999_000, tzinfo=UTC),
        day=date(2024, 1, 2),
        data={"k": [1, 0.0]},
        ratio=0.0,
    )


def test_from_row_reads_missing_fields_as_none() -> None:
    entity = items.from_row(
        {"id": ITEM.id, "tenant": "t", "name": "n", "status": "active", "version": 0}
    )
    assert (entity.code, entity.level, entity.data) == (None, None, None)


def test_from_row_ignores_shadow_fields() -> None:
    row = items.to_row(ITEM) | {"name__casefold": "something else"}
    assert items.from_row(row).name == "Straße"


def test_normalize_values_adds_the_shadow_of_an_ignore_case_field() -> None:
    assert items.normalize_values({"name": "ÉCOLE"}) == {"name": "ÉCOLE", "name__casefold": "école"}


def test_normalize_values_refuses_an_unknown_field() -> None:
    with pytest.raises(InvalidQuery, match="Item has no field 'nope'"):
        items.normalize_values({"nope": 1})


def test_normalize_values_refuses_writing_a_shadow_directly() -> None:
    with pytest.raises(InvalidQuery):
        items.normalize_values({"name__casefold": "x"})


def test_normalize_refuses_null_in_a_non_nullable_field() -> None:
    with pytest.raises(InvalidValue, match=r"Item\.tenant: .*not nullable"):
        items.normalize("tenant", None)


def test_check_condition_accepts_own_fields_and_shadows() -> None:
    condition = items.c.name.eq("x", ignore_case=True) & (items.c.tenant == "t")
    assert items.check_condition(condition) is condition


def test_check_condition_refuses_another_tables_condition() -> None:
    with pytest.raises(InvalidQuery, match=r"rk_notes\.tenant used with table rk_items"):
        items.check_condition(notes.c.tenant == "t")


@given(
    name=st.text(min_size=1, max_size=64),
    score=st.none() | st.integers(-(2**63), 2**63 - 1),
    ratio=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    price=st.none() | st.decimals(min_value=-(10**9), max_value=10**9, places=2),
    at=st.none() | st.datetimes(timezones=st.just(UTC)),
    level=st.none() | st.sampled_from(Level),
    data=st.none() | st.dictionaries(st.text(), st.integers(-5, 5), max_size=3),
)
def test_row_round_trip_is_stable(**values: Any) -> None:
    try:
        entity = Item(id=ItemId(uuid.uuid4()), tenant="t", **values)
        row = items.to_row(entity)
    except InvalidValue:
        return
    assert items.to_row(items.from_row(row)) == row


# -- entity construction: every kind of dataclass __init__ gets the row's values by name ---------


@dataclass(frozen=True, slots=True)
class Single:
    id: int


@dataclass(frozen=True, kw_only=True)
class KeywordOnly:
    id: int
    name: str


@dataclass(frozen=True, init=False)
class OwnInit:
    id: int
    name: str

    def __init__(self, name: str, id: int) -> None:  # the other order
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "name", name)


@dataclass(frozen=True)
class OwnNew:
    id: int
    name: str

    def __new__(cls, *args: Any, **kwargs: Any) -> "OwnNew":
        assert not args, "built by keyword"
        return super().__new__(cls)


@pytest.mark.parametrize("entity", [KeywordOnly, OwnInit, OwnNew])
def test_from_row_builds_an_entity_whose_init_is_not_the_generated_one(entity: type[Any]) -> None:
    table = Table(entity, "things", primary_key="id")
    built = table.from_row({"id": 1, "name": "n"})
    assert (type(built), built.id, built.name) == (entity, 1, "n")


def test_from_row_of_a_single_field_entity() -> None:
    table = Table(Single, "singles", primary_key="id")
    assert table.from_row(table.to_row(Single(7))) == Single(7)
    assert table.from_row({}) == Single(None)  # type: ignore[arg-type]


def test_from_row_reads_a_missing_field_of_a_dict_subclass_as_none() -> None:
    row: defaultdict[str, Any] = defaultdict(lambda: "default", {"id": 1, "name": "n"})
    assert doc_table().from_row(row).title is None


def test_from_row_accepts_any_mapping() -> None:
    row = MappingProxyType(doc_table().to_row(Doc(1, "n")))
    assert doc_table().from_row(row) == Doc(1, "n")


def test_from_row_decodes_enums_of_a_row_with_missing_fields() -> None:
    entity = doc_table().from_row({"id": 1, "name": "n", "phase": "gone"})
    assert (entity.phase, entity.title) == (Phase.GONE, None)


def test_from_row_refuses_an_unknown_stored_enum_value_as_the_enum_does() -> None:
    with pytest.raises(ValueError, match="'nope' is not a valid Phase"):
        doc_table().from_row({"id": 1, "name": "n", "phase": "nope"})


def test_from_row_decodes_through_an_enums_missing_hook() -> None:
    class Tone(enum.Enum):
        LOW = "low"

        @classmethod
        def _missing_(cls, value: object) -> "Tone | None":
            return cls.LOW if value == "LOW" else None

    @dataclass(frozen=True)
    class Sound:
        id: int
        tone: Tone

    table = Table(Sound, "sounds", primary_key="id")
    assert table.from_row({"id": 1, "tone": "LOW"}).tone is Tone.LOW


def test_to_row_names_the_first_invalid_field_in_declaration_order() -> None:
    with pytest.raises(InvalidValue) as info:
        doc_table().to_row(Doc(1, None, rev=None))  # type: ignore[arg-type]
    assert (info.value.field, info.value.reason) == ("name", "the field is not nullable")


def test_normalize_values_checks_values_in_the_order_given() -> None:
    with pytest.raises(InvalidValue, match=r"Doc\.rev: "):
        doc_table().normalize_values({"rev": "x", "nope": 1})
    with pytest.raises(InvalidQuery):
        doc_table().normalize_values({"nope": 1, "rev": "x"})


# -- hostile values: a bounded InvalidValue, whatever the value's size or depth ------------------


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = {"a": value}
    return value


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("unprintable")


class _Recursive:
    def __repr__(self) -> str:
        return f"<{self!r}>"


@pytest.mark.parametrize("levels", [65, 1_000, 10_000, 100_000])
def test_json_nested_too_deep_is_an_invalid_value_with_a_bounded_message(levels: int) -> None:
    entity = Item(ItemId(uuid.uuid4()), "t", "n", data=_nested(levels))
    with pytest.raises(InvalidValue, match="deeper than 64") as raised:
        items.to_row(entity)
    assert raised.value.field == "data"
    assert len(str(raised.value)) < 600
    with pytest.raises(InvalidValue, match="deeper than 64") as raised:
        items.normalize_values({"data": _nested(levels)})
    assert len(str(raised.value)) < 600


@pytest.mark.parametrize("value", [_Unprintable(), _Recursive()], ids=["raises", "recurses"])
def test_a_value_whose_repr_fails_is_an_invalid_value(value: Any) -> None:
    with pytest.raises(InvalidValue, match=r"Item\.name: invalid value <_") as raised:
        items.to_row(Item(ItemId(uuid.uuid4()), "t", value))
    assert len(str(raised.value)) < 600
    with pytest.raises(InvalidValue, match=r"Item\.data: invalid value \{'k': <_"):
        items.normalize_values({"data": {"k": value}})


def test_an_entity_of_the_wrong_type_with_a_deep_field_is_an_invalid_value() -> None:
    @dataclass(frozen=True)
    class Other:
        data: Any

    with pytest.raises(InvalidValue, match="expected a Item, got Other") as raised:
        items.to_row(Other(_nested(10_000)))  # type: ignore[arg-type]
    assert len(str(raised.value)) < 600


def test_an_unknown_field_name_of_a_million_characters_is_named_briefly() -> None:
    with pytest.raises(InvalidQuery, match="has no field") as raised:
        items.normalize_values({"x" * 10**6: 1})
    assert len(str(raised.value)) < 400


def test_constraint_names_are_stable() -> None:
    """The names are in users' databases: the default ones, and SQL's at 63 characters."""
    from repokit.tables import constraint_name

    assert constraint_name("uq", "items", ("tenant", "name")) == "uq_items_tenant_name"
    assert constraint_name("pk", "items", ()) == "pk_items"
    long_fields = ("a_rather_long_field_name", "another_rather_long_field_name")
    assert constraint_name("uq", "projects", long_fields) == (
        "uq_projects_a_rather_long_field_name_another_rath_ebe82ea9a5"
    )
    assert constraint_name("ix", "projects", long_fields, limit=63) == (
        "ix_projects_a_rather_long_field_name_another_rather__329da47099"
    )
    assert len(constraint_name("ix", "t", ("x" * 200,), limit=None)) == 205


# -- composite primary keys and null-equal unique keys (CONTRACT §22) --------------------------


def test_a_composite_key_needs_distinct_non_null_keyable_fields() -> None:
    refused(r"Doc\.id: a field appears twice in the primary key", primary_key=("id", "id"))
    refused(r"Doc\.title: the primary key must be a non-null", primary_key=("id", "title"))
    refused(r"Doc\.ratio: the primary key must be a non-null", primary_key=("id", "ratio"))
    refused(r"Doc\.nope: the primary key is not a field", primary_key=("id", "nope"))
    refused(r"the primary key is not a field", primary_key=())


def test_a_composite_key_type_is_a_tuple_of_the_fields_types() -> None:
    table = Table(Doc, "docs", primary_key=("id", "name"), key_type=tuple[int, str])
    assert table.key_fields == ("id", "name")
    assert table.composite_key
    refused(r"does not match the composite primary key", primary_key=("id", "name"), key_type=int)
    refused(
        r"Doc\.name: key_type=int does not match",
        primary_key=("id", "name"),
        key_type=tuple[int, int],
    )


def test_the_key_helpers_of_a_composite_key() -> None:
    table = Table(Doc, "docs", primary_key=("id", "name"))
    assert table.normalize_key([1, "a"]) == (1, "a")
    assert table.key_of({"id": 1, "name": "a", "title": None}) == (1, "a")
    assert table.key_condition((1, "a")) == (table.c.id == 1) & (table.c.name == "a")
    for bad, named in (
        ((1,), "(id, name)"),
        (1, "(id, name)"),
        ((1, None), "name"),
        (("x", "a"), "id"),
    ):
        with pytest.raises(InvalidValue) as raised:
            table.normalize_key(bad)
        assert raised.value.field == named
    with pytest.raises(UnsupportedOperation, match="composite primary key"):
        _ = table.primary_key


def test_a_one_field_key_keeps_its_primary_key_and_scalar_keys() -> None:
    assert (items.key_fields, items.primary_key, items.composite_key) == (("id",), "id", False)
    assert labels.key_of({"key": "k", "tenant": "t"}) == "k"


def test_nulls_takes_distinct_or_equal() -> None:
    table = Table(Doc, "docs", primary_key="id", unique=[Unique(("title",), nulls="equal")])
    assert table.unique[0].nulls_equal
    refused(r"nulls takes 'distinct' or 'equal'", unique=[Unique(("title",), nulls="same")])  # type: ignore[arg-type]
