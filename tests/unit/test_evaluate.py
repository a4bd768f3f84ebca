"""The reference semantics (repokit.evaluate): two-valued predicates, substitution, ordering."""

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from repokit.conditions import (
    FALSE,
    TRUE,
    Condition,
    In,
    IsNull,
    Match,
    MatchKind,
    Node,
    and_,
    not_,
    or_,
)
from repokit.evaluate import evaluate, predicate, sort_rows, substitute
from repokit.testing.schema import items

c = items.c
NULL: dict[str, Any] = {"score": None, "code": None}


def ev(condition: Condition, **row: Any) -> bool:
    return evaluate(condition, row)


# -- leaves -------------------------------------------------------------------------------------


def test_true_matches_every_row() -> None:
    assert ev(TRUE) is True


def test_false_matches_no_row() -> None:
    assert ev(FALSE, score=1) is False


@pytest.mark.parametrize(("score", "expected"), [(5, True), (4, False), (None, False)])
def test_eq_matches_equal_values_only(score: Any, expected: bool) -> None:
    assert ev(c.score == 5, score=score) is expected


@pytest.mark.parametrize(("score", "expected"), [(5, False), (4, True), (None, True)])
def test_ne_matches_different_values_and_nulls(score: Any, expected: bool) -> None:
    assert ev(c.score != 5, score=score) is expected


@pytest.mark.parametrize(
    ("condition", "matching"),
    [
        (c.score < 5, [4]),
        (c.score <= 5, [4, 5]),
        (c.score > 5, [6]),
        (c.score >= 5, [5, 6]),
    ],
)
def test_ordering_comparisons_never_match_null(condition: Condition, matching: list[int]) -> None:
    assert [s for s in (None, 4, 5, 6) if ev(condition, score=s)] == matching


def test_in_matches_members() -> None:
    assert [s for s in (None, 1, 2, 3) if ev(In("rk_items", "score", (1, 3)), score=s)] == [1, 3]


def test_in_with_none_matches_null_too() -> None:
    assert [s for s in (None, 1, 2) if ev(c.score.in_([1, None]), score=s)] == [None, 1]


def test_not_in_matches_nulls_unless_none_is_listed() -> None:
    assert [s for s in (None, 1, 2) if ev(c.score.not_in([1]), score=s)] == [None, 2]
    assert [s for s in (None, 1, 2) if ev(c.score.not_in([1, None]), score=s)] == [2]


def test_is_null_matches_none() -> None:
    assert ev(IsNull("rk_items", "code"), code=None) is True


def test_a_missing_field_is_null() -> None:
    assert (ev(c.code == None), ev(c.code != "x"), ev(c.code == "x")) == (True, True, False)  # noqa: E711


def test_is_not_null_matches_values() -> None:
    assert (ev(c.code != None, code=""), ev(c.code != None, code=None)) == (True, False)  # noqa: E711


@pytest.mark.parametrize(
    ("kind", "pattern", "expected"),
    [
        (MatchKind.CONTAINS, "b%", True),
        (MatchKind.CONTAINS, "a_c", False),
        (MatchKind.STARTSWITH, "ab%", True),
        (MatchKind.STARTSWITH, "b", False),
        (MatchKind.ENDSWITH, "%c", True),
        (MatchKind.ENDSWITH, "C", False),
    ],
)
def test_match_is_literal_and_case_sensitive(kind: MatchKind, pattern: str, expected: bool) -> None:
    assert ev(Match("rk_items", "code", kind, pattern), code="ab%c") is expected


def test_match_never_matches_null() -> None:
    assert ev(c.code.contains(""), code=None) is False


def test_empty_pattern_matches_every_non_null_text() -> None:
    assert ev(c.code.contains(""), code="") is True


def test_ignore_case_match_reads_the_shadow() -> None:
    row = items.normalize_values({"name": "STRASSE"})
    assert evaluate(c.name.contains("straße", ignore_case=True), row) is True


def test_and_or_not_combine_as_boolean_algebra() -> None:
    row = {"score": 1, "code": "x"}
    assert evaluate((c.score == 1) & (c.code == "x"), row) is True
    assert evaluate((c.score == 2) | (c.code == "y"), row) is False
    assert evaluate(~(c.score == 2), row) is True


