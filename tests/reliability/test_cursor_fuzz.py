"""Cursors under fuzzing: anything but a genuine cursor of the same query is InvalidCursor.

Hypothesis truncates, edits and extends a genuine cursor, makes cursors of
random bytes and random text, and takes genuine cursors of other queries
(another scope, filter, order or soft-delete view). Every one must raise
:class:`~repokit.InvalidCursor`, in both directions, on every backend.

Whoever holds the signing key can sign any payload. The default key is
random per process, so the tests read it (as if a deployment's key had
leaked): forged payloads (random JSON as the sort-key values, correctly
signed) must either raise ``InvalidCursor`` or start a page inside the
caller's own scope and filter, never raise anything else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reliability.sizes import scaled
from repokit import CursorPagination, Deleted, InvalidCursor, Repository
from repokit.cursors import DEFAULT_KEY
from repokit.testing import Harness
from repokit.testing.plugin import suite_settings
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Item, ItemId, TenantScope, items, new_tenant

Repo = Repository[Item, ItemId]
ORDERS = (items.c.score.desc(), items.c.name.asc())
CONDITION = items.c.score >= 0
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def runner(reliability_harness: Harness) -> Iterator[SuiteRunner]:
    with SuiteRunner(reliability_harness) as suite_runner:
        yield suite_runner


class Setting:
    """A seeded tenant, a genuine cursor of one query, and cursors of other queries."""

    def __init__(self, runner: SuiteRunner) -> None:
        self.runner = runner
        self.repo: Repo = Repository(runner.db, items)
        self.tenant, other = new_tenant(), new_tenant()
        for tenant in (self.tenant, other):
            batch = [Item(ItemId(uuid.uuid4()), tenant, f"n{n}", score=n % 3) for n in range(6)]
            runner.run(self.repo.batch_create(batch, scope=TenantScope(tenant)))
        self.cursor = self.end_cursor()
        self.foreign = {
            "another scope": self.end_cursor(scope=TenantScope(other)),
            "another filter": self.end_cursor(conditions=items.c.score >= 1),
            "no filter": self.end_cursor(conditions=None),
            "another order": self.end_cursor(orders=(items.c.score.asc(), items.c.name.asc())),
            "a shorter order": self.end_cursor(orders=(items.c.score.desc(),)),
            "another view": self.end_cursor(deleted=Deleted.INCLUDE),
        }

    def end_cursor(self, **changes: Any) -> str:
        query: dict[str, Any] = {
            "conditions": CONDITION,
            "orders": ORDERS,
            "scope": TenantScope(self.tenant),
            **changes,
        }
        page = self.runner.run(self.repo.search(pagination=CursorPagination(first=2), **query))
        assert page.end_cursor is not None
        return page.end_cursor

    def page(self, cursor: str, *, backward: bool) -> Any:
        pagination = (
            CursorPagination(last=2, before=cursor)
            if backward
            else CursorPagination(first=2, after=cursor)
        )
        return self.runner.run(
            self.repo.search(
                conditions=CONDITION,
                orders=ORDERS,
                scope=TenantScope(self.tenant),
                pagination=pagination,
            )
        )

    def assert_refused(self, cursor: str) -> None:
        for backward in (False, True):
            with pytest.raises(InvalidCursor):
                self.page(cursor, backward=backward)


@st.composite
def mutants(draw: st.DrawFn, cursor: str) -> str:
    """A string that is not *cursor*: truncated, edited, extended, or random."""
    kind = draw(st.sampled_from(["truncated", "edited", "extended", "bytes", "text"]))
    if kind == "truncated":
        mutant = cursor[: draw(st.integers(0, len(cursor) - 1))]
    elif kind == "edited":
        at = draw(st.integers(0, len(cursor) - 1))
        char = draw(st.sampled_from(_ALPHABET.replace(cursor[at], "")))
        mutant = cursor[:at] + char + cursor[at + 1 :]
    elif kind == "extended":
        mutant = cursor + draw(st.text(min_size=1, max_size=8))
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
        mutant = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    else:
        mutant = draw(st.text(max_size=200))
    return mutant


def test_mangled_and_random_cursors_raise_invalid_cursor(runner: SuiteRunner) -> None:
    setting = Setting(runner)

    @settings(suite_settings(scale=4 * scaled(1)))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        mutant = data.draw(mutants(setting.cursor), label="mutant")
        if mutant != setting.cursor:
            setting.assert_refused(mutant)

    check()


def test_cursors_of_other_queries_raise_invalid_cursor(runner: SuiteRunner) -> None:
    setting = Setting(runner)
    for what, cursor in setting.foreign.items():
        try:
            setting.assert_refused(cursor)
        except AssertionError as exc:
            raise AssertionError(f"a cursor of {what} was accepted") from exc


def _forge(genuine: str, values: list[Any]) -> str:
    """A cursor for the genuine one's query, carrying *values*, signed with the process's key."""
    token = base64.urlsafe_b64decode(genuine + "=" * (-len(genuine) % 4))
    fingerprint = token[17:29]
    payload = fingerprint + json.dumps(values, separators=(",", ":")).encode()
    key = hashlib.blake2b(DEFAULT_KEY, digest_size=32).digest()
    mac = hmac.new(key, b"\x01" + payload, hashlib.blake2b).digest()[:16]
    return base64.urlsafe_b64encode(b"\x01" + mac + payload).decode().rstrip("=")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "\ud800", "$gt", "' OR 1=1 --", uuid.uuid4().hex, "x" * 100])
    | st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**53 + 1, float("nan"), float("inf"), -0.0]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


def test_forged_cursors_raise_invalid_cursor_or_stay_in_scope(runner: SuiteRunner) -> None:
    setting = Setting(runner)
    genuine = json.loads(
        base64.urlsafe_b64decode(setting.cursor + "=" * (-len(setting.cursor) % 4))[29:]
    )
    assert _forge(setting.cursor, genuine) == setting.cursor  # the forging is faithful

    @settings(suite_settings(scale=4 * scaled(1)))
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        values = list(genuine)
        if data.draw(st.booleans(), label="whole list"):
            values = data.draw(st.lists(_JSON, max_size=4), label="values")
        else:  # one sort key replaced: the others stay valid
            at = data.draw(st.integers(0, len(values) - 1), label="position")
            values[at] = data.draw(_JSON, label="value")
        forged = _forge(setting.cursor, values)
        for backward in (False, True):
            try:
                page = setting.page(forged, backward=backward)
            except InvalidCursor:
                continue
            assert all(e.tenant == setting.tenant and (e.score or 0) >= 0 for e in page.items)

    check()
