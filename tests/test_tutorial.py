"""The tutorial notebook (examples/tutorial.ipynb) runs from top to bottom on the current code."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tutorial.ipynb"


def test_tutorial_notebook_executes(tmp_path, monkeypatch):
    # a kernel of this interpreter, wherever Jupyter's own kernel list points
    kernelspec.install(prefix=str(tmp_path), kernel_name="stagewise-test")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="stagewise-test",
        resources={"metadata": {"path": tmp_path}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "supported |" in text and "'negative': 'refuted'" in text
    assert "reached 1e-6 at stage" in text and "(used its whole budget)" in text
    assert "status max_stages" not in text  # a run that reached its target reads as success
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
