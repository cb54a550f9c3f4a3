"""Every ```python block of the README and of the docs pages runs as written (each in a fresh
namespace, in a temporary folder), so no example can rot. A fragment that cannot run alone is
fenced ```py instead."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
DOC_BLOCKS = [
    (page.name, block)
    for page in sorted((ROOT / "docs").glob("*.md"))
    for block in re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)
]


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = compile(BLOCKS[index], f"README.md python block {index + 1}", "exec")
    module = types.ModuleType(f"readme_block_{index + 1}")  # a real module: dataclasses (flax modules) look it up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(code, module.__dict__)


@pytest.mark.parametrize("page, block", DOC_BLOCKS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(DOC_BLOCKS)])
def test_docs_python_block_runs(page, block, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType(f"docs_{Path(page).stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, f"docs/{page}", "exec"), module.__dict__)
