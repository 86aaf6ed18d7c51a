"""nbgrader's cell metadata on the solution notebooks, derived from what the cells say.

With this metadata a teacher grades the homework with nbgrader's own commands
(``generate_assignment``, ``release_assignment``, ``collect``, ``autograde``)
and no tool of the kit. Every cell of a solution notebook gets one of four roles,
read off its content, never typed by hand:

==============  =====================================================  ===================
role            which cells                                            nbgrader cell type
==============  =====================================================  ===================
``solution``    code cells with a ``### BEGIN SOLUTION`` region        autograded answer
``answer``      markdown cells with a ``<!-- BEGIN SOLUTION -->``      manually graded
                region (a written answer)                              answer (points)
``test``        code cells that call ``checks.check_...(...)``:        autograder test
                full points when the check passes, none when it        (points, locked)
                raises
``read-only``   every other cell (instructions, set-up, plots)         read-only (locked)
==============  =====================================================  ===================

The ``grade_id`` of a cell is its nbformat cell id, which Jupyter keeps when the
cell is edited, so grades stay attached to the same cell. ``points`` default to
:data:`DEFAULT_POINTS`; a number a teacher set (in nbgrader's "Create
Assignment" toolbar or in the file) is kept. :func:`tag` writes the metadata
and writes out the ``### BEGIN SOLUTION: prompt`` shorthand (see
:mod:`lecturekit.course.regions`); :func:`stale_cells` says which cells a
:func:`tag` would change. ``python -m lecturekit exercises build`` runs
:func:`tag` before it builds ``exercises/``, and ``exercises check`` fails on
stale metadata as it fails on stale exercises.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from lecturekit.course.folders import course_folder
from lecturekit.course.regions import (RegionError, count_regions, lines_for_json,
                                       move_prompts, read_notebook, render, source)

__all__ = ["DEFAULT_POINTS", "GRADING_KEY", "cell_role", "solutions_folder", "stale_cells",
           "tag", "tag_notebook"]

GRADING_KEY = "nbgrader"
SCHEMA_VERSION = 3
"""The version of nbgrader's cell metadata schema written here (nbgrader 0.6 and later)."""
DEFAULT_POINTS = 1
"""Points of a test cell or a written answer unless the teacher set others."""
_CHECK_CALL = re.compile(r"\bchecks\.check_\w+\s*\(")
_ROLES = {  # role -> (grade, solution, locked)
    "solution": (False, True, False),
    "answer": (True, True, False),
    "test": (True, False, True),
    "read-only": (False, False, True),
}


def cell_role(cell: dict[str, Any], where: str = "cell") -> str:
    """``"solution"``, ``"answer"``, ``"test"`` or ``"read-only"`` (see the module's table);
    RegionError when a cell both holds a solution region and calls a check."""
    regions = count_regions(cell, where)
    if cell.get("cell_type") == "markdown":
        return "answer" if regions else "read-only"
    if cell.get("cell_type") != "code":
        return "read-only"
    calls_check = bool(_CHECK_CALL.search(source(cell)))
    if regions and calls_check:
        raise RegionError(f"{where}: a cell cannot hold both a solution region and a check "
                          f"(nbgrader grades a test cell as a whole); move the check into the "
                          f"next cell")
    return "solution" if regions else "test" if calls_check else "read-only"


def _metadata(cell: dict[str, Any], role: str, where: str) -> dict[str, Any]:
    """The nbgrader metadata ``cell`` should carry in ``role``."""
    cell_id = cell.get("id")
    if not isinstance(cell_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", cell_id):
        raise ValueError(f"{where} has no usable cell id ({cell_id!r}); open and save the "
                         f"notebook in JupyterLab (nbformat 4.5 or later gives every cell an id)")
    grade, solution, locked = _ROLES[role]
    meta = {"grade": grade, "grade_id": cell_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution}
    if grade:
        old = cell.get("metadata", {}).get(GRADING_KEY, {}).get("points")
        keep = isinstance(old, (int, float)) and not isinstance(old, bool) and old >= 0
        meta["points"] = old if keep else DEFAULT_POINTS
    return meta


def tag_notebook(notebook: dict[str, Any], name: str) -> dict[str, Any]:
    """A copy of the solution notebook ``notebook`` (file ``name``) with nbgrader metadata on
    every cell and every solution prompt written out as a comment line."""
    tagged = copy.deepcopy(notebook)
    for index, cell in enumerate(tagged.get("cells", [])):
        where = f"solutions/{name}, cell {index}"
        role = cell_role(cell, where)
        text = source(cell)
        moved = move_prompts(text, cell.get("cell_type", ""), where)
        if moved != text:
            cell["source"] = lines_for_json(moved)
        cell.setdefault("metadata", {})[GRADING_KEY] = _metadata(cell, role, where)
    return tagged


def solutions_folder(solutions_dir: str | Path | None = None) -> Path:
    """``solutions_dir``, or the ``solutions/`` folder of the course folder around the current
    directory; FileNotFoundError when it does not exist."""
    folder = (course_folder("solutions") / "solutions" if solutions_dir is None
              else Path(solutions_dir))
    if not folder.is_dir():
        raise FileNotFoundError(f"solutions folder {folder} does not exist; pass --solutions")
    return folder


def _expected(folder: Path) -> dict[Path, str]:
    """Solution file -> its text with the metadata written, for every solution notebook."""
    return {path: render(tag_notebook(read_notebook(path), path.name))
            for path in sorted(folder.glob("*.ipynb"))}


def tag(solutions_dir: str | Path | None = None) -> list[Path]:
    """Write nbgrader metadata into every notebook of ``solutions_dir`` (default: the
    ``solutions/`` folder of the course folder around the current directory); return the
    files changed. Everything is computed before anything is written; running it again
    changes nothing."""
    expected = _expected(solutions_folder(solutions_dir))
    changed = [path for path, text in expected.items()
               if path.read_text(encoding="utf-8") != text]
    for path in changed:
        path.write_text(expected[path], encoding="utf-8")
    return changed


def stale_cells(notebook: dict[str, Any], name: str) -> list[int]:
    """The indices of the cells of a solution notebook whose metadata or source :func:`tag`
    would change (RegionError or ValueError when it cannot be tagged)."""
    want = tag_notebook(notebook, name)
    return [index for index, (w, h) in enumerate(zip(want["cells"], notebook["cells"]))
            if w != h]
