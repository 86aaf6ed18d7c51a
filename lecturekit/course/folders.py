"""Where the course's notebooks are: found from the current folder, never from site-packages.

The commands that act on notebooks (``exercises build|check``, ``lab``) work on
a course folder: a checkout of the kit, or any folder a teacher made with the
same layout (``notebooks/``, ``exercises/``, ``solutions/``). When the kit is
installed from a wheel, the package lives in site-packages and has no
notebooks, so the folder is looked up from the current directory upwards, as
git finds its repository.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["course_folder"]


def course_folder(contains: str, start: str | Path | None = None) -> Path:
    """The first of ``start`` (default: the current folder) and its parents that has a
    sub-folder ``contains``; FileNotFoundError naming both when there is none."""
    here = Path.cwd() if start is None else Path(start)
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / contains).is_dir():
            return folder
    raise FileNotFoundError(f"no {contains}/ folder in {here} or any folder above it; run the "
                            f"command inside the course folder (a checkout of the kit) or name "
                            f"the folder explicitly")
