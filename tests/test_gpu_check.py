"""benchmarks/gpu_check.py: what a bare GPU machine needs to import sknoise travels with it."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")

ROOT = Path(__file__).resolve().parents[1]

#: What the bare GPU machine's Python already has (gpu_check.py's docstring).
ON_THE_GPU_MACHINE = {"torch", "scikit-learn", "numpy", "scipy", "pandas", "pytest", "hypothesis", "joblib",
                      "pyarrow"}


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_runtime_dependency_is_on_the_gpu_machine_or_among_the_wheels():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wheels = {name.lower() for name in _gpu_check().WHEELS}
    missing = {_name(r) for r in dependencies} - ON_THE_GPU_MACHINE - wheels
    assert not missing, f"runtime dependencies a bare GPU machine lacks and gpu_check.WHEELS does not bring: {missing}"


def test_the_docstring_lists_every_wheel_with_its_version():
    module = _gpu_check()
    listed = {(_name(line.split()[0]), line.split()[1]) for line in module.__doc__.splitlines()
              if len(line.split()) > 2 and re.fullmatch(r"[\d.]+", line.split()[1])}
    assert {(_name(name), version) for name, version in module.WHEELS.items()} <= listed
