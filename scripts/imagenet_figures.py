"""Keep the ImageNet network's version of the notebooks' key figures beside the toy outputs.

Notebooks 01-03 store EfficientNet-Lite0's outputs (their metadata says so and the test
suite runs them on it). Notebooks 04 and 05 store the toy network's, because on an ImageNet
network they take minutes on a laptop CPU; so their cells tagged ``imagenet-figure:<name>`` get their ImageNet picture stored once, as a file
in ``notebooks/figures/``, which a markdown cell after them shows.

    python scripts/imagenet_figures.py                    # run the notebooks, keep the figures
    python scripts/imagenet_figures.py --executed DIR     # take them from notebooks run before

Files are named ``<notebook number>-<name>.<png|jpg>``. Existing files are replaced only
with ``--force``.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TAG = "imagenet-figure:"
SUFFIXES = {"image/png": "png", "image/jpeg": "jpg"}


def tagged_cells(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Figure name -> the code cell whose ImageNet figure is kept under that name."""
    return {tag[len(TAG):]: cell for cell in notebook.cells if cell.cell_type == "code"
            for tag in cell.metadata.get("tags", []) if tag.startswith(TAG)}


def execute(path: Path, model: str) -> nbformat.NotebookNode:
    """``path`` executed with ``LECTUREKIT_MODEL=model`` in the notebooks' folder."""
    from nbclient import NotebookClient

    os.environ["LECTUREKIT_MODEL"] = model
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=3600, resources={"metadata": {"path": str(path.parent)}}
                   ).execute()
    return notebook


def figure_files(source: nbformat.NotebookNode, executed: nbformat.NotebookNode,
                 prefix: str) -> dict[str, bytes]:
    """File name -> image bytes for every tagged cell of ``source``, read from the cell with
    the same id in ``executed``."""
    by_id = {cell.get("id"): cell for cell in executed.cells}
    files = {}
    for name, cell in tagged_cells(source).items():
        ran = by_id.get(cell.get("id"))
        images = [(mime, output["data"][mime]) for output in (ran or {}).get("outputs", [])
                  for mime in SUFFIXES if mime in output.get("data", {})]
        if not images:
            raise RuntimeError(f"{prefix}: the cell of figure {name!r} made no figure")
        mime, data = images[-1]
        files[f"{prefix}-{name}.{SUFFIXES[mime]}"] = base64.b64decode(data)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet-lite0",
                        help="the ImageNet network (default: efficientnet-lite0)")
    parser.add_argument("--executed", type=Path,
                        help="a folder of these notebooks already executed on --model")
    parser.add_argument("--out", type=Path, default=NOTEBOOKS / "figures")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    files: dict[str, bytes] = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        source = nbformat.read(path, as_version=4)
        if not tagged_cells(source):
            continue
        executed = (nbformat.read(args.executed / path.name, as_version=4) if args.executed
                    else execute(path, args.model))
        files.update(figure_files(source, executed, path.name[:2]))
    existing = [name for name in files if (args.out / name).exists()]
    if existing and not args.force:
        print(f"error: {', '.join(existing)} exist in {args.out}; use --force", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
