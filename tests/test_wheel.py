"""The wheel is what users install: every module must import from it, outside the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

_IMPORT_ALL = """
import importlib, pkgutil, sys, tinyrnn
assert tinyrnn.__file__.startswith(sys.argv[1]), tinyrnn.__file__
names = [m.name for m in pkgutil.walk_packages(tinyrnn.__path__, "tinyrnn.")
         if m.name != "tinyrnn.__main__"]
for name in names:
    importlib.import_module(name)
heavy = sorted(m for m in ("tensorflow", "keras", "tf_keras") if m in sys.modules)
print(len(names), ",".join(heavy))
"""


def test_wheel_installs_and_every_module_imports_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, REPO],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    (wheel,) = wheels.glob("tinyrnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # Nothing installs bare top-level stage modules; templates and kernels ship inside.
    assert {n.split("/")[0] for n in names if not n.startswith("tinyrnn-")} == {"tinyrnn"}
    for must in ("tinyrnn/codegen/kernels/tinyrnn_lstm_s8.c", "tinyrnn/codegen/templates/model.c.j2",
                 "tinyrnn/firmware_templates/boards.json", "tinyrnn/firmware_templates/app/app_main.c"):  # fmt: skip
        assert must in names, must
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
                   check=True, capture_output=True, timeout=300)  # fmt: skip
    run = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); exec({_IMPORT_ALL!r})",
                          str(site)], cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    count, _, heavy = run.stdout.strip().partition(" ")
    assert int(count) > 30
    # Importing any module must not pull in TensorFlow: a HIL lab PC has none.
    assert heavy == "", f"modules import {heavy} at import time"
