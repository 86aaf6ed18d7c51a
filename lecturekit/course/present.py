"""The presentation mode: the explorers and the lecture's figures as one page without code.

``python -m lecturekit present`` serves :data:`PAGE`, a small notebook shipped
inside the package, with Voilà: Voilà runs the notebook in a kernel and shows
its markdown and its outputs (the inversion explorer, the DeepDream explorer and
the gallery of :mod:`lecturekit.ui.figures`), never its code, and the widgets
stay live. The page calls ``lk.load_model()``, so the network is the machine's
choice (``LECTUREKIT_MODEL``) unless ``--model`` names one. Options the command
does not know go to ``voila`` (for example ``--port 8866 --no-browser``).

What Voilà serves is a copy of the page prepared for the chosen network
(:mod:`lecturekit.course.present_page`): its opening figure is stored in its
markdown, and Voilà renders progressively (each cell as soon as it has run), so
the first picture is on the screen before the kernel has loaded PyTorch.

Every visit of the page starts a kernel of its own (over a gigabyte with
EfficientNet-Lite0), which must end when the page goes away. Voilà's page asks
for that when its tab closes, but Voilà 0.5 never gives the page the XSRF cookie
that request needs, so the server refused it and every visit left its kernel
running; a prelaunch hook in the kit's ``voila.py`` (:data:`CONFIG`) gives the
page the cookie. For pages that go away without asking (a crashed tab, a lost
connection), the server culls a kernel that no page has been connected to for
``--cull-after`` seconds (:data:`CULL_AFTER`). The kernel of an open page is
never culled, however long the lecturer pauses.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lecturekit.models import MODEL_NAMES

__all__ = ["CONFIG", "CULL_AFTER", "PAGE", "add_subcommand", "cull_options", "voila_command"]

PAGE = Path(__file__).with_name("present.ipynb")
"""The presentation page (installed with the package, so the command works from any folder)."""
CONFIG = Path(__file__).with_name("jupyter_config") / "present"
"""The folder of the kit's ``voila.py``: the hook that lets a closed page end its kernel."""
CULL_AFTER = 300
"""Seconds a kernel may live with no page connected before the server shuts it down."""
LAB_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager7",
                  "@voila-dashboards/widgets-manager8")
"""The JupyterLab extensions the page loads: the widgets and Voilà's widget managers (for
ipywidgets 7 and 8). Voilà would otherwise load every extension installed for
JupyterLab, and those built for a newer JupyterLab than Voilà's own (nbgrader's,
Notebook 7's) fail in the browser."""


def cull_options(cull_after: int = CULL_AFTER) -> list[str]:
    """jupyter_server's options that shut down a kernel no page has been connected to for
    ``cull_after`` seconds (0: never), checked every ``cull_after / 2`` seconds (at most a
    minute); kernels with a connected page are never culled, busy or not."""
    interval = max(1, min(60, cull_after // 2))
    return [f"--MappingKernelManager.cull_idle_timeout={cull_after}",
            f"--MappingKernelManager.cull_interval={interval}",
            "--MappingKernelManager.cull_connected=False",
            "--MappingKernelManager.cull_busy=False"]


def voila_command(extra: list[str] | tuple[str, ...] = (),
                  cull_after: int = CULL_AFTER, page: Path = PAGE) -> list[str]:
    """The command line that serves ``page`` with Voilà, rendered progressively, its kernels
    ended when their page closes (the ``voila.py`` in :data:`CONFIG`, read after Voilà's
    usual configuration files) or culled (:func:`cull_options`); ``extra`` goes to
    ``voila``."""
    from jupyter_core.paths import jupyter_config_path

    allow = [f"--VoilaConfiguration.extension_allowlist={name}" for name in LAB_EXTENSIONS]
    config_paths = [os.getcwd(), *jupyter_config_path(), str(CONFIG)]  # Voilà's own, then ours
    paths = [f"--Voila.config_file_paths={path}" for path in config_paths]
    return [sys.executable, "-m", "voila", str(page), *allow,
            "--VoilaConfiguration.progressive_rendering=True", *cull_options(cull_after),
            *paths, *extra]


def _seconds(text: str) -> int:
    """An argparse type: a whole number of seconds, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds >= 0, got {text!r}")
    return int(text)


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    """Replace this process by Voilà serving the page (never returns on success)."""
    try:
        import voila  # noqa: F401  (only to say how to install it)
    except ImportError:
        print("error: the presentation mode needs Voilà: pip install voila "
              "(or pip install 'lecturekit[lab]')", file=sys.stderr)
        return 2
    from lecturekit.course.present_page import chosen_model_name, prepare_page

    try:
        model_name = chosen_model_name(args.model)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    page = prepare_page(model_name, PAGE)
    env = dict(os.environ, LECTUREKIT_MODEL=model_name)  # the page's network, in every kernel
    command = voila_command(extra, args.cull_after, page)
    os.execve(sys.executable, command, env)
    return 0  # pragma: no cover - execve does not return


def add_subcommand(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``present [--model NAME] [--cull-after SECONDS] [voila options]`` to a command
    line; unknown options are handed to ``voila`` (``args.run(args, extra)``)."""
    parser = subparsers.add_parser(
        "present", allow_abbrev=False,
        help="the explorers and figures as a code-free page (Voilà)",
        description=__doc__.split("\n\n")[0] + " Other options go to `voila`.")
    parser.add_argument("--model", choices=MODEL_NAMES, default=None,
                        help="network to show (default: $LECTUREKIT_MODEL, else auto)")
    parser.add_argument("--cull-after", type=_seconds, default=CULL_AFTER, metavar="SECONDS",
                        help=f"shut down the kernel of a page that went away without saying so "
                             f"after this many seconds without a connection (default "
                             f"{CULL_AFTER}; 0: never); open pages keep theirs")
    parser.set_defaults(run=_run, passes_extra=True)
    return parser
