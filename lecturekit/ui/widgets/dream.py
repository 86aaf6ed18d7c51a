"""A small DeepDream explorer for the notebooks: pick a layer and a number of octaves.

The only module of the DeepDream part that imports ipywidgets; the numeric
core never does. :class:`DreamExplorer` is a VBox of two controls, the input
and the dream side by side (PNG images), and a caption. Each new setting runs
one short :func:`lecturekit.optimise.deepdream.deepdream`; every finished setting is
cached, so going back to it is instant. Like the inversion explorer, it can be
driven from Python (and tests) through its attributes.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import torch
from IPython.display import display

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.deepdream import DreamResult, deepdream, max_octaves
from lecturekit.validation import check_at_least, check_int
from lecturekit.ui.widgets.common import plain_text, png_bytes

__all__ = ["DreamExplorer", "dream_explorer", "show_explorer"]

OCTAVE_SCALE = 1.4
"""The octave scale of the explorer's dreams (the original notebook's)."""
MAX_EXPLORER_OCTAVES = 4
"""The slider never offers more octaves than this (the original notebook's count)."""


def _most_octaves(model: LayeredNetwork, batch: torch.Tensor) -> int:
    """The largest octave count the slider offers for ``batch`` (at least 1)."""
    fitting = max_octaves(tuple(batch.shape[-2:]), OCTAVE_SCALE, model.min_input_size)
    return min(MAX_EXPLORER_OCTAVES, max(1, fitting))


def _check_single_image(batch: torch.Tensor) -> None:
    """Raise a ValueError unless ``batch`` is one image of shape (1, 3, H, W)."""
    if not isinstance(batch, torch.Tensor) or batch.ndim != 4 or batch.shape[0] != 1:
        shape = tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch).__name__
        raise ValueError(f"batch must be one normalised image of shape (1, 3, H, W), got {shape}")


class DreamExplorer(widgets.VBox):
    """A layer dropdown and an octaves slider over :func:`lecturekit.optimise.deepdream.deepdream`.

    The widgets are attributes, so code (and tests) can drive the explorer:
    ``layer`` (Dropdown), ``octaves`` (IntSlider, computes when released),
    ``input_view`` and ``dream_view`` (Image, PNG bytes), ``caption`` (HTML).
    The explorer is itself a VBox widget: leave it as a cell's last expression
    or ``display`` it to show it.

    ``result`` is the last :class:`~lecturekit.optimise.deepdream.DreamResult`,
    ``cache`` maps settings (layer, octaves) to results, ``compute_count``
    counts the dreams actually run. ``batch`` must be one normalised image.
    """

    def __init__(self, model: LayeredNetwork, batch: torch.Tensor, *, steps: int = 10,
                 layer: str | None = None, octaves: int | None = None, seed: int = 0,
                 scale: int = 2, auto: bool = True) -> None:
        _check_single_image(batch)
        model.check_batch(batch, "batch")
        layer = model.check_layer(model.lecture_layers.deep if layer is None else layer)
        check_at_least("steps", steps, 1)
        check_at_least("scale", scale, 1)
        most = _most_octaves(model, batch)
        octaves = most if octaves is None else check_int(
            "octaves", octaves, f"from 1 to {most} for this image", lambda n: 1 <= n <= most)
        super().__init__()
        self.add_class("lecturekit-dream-explorer")
        self.model = model
        self.batch = batch.detach()
        self.steps = steps
        self.seed = seed
        self.scale = scale
        self.cache: dict[tuple[str, int], DreamResult] = {}
        self.compute_count = 0
        self.result: DreamResult | None = None
        self._build(layer, octaves, most)
        if auto:
            self.update()

    def _build(self, layer: str, octaves: int, most: int) -> None:
        """Create the controls, the two images and the caption, and wire the controls."""
        self.layer = widgets.Dropdown(options=list(self.model.layer_names), value=layer,
                                      description="layer")
        self.octaves = widgets.IntSlider(value=octaves, min=1, max=most, description="octaves",
                                         continuous_update=False)
        self.input_view = widgets.Image(format="png")
        self.input_view.value = png_bytes(self.model.deprocess(self.batch)[0].cpu(), self.scale)
        self.dream_view = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.dream_view.add_class("lecturekit-dream")  # stable hooks for browser tests
        self.caption.add_class("lecturekit-caption")
        self.children = [
            widgets.HBox([self.layer, self.octaves]),
            widgets.HBox([widgets.VBox([widgets.HTML("<b>input</b>"), self.input_view]),
                          widgets.VBox([widgets.HTML("<b>dream</b>"), self.dream_view])]),
            self.caption,
        ]
        self.layer.observe(self._on_change, names="value")
        self.octaves.observe(self._on_change, names="value")

    def _on_change(self, change: dict) -> None:
        """A control moved: show the dream for the new setting."""
        self.update()

    def _cache_key(self) -> tuple[str, int]:
        """The chosen layer and number of octaves."""
        return (self.layer.value, int(self.octaves.value))

    def update(self) -> DreamResult:
        """Show the dream for the current settings: from the cache, else computed now."""
        key = self._cache_key()
        if key not in self.cache:
            self.cache[key] = self._compute(*key)
        self.result = self.cache[key]
        self._show(self.result, *key)
        return self.result

    def _compute(self, layer: str, octaves: int) -> DreamResult:
        """Run one dream (the caption says so meanwhile) and count it."""
        self.caption.value = f"<i>dreaming {html.escape(layer)}, {octaves} octave(s) …</i>"
        result = deepdream(self.model, self.batch, layer, octaves=octaves,
                           octave_scale=OCTAVE_SCALE, steps=self.steps, seed=self.seed,
                           progress=False)
        self.compute_count += 1
        return result

    def _show(self, result: DreamResult, layer: str, octaves: int) -> None:
        """Put the dream's image and a one-line caption on screen."""
        self.dream_view.value = png_bytes(result.image01[0].cpu(), self.scale)
        self.caption.value = (
            f"dream of <b>{html.escape(layer)}</b> · {octaves} octave(s) of {self.steps} "
            f"step(s) · objective ½‖a‖² = <b>{float(result.objective[0]):.4g}</b>")

    @property
    def text(self) -> str:
        """The caption without its HTML tags."""
        return plain_text(self.caption)


def dream_explorer(model: LayeredNetwork, batch: torch.Tensor, *, steps: int = 10,
                   layer: str | None = None, **kwargs) -> DreamExplorer:
    """A :class:`DreamExplorer` (an ipywidgets VBox) for ``batch`` (normalised, one image);
    show it by leaving it as a cell's last expression."""
    return DreamExplorer(model, batch, steps=steps, layer=layer, **kwargs)


def show_explorer(model: LayeredNetwork, batch: torch.Tensor, **kwargs) -> DreamExplorer:
    """Build :func:`dream_explorer` and display it."""
    box = dream_explorer(model, batch, **kwargs)
    display(box)
    return box