def test_an_unknown_node_is_a_type_error() -> None:
    class Strange(Node):
        __slots__ = ()

    with pytest.raises(TypeError, match="unknown condition node"):
        evaluate(Strange(), {})


# -- two-valued logic ---------------------------------------------------------------------------

scores = st.none() | st.integers(-3, 3)
codes = st.none() | st.sampled_from(["", "a", "ab", "ba", "b%"])


@st.composite
def leaves(draw: st.DrawFn) -> Condition:
    which = draw(st.integers(0, 6))
    value = draw(st.integers(-3, 3))
    text = draw(st.sampled_from(["", "a", "b", "%"]))
    if which == 0:
        op = draw(st.sampled_from(["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]))
        return getattr(c.score, op)(value)  # type: ignore[no-any-return]
    if which == 1:
        return c.score.in_(draw(st.lists(st.none() | st.integers(-3, 3), max_size=3)))
    if which == 2:
        return c.score.not_in(draw(st.lists(st.none() | st.integers(-3, 3), max_size=3)))
    if which == 3:
        return c.score == None  # noqa: E711
    if which == 4:
        return c.code != None  # noqa: E711
    if which == 5:
        return getattr(c.code, draw(st.sampled_from(["contains", "startswith", "endswith"])))(text)  # type: ignore[no-any-return]
    return c.code == text


conditions = st.recursive(
    leaves() | st.sampled_from([TRUE, FALSE]),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda cs: and_(*cs)),
        st.lists(inner, max_size=3).map(lambda cs: or_(*cs)),
        inner.map(not_),
    ),
    max_leaves=8,
)
rows = st.lists(st.fixed_dictionaries({"score": scores, "code": codes}), max_size=8)


@given(conditions, rows)
def test_a_condition_and_its_negation_partition_the_rows(
    p: Condition, data: list[dict[str, Any]]
) -> None:
    matched = sum(evaluate(p, row) for row in data)
    unmatched = sum(evaluate(~p, row) for row in data)
    assert matched + unmatched == len(data)


@given(st.integers(-3, 3), scores)
def test_ne_is_the_exact_complement_of_eq(value: int, score: Any) -> None:
    row = {"score": score}
    assert evaluate(c.score != value, row) is not evaluate(c.score == value, row)


@given(st.lists(st.none() | st.integers(-3, 3), max_size=4), scores)
def test_not_in_is_the_exact_complement_of_in(values: list[Any], score: Any) -> None:
    row = {"score": score}
    assert evaluate(c.score.not_in(values), row) is not evaluate(c.score.in_(values), row)


@given(st.lists(st.none() | st.integers(-3, 3), max_size=4), scores)
def test_in_agrees_with_python_membership(values: list[Any], score: Any) -> None:
    assert evaluate(c.score.in_(values), {"score": score}) is (score in values)


# -- predicate: the compiled form evaluate runs ------------------------------------------------


@pytest.mark.parametrize("condition", [TRUE, FALSE, c.score == 1, c.code.contains("a")])
def test_predicate_returns_a_bool(condition: Condition) -> None:
    assert type(predicate(condition)({"score": 1, "code": "a"})) is bool


def test_predicate_of_an_unknown_node_is_a_type_error() -> None:
    class Strange(Node):
        __slots__ = ()

    with pytest.raises(TypeError, match="unknown condition node"):
        predicate(Strange())


# -- substitute ---------------------------------------------------------------------------------


def test_substitute_decides_leaves_on_known_fields() -> None:
    assert substitute(c.tenant == "a", {"tenant": "a"}) is TRUE
    assert substitute(c.tenant == "a", {"tenant": "b"}) is FALSE


def test_substitute_keeps_leaves_on_unknown_fields() -> None:
    condition = c.score > 1
    assert substitute(condition, {"tenant": "a"}) is condition


def test_substitute_simplifies_and() -> None:
    condition = (c.tenant == "a") & (c.score > 1)
    assert substitute(condition, {"tenant": "a"}) == (c.score > 1)
    assert substitute(condition, {"tenant": "b"}) is FALSE


def test_substitute_simplifies_or() -> None:
    condition = (c.tenant == "a") | (c.score > 1)
    assert substitute(condition, {"tenant": "a"}) is TRUE
    assert substitute(condition, {"tenant": "b"}) == (c.score > 1)


def test_substitute_flips_a_decided_negation() -> None:
    assert substitute(~(c.tenant == "a"), {"tenant": "a"}) is FALSE


def test_substitute_treats_a_known_none_as_null() -> None:
    assert substitute(c.code == None, {"code": None}) is TRUE  # noqa: E711


def test_substitute_keeps_constants() -> None:
    assert substitute(TRUE, {"tenant": "a"}) is TRUE


@given(conditions, st.fixed_dictionaries({"score": scores, "code": codes}))
def test_substitute_with_every_field_known_is_evaluate(p: Condition, row: dict[str, Any]) -> None:
    assert substitute(p, row) == (TRUE if evaluate(p, row) else FALSE)


@given(conditions, st.fixed_dictionaries({"score": scores, "code": codes}))
def test_substitute_then_evaluate_is_evaluate(p: Condition, row: dict[str, Any]) -> None:
    partial = substitute(p, {"score": row["score"]})
    assert evaluate(partial, row) is evaluate(p, row)


# -- sort_rows ----------------------------------------------------------------------------------


def scores_of(data: list[dict[str, Any]]) -> list[Any]:
    return [row.get("score") for row in data]


def test_none_sorts_first_ascending() -> None:
    data = [{"score": 2}, {"score": None}, {"score": -1}]
    assert scores_of(sort_rows(data, [c.score.asc()])) == [None, -1, 2]


def test_none_sorts_last_descending() -> None:
    data = [{"score": 2}, {"score": None}, {"score": -1}]
    assert scores_of(sort_rows(data, [c.score.desc()])) == [2, -1, None]


def test_a_missing_field_sorts_as_none() -> None:
    assert scores_of(sort_rows([{"score": 0}, {}], [c.score.asc()])) == [None, 0]


def test_later_keys_break_ties_of_earlier_keys() -> None:
    data = [{"score": 1, "code": "b"}, {"score": 0, "code": "z"}, {"score": 1, "code": "a"}]
    assert sort_rows(data, [c.score.asc(), c.code.desc()]) == [data[1], data[0], data[2]]


def test_ties_keep_input_order_ascending() -> None:
    data = [{"score": 1, "n": i} for i in range(5)]
    assert sort_rows(data, [c.score.asc()]) == data


def test_ties_keep_input_order_descending() -> None:
    data = [{"score": 1, "n": i} for i in range(5)] + [{"score": None, "n": 9}]
    assert sort_rows(data, [c.score.desc()]) == data


def test_no_orders_keeps_input_order() -> None:
    data = [{"score": 2}, {"score": 1}]
    assert sort_rows(data, []) == data


def test_sort_rows_does_not_modify_its_input() -> None:
    data = [{"score": 2}, {"score": 1}]
    sort_rows(data, [c.score.asc()])
    assert scores_of(data) == [2, 1]


def test_strings_sort_by_code_point() -> None:
    data = [{"code": "é"}, {"code": "a"}, {"code": "B"}, {"code": "Z"}]
    assert [r["code"] for r in sort_rows(data, [c.code.asc()])] == ["B", "Z", "a", "é"]


def test_false_sorts_before_true() -> None:
    data = [{"flag": True}, {"flag": None}, {"flag": False}]
    assert [r["flag"] for r in sort_rows(data, [c.flag.asc()])] == [None, False, True]


def test_uuids_sort_by_their_bytes_big_endian() -> None:
    refs = [uuid.UUID(bytes=bytes([b]) + bytes(15)) for b in (0x80, 0x01, 0xFF)]
    data = [{"ref": r} for r in refs]
    ordered = [r["ref"] for r in sort_rows(data, [c.ref.asc()])]
    assert ordered == sorted(refs, key=lambda u: u.bytes)


@given(
    st.lists(st.fixed_dictionaries({"score": scores, "code": codes}), max_size=10), st.booleans()
)
def test_sort_rows_matches_a_none_first_total_key(data: list[dict[str, Any]], desc: bool) -> None:
    order = c.score.desc() if desc else c.score.asc()
    expected = sorted(data, key=lambda r: (r["score"] is not None, r["score"] or 0), reverse=desc)
    assert sort_rows(data, [order]) == expected
