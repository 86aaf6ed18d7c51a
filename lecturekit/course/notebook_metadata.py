"""Notebook metadata as JupyterLab writes it, so that opening a notebook changes nothing.

When JupyterLab opens a notebook and its kernel starts, it writes the kernel's own
description into the notebook's metadata: the kernelspec's display name
(``"Python 3 (ipykernel)"``, where nbconvert and older tools leave ``"Python 3"``)
and the kernel's full ``language_info``. Where the stored metadata differs, the
notebook's tab shows the unsaved-changes dot as soon as it opens, and autosave
rewrites a file the student never edited. :func:`normalise` writes that metadata
the way the Lab would, and touches nothing else: cells, outputs and every other
metadata key stay as they are. ``python -m lecturekit exercises build`` applies it to
the solutions and the exercises; whoever stores a notebook's outputs applies it to
that notebook::

    python -m lecturekit.course.notebook_metadata notebooks/04_inceptionism.ipynb

``language_info.version`` is the Python that ran the notebook. A stored version is
kept (the Lab rewrites it only on another Python), and a missing one is the
running Python's.
"""

from __future__ import annotations

import argparse
import copy
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lecturekit.course.regions import read_notebook, render

__all__ = ["KERNELSPEC", "language_info", "main", "normalise", "normalise_file"]

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
"""The kernelspec of ipykernel's ``python3`` kernel, as the Lab stores it."""
_VERSION = re.compile(r"\d+\.\d+\.\d+\S*")


def language_info(version: str) -> dict[str, Any]:
    """The ``language_info`` that ipykernel reports for Python ``version``."""
    major = int(version.split(".")[0])
    return {"codemirror_mode": {"name": "ipython", "version": major}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": f"ipython{major}", "version": version}


def _stored_version(metadata: dict[str, Any]) -> str | None:
    version = metadata.get("language_info", {}).get("version")
    return version if isinstance(version, str) and _VERSION.fullmatch(version) else None


def normalise(notebook: dict[str, Any], python_version: str | None = None) -> dict[str, Any]:
    """A copy of ``notebook`` (nbformat's JSON dict) whose kernelspec and language_info are
    what JupyterLab writes; ``python_version`` (default: the stored version, else the
    running Python's) goes into ``language_info.version``."""
    if not isinstance(notebook.get("metadata", {}), dict):
        raise ValueError(f"a notebook's metadata must be a JSON object, got "
                         f"{type(notebook['metadata']).__name__}")
    if python_version is not None and not _VERSION.fullmatch(python_version):
        raise ValueError(f"python_version must be a version such as 3.11.7, "
                         f"got {python_version!r}")
    result = copy.deepcopy(notebook)
    metadata = result.setdefault("metadata", {})
    version = python_version or _stored_version(metadata) or platform.python_version()
    metadata["kernelspec"] = dict(KERNELSPEC)
    metadata["language_info"] = language_info(version)
    return result


def normalise_file(path: str | Path, python_version: str | None = None) -> bool:
    """Rewrite the notebook at ``path`` with :func:`normalise`'s metadata (its JSON only;
    nothing is executed). Returns whether the file changed; an unchanged file is not
    written. ValueError names a file that is not a notebook."""
    path = Path(path)
    notebook = read_notebook(path)
    if not isinstance(notebook, dict):
        raise ValueError(f"{path} is not a valid notebook (its JSON is not an object)")
    new = render(normalise(notebook, python_version))  # nbformat's layout, which the Lab saves
    if new == path.read_text(encoding="utf-8"):
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lecturekit.course.notebook_metadata NOTEBOOK...``: normalise each file and
    print the ones changed; a file that is missing or not a notebook is named on stderr and
    makes the exit code 2."""
    parser = argparse.ArgumentParser(prog="python -m lecturekit.course.notebook_metadata",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", type=Path)
    parser.add_argument("--python-version", default=None, metavar="X.Y.Z",
                        help="language_info.version to write (default: the stored one, else "
                             "this Python's)")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks:  # one bad file does not stop the others
        try:
            if normalise_file(path, args.python_version):
                print(f"normalised {path}")
        except (OSError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            failed = True
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
