"""Contract tests: CONTRACT §4 text matching.

``==``, ``contains``, ``startswith`` and ``endswith`` compare code points
literally and case-sensitively: LIKE wildcards, escapes, regex
metacharacters and ``$``-prefixed strings are plain characters.
``ignore_case=True`` is the same operation on ``str.casefold()`` of both sides
(full Unicode folding, no locale, no accent stripping).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from repokit import Database, InvalidQuery
from repokit.testing.schema import TenantScope, items
from repokit.testing.suite._entities import (
    count_items,
    item_repository,
    matching_names,
    store_items,
)

__all__ = ["TestIgnoreCase", "TestLiteralMatching"]

_SPECIALS = ["%", "_", "\\", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "^", "$", "|", "'"]


async def _names(db: Database, tenant: str, names: Iterable[str]) -> None:
    await store_items(db, tenant, ({"name": name} for name in names))


class TestLiteralMatching:
    @pytest.mark.asyncio
    @pytest.mark.parametrize("special", _SPECIALS)
    async def test_special_characters_match_only_themselves(
        self, repokit_db: Database, repokit_tenant: str, special: str
    ) -> None:
        literal = f"a{special}b"
        other = "a\\b" if special != "\\" else "a%b"
        await _names(repokit_db, repokit_tenant, [literal, "axb", "ab", other])
        name = items.c.name
        assert await matching_names(repokit_db, repokit_tenant, name == literal) == {literal}
        assert await matching_names(repokit_db, repokit_tenant, name.contains(special)) == {literal}
        assert await matching_names(repokit_db, repokit_tenant, name.contains(literal)) == {literal}
        assert await matching_names(repokit_db, repokit_tenant, name.startswith(f"a{special}")) == {
            literal
        }
        assert await matching_names(repokit_db, repokit_tenant, name.endswith(f"{special}b")) == {
            literal
        }

    @pytest.mark.asyncio
    async def test_dollar_prefixed_strings_are_plain_text(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["$name", "$$ROOT", "name", "tenant"])
        name = items.c.name
        assert await matching_names(repokit_db, repokit_tenant, name == "$name") == {"$name"}
        assert await matching_names(repokit_db, repokit_tenant, name == "$tenant") == set()
        assert await matching_names(repokit_db, repokit_tenant, name.in_(["$$ROOT"])) == {"$$ROOT"}
        assert await matching_names(repokit_db, repokit_tenant, name.startswith("$")) == {
            "$name",
            "$$ROOT",
        }
        assert await matching_names(repokit_db, repokit_tenant, name != "$name") == {
            "$$ROOT",
            "name",
            "tenant",
        }

    @pytest.mark.asyncio
    async def test_matching_is_case_sensitive_by_default(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["Apple", "apple", "APPLE"])
        name = items.c.name
        assert await matching_names(repokit_db, repokit_tenant, name == "apple") == {"apple"}
        assert await matching_names(repokit_db, repokit_tenant, name.contains("PP")) == {"APPLE"}
        assert await matching_names(repokit_db, repokit_tenant, name.startswith("A")) == {
            "Apple",
            "APPLE",
        }
        assert await matching_names(repokit_db, repokit_tenant, name.endswith("le")) == {
            "Apple",
            "apple",
        }
        assert await matching_names(repokit_db, repokit_tenant, name.in_(["APPLE"])) == {"APPLE"}

    @pytest.mark.asyncio
    async def test_text_is_compared_by_code_points_without_normalisation(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        composed, decomposed = "caf\u00e9", "cafe\u0301"
        await _names(repokit_db, repokit_tenant, [composed, decomposed])
        name = items.c.name
        assert await matching_names(repokit_db, repokit_tenant, name == composed) == {composed}
        assert await matching_names(repokit_db, repokit_tenant, name.contains("e")) == {decomposed}
        assert await matching_names(repokit_db, repokit_tenant, name.endswith("\u0301")) == {
            decomposed
        }

    @pytest.mark.asyncio
    async def test_astral_characters_match_as_single_code_points(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["a𝄞b", "a\U0001d11fb", "ab"])
        name = items.c.name
        assert await matching_names(repokit_db, repokit_tenant, name.contains("𝄞")) == {"a𝄞b"}
        assert await matching_names(repokit_db, repokit_tenant, name.startswith("a𝄞")) == {"a𝄞b"}
        assert await matching_names(repokit_db, repokit_tenant, name.endswith("\U0001d11fb")) == {
            "a\U0001d11fb"
        }

    @pytest.mark.asyncio
    async def test_empty_operand_matches_every_value(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["x", "%", ""])
        name = items.c.name
        for condition in (name.contains(""), name.startswith(""), name.endswith("")):
            assert await matching_names(repokit_db, repokit_tenant, condition) == {"x", "%", ""}


#: (stored, query) pairs equal under str.casefold(), most of them not under str.lower().
_FOLDED = [
    ("straße", "STRASSE"),
    ("STRASSE", "straße"),
    ("École", "éCOLE"),
    ("ΣΊΣΥΦΟΣ", "σίσυφος"),
    ("κόσμος", "ΚΌΣΜΟΣ"),
    ("\ufb01le", "FILE"),
    ("KIRMIZI", "kirmizi"),
]


class TestIgnoreCase:
    @pytest.mark.asyncio
    @pytest.mark.parametrize(("stored", "query"), _FOLDED)
    async def test_ignore_case_equality_uses_full_casefolding(
        self, repokit_db: Database, repokit_tenant: str, stored: str, query: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, [stored, "unrelated"])
        name = items.c.name
        folded = name.eq(query, ignore_case=True)
        assert await matching_names(repokit_db, repokit_tenant, folded) == {stored}
        assert await matching_names(repokit_db, repokit_tenant, name.eq(query)) == set()

    @pytest.mark.asyncio
    async def test_ignore_case_substring_matches_use_full_casefolding(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["Großstraße", "ΚΌΣΜΟΣ", "other"])
        name = items.c.name
        cases = [
            (name.contains("SS", ignore_case=True), {"Großstraße"}),
            (name.startswith("GROSS", ignore_case=True), {"Großstraße"}),
            (name.endswith("STRASSE", ignore_case=True), {"Großstraße"}),
            (name.endswith("μος", ignore_case=True), {"ΚΌΣΜΟΣ"}),
            (name.startswith("κόσ", ignore_case=True), {"ΚΌΣΜΟΣ"}),
            (name.contains("SS"), set()),
        ]
        for condition, expected in cases:
            assert await matching_names(repokit_db, repokit_tenant, condition) == expected, (
                condition
            )

    @pytest.mark.asyncio
    async def test_ignore_case_keeps_accents_and_ignores_locale(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["é", "kırmızı"])
        name = items.c.name
        assert (
            await matching_names(repokit_db, repokit_tenant, name.eq("E", ignore_case=True))
            == set()
        )
        assert await matching_names(repokit_db, repokit_tenant, name.eq("É", ignore_case=True)) == {
            "é"
        }
        # Dotless ı is its own letter: casefold() maps I to i everywhere, never to ı.
        got = await matching_names(repokit_db, repokit_tenant, name.eq("KIRMIZI", ignore_case=True))
        assert got == set()

    @pytest.mark.asyncio
    async def test_ignore_case_matching_is_still_literal(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["100%_Done", "100x done", "a.b", "axb"])
        name = items.c.name
        cases = [
            (name.contains("%_D", ignore_case=True), {"100%_Done"}),
            (name.startswith("100%", ignore_case=True), {"100%_Done"}),
            (name.endswith("_done", ignore_case=True), {"100%_Done"}),
            (name.eq("A.B", ignore_case=True), {"a.b"}),
        ]
        for condition, expected in cases:
            assert await matching_names(repokit_db, repokit_tenant, condition) == expected, (
                condition
            )

    @pytest.mark.asyncio
    async def test_ignore_case_complement_matches_the_rest(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await _names(repokit_db, repokit_tenant, ["Straße", "STRASSE", "street"])
        condition = items.c.name.eq("strasse", ignore_case=True)
        assert await matching_names(repokit_db, repokit_tenant, ~condition) == {"street"}
        assert await count_items(repokit_db, repokit_tenant, condition) == 2

    @pytest.mark.asyncio
    async def test_ignore_case_follows_every_write(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        [item] = await store_items(repokit_db, repokit_tenant, [{"name": "Alpha"}])
        repo = item_repository(repokit_db)
        await repo.update(item.id, {"name": "Beta"}, scope=TenantScope(repokit_tenant))
        name = items.c.name
        assert (
            await count_items(repokit_db, repokit_tenant, name.eq("ALPHA", ignore_case=True)) == 0
        )
        assert await count_items(repokit_db, repokit_tenant, name.eq("BETA", ignore_case=True)) == 1
        await repo.batch_update({"name": "Gamma"}, ids=[item.id], scope=TenantScope(repokit_tenant))
        assert await count_items(repokit_db, repokit_tenant, name.eq("beta", ignore_case=True)) == 0
        assert (
            await count_items(repokit_db, repokit_tenant, name.startswith("GAM", ignore_case=True))
            == 1
        )

    @pytest.mark.asyncio
    async def test_ignore_case_on_a_field_without_a_casefold_shadow_raises_invalid_query(
        self, repokit_db: Database, repokit_tenant: str
    ) -> None:
        await store_items(repokit_db, repokit_tenant, [{"code": "x"}])
        with pytest.raises(InvalidQuery):
            items.c.code.contains("X", ignore_case=True)
        with pytest.raises(InvalidQuery):
            items.c.code.eq("X", ignore_case=True)
        assert await count_items(repokit_db, repokit_tenant, items.c.code == "x") == 1
