"""The three distributions' metadata agree, and their sdists and wheels ship what they should.

repokit, repokit-sqlalchemy and repokit-mongodb are released together at one
version: repokit's comes from ``__version__`` (hatch's dynamic version), the
backends carry the same one and require exactly that repokit, and repokit's
extras require exactly those backends. The build tests run ``uv build
--all-packages`` (each sdist, then its wheel built from the sdist), which
fetches hatchling from the package registry unless uv's cache has it.
"""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

import repokit

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = {"repokit-sqlalchemy": "backends/sqlalchemy", "repokit-mongodb": "backends/mongodb"}
PROJECTS = {"repokit": ".", **BACKENDS}
#: The import package of each distribution.
PACKAGES = {
    "repokit": "repokit",
    "repokit-sqlalchemy": "repokit_sqlalchemy",
    "repokit-mongodb": "repokit_mongodb",
}
#: The Python versions CI runs the suite on (.ci/run), claimed by every distribution.
PYTHONS = ("3.11", "3.12", "3.13")
URLS = {"Homepage", "Documentation", "Repository", "Changelog"}

# What the outer run (uv run, pytest) exports that would leak into the build.
_LEAKY = ("VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT")


def _project(name: str) -> dict[str, Any]:
    with (ROOT / PROJECTS[name] / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]  # type: ignore[no-any-return]


def _pins(requirements: list[str], name: str) -> list[str]:
    """The versions *requirements* pin *name* to (``name[extras]==v``)."""
    found = []
    for requirement in requirements:
        match = re.fullmatch(rf"{re.escape(name)}(\[[\w,-]+\])?\s*(\S.*)?", requirement)
        if match:
            found.append(match.group(2) or "")
    return found


def test_repokit_takes_its_version_from_dunder_version() -> None:
    project = _project("repokit")
    assert "version" not in project
    assert project["dynamic"] == ["version"]
    with (ROOT / "pyproject.toml").open("rb") as f:
        hatch = tomllib.load(f)["tool"]["hatch"]["version"]
    assert hatch == {"path": "src/repokit/__init__.py"}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_each_backend_has_repokits_version_and_requires_exactly_that_repokit(
    backend: str,
) -> None:
    project = _project(backend)
    assert project["version"] == repokit.__version__
    assert _pins(project["dependencies"], "repokit") == [f"=={repokit.__version__}"]


def test_repokits_extras_require_the_backends_of_its_own_version() -> None:
    extras = _project("repokit")["optional-dependencies"]
    for extra in ("postgres", "sqlite", "mongodb", "all"):
        pins = [pin for name in BACKENDS for pin in _pins(extras[extra], name)]
        assert pins, extra
        assert set(pins) == {f"=={repokit.__version__}"}, (extra, pins)


def test_the_changelog_has_a_section_for_the_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    heading = rf"^## \[{re.escape(repokit.__version__)}\] - \d{{4}}-\d\d-\d\d$"
    assert re.search(heading, changelog, re.MULTILINE)


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_each_distribution_declares_the_mit_license_with_its_file(name: str) -> None:
    project = _project(name)
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    copy = ROOT / PROJECTS[name] / "LICENSE"
    assert copy.read_text(encoding="utf-8") == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright (c) 2026 repokit developers" in copy.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_each_distribution_has_a_readme_urls_and_a_classifier_per_python_ci_runs(
    name: str,
) -> None:
    project = _project(name)
    assert (ROOT / PROJECTS[name] / project["readme"]).is_file()
    assert set(project["urls"]) == URLS
    versions = {
        c.rpartition(":: ")[2]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == set(PYTHONS)
    assert project["requires-python"] == f">={PYTHONS[0]}"


def test_ci_runs_the_suite_on_the_newest_python_the_classifiers_claim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"NEWEST_PYTHON={PYTHONS[-1]}\n" in ci


# -- built distributions (need hatchling: the registry, or uv's cache) ----------------------


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.fail("the packaging tests need uv (pip install uv)")
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    done = subprocess.run(
        [uv, "build", "--all-packages", "--out-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"uv build failed:\n{done.stdout}\n{done.stderr}"
    return out


def _file_name(name: str) -> str:
    return f"{name.replace('-', '_')}-{repokit.__version__}"


@pytest.mark.network
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_each_sdist_ships_the_package_and_nothing_of_the_workspace(dist: Path, name: str) -> None:
    stem = _file_name(name)
    with tarfile.open(dist / f"{stem}.tar.gz") as sdist:
        members = {m.name.removeprefix(f"{stem}/") for m in sdist.getmembers() if m.isfile()}
    package = f"src/{PACKAGES[name]}/"
    assert f"{package}__init__.py" in members
    assert f"{package}py.typed" in members
    assert {"PKG-INFO", "pyproject.toml", "LICENSE", "README.md"} <= members
    extra = {
        m for m in members if not m.startswith(package) and "/" in m and m != "docs/contract.md"
    }
    assert not extra, f"{name}'s sdist ships more than its package: {sorted(extra)}"
    assert not {m for m in members if "__pycache__" in m or m == "uv.lock"}
    if name == "repokit":
        assert {"CHANGELOG.md", "docs/contract.md"} <= members


@pytest.mark.network
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_each_wheel_carries_the_license_and_the_metadata(dist: Path, name: str) -> None:
    stem = _file_name(name)
    with zipfile.ZipFile(dist / f"{stem}-py3-none-any.whl") as wheel:
        names = set(wheel.namelist())
        metadata = email.parser.Parser().parsestr(wheel.read(f"{stem}.dist-info/METADATA").decode())
    assert f"{stem}.dist-info/licenses/LICENSE" in names
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {PACKAGES[name], f"{stem}.dist-info"}
    assert metadata["Version"] == repokit.__version__
    assert metadata["License-Expression"] == "MIT"
    assert {url.split(",", 1)[0] for url in metadata.get_all("Project-URL", [])} == URLS
    for python in PYTHONS:
        assert f"Programming Language :: Python :: {python}" in metadata.get_all("Classifier", [])
    if name in BACKENDS:
        assert f"repokit=={repokit.__version__}" in metadata.get_all("Requires-Dist", [])
