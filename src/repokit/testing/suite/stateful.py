"""Contract stateful test: random operation sequences in several tenants (CONTRACT §6–9, §18, §20).

A hypothesis state machine creates, upserts, updates, deletes, restores,
purges and searches ``rk_items`` entities of three fresh tenants, one at a
time, in atomic batches and in per-item bulk operations, each operation
scoped to one tenant (sometimes a write aims at another tenant's entity or
scope), on the backend under test and on the reference backend at once. A
plain Python model (one dict per tenant) predicts every result and every
error, item by item for a bulk operation; after each step both backends must
hold exactly the model's entities, so a scoped write that touched another
tenant, or a scoped read that returned one, fails the run.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from functools import partial
from typing import Any, cast

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from repokit import (
    TRUE,
    ConcurrentModification,
    Deleted,
    EntityAlreadyExists,
    EntityNotFound,
    InvalidQuery,
    InvalidValue,
    Outcome,
    Repository,
    RepositoryError,
    ScopeViolation,
    Upserted,
)
from repokit.conditions import Condition
from repokit.evaluate import evaluate
from repokit.testing.runner import SuiteRunner
from repokit.testing.schema import Item, ItemId, Status, TenantScope, items, new_tenant
from repokit.testing.strategies import (
    as_stored,
    conditions,
    ids_for,
    item_changes,
    item_for,
    item_lists,
    orders,
)
from repokit.testing.suite.properties import property_settings

__all__ = ["TestOperationSequences"]

Repo = Repository[Item, ItemId]
#: One item's outcome of a bulk operation as compared: its key, entity and error class.
Answer = tuple[Any, Item | None, type[Exception] | None]
_TENANTS = 3
_STEPS = 15
#: The unique key among live entities that an upsert may decide on besides the primary key.
_NAME_KEY = ("tenant", "name")
#: The keys an upsert decides on (``on=``).
_ON: tuple[str | tuple[str, str], ...] = ("id", _NAME_KEY)
#: What an upsert with ``update=None`` never sets, besides the fields of its key.
_NEVER_SET = ("id", "version")
#: A key no backend accepts: the item fails validation alone, before any I/O (CONTRACT §20).
_BAD_KEY = "not a uuid"


def _collides(entities: Iterable[Item]) -> bool:
    """Whether the unique keys of ``rk_items`` reject this set of entities."""
    entities = list(entities)
    keys = Counter(e.id for e in entities)
    names = Counter((e.tenant, e.name) for e in entities if e.status is not Status.DELETED)
    codes = Counter((e.tenant, e.code) for e in entities if e.code is not None)
    return any(n > 1 for counter in (keys, names, codes) for n in counter.values())


def _matches(condition: Condition | None, entity: Item) -> bool:
    return condition is None or evaluate(condition, items.to_row(entity))


def _answer(key: Any, expected: object) -> Answer:
    """A bulk item's predicted outcome: an error class, or the entity (``None`` after a purge)."""
    if isinstance(expected, type) and issubclass(expected, RepositoryError):
        return key, None, expected
    return key, cast(Item | None, expected), None


async def _answers(outcomes: Awaitable[list[Outcome[Item]]]) -> list[Answer]:
    """A bulk operation's outcomes as compared (errors by class: exceptions compare by identity)."""
    return [(o.key, o.entity, None if o.error is None else type(o.error)) for o in await outcomes]


def _visible(entity: Item, deleted: Deleted) -> bool:
    if deleted is Deleted.INCLUDE:
        return True
    return (entity.status is Status.DELETED) == (deleted is Deleted.ONLY)


