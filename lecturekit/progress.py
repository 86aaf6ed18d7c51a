"""Progress bars for the kit's long loops, and the one switch that silences them all.

Every optimisation, layer-wise inversion and training run shows a tqdm bar: the
notebook bar (a widget) in JupyterLab, a text bar in a terminal. A call's own
``progress=False`` hides its bar; the environment variable ``LECTUREKIT_PROGRESS=0``
hides every bar. The test suite sets it, and so does whoever stores a notebook's
outputs, so that no bar is saved into a notebook while the lecture hall still sees one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

__all__ = ["PROGRESS_VARIABLE", "bars_enabled", "progress_bar"]

PROGRESS_VARIABLE = "LECTUREKIT_PROGRESS"
_ON = ("", "1", "true", "yes", "on")
_OFF = ("0", "false", "no", "off")


def bars_enabled() -> bool:
    """False when ``LECTUREKIT_PROGRESS`` says off (0, false, no, off); True when it is
    unset or says on. Any other value is an error that names the variable."""
    value = os.environ.get(PROGRESS_VARIABLE, "").strip().lower()
    if value not in _ON + _OFF:
        valid = ", ".join(v for v in _ON + _OFF if v)
        raise ValueError(f"{PROGRESS_VARIABLE} must be one of {valid} (or unset), got "
                         f"{os.environ[PROGRESS_VARIABLE]!r}")
    return value in _ON


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True,
                 **options: Any) -> tqdm:
    """A tqdm bar over ``iterable`` (or with ``total=...``), shown when ``enabled`` and
    :func:`bars_enabled`; ``options`` go to tqdm (``desc``, ``unit``, ``leave``, ...)."""
    return tqdm(iterable, disable=not (enabled and bars_enabled()), **options)
