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
