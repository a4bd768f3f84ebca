"""Types a user's checker can use: the README's code and the key-type errors, under
``mypy --strict`` and ``pyright --strict``.

The README's complete modules (its python blocks that start with an import) are
written to a temporary directory and must be clean under both checkers.
``cases/key_types.py`` (key types) and ``cases/reads.py`` (projections, CONTRACT
§19) hold what the checkers must reject, each line marked
``# E: <mypy code> <pyright rule>``, next to what they must accept. Each checker
runs once, on every file together, outside the project's own configuration.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "cases"
#: The files of marked cases (``# E: …``), checked each on its own.
CASE_FILES = sorted(path.name for path in CASES.glob("*.py"))
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
_EXPECTED = re.compile(r"#\s*E:\s*(?P<mypy>[\w-]+)\s+(?P<pyright>\w+)\s*$")
_MYPY_LINE = re.compile(
    r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*?)\s+\[(?P<code>[\w-]+)\]$"
)

#: (file name, line) -> the error code a checker reported there.
Found = dict[tuple[str, int], list[str]]


def readme_modules() -> list[str]:
    """The README's python blocks that are complete modules (the rest are fragments)."""
    blocks = _BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    modules = []
    for block in blocks:
        code = [line for line in block.splitlines() if line and not line.startswith("#")]
        if code and code[0].startswith(("from ", "import ")):
            modules.append(block)
    return modules


def expected_errors(path: Path) -> dict[int, tuple[str, str]]:
    expected = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        found = _EXPECTED.search(line)
        if found:
            expected[number] = (found["mypy"], found["pyright"])
    return expected


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Found, Found]:
    """Run both checkers once on the README's modules and the cases."""
    pytest.importorskip("mypy", reason="mypy is in the dev group")
    pytest.importorskip("pyright", reason="pyright is in the dev group")
    work = tmp_path_factory.mktemp("typing")
    files = []
    for index, module in enumerate(readme_modules()):
        path = work / f"readme_{index}.py"
        path.write_text(module, encoding="utf-8")
        files.append(path.name)
    for name in CASE_FILES:
        (work / name).write_text((CASES / name).read_text(encoding="utf-8"), encoding="utf-8")
        files.append(name)
    (work / "mypy.ini").write_text("[mypy]\nstrict = True\npython_version = 3.11\n")
    (work / "pyrightconfig.json").write_text(
        json.dumps(
            {
                "include": files,
                "typeCheckingMode": "strict",
                "pythonVersion": "3.11",
                # The contract suite is adopted with a star import (the README's
                # tests/contract module); strict pyright refuses any from a package.
                "reportWildcardImportFromLibrary": False,
            }
        )
    )
    return _mypy(work, files), _pyright(work)


def _mypy(work: Path, files: list[str]) -> Found:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--cache-dir", ".mypy"),
            *("--show-error-codes", "--no-error-summary", "--no-pretty", *files),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found: Found = {}
    for line in result.stdout.splitlines():
        parsed = _MYPY_LINE.match(line)
        if parsed:
            key = (Path(parsed["file"]).name, int(parsed["line"]))
            found.setdefault(key, []).append(f"{parsed['code']}: {parsed['message']}")
        elif ": note:" not in line:
            pytest.fail(f"unexpected mypy output: {line}\n{result.stdout}{result.stderr}")
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return found


def _pyright(work: Path) -> Found:
    result = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["filesAnalyzed"] >= 2, report
    found: Found = {}
    for diagnostic in report["generalDiagnostics"]:
        if diagnostic["severity"] == "information":
            continue
        key = (Path(diagnostic["file"]).name, diagnostic["range"]["start"]["line"] + 1)
        rule = diagnostic.get("rule", diagnostic["severity"])
        found.setdefault(key, []).append(f"{rule}: {diagnostic['message']}")
    return found


def _in(found: Found, name: str) -> dict[int, list[str]]:
    return {line: errors for (file, line), errors in found.items() if file == name}


def test_the_readme_has_a_complete_example() -> None:
    modules = readme_modules()
    assert modules
    assert "Repository(db, projects)" in modules[0]


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_readme_modules_are_clean_under_strict_checking(
    checked: tuple[Found, Found], checker: str
) -> None:
    found = checked[0] if checker == "mypy" else checked[1]
    errors = {key: value for key, value in found.items() if key[0].startswith("readme_")}
    assert errors == {}


@pytest.mark.parametrize("case", CASE_FILES)
@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_the_checkers_reject_exactly_the_marked_lines(
    checked: tuple[Found, Found], checker: str, case: str
) -> None:
    found = _in(checked[0] if checker == "mypy" else checked[1], case)
    expected = expected_errors(CASES / case)
    assert expected, "the cases file marks no errors"
    want = {line: codes[0 if checker == "mypy" else 1] for line, codes in expected.items()}
    got = {
        line: sorted({error.split(":", 1)[0] for error in errors}) for line, errors in found.items()
    }
    assert got == {line: [code] for line, code in want.items()}, "\n".join(
        f"{line}: {error}" for line, errors in sorted(found.items()) for error in errors
    )
