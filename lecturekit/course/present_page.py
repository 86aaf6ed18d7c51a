"""The presentation page ready at once: built once per network and kit version, its first
picture stored in the page itself.

Voilà shows a cell's output only after a kernel has run it, and a kernel that imports
PyTorch and loads EfficientNet-Lite0 needs about 6 s on two cores before it can draw
anything. So ``python -m lecturekit present`` first prepares, in a folder of its own
(:func:`page_folder`, named by the network and the kit's fingerprint), a copy of
:data:`~lecturekit.course.present.PAGE` for the chosen network: the lecture's opening
figure (:data:`OPENING_FIGURE`) is drawn once and put into the page's markdown as an
attachment, which Voilà's progressive rendering shows before any kernel has started; the
page's figure gallery keeps every figure it draws in the same folder, so each is drawn
once per network and kit version instead of once per visit. The explorers stay live.
A changed kit has another fingerprint and so another folder: no page ever shows a
picture an older kit drew. The folders live in the result cache's folder
(:func:`lecturekit.result_cache.cache_folder`, under ``present/``); with the cache off, in
a new temporary folder at every start. Deleting them is always safe.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from lecturekit.models import ENV_VARIABLE, MODEL_NAMES, auto_model_name, load_model
from lecturekit.result_cache import cache_folder, kit_fingerprint
from lecturekit.ui.widgets.gallery import FigureGallery, figure_summary

__all__ = ["GALLERY_CALL", "OPENING_ALT", "OPENING_FIGURE", "OPENING_HEADING",
           "chosen_model_name", "page_folder", "page_notebook", "prepare_page"]

OPENING_FIGURE = "rule_comparison"
"""The figure the page opens with: the lecture's first (backprop, Deconvnet and guided
backprop on the cat), quick to draw on every network."""
OPENING_HEADING = "Three ways back to the pixels"
"""The heading over the opening figure."""
OPENING_ALT = "the lecture's opening figure"
"""The opening picture's alternative text (browser tests and the bench find it by it)."""
GALLERY_CALL = "lk.widgets.figure_gallery(model)"
"""The gallery cell of the page template; the prepared page gives it the page's folder."""


def chosen_model_name(name: str | None = None) -> str:
    """The network the page will show: ``name``, else ``$LECTUREKIT_MODEL``, else what
    ``"auto"`` picks on this machine (as :func:`lecturekit.models.load_model` does)."""
    given = name or os.environ.get(ENV_VARIABLE) or "auto"
    if given not in MODEL_NAMES:
        source = "" if name else f" (from {ENV_VARIABLE})"
        raise ValueError(f"unknown model name {given!r}{source}; valid names are: "
                         f"{', '.join(MODEL_NAMES)}")
    return auto_model_name() if given == "auto" else given


def page_folder(model_name: str) -> Path:
    """The folder of the page prepared for ``model_name`` by this version of the kit."""
    root = cache_folder()
    if root is None:  # the cache is off: nothing is kept from one start to the next
        return Path(tempfile.mkdtemp(prefix=f"lecturekit-present-{model_name}-"))
    return root / "present" / f"{model_name}-{kit_fingerprint()[:16]}"


def page_notebook(template: dict, opening_png: bytes, model_name: str, folder: Path) -> dict:
    """The page ``template`` (a notebook's dictionary) with the opening figure as a markdown
    cell after its first cell and its gallery keeping figures in ``folder``."""
    page = json.loads(json.dumps(template))  # a deep copy
    calls = [cell for cell in page["cells"] if "".join(cell["source"]) == GALLERY_CALL]
    if len(calls) != 1:
        raise ValueError(f"the page template must have one cell {GALLERY_CALL!r}, "
                         f"found {len(calls)}")
    calls[0]["source"] = f"lk.widgets.figure_gallery(model, store={str(folder)!r})"
    text = (f"## {OPENING_HEADING}\n\n"
            f"![{OPENING_ALT}](attachment:opening.png)\n\n"
            f"{figure_summary(OPENING_FIGURE)} Drawn for the {model_name} network when this "
            f"page was prepared; everything below is computed live.")
    opening = {"cell_type": "markdown", "id": "opening-figure", "metadata": {}, "source": text,
               "attachments": {"opening.png": {"image/png":
                                               base64.b64encode(opening_png).decode()}}}
    page["cells"].insert(1, opening)
    return page


def prepare_page(model_name: str, template: Path,
                 log: Callable[[str], None] = print) -> Path:
    """The page for ``model_name`` (a name :func:`chosen_model_name` returns), prepared from
    ``template`` unless this kit prepared it before: the network is loaded and the opening
    figure drawn only then (a few seconds; the page is written atomically)."""
    folder = page_folder(model_name)
    page = folder / template.name
    if page.is_file():
        return page
    log(f"lecturekit present: preparing the page for the {model_name} network in {folder} "
        f"(once per network and kit version) ...")
    model = load_model(model_name, verbose=False)
    opening = FigureGallery(model, [OPENING_FIGURE], store=folder).cache[OPENING_FIGURE]
    notebook = page_notebook(json.loads(template.read_text(encoding="utf-8")), opening,
                             model_name, folder)
    partial = page.with_name(f".{page.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    os.replace(partial, page)
    return page
