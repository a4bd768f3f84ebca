"""A harness's ``expected_failures`` must name tests of the contract suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from repokit.testing import Harness
from repokit.testing.harness import HarnessError, suite_test_names

ROOT = Path(__file__).resolve().parents[2]

CONTRACT_MODULE = """
import pytest

from repokit.testing import Harness
from repokit.testing.suite import TestNullState, TestSmoke


@pytest.fixture(scope="session")
def repokit_harness() -> Harness:
    return Harness(url="memory://", expected_failures={expected!r})
"""


def test_a_key_naming_no_suite_test_is_refused_with_the_key_and_the_harness() -> None:
    with pytest.raises(HarnessError) as refused:
        Harness(url="memory://", expected_failures={"TestOrdering::test_x": "why"})
    message = str(refused.value)
    assert "Harness(url='memory://')" in message
    assert "'TestOrdering::test_x' names no test of the contract suite" in message


def test_a_misspelt_key_is_refused_with_the_closest_name() -> None:
    with pytest.raises(HarnessError, match="did you mean 'TestSmoke::test_create_then_get"):
        Harness(
            url="memory://",
            expected_failures={"TestSmoke::test_create_then_gets_the_entity": "why"},
        )


def test_a_key_with_parameters_is_refused() -> None:
    name = next(iter(sorted(n for n in suite_test_names() if "::" in n)))
    with pytest.raises(HarnessError, match="without parameters"):
        Harness(url="memory://", expected_failures={f"{name}[x]": "why"})


def test_keys_naming_a_suite_test_with_or_without_its_class_are_accepted() -> None:
    harness = Harness(
        url="memory://",
        expected_failures={
            "TestSmoke::test_create_then_get_returns_the_entity": "a reason",
            "test_create_then_get_returns_the_entity": "a reason",
        },
    )
    assert harness.expected_failure("TestSmoke", "test_create_then_get_returns_the_entity")


def test_a_run_with_a_misdeclared_harness_stops_at_once_naming_key_and_harness(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    expected = {"TestOrdering::test_x": "why it fails, until fixed"}
    pytester.makepyfile(test_contract=CONTRACT_MODULE.format(expected=expected))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(errors=1)  # the first suite test; the run stops there
    result.stdout.fnmatch_lines(
        [
            "*repokit: Harness(url='memory://'): expected_failures key "
            "'TestOrdering::test_x' names no test of the contract suite*"
        ]
    )


@pytest.mark.parametrize("doc", ["README.md", "docs/testing.md"])
def test_the_documented_expected_failure_keys_name_suite_tests(doc: str) -> None:
    keys = set(re.findall(r'"(Test\w+::test_\w+)"', (ROOT / doc).read_text()))
    keys.discard("TestClass::test_name")  # the format, not an example
    assert keys
    assert keys <= suite_test_names()
