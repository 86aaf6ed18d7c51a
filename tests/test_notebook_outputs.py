"""The stored notebook outputs: which network made them.

conftest.py runs each notebook under nbval with the network its metadata names; these
tests make sure that name is a real network, that the outputs really come from it (the
first cell's output says which network was loaded), and that every lecture notebook that
shows a photograph or an ImageNet class stores the ImageNet network's outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lecturekit.models import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


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


IMAGENET_NOTEBOOKS = ["01_input_gradients", "02_relu_backward_rules", "03_saliency_maps",
                      "04_inceptionism", "05_inversion"]
"""The lecture shows photographs and ImageNet classes in all of these (00 only starts up)."""


def test_the_lecture_notebooks_store_the_imagenet_network():
    named = {p.stem: _notebook(p)["metadata"].get("lecturekit", {}).get("outputs_model")
             for p in NOTEBOOKS}
    assert set(IMAGENET_NOTEBOOKS) <= set(named)
    assert {stem: named[stem] for stem in IMAGENET_NOTEBOOKS} == dict.fromkeys(
        IMAGENET_NOTEBOOKS, "efficientnet-lite0")

