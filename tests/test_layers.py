"""The layering contract (docs/design.md) holds: import-linter over the installed layout.

The stage folders live beside ``tinyrnn/`` in the checkout and are mapped into the
package by pyproject's ``package-dir``, so the test stages the installed layout in a
temporary folder (``.py`` files only) and lints that.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

STAGES = {"train": "train", "quantize": "quantize", "codegen": "codegen", "firmware_templates": "firmware_templates"}


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(REPO / "tinyrnn", root / "tinyrnn", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for package, folder in STAGES.items():
        shutil.copytree(REPO / folder, root / "tinyrnn" / package, ignore=lambda d, names: [
            n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir()) or n == "__pycache__"])
    return root


def test_import_linter_contracts_hold(staged):
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), str(REPO / "pyproject.toml"), "--no-cache"], cwd=staged,
                         capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(staged), "PATH": ""})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout and "3 kept" in run.stdout, run.stdout


def test_core_imports_only_numpy_and_the_standard_library(staged):
    """Stricter than a forbidden list: every import in tinyrnn.core, function-level ones included."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "tinyrnn"}
    for path in sorted((staged / "tinyrnn" / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                top = name.split(".")[0]
                ok = top in allowed or (path.name == "progress.py" and top == "tqdm")
                assert ok, f"{path.relative_to(staged)} imports {name}"
