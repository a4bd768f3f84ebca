"""repokit's public API is typed for the user's checker: ``pyright --verifytypes``.

Every exported symbol should have a type a checker cannot infer differently
(an instance attribute assigned without an annotation is "ambiguous", and so
is everything that takes or returns its class). The floor is 90 %.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FLOOR = 0.90


def test_the_public_api_is_at_least_ninety_percent_typed(tmp_path: Path) -> None:
    pytest.importorskip("pyright", reason="pyright is in the dev group")
    # verifytypes finds the package through the interpreter on PATH (not --pythonpath).
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = ["--outputjson", "--ignoreexternal", "--verifytypes", "repokit"]
    result = subprocess.run(
        [sys.executable, "-m", "pyright", *command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    completeness = report["typeCompleteness"]
    assert completeness["exportedSymbolCounts"]["withKnownType"] > 0, report["generalDiagnostics"]
    ambiguous = [
        f"{symbol['name']}: {symbol['diagnostics'][0]['message'] if symbol['diagnostics'] else ''}"
        for symbol in completeness["symbols"]
        if symbol["isExported"] and not symbol["isTypeKnown"]
    ]
    assert completeness["completenessScore"] >= FLOOR, "\n".join(ambiguous[:40])
