"""The stored notebook outputs: which network made them, and the ImageNet figures beside them.

conftest.py runs each notebook under nbval with the network its metadata names; these
tests make sure that name is a real network, that the outputs really come from it (the
first cell's output says which network was loaded), and that every picture a notebook's
markdown shows from notebooks/figures/ is there and none is left unused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lecturekit.models import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FIGURES = ROOT / "notebooks" / "figures"


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _loaded_model(notebook: dict) -> str:
    """The network named in the line `load_model` printed in the notebook's outputs."""
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            found = re.search(r"lecturekit: using the (\S+) model", "".join(output.get("text", "")))
            if found:
                return found.group(1)
    raise AssertionError("no stored output says which network was loaded")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_the_network_the_metadata_names(path):
    notebook = _notebook(path)
    named = notebook["metadata"].get("lecturekit", {}).get("outputs_model", "toy")
    assert named in MODEL_NAMES and named != "auto", named
    assert _loaded_model(notebook) == named


def test_some_notebooks_store_the_imagenet_network():
    named = [_notebook(p)["metadata"].get("lecturekit", {}).get("outputs_model") for p in NOTEBOOKS]
    assert "efficientnet-lite0" in named


def test_every_figure_shown_exists_and_every_figure_file_is_shown():
    shown = set()
    for path in NOTEBOOKS:
        for cell in _notebook(path)["cells"]:
            if cell["cell_type"] == "markdown":
                shown |= set(re.findall(r"\]\((figures/[^)\s]+)\)", "".join(cell["source"])))
    files = {f"figures/{f.name}" for f in FIGURES.iterdir()}
    assert shown, "no notebook shows a stored figure"
    assert shown <= files, f"shown but missing: {sorted(shown - files)}"
    assert files <= shown, f"stored but never shown: {sorted(files - shown)}"
