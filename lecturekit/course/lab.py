"""JupyterLab on the whole course folder, opened on the landing page: what
``bash scripts/lab.sh`` (``python -m lecturekit lab``) runs.

The server's root is the course folder (the checkout), not ``notebooks/``:
a Jupyter server serves nothing above its root, so a student must be able to
reach ``notebooks/``, ``exercises/`` and the landing page
:data:`LANDING_PAGE` from one file browser. The landing page, which links the
lecture notebooks and the homework, is the server's default URL: the browser
opens on it, the URL the server prints (with its token) leads to it, and so
does the server's bare address.

``--hide-solutions`` adds ``solutions`` to the server's ``hide_globs``: the
folder disappears from the file browser, and nothing more. Students who have
the repository have the files; to keep solutions from students, hand out
only ``exercises/`` or release the homework with nbgrader.

The Lab is a student's unless ``--teacher`` is given: where nbgrader is installed,
its teacher tools (the Nbgrader menu, the formgrader, the course list, the
"Create Assignment" sidebar and the "Validate" button, whose run of the whole
notebook the check cells make unnecessary and which knows nothing of the
exercises without nbgrader's metadata) are switched off, in the browser and on the
server. nbgrader's assignment list stays, under a menu of its own, *Assignments*:
students fetch and submit their homework there. No Lab asks whether to fetch
Jupyter's news or checks for updates. All of this is configuration shipped in the
package (:data:`CONFIG`), put in front of ``JUPYTER_CONFIG_PATH`` for the Lab's
process only, so nothing the user owns is written. The user's own configuration
still applies; where it names the same thing, the teacher tools stay off (use
``--teacher``), while news and update checks are only defaults that the user's
settings (Settings Editor) override.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from lecturekit.course.folders import course_folder

__all__ = ["CONFIG", "HIDDEN_FOR_STUDENTS", "LANDING_PAGE", "add_subcommand", "config_folders",
           "lab_arguments", "lab_environment", "landing_url_path"]

LANDING_PAGE = "START_HERE.ipynb"
"""The notebook at the course folder's root that the Lab opens on."""
HIDDEN_FOR_STUDENTS = ("solutions",)
"""What ``--hide-solutions`` hides from the file browser."""
CONFIG = Path(__file__).with_name("jupyter_config")
"""Jupyter configuration folders shipped with the package: ``quiet`` (every Lab: no news
prompt, no update check) and ``student`` (nbgrader's teacher tools off, the assignment list
under an *Assignments* menu)."""


def landing_url_path() -> str:
    """The path of the landing page in JupyterLab, relative to the server's base URL."""
    return f"/lab/tree/{quote(LANDING_PAGE)}"


def lab_arguments(root: str | Path, hide_solutions: bool = False) -> list[str]:
    """The options of ``jupyter lab`` that serve the course folder ``root``: the server's root,
    the landing page as the default URL (when ``root`` has one), and, when asked, the solutions
    hidden from the file browser (added to jupyter_server's default ``hide_globs``).

    The default URL, not ``ServerApp.file_to_run``: with ``file_to_run`` the browser opens
    the file, but the URL the server prints is still the Lab's empty Launcher."""
    root = Path(root).resolve()
    arguments = [f"--ServerApp.root_dir={root}"]
    if (root / LANDING_PAGE).is_file():
        arguments.append(f"--LabApp.default_url={landing_url_path()}")
    if hide_solutions:
        from jupyter_server.services.contents.manager import ContentsManager

        defaults = ContentsManager.class_traits()["hide_globs"].default()
        globs = [*defaults, *HIDDEN_FOR_STUDENTS]
        arguments.append(f"--ContentsManager.hide_globs={globs!r}")
    return arguments


def config_folders(teacher: bool = False) -> list[Path]:
    """The configuration folders of a teacher's or a student's Lab, first the one that wins.
    A student's Lab hides nbgrader's teacher tools only where nbgrader is installed:
    elsewhere there is nothing to hide, and its *Assignments* menu would be empty."""
    student = not teacher and importlib.util.find_spec("nbgrader") is not None
    return [CONFIG / "student", CONFIG / "quiet"] if student else [CONFIG / "quiet"]


def lab_environment(teacher: bool = False,
                    environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's environment) with :func:`config_folders` in front
    of ``JUPYTER_CONFIG_PATH``; the folders already there stay, after them."""
    env = dict(os.environ if environ is None else environ)
    folders = [str(folder) for folder in config_folders(teacher)]
    if env.get("JUPYTER_CONFIG_PATH"):
        folders.append(env["JUPYTER_CONFIG_PATH"])
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(folders)
    return env


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    """Replace this process by ``jupyter lab`` on the course folder (never returns on success)."""
    try:
        root = Path(args.root) if args.root else course_folder("notebooks")
    except FileNotFoundError as error:
        print(f"error: {error} (or pass --root)", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "jupyter", "lab", *lab_arguments(root, args.hide_solutions)]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        command.append("--allow-root")  # containers often run as root
    os.execve(sys.executable, [*command, *extra], lab_environment(args.teacher))
    return 0  # pragma: no cover - execve does not return


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``lab [--hide-solutions] [--teacher] [--root DIR] [jupyter lab options]`` to a
    command line; unknown options are handed to ``jupyter lab`` (``args.run(args, extra)``)."""
    parser = subparsers.add_parser(
        "lab", allow_abbrev=False, help="JupyterLab on the course folder, opened on its landing page",
        description=__doc__.split("\n\n")[0] + " Other options go to `jupyter lab`.")
    parser.add_argument("--hide-solutions", action="store_true",
                        help="hide solutions/ from the file browser (not a protection: see "
                             "the README's section for teachers)")
    parser.add_argument("--teacher", action="store_true",
                        help="keep nbgrader's teacher tools (its menu, formgrader, Create "
                             "Assignment, Validate), which a student's Lab hides")
    parser.add_argument("--root", metavar="DIR", default=None,
                        help="course folder (default: the folder around the current directory "
                             "that has notebooks/)")
    parser.set_defaults(run=_run, passes_extra=True)
    return parser
