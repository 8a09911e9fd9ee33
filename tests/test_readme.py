"""Every Python code block of the README runs as written, each in a fresh namespace."""

import re
from pathlib import Path

import matplotlib
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_code_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_code_block_runs(code, capsys):
    matplotlib.use("Agg")
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_D1_the_regression_example_does_not_train_on_its_target():
    # Issue 21: the first regression example fitted a table that still held its target.
    block = next(code for code in BLOCKS if "NoisyMLPRegressor(" in code)
    namespace = {"__name__": "__readme__"}
    exec(compile(block, str(README), "exec"), namespace)
    assert "income" not in namespace["reg"].feature_names_in_
