"""A small DeepDream explorer for the notebooks: pick a layer and a number of octaves.

The only module of the DeepDream part that imports ipywidgets (and, to draw,
matplotlib); the numeric core never does. Each change of a control runs one
short :func:`lecturekit.deepdream.deepdream` and shows the result beside the
input.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import display

from lecturekit.deepdream import deepdream, max_octaves
from lecturekit.images import to_numpy_image
from lecturekit.models import LayeredAlexNet

__all__ = ["dream_explorer"]


def _show(model: LayeredAlexNet, batch: torch.Tensor, layer: str, octaves: int,
          steps: int) -> None:
    result = deepdream(model, batch, layer, octaves=octaves, steps=steps, progress=False)
    figure, axes = plt.subplots(1, 2, figsize=(6.4, 3.4))
    for axis, image, title in zip(axes, (model.deprocess(batch)[0], result.image01[0]),
                                  ("input", f"dream: {layer}, {octaves} octave(s)")):
        axis.imshow(to_numpy_image(image))
        axis.set_title(title, fontsize=9)
        axis.axis("off")
    figure.tight_layout()
    plt.show()


def dream_explorer(model: LayeredAlexNet, batch: torch.Tensor, *, steps: int = 10,
                   layer: str = "conv5") -> widgets.VBox:
    """Controls (layer dropdown, octaves slider) and the dream of ``batch`` (normalised,
    one image) below them; returns the widget box (displayed by the notebook)."""
    if batch.ndim != 4 or batch.shape[0] != 1:
        raise ValueError(f"batch must be one normalised image of shape (1, 3, H, W), got "
                         f"{tuple(batch.shape)}")
    layer_box = widgets.Dropdown(options=list(model.layer_names), value=model.check_layer(layer),
                                 description="layer")
    most = min(4, max(1, max_octaves(tuple(batch.shape[-2:]), 1.4)))
    octave_box = widgets.IntSlider(value=most, min=1, max=most, description="octaves")
    output = widgets.interactive_output(
        lambda layer, octaves: _show(model, batch, layer, octaves, steps),
        {"layer": layer_box, "octaves": octave_box})
    return widgets.VBox([widgets.HBox([layer_box, octave_box]), output])


def show_explorer(model: LayeredAlexNet, batch: torch.Tensor, **kwargs) -> widgets.VBox:
    """Build :func:`dream_explorer` and display it."""
    box = dream_explorer(model, batch, **kwargs)
    display(box)
    return box
