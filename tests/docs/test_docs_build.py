"""The docs site builds with warnings as errors, and shows what it promises.

``mkdocs build --strict`` runs once for the module, into a temporary
directory (the same command CI runs): a broken link, a page left out of the
nav, a docstring the API reference cannot read or a failing hook fails here,
in ``uv run pytest``, not only in CI.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import repokit
from repokit import Capabilities

ROOT = Path(__file__).resolve().parents[2]


def _hook(name: str) -> ModuleType:
    """A hook module of docs/ (plain files, not a package), imported by path."""
    spec = importlib.util.spec_from_file_location(f"docs_{name}", ROOT / "docs" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def _page(site: Path, page: str) -> str:
    return (site / page / "index.html").read_text(encoding="utf-8")


def test_the_docs_build_strictly_and_leave_no_marker_unexpanded(site: Path) -> None:
    for html in site.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        assert "<!-- capabilities:" not in text, html
        assert "<!-- include:" not in text, html


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mongodb", "memory"])
def test_each_backend_page_shows_every_capability(site: Path, backend: str) -> None:
    html = _page(site, f"backends/{backend}")
    for field in dataclasses.fields(Capabilities):
        assert f"<code>{field.name}</code>" in html, (backend, field.name)


def test_the_pages_from_outside_docs_are_on_the_site(site: Path) -> None:
    assert "as a ratio to the raw drivers" in _page(site, "benchmarks")
    assert "Unreleased" in _page(site, "changelog")
    # The getting-started page carries the README's example and its two commands.
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "examples/quickstart.py" in index
    assert "DomainScope" in index


def test_every_public_name_of_repokit_is_in_the_api_reference(site: Path) -> None:
    html = _page(site, "reference/repokit")
    anchors = set(re.findall(r'id="(repokit\.[\w.]+)"', html))
    missing = [n for n in repokit.__all__ if n != "__version__" and f"repokit.{n}" not in anchors]
    assert not missing, (
        f"exported by repokit but not in the API reference: {missing} "
        "(give each a docstring, or a '#:' comment above a constant or alias)"
    )


def test_the_capability_tables_hold_what_the_backends_declare() -> None:
    gen = _hook("gen_capabilities")
    from repokit.memory import MemoryBackend

    (column,) = gen.configurations("memory")
    assert column[1] == MemoryBackend.capabilities
    mongodb = dict(gen.configurations("mongodb"))
    assert [caps.transactions for caps in mongodb.values()] == [True, False]
    sqlite = [caps for _, caps in gen.configurations("sqlite")]
    assert [(c.persistent, c.concurrent_sessions) for c in sqlite] == [(True, True), (False, False)]


def test_an_unknown_capability_table_fails_the_build() -> None:
    gen = _hook("gen_capabilities")
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match="nosuchdb"):
        gen.render("<!-- capabilities: nosuchdb -->")


def test_an_included_section_ends_at_the_next_heading_outside_code() -> None:
    gen = _hook("gen_includes")
    text = "# T\n\n## One\n\nbody\n\n```python\n# not a heading\n```\n\n## Two\n\nother\n"
    assert gen.section(text, "one") == "body\n\n```python\n# not a heading\n```\n"
    with pytest.raises(KeyError):
        gen.section(text, "three")


def test_links_that_leave_docs_point_to_the_repository() -> None:
    gen = _hook("gen_includes")
    source = ROOT / "benchmarks" / "README.md"
    text = "[c](../docs/contract.md#9-x) [g](../CONTRIBUTING.md) [w](https://x.org) [a](#here)"
    out = gen.rewrite_links(text, source, "benchmarks.md", "https://example.org/r")
    assert out == (
        "[c](contract.md#9-x) [g](https://example.org/r/blob/main/CONTRIBUTING.md) "
        "[w](https://x.org) [a](#here)"
    )
