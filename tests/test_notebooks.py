"""Every tutorial notebook runs top to bottom within its time budget (they are committed without
outputs and executed here with nbclient)."""
import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient

BUDGET_S = 180
_ROOT = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
# notebooks/labs holds course labs whose exercise cells are stubs: tests/test_labs.py runs them with the solutions
NOTEBOOKS = sorted(p for p in _ROOT.rglob("*.ipynb") if "labs" not in p.relative_to(_ROOT).parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_within_budget(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=BUDGET_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    elapsed = time.perf_counter() - t0
    print(f"{path.name}: {elapsed:.1f} s")
    assert elapsed <= BUDGET_S, f"{path.name} took {elapsed:.0f} s (budget {BUDGET_S} s)"
