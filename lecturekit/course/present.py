"""The presentation mode: the explorers and the lecture's figures as one page without code.

``python -m lecturekit present`` serves :data:`PAGE`, a small notebook shipped
inside the package, with Voilà: Voilà runs the notebook in a kernel and shows
its markdown and its outputs (the inversion explorer, the DeepDream explorer and
the gallery of :mod:`lecturekit.ui.figures`), never its code, and the widgets
stay live. The page calls ``lk.load_model()``, so the network is the machine's
choice (``LECTUREKIT_MODEL``) unless ``--model`` names one. Options the command
does not know go to ``voila`` (for example ``--port 8866 --no-browser``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lecturekit.models import MODEL_NAMES

__all__ = ["PAGE", "add_subcommand", "voila_command"]

PAGE = Path(__file__).with_name("present.ipynb")
"""The presentation page (installed with the package, so the command works from any folder)."""
LAB_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager7",
                  "@voila-dashboards/widgets-manager8")
"""The JupyterLab extensions the page loads: the widgets and Voilà's widget managers (for
ipywidgets 7 and 8). Voilà would otherwise load every extension installed for
JupyterLab, and those built for a newer JupyterLab than Voilà's own (nbgrader's,
Notebook 7's) fail in the browser."""


def voila_command(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The command line that serves :data:`PAGE` with Voilà; ``extra`` goes to ``voila``."""
    allow = [f"--VoilaConfiguration.extension_allowlist={name}" for name in LAB_EXTENSIONS]
    return [sys.executable, "-m", "voila", str(PAGE), *allow, *extra]


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    """Replace this process by Voilà serving the page (never returns on success)."""
    try:
        import voila  # noqa: F401  (only to say how to install it)
    except ImportError:
        print("error: the presentation mode needs Voilà: pip install voila "
              "(or pip install 'lecturekit[lab]')", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if args.model:
        env["LECTUREKIT_MODEL"] = args.model
    command = voila_command(extra)
    os.execve(sys.executable, command, env)
    return 0  # pragma: no cover - execve does not return


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``present [--model NAME] [voila options]`` to a command line; unknown options are
    handed to ``voila`` (``args.run(args, extra)``)."""
    parser = subparsers.add_parser(
        "present", allow_abbrev=False,
        help="the explorers and figures as a code-free page (Voilà)", description=__doc__.split("\n\n")[0] + " Other options go to `voila`.")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="network to show (default: $LECTUREKIT_MODEL, else auto)")
    parser.set_defaults(run=_run, passes_extra=True)
    return parser
