"""The notebooks execute top to bottom (small settings written in them)."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_notebooks_are_committed_with_their_outputs():
    """Readers on a code host see results and plots without running anything."""
    assert len(NOTEBOOKS) == 5
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        assert all(cell.get("execution_count") for cell in code), path.name  # every cell ran
        assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", [])), path.name
        if path.stem != "svc_walkthrough":
            assert any("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", [])), path.name


#: re-executed in the default run; the others' code is tested elsewhere (LSTM search, SVC,
#: comparisons; an own model end to end in the README's example, tests/test_readme.py; the
#: notebooks' model files plan in tests/usermodel/test_model_cli.py) and they run with ``-m slow``
DEFAULT = {"own_model_delhi_mlp"}


@pytest.mark.parametrize(
    "path",
    [p if p.stem in DEFAULT else pytest.param(p, marks=pytest.mark.slow) for p in NOTEBOOKS],
    ids=lambda p: p.stem,
)
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