class ScopedOperations(RuleBasedStateMachine):
    """Both backends against a dict-per-tenant model; built by the test with its runner."""

    def __init__(self, runner: SuiteRunner) -> None:
        super().__init__()
        self.runner = runner
        self.tenants: tuple[str, ...] = tuple(new_tenant() for _ in range(_TENANTS))
        self.model: dict[str, dict[ItemId, Item]] = {t: {} for t in self.tenants}
        self.repos: tuple[tuple[str, Repo], ...] = (
            ("backend under test", Repository(runner.db, items)),
            ("reference backend", Repository(runner.oracle, items)),
        )

    # -- helpers ----------------------------------------------------------------------------

    def _entities(self) -> list[Item]:
        return [e for entities in self.model.values() for e in entities.values()]

    def _tenant(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(self.tenants), label="tenant")

    def _scope(self, data: st.DataObject, tenant: str) -> str:
        """Usually the tenant itself; sometimes another tenant's scope."""
        return data.draw(st.sampled_from((tenant, tenant, tenant, *self.tenants)), label="scope")

    def _key(self, data: st.DataObject, tenant: str) -> ItemId:
        """A key of any tenant's entity (often this tenant's), or a new one."""
        own = list(self.model[tenant])
        anyone = [e.id for e in self._entities()]
        pick = data.draw(st.integers(0, 5), label="whose key")
        if pick >= 2 and own:
            return data.draw(st.sampled_from(own), label="own key")
        if pick == 1 and anyone:
            return data.draw(st.sampled_from(anyone), label="any key")
        return data.draw(ids_for(tenant), label="new key")

    def _name(self, data: st.DataObject, tenant: str) -> str:
        """A name one of the tenant's entities (live or deleted) has, or a new one."""
        names = sorted({e.name for e in self.model[tenant].values()})
        if names and data.draw(st.integers(0, 3), label="reuse a name") > 0:
            return data.draw(st.sampled_from(names), label="taken name")
        return data.draw(item_for(tenant), label="new name").name

    def _changes(self, data: st.DataObject, tenant: str) -> dict[str, Any]:
        """An update's values: sometimes a name another entity holds, sometimes a move."""
        values = data.draw(item_changes(), label="values")
        if data.draw(st.integers(0, 3), label="take a name") == 0:
            values["name"] = self._name(data, tenant)
        if data.draw(st.integers(0, 4), label="move") == 0:
            values["tenant"] = data.draw(st.sampled_from(self.tenants), label="new tenant")
        return values

    def _bulk_keys(self, data: st.DataObject, tenant: str) -> list[Any]:
        """Up to four keys for a bulk delete or purge: repeated ones, and now and then a bad one."""
        keys: list[Any] = []
        for _ in range(data.draw(st.integers(0, 4), label="keys")):
            pick = data.draw(st.integers(0, 7), label="which key")
            if pick == 0 and keys:
                keys.append(data.draw(st.sampled_from(keys), label="again"))
            elif pick == 1:
                keys.append(_BAD_KEY)
            else:
                keys.append(self._key(data, tenant))
        return keys

    def _selection(
        self, data: st.DataObject, tenant: str
    ) -> tuple[list[ItemId] | None, Condition | None]:
        """A batch operation's target: ids, conditions, or both (never neither)."""
        use = data.draw(st.sampled_from(("ids", "conditions", "both")), label="selection")
        ids = None
        if use != "conditions":
            ids = [self._key(data, tenant) for _ in range(data.draw(st.integers(0, 4)))]
        condition = None
        if use != "ids":
            condition = data.draw(conditions(self._entities(), max_leaves=3), label="condition")
        return ids, condition

    def _expect(self, call: Callable[[Repo], Coroutine[Any, Any, Any]], expected: object) -> None:
        """Run *call* on both backends; each returns *expected* or raises exactly it."""
        for name, repo in self.repos:
            try:
                outcome: object = self.runner.run(call(repo))
            except RepositoryError as exc:
                outcome, shown = type(exc), repr(exc)
            else:
                shown = repr(outcome)
            assert outcome == expected, f"{name}: got {shown}, expected {expected!r}"

    # -- single-entity operations -----------------------------------------------------------

    @initialize(data=st.data())
    def populate(self, data: st.DataObject) -> None:
        for tenant in self.tenants:
            batch = [as_stored(e) for e in data.draw(item_lists(tenant, min_size=2, max_size=6))]
            self.model[tenant].update((e.id, e) for e in batch)
            self._expect(
                partial(Repository.batch_create, entities=batch, scope=TenantScope(tenant)), batch
            )

    @rule(data=st.data())
    def create(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        item = as_stored(data.draw(item_for(tenant), label="item"))
        if data.draw(st.booleans(), label="reuse a key"):
            item = dataclasses.replace(item, id=self._key(data, tenant))
        scope = self._scope(data, tenant)
        expected = self._created(item, scope)
        self._expect(lambda repo: repo.create(item, scope=TenantScope(scope)), expected)

    def _created(self, item: Item, scope: str) -> object:
        """What ``create(item)`` in *scope* answers; the model updated if it writes."""
        if item.tenant != scope:
            return ScopeViolation
        if _collides([*self._entities(), item]):
            return EntityAlreadyExists
        self.model[item.tenant][item.id] = item
        return item

    @rule(data=st.data())
    def update(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        key = self._key(data, tenant)
        values = data.draw(item_changes(), label="values")
        if data.draw(st.integers(0, 4), label="move") == 0:
            values["tenant"] = data.draw(st.sampled_from(self.tenants), label="new tenant")
        current = self.model[tenant].get(key)
        version = data.draw(st.sampled_from((None, "current", 0, 7)), label="expected version")
        if version == "current":
            version = current.version if current is not None else 0
        expected_version = version if isinstance(version, int) else None
        expected = self._updated(tenant, key, values, expected_version)
        self._expect(
            lambda repo: repo.update(
                key, values, scope=TenantScope(tenant), expected_version=expected_version
            ),
            expected,
        )

    def _updated(
        self, tenant: str, key: ItemId, values: dict[str, Any], version: int | None
    ) -> object:
        """What ``update(key, values)`` in *tenant*'s scope answers; the model updated."""
        current = self.model[tenant].get(key)
        if current is None or current.status is Status.DELETED:
            return EntityNotFound
        if version is not None and version != current.version:
            return ConcurrentModification
        return self._changed(current, values, tenant)

    def _changed(self, current: Item, values: dict[str, Any], tenant: str) -> object:
        """*current* (live, in *tenant*'s scope) updated with *values*, as update and upsert do."""
        new = as_stored(dataclasses.replace(current, **values))
        if new == current:
            return current  # changes nothing: writes nothing, the version stays
        if new.tenant != tenant:
            return ScopeViolation
        if _collides([*(e for e in self._entities() if e.id != current.id), new]):
            return EntityAlreadyExists
        new = dataclasses.replace(new, version=current.version + 1)
        self.model[tenant][current.id] = new
        return new

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        key = self._key(data, tenant)
        expected = self._deleted_in(tenant, key)
        if isinstance(expected, Item):
            expected = None  # delete returns nothing; delete_returning the entity
        self._expect(lambda repo: repo.delete(key, scope=TenantScope(tenant)), expected)

    def _deleted_in(self, tenant: str, key: Any) -> object:
        """What ``delete_returning(key)`` in *tenant*'s scope answers; the model updated."""
        if key == _BAD_KEY:
            return InvalidValue
        current = self.model[tenant].get(key)
        if current is None or current.status is Status.DELETED:
            return EntityNotFound
        deleted = self.model[tenant][key] = self._deleted(current)
        return deleted

    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        key = self._key(data, tenant)
        current = self.model[tenant].get(key)
        expected: object
        if current is None or current.status is not Status.DELETED:
            expected = EntityNotFound
        else:
            restored = dataclasses.replace(
                current, status=Status.ACTIVE, version=current.version + 1
            )
            others = [e for e in self._entities() if e.id != key]
            if _collides([*others, restored]):
                expected = EntityAlreadyExists
            else:
                expected = self.model[tenant][key] = restored
        self._expect(lambda repo: repo.restore(key, scope=TenantScope(tenant)), expected)

    @rule(data=st.data())
    def purge(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        key = self._key(data, tenant)
        expected = self._purged_in(tenant, key)
        self._expect(lambda repo: repo.purge(key, scope=TenantScope(tenant)), expected)

    def _purged_in(self, tenant: str, key: Any) -> object:
        """What ``purge(key)`` in *tenant*'s scope answers; the model updated."""
        if key == _BAD_KEY:
            return InvalidValue
        return EntityNotFound if self.model[tenant].pop(key, None) is None else None

    # -- upserts (CONTRACT §18) -------------------------------------------------------------

    @rule(data=st.data())
    def upsert(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        item = as_stored(data.draw(item_for(tenant), label="item"))
        on = data.draw(st.sampled_from(_ON), label="on")
        if data.draw(st.booleans(), label="reuse a key"):
            if on == "id":
                item = dataclasses.replace(item, id=self._key(data, tenant))
            else:
                item = dataclasses.replace(item, name=self._name(data, tenant))
        scope = self._scope(data, tenant)
        update: dict[str, Any] | None = None
        kind = data.draw(st.sampled_from(("entity", "entity", "values", "nothing")), label="update")
        if kind == "values":
            update = self._changes(data, tenant)
            if on == _NAME_KEY and data.draw(st.integers(0, 4), label="set the key") > 0:
                update = {f: v for f, v in update.items() if f not in _NAME_KEY}
        elif kind == "nothing":
            update = {}  # get or create
        holder = self._holder(item, on)
        version = data.draw(st.sampled_from((None, "current", 0, 7)), label="expected version")
        if version == "current":
            version = holder.version if holder is not None else 0
        expected_version = version if isinstance(version, int) else None
        expected = self._upserted(item, on, update, scope, expected_version)
        self._expect(
            lambda repo: repo.upsert(
                item,
                on=on,
                update=update,
                scope=TenantScope(scope),
                expected_version=expected_version,
            ),
            expected,
        )

    def _holder(self, item: Item, on: str | tuple[str, str]) -> Item | None:
        """The stored entity holding *item*'s key *on*: any with its id, or a live namesake.

        A soft-deleted *item* holds no key among live entities: nobody holds its
        name, and the upsert inserts it (CONTRACT §18).
        """
        if on == "id":
            return next((e for e in self._entities() if e.id == item.id), None)
        if item.status is Status.DELETED:
            return None
        live = (e for e in self.model[item.tenant].values() if e.status is not Status.DELETED)
        return next((e for e in live if e.name == item.name), None)

    def _upserted(
        self,
        item: Item,
        on: str | tuple[str, str],
        update: dict[str, Any] | None,
        scope: str,
        version: int | None,
    ) -> object:
        """What ``upsert(item, on=on, update=update)`` in *scope* answers (CONTRACT §18)."""
        key = ("id",) if on == "id" else _NAME_KEY
        if update is not None and any(field in key for field in update):
            return InvalidQuery  # before any I/O
        if item.tenant != scope:
            return ScopeViolation  # before any I/O
        holder = self._holder(item, on)
        if holder is None:
            created = self._created(item, scope)
            return created if not isinstance(created, Item) else Upserted(created, inserted=True)
        if holder.status is Status.DELETED or holder.tenant != scope:
            # Held by an entity the upsert may not touch: as a create of the entity would.
            return EntityAlreadyExists
        if version is not None and version != holder.version:
            return ConcurrentModification
        if update is None:
            fixed = {*_NEVER_SET, *key}
            update = {
                f.name: getattr(item, f.name)
                for f in dataclasses.fields(Item)
                if f.name not in fixed
            }
        changed = self._changed(holder, update, scope)
        return changed if not isinstance(changed, Item) else Upserted(changed, inserted=False)

    @staticmethod
    def _deleted(entity: Item) -> Item:
        return dataclasses.replace(entity, status=Status.DELETED, version=entity.version + 1)

    # -- batch operations -------------------------------------------------------------------

    @rule(data=st.data())
    def batch_create(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        batch = [as_stored(e) for e in data.draw(item_lists(tenant, max_size=4), label="items")]
        reuse = data.draw(st.booleans(), label="reuse a key")
        if batch and reuse:
            batch[0] = dataclasses.replace(batch[0], id=self._key(data, tenant))
        scope = self._scope(data, tenant)
        expected: object = batch
        if batch and scope != tenant:
            expected = ScopeViolation
        elif _collides([*self._entities(), *batch]):
            expected = EntityAlreadyExists
        else:
            self.model[tenant].update((e.id, e) for e in batch)
        self._expect(lambda repo: repo.batch_create(batch, scope=TenantScope(scope)), expected)

    @rule(data=st.data())
    def batch_update(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        ids, condition = self._selection(data, tenant)
        values = data.draw(item_changes(), label="values")
        if data.draw(st.integers(0, 4), label="move") == 0:
            values["tenant"] = data.draw(st.sampled_from(self.tenants), label="new tenant")
        matched = self._matched(tenant, ids, condition, Deleted.EXCLUDE)
        expected: object = len(matched)
        if values and matched:
            # Every matched entity counts as updated: its version moves even if no value does.
            new = {
                e.id: as_stored(dataclasses.replace(e, **values, version=e.version + 1))
                for e in matched
            }
            if values.get("tenant", tenant) != tenant:
                expected = ScopeViolation
            elif _collides([*(e for e in self._entities() if e.id not in new), *new.values()]):
                expected = EntityAlreadyExists
            else:
                self.model[tenant].update(new)
        self._expect(
            lambda repo: repo.batch_update(
                values, ids=ids, conditions=condition, scope=TenantScope(tenant)
            ),
            expected,
        )

    @rule(data=st.data())
    def batch_delete(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        ids, condition = self._selection(data, tenant)
        matched = self._matched(tenant, ids, condition, Deleted.EXCLUDE)
        self.model[tenant].update((e.id, self._deleted(e)) for e in matched)
        self._expect(
            lambda repo: repo.batch_delete(
                ids=ids, conditions=condition, scope=TenantScope(tenant)
            ),
            len(matched),
        )

    @rule(data=st.data())
    def batch_purge(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        ids, condition = self._selection(data, tenant)
        matched = self._matched(tenant, ids, condition, Deleted.INCLUDE)
        for entity in matched:
            del self.model[tenant][entity.id]
        self._expect(
            lambda repo: repo.batch_purge(ids=ids, conditions=condition, scope=TenantScope(tenant)),
            len(matched),
        )

    def _matched(
        self, tenant: str, ids: list[ItemId] | None, condition: Condition | None, deleted: Deleted
    ) -> list[Item]:
        return [
            e
            for e in self.model[tenant].values()
            if (ids is None or e.id in ids) and _visible(e, deleted) and _matches(condition, e)
        ]

    # -- per-item bulk operations (CONTRACT §20) ---------------------------------------------

    @rule(data=st.data())
    def bulk_create(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        batch: list[Item] = []
        for _ in range(data.draw(st.integers(0, 4), label="items")):
            owner = tenant if data.draw(st.integers(0, 4), label="elsewhere") else None
            item = as_stored(data.draw(item_for(owner or self._tenant(data)), label="item"))
            reuse = data.draw(st.sampled_from(("no", "no", "key", "name", "earlier")))
            if reuse == "key":
                item = dataclasses.replace(item, id=self._key(data, tenant))
            elif reuse == "name":
                item = dataclasses.replace(item, name=self._name(data, item.tenant))
            elif reuse == "earlier" and batch:
                earlier = data.draw(st.sampled_from(batch), label="earlier item")
                item = dataclasses.replace(item, id=earlier.id)
            batch.append(item)
        # Item by item, in input order: a later item collides with an earlier one it follows.
        expected = [_answer(item.id, self._created(item, tenant)) for item in batch]
        self._expect(
            lambda repo: _answers(repo.bulk_create(batch, scope=TenantScope(tenant))), expected
        )

    @rule(data=st.data())
    def bulk_update(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        updates: dict[ItemId, dict[str, Any]] = {}
        for _ in range(data.draw(st.integers(0, 4), label="keys")):
            updates[self._key(data, tenant)] = self._changes(data, tenant)
        expected = [
            _answer(key, self._updated(tenant, key, values, None))
            for key, values in updates.items()
        ]
        self._expect(
            lambda repo: _answers(repo.bulk_update(updates, scope=TenantScope(tenant))), expected
        )

    @rule(data=st.data())
    def bulk_delete(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        keys = self._bulk_keys(data, tenant)
        expected = [_answer(key, self._deleted_in(tenant, key)) for key in keys]
        self._expect(
            lambda repo: _answers(repo.bulk_delete(keys, scope=TenantScope(tenant))), expected
        )

    @rule(data=st.data())
    def bulk_purge(self, data: st.DataObject) -> None:
        tenant = self._tenant(data)
        keys = self._bulk_keys(data, tenant)
        expected = [_answer(key, self._purged_in(tenant, key)) for key in keys]
        self._expect(
            lambda repo: _answers(repo.bulk_purge(keys, scope=TenantScope(tenant))), expected
        )

    # -- reads ------------------------------------------------------------------------------

    @rule(data=st.data())
    def search(self, data: st.DataObject) -> None:
        scoped = data.draw(
            st.lists(st.sampled_from(self.tenants), min_size=1, max_size=2, unique=True),
            label="scopes",
        )
        condition = data.draw(conditions(self._entities(), max_leaves=3), label="condition")
        order = data.draw(orders(), label="orders")
        deleted = data.draw(st.sampled_from(Deleted), label="deleted")
        expected = {
            e.id
            for tenant in scoped
            for e in self.model[tenant].values()
            if _visible(e, deleted) and _matches(condition, e)
        }
        pages = []
        for name, repo in self.repos:
            page = self.runner.run(
                repo.search(
                    conditions=condition,
                    orders=order,
                    scope=[TenantScope(t) for t in scoped],
                    deleted=deleted,
                    total_count=True,
                )
            )
            assert all(e.tenant in scoped for e in page.items), f"{name} read outside its scope"
            assert {e.id for e in page.items} == expected, name
            assert page.total_count == len(expected), name
            pages.append(page.items)
        assert pages[0] == pages[1], "the backend under test orders differently from the reference"

    # -- after every step, and at the end ---------------------------------------------------

    @invariant()
    def both_backends_hold_exactly_the_model(self) -> None:
        expected = sorted(self._entities(), key=lambda e: e.id)
        for name, repo in self.repos:
            page = self.runner.run(
                repo.search(
                    conditions=items.c.tenant.in_(self.tenants),
                    orders=[items.c.id.asc()],
                    deleted=Deleted.INCLUDE,
                )
            )
            assert page.items == expected, f"{name} disagrees with the model"

    def teardown(self) -> None:
        # Keeps both databases as small as one run, so later runs and shrinking stay fast.
        for _, repo in self.repos:
            for tenant in self.tenants:
                self.runner.run(repo.batch_purge(conditions=TRUE, scope=TenantScope(tenant)))


class TestOperationSequences:
    """Random sequences of every operation in three tenants agree with a model and stay apart."""

    def test_operations_agree_with_the_model_and_never_cross_a_scope(
        self, repokit_runner: SuiteRunner
    ) -> None:
        # Hypothesis takes any factory of machines; its annotation says a class.
        factory = cast(type[RuleBasedStateMachine], lambda: ScopedOperations(repokit_runner))
        run_state_machine_as_test(
            factory,
            settings=property_settings(stateful_step_count=_STEPS),
        )
