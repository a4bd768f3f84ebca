"""Condition construction: operators, null folding, operand checks and grid rewriting."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from repokit.conditions import (
    FALSE,
    MAX_CONDITION_DEPTH,
    TRUE,
    And,
    Compare,
    Condition,
    In,
    IsNull,
    Match,
    MatchKind,
    Not,
    Op,
    Or,
    Order,
    and_,
    not_,
    or_,
)
from repokit.errors import InvalidQuery
from repokit.testing.schema import Level, Status, items

c = items.c
T = "rk_items"
AT = datetime(2024, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
AT_MICROS = AT + timedelta(microseconds=250)
A = Compare(T, "score", Op.EQ, 1)
B = Compare(T, "score", Op.EQ, 2)
C = Compare(T, "score", Op.EQ, 3)


# -- operators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "op"),
    [
        (lambda: c.score == 5, Op.EQ),
        (lambda: c.score != 5, Op.NE),
        (lambda: c.score < 5, Op.LT),
        (lambda: c.score <= 5, Op.LE),
        (lambda: c.score > 5, Op.GT),
        (lambda: c.score >= 5, Op.GE),
    ],
)
def test_comparison_operators_build_compare_nodes(build: Any, op: Op) -> None:
    assert build() == Compare(T, "score", op, 5)


def test_reflected_comparison_builds_the_mirrored_node() -> None:
    assert (c.score > 5) == Compare(T, "score", Op.GT, 5)


def test_eq_none_is_is_null() -> None:
    assert (c.code == None) == IsNull(T, "code")  # noqa: E711


def test_ne_none_is_not_is_null() -> None:
    assert (c.code != None) == Not(IsNull(T, "code"))  # noqa: E711


def test_is_null_and_is_not_null_methods() -> None:
    assert (c.code.is_null(), c.code.is_not_null()) == (IsNull(T, "code"), Not(IsNull(T, "code")))


def test_eq_method_without_ignore_case_is_the_operator() -> None:
    assert c.score.eq(3) == (c.score == 3)


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__"])
def test_ordering_against_none_is_an_invalid_query(op: str) -> None:
    with pytest.raises(InvalidQuery, match=r"Item\.score: invalid operand None"):
        getattr(c.score, op)(None)


def test_a_condition_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        bool(c.score == 1)


def test_python_and_between_conditions_raises() -> None:
    with pytest.raises(TypeError):
        _ = (c.score == 1) and (c.score == 2)


def test_fields_lists_every_field_read() -> None:
    condition = (c.score == 1) & ~((c.code == None) | c.name.contains("x"))  # noqa: E711
    assert sorted(condition.fields()) == [(T, "code"), (T, "name"), (T, "score")]


def test_constants_read_no_fields() -> None:
    assert list(TRUE.fields()) == []


def test_constants_repr_as_their_names() -> None:
    assert (repr(TRUE), repr(FALSE)) == ("TRUE", "FALSE")


def test_a_column_reprs_as_its_reference() -> None:
    assert repr(c.score) == "rk_items.c.score"


def test_columns_are_hashable_despite_overloading_eq() -> None:
    assert len({c.score, c.name, c.score}) == 2


# -- operand normalisation and type checks ------------------------------------------------------


def test_enum_operand_becomes_its_value() -> None:
    assert (c.status == Status.ACTIVE) == Compare(T, "status", Op.EQ, "active")


def test_int_enum_operand_orders_by_its_value() -> None:
    assert (c.level < Level.HIGH) == Compare(T, "level", Op.LT, 3)


def test_datetime_operand_is_converted_to_utc() -> None:
    plus1 = timezone(timedelta(hours=1))
    assert (c.at == datetime(2024, 1, 1, 13, tzinfo=plus1)) == Compare(
        T, "at", Op.EQ, datetime(2024, 1, 1, 12, tzinfo=UTC)
    )


def test_int_operand_on_a_float_field_becomes_float() -> None:
    node = c.ratio == 1
    assert isinstance(node, Compare)
    assert type(node.value) is float


def test_negative_zero_operand_becomes_zero() -> None:
    node = c.ratio == -0.0
    assert isinstance(node, Compare)
    assert str(node.value) == "0.0"


def test_int_operand_on_a_decimal_field_is_quantised() -> None:
    assert (c.price == 3) == Compare(T, "price", Op.EQ, Decimal("3.00"))


def test_an_operand_longer_than_max_length_is_allowed() -> None:
    assert (c.name == "x" * 100) == Compare(T, "name", Op.EQ, "x" * 100)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("score", "5"),
        ("score", True),
        ("score", 1.0),
        ("score", 2**63),
        ("flag", 1),
        ("ratio", True),
        ("ratio", Decimal("1.5")),
        ("ratio", float("nan")),
        ("price", 1.5),
        ("price", True),
        ("status", "active"),
        ("level", 1),
        ("at", datetime(2024, 1, 1)),
        ("at", date(2024, 1, 1)),
        ("day", datetime(2024, 1, 1, tzinfo=UTC)),
        ("ref", "00000000-0000-0000-0000-000000000000"),
        ("name", 5),
        ("name", "a\x00b"),
        ("id", uuid.UUID(int=1).hex),
    ],
)
def test_an_operand_of_another_type_is_an_invalid_query(field: str, value: Any) -> None:
    with pytest.raises(InvalidQuery, match=rf"Item\.{field}: invalid operand"):
        _ = c[field] == value


def test_invalid_query_is_a_value_error() -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        _ = c.score == "x"


def test_a_json_field_can_be_tested_for_null() -> None:
    assert (c.data == None) == IsNull(T, "data")  # noqa: E711


def test_a_json_field_cannot_be_compared_to_a_value() -> None:
    with pytest.raises(InvalidQuery, match="JSON fields can only be tested for null"):
        _ = c.data == {"a": 1}


def test_a_json_field_cannot_be_ordered() -> None:
    with pytest.raises(InvalidQuery, match="needs an ordered type"):
        _ = c.data < {"a": 1}


def test_a_json_field_cannot_be_sorted() -> None:
    with pytest.raises(InvalidQuery, match="cannot sort by a JSON field"):
        c.data.asc()


# -- in_ / not_in -------------------------------------------------------------------------------


def test_in_builds_an_in_node_without_duplicates_in_first_seen_order() -> None:
    assert c.score.in_([3, 1, 3, 2]) == In(T, "score", (3, 1, 2))


def test_in_of_nothing_is_false() -> None:
    assert c.score.in_([]) is FALSE


def test_not_in_of_nothing_is_true() -> None:
    assert c.score.not_in([]) is TRUE


def test_in_with_only_none_is_is_null() -> None:
    assert c.score.in_([None]) == IsNull(T, "score")


def test_in_with_none_among_values_adds_is_null() -> None:
    assert c.score.in_([1, None]) == Or((In(T, "score", (1,)), IsNull(T, "score")))


def test_not_in_is_the_negation_of_in() -> None:
    assert c.score.not_in([1, None]) == Not(c.score.in_([1, None]))


def test_in_accepts_any_iterable() -> None:
    assert c.score.in_(iter(range(2))) == In(T, "score", (0, 1))


def test_in_normalises_its_values() -> None:
    assert c.status.in_([Status.ACTIVE]) == In(T, "status", ("active",))


def test_in_refuses_a_string() -> None:
    with pytest.raises(InvalidQuery, match="in_\\(\\) takes a collection"):
        c.name.in_("abc")


def test_in_refuses_an_operand_of_another_type() -> None:
    with pytest.raises(InvalidQuery):
        c.score.in_([1, "2"])


def test_in_drops_datetimes_finer_than_the_stored_grid() -> None:
    assert c.at.in_([AT, AT_MICROS]) == In(T, "at", (AT,))


def test_in_of_only_off_grid_values_is_false() -> None:
    assert c.at.in_([AT_MICROS]) is FALSE


def test_in_of_only_off_grid_values_and_none_is_is_null() -> None:
    assert c.at.in_([AT_MICROS, None]) == IsNull(T, "at")


# -- the stored grid ----------------------------------------------------------------------------

FLOOR = datetime(2024, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("__lt__", Compare(T, "at", Op.LE, FLOOR)),
        ("__le__", Compare(T, "at", Op.LE, FLOOR)),
        ("__gt__", Compare(T, "at", Op.GT, FLOOR)),
        ("__ge__", Compare(T, "at", Op.GT, FLOOR)),
        ("__eq__", FALSE),
        ("__ne__", TRUE),
    ],
)
def test_sub_millisecond_datetime_operands_are_rewritten_on_the_grid(
    op: str, expected: Condition
) -> None:
    assert getattr(c.at, op)(AT_MICROS) == expected


def test_on_grid_datetime_operands_keep_their_operator() -> None:
    assert (c.at < AT) == Compare(T, "at", Op.LT, AT)


def test_datetime_operand_is_floored_after_conversion_to_utc() -> None:
    minus5 = timezone(timedelta(hours=-5))
    assert (c.at >= datetime(2024, 1, 1, 7, 0, 0, 500_250, tzinfo=minus5)) == Compare(
        T, "at", Op.GT, FLOOR
    )


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("__lt__", Compare(T, "price", Op.LE, Decimal("1.00"))),
        ("__le__", Compare(T, "price", Op.LE, Decimal("1.00"))),
        ("__gt__", Compare(T, "price", Op.GT, Decimal("1.00"))),
        ("__ge__", Compare(T, "price", Op.GT, Decimal("1.00"))),
        ("__eq__", FALSE),
        ("__ne__", TRUE),
    ],
)
def test_over_precise_decimal_operands_are_rewritten_on_the_grid(
    op: str, expected: Condition
) -> None:
    assert getattr(c.price, op)(Decimal("1.005")) == expected


def test_negative_over_precise_decimals_floor_toward_minus_infinity() -> None:
    assert (c.price < Decimal("-1.005")) == Compare(T, "price", Op.LE, Decimal("-1.01"))


def test_decimal_operand_with_trailing_zeros_is_on_the_grid() -> None:
    assert (c.price == Decimal("1.5000")) == Compare(T, "price", Op.EQ, Decimal("1.50"))


def test_decimal_operand_outside_the_precision_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match=r"outside NUMERIC\(12, 2\)"):
        _ = c.price < Decimal("10000000000")


def test_decimal_operand_with_more_digits_than_the_context_is_floored_exactly() -> None:
    operand = Decimal("9999999999.9999999999999999999999999")
    assert (c.price < operand) == Compare(T, "price", Op.LE, Decimal("9999999999.99"))


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-Infinity")])
def test_non_finite_decimal_operands_are_invalid_queries(value: Decimal) -> None:
    with pytest.raises(InvalidQuery):
        _ = c.price > value


# -- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("contains", MatchKind.CONTAINS),
        ("startswith", MatchKind.STARTSWITH),
        ("endswith", MatchKind.ENDSWITH),
    ],
)
def test_text_methods_build_literal_match_nodes(method: str, kind: MatchKind) -> None:
    assert getattr(c.code, method)("50%_\\$x") == Match(T, "code", kind, "50%_\\$x")


@pytest.mark.parametrize("field", ["score", "status", "at"])
def test_text_matching_needs_a_str_field(field: str) -> None:
    with pytest.raises(InvalidQuery, match="contains needs a str field"):
        c[field].contains("x")


def test_text_matching_refuses_a_non_str_operand() -> None:
    with pytest.raises(InvalidQuery):
        c.code.startswith(5)  # type: ignore[arg-type]


def test_ignore_case_eq_compares_casefolded_shadow() -> None:
    assert c.name.eq("STRASSE", ignore_case=True) == Compare(T, "name__casefold", Op.EQ, "strasse")


def test_ignore_case_folds_fully_not_just_lowercases() -> None:
    assert c.name.eq("Straße", ignore_case=True) == c.name.eq("STRASSE", ignore_case=True)


@pytest.mark.parametrize("method", ["contains", "startswith", "endswith"])
def test_ignore_case_matching_uses_the_shadow(method: str) -> None:
    node = getattr(c.name, method)("ÉCOLE", ignore_case=True)
    assert (node.field, node.pattern) == ("name__casefold", "école")


def test_ignore_case_eq_none_is_is_null_on_the_field() -> None:
    assert c.name.eq(None, ignore_case=True) == IsNull(T, "name")


def test_ignore_case_on_a_field_without_a_shadow_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match=r"Item\.code: .*ignore_case needs the field listed"):
        c.code.contains("x", ignore_case=True)


def test_ignore_case_eq_on_a_field_without_a_shadow_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="ignore_case"):
        c.tenant.eq("x", ignore_case=True)


def test_ignore_case_refuses_a_non_str_operand() -> None:
    with pytest.raises(InvalidQuery):
        c.name.eq(5, ignore_case=True)


# -- orders -------------------------------------------------------------------------------------


def test_asc_and_desc_build_orders() -> None:
    assert (c.score.asc(), c.score.desc()) == (
        Order(T, "score", descending=False),
        Order(T, "score", descending=True),
    )


# -- boolean algebra ----------------------------------------------------------------------------


def test_and_of_nothing_is_true() -> None:
    assert and_() is TRUE


def test_or_of_nothing_is_false() -> None:
    assert or_() is FALSE


def test_and_of_one_is_that_condition() -> None:
    assert and_(A) is A


def test_or_of_one_is_that_condition() -> None:
    assert or_(A) is A


def test_and_drops_true() -> None:
    assert and_(TRUE, A, TRUE, B) == And((A, B))


def test_and_with_false_is_false() -> None:
    assert and_(A, FALSE, B) is FALSE


def test_or_drops_false() -> None:
    assert or_(FALSE, A, B) == Or((A, B))


def test_or_with_true_is_true() -> None:
    assert or_(A, TRUE) is TRUE


def test_and_flattens_nested_ands() -> None:
    assert and_(and_(A, B), C) == And((A, B, C))


def test_or_flattens_nested_ors() -> None:
    assert or_(A, or_(B, C)) == Or((A, B, C))


def test_and_keeps_nested_ors() -> None:
    assert and_(A, or_(B, C)) == And((A, Or((B, C))))


def test_operators_are_and_or_not() -> None:
    assert Or((And((A, B)), Not(C))) == ((A & B) | ~C)


def test_not_of_a_constant_flips_it() -> None:
    assert (not_(TRUE), not_(FALSE)) == (FALSE, TRUE)


def test_double_negation_cancels() -> None:
    assert ~~A is A


def test_combining_with_a_non_condition_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="expected a condition"):
        and_(A, True)  # type: ignore[arg-type]


def test_negating_a_non_condition_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery):
        not_("score == 1")  # type: ignore[arg-type]


def test_conditions_are_immutable_values() -> None:
    assert hash(c.score == 1) == hash(c.score == 1)


# -- hostile operands: a bounded InvalidQuery ------------------------------------------------------


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("unprintable")


def _nested(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "operand",
    [_nested(10_000), _Unprintable(), 10**10_000, "x" * 10**6],
    ids=["deep JSON", "repr raises", "huge int", "huge str"],
)
def test_a_hostile_operand_is_an_invalid_query_with_a_bounded_message(operand: Any) -> None:
    with pytest.raises(InvalidQuery, match=r"Item\.score: invalid operand") as raised:
        items.c.score == operand  # noqa: B015
    assert len(str(raised.value)) < 600


def test_a_deep_json_operand_of_a_json_field_is_an_invalid_query() -> None:
    with pytest.raises(InvalidQuery, match="only be tested for null") as raised:
        items.c.data == _nested(10_000)  # noqa: B015
    assert len(str(raised.value)) < 600


class TestNestingDepth:
    """A hostile filter nests and_/or_/not_ arbitrarily deep: bounded (CONTRACT §13)."""

    def test_nesting_up_to_the_limit_is_accepted(self) -> None:
        condition: Condition = items.c.score == 0
        for level in range(MAX_CONDITION_DEPTH):
            other = items.c.score == level + 1
            condition = (condition | other) if level % 2 else (condition & other)
        assert isinstance(condition, And | Or)
        assert condition.depth == MAX_CONDITION_DEPTH

    def test_deeper_nesting_is_invalid_query_not_recursion_error(self) -> None:
        def build() -> Condition:
            condition: Condition = items.c.score == 0
            for level in range(5_000):
                other = items.c.score == level + 1
                condition = (condition | other) if level % 2 else (condition & other)
            return condition

        with pytest.raises(InvalidQuery, match="nested 65 levels"):
            build()

    def test_not_counts_as_a_level(self) -> None:
        def build() -> Condition:
            condition: Condition = items.c.score == 0
            for level in range(200):
                condition = ~(condition & (items.c.score == level))
            return condition

        with pytest.raises(InvalidQuery, match="nested"):
            build()

    def test_depth_is_not_part_of_equality(self) -> None:
        a = (items.c.score == 1) & (items.c.score == 2)
        b = (items.c.score == 1) & (items.c.score == 2)
        assert a == b
        assert hash(a) == hash(b)
