"""A gallery of the lecture's figures: pick one from a list, see it drawn for the model.

:class:`FigureGallery` shows the figures of :data:`lecturekit.ui.figures.FIGURES`
(the ones ``python -m lecturekit figures`` writes) one at a time, for the
presentation page (``python -m lecturekit present``) and for notebooks. A figure
is drawn the first time it is chosen and kept, so going back to it is instant;
the first one is drawn when the gallery is built. Given a ``store`` folder, the
gallery also keeps each figure there as a PNG file and reads it back in later
galleries: the presentation page passes its own folder, made once per network and
kit version (:mod:`lecturekit.course.present_page`), so a figure is drawn once, not
once per visit of the page.
"""

from __future__ import annotations

import html
import io
import os
from collections.abc import Sequence
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt

from lecturekit.models import LayeredNetwork
from lecturekit.ui.figures import FIGURES, check_names
from lecturekit.ui.widgets.common import plain_text

__all__ = ["FigureGallery", "figure_gallery"]


def figure_title(name: str) -> str:
    """The name of figure ``name`` as the gallery lists it (``"inversion_grid"`` ->
    ``"inversion grid"``)."""
    return name.replace("_", " ")


def figure_summary(name: str) -> str:
    """The first paragraph of the docstring of the function that draws figure ``name``, as
    plain text: the figure's caption, written once."""
    paragraph = (FIGURES[name].__doc__ or "").strip().split("\n\n")[0]
    return " ".join(paragraph.replace("``", "").split())


class FigureGallery(widgets.VBox):
    """A dropdown of figure names over the figure it names, drawn for ``model``.

    Attributes for code (and tests): ``choice`` (Dropdown, figure names),
    ``view`` (Image, PNG bytes), ``caption`` (HTML), ``cache`` (name -> PNG
    bytes) and ``compute_count`` (figures actually drawn). ``store``: a folder
    (made when missing) where drawn figures are kept as ``<name>-<dpi>dpi.png`` and
    read back; it must hold figures of this ``model`` only. None keeps them in memory.
    """

    def __init__(self, model: LayeredNetwork, names: Sequence[str] | None = None, *,
                 dpi: int = 90, auto: bool = True, store: str | Path | None = None) -> None:
        names = check_names(names)
        if not names:
            raise ValueError(f"names is empty; name at least one of: {', '.join(FIGURES)}")
        super().__init__()
        self.add_class("lecturekit-figure-gallery")
        self.model = model
        self.dpi = dpi
        self.store = None if store is None else Path(store)
        self.cache: dict[str, bytes] = {}
        self.compute_count = 0
        self.choice = widgets.Dropdown(options=[(figure_title(n), n) for n in names],
                                       value=names[0], description="figure")
        self.view = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.view.add_class("lecturekit-figure")  # stable hooks for browser tests
        self.caption.add_class("lecturekit-caption")
        self.children = [self.choice, self.caption, self.view]
        self.choice.observe(lambda change: self.update(), names="value")
        if auto:
            self.update()

    def update(self) -> bytes:
        """Show the chosen figure: from the cache, else drawn now; return its PNG bytes."""
        name = self.choice.value
        if name not in self.cache:
            self.cache[name] = self._stored(name) or self._draw_and_store(name)
        self.view.value = self.cache[name]
        self.caption.value = (f"<b>{html.escape(figure_title(name))}</b> ({self.model.name} "
                              f"model): {html.escape(figure_summary(name))}")
        return self.cache[name]

    def stored_path(self, name: str) -> Path | None:
        """Where figure ``name`` is kept in :attr:`store` (None without a store)."""
        return None if self.store is None else self.store / f"{name}-{self.dpi}dpi.png"

    def _stored(self, name: str) -> bytes | None:
        """Figure ``name`` as kept in the store, or None when it is not there."""
        path = self.stored_path(name)
        try:
            return path.read_bytes() if path is not None else None
        except FileNotFoundError:
            return None

    def _draw_and_store(self, name: str) -> bytes:
        """Draw figure ``name`` and keep it in the store, written atomically so that two
        pages drawing the same figure at once never leave half a file."""
        self.caption.value = f"<i>drawing {html.escape(figure_title(name))} …</i>"
        png = self._draw(name)
        self.compute_count += 1
        path = self.stored_path(name)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            partial.write_bytes(png)
            os.replace(partial, path)
        return png

    def _draw(self, name: str) -> bytes:
        figure = FIGURES[name](self.model)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=self.dpi, bbox_inches="tight")
        plt.close(figure)
        return buffer.getvalue()

    @property
    def text(self) -> str:
        """The caption without its HTML tags."""
        return plain_text(self.caption)


def figure_gallery(model: LayeredNetwork, names: Sequence[str] | None = None,
                   **kwargs) -> FigureGallery:
    """A :class:`FigureGallery` (an ipywidgets VBox) of ``names`` (default: every figure of
    ``python -m lecturekit figures``); show it by leaving it as a cell's last expression."""
    return FigureGallery(model, names, **kwargs)
