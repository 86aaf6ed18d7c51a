"""The lecture's figures, made on either model and written as PNG files.

``python -m lecturekit figures --out DIR`` writes every figure of
:data:`FIGURES` as ``DIR/<name>.png``. Each entry is a function
``model -> Figure``; to add a figure, write such a function and add one line
to :data:`FIGURES`.

The figures use :func:`lecture_example`: the cat photograph ("Chelsea", class
"tabby") on the ImageNet AlexNet, as in the lecture (FAU Deep Learning,
"Visualization & Attention, Part 4"), and fresh toy scenes (evaluation seeds,
never trained on) with their object masks on the toy model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from lecturekit.examples import lecture_example, top9_images
from lecturekit.gradient.backward_rules import RULES
from lecturekit.gradient.gradients import input_gradient
from lecturekit.gradient.saliency import saliency_map
from lecturekit.gradient.top9 import most_active_channel, top9
from lecturekit.models import LayeredNetwork
from lecturekit.targets import Logit
from lecturekit.ui import plot

if TYPE_CHECKING:  # matplotlib is imported by lecturekit.ui.plot.gradient only
    from matplotlib.figure import Figure

def rule_comparison_figure(model: LayeredNetwork) -> Figure:
    """The class score sent back to the pixels under backprop, Deconvnet and guided backprop."""
    example = lecture_example(model)
    target = Logit(example.labels)
    maps = {rule: input_gradient(model, example.batch, target, rule=rule)[0] for rule in RULES}
    figure = plot.show_rule_comparison(example.images01[0], maps)
    figure.suptitle(f"score of class '{example.class_names(model)[0]}' sent back to the pixels "
                    f"({model.name} model)", fontsize=11)
    return figure


def saliency_overlay_figure(model: LayeredNetwork) -> Figure:
    """Simonyan et al.'s saliency maps over their images (object outlines on toy scenes)."""
    example = lecture_example(model, n=4)
    maps = saliency_map(model, example.batch, example.labels)
    return plot.show_saliency(example.images01, maps, example.masks,
                              titles=[f"saliency of '{name}'"
                                      for name in example.class_names(model)])


def top9_figure(model: LayeredNetwork, layer: str | None = None) -> Figure:
    """Zeiler & Fergus' top-9 view of the most active channel of ``layer`` (default: the
    network's deep lecture layer, ``model.lecture_layers.deep``)."""
    layer = model.lecture_layers.deep if layer is None else layer
    images = top9_images(model)
    channel = most_active_channel(model, images, layer)
    return plot.show_top9(top9(model, images, layer, channel), layer, channel)


FIGURES: dict[str, Callable[[LayeredNetwork], Figure]] = {
    "rule_comparison": rule_comparison_figure,
    "saliency_overlay": saliency_overlay_figure,
    "top9": top9_figure,
    "deepdream": plot.deepdream_figure,
    "class_model": plot.class_model_figure,
    "inversion_grid": plot.inversion_grid_figure,
    "inversion_regularisers": plot.regulariser_figure,
}
"""Every figure :func:`write_figures` can make, by file name (without ``.png``)."""


def check_names(names: Iterable[str] | None) -> list[str]:
    """``names`` (all of :data:`FIGURES` when None) as a list, or a ValueError naming
    the unknown ones and the valid ones."""
    names = list(FIGURES) if names is None else list(dict.fromkeys(names))
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {', '.join(map(repr, unknown))}; available figures: "
                         f"{', '.join(FIGURES)}")
    return names


def write_figures(model: LayeredNetwork, out_dir: str | Path,
                  names: Iterable[str] | None = None, overwrite: bool = False,
                  dpi: int = 120) -> list[Path]:
    """Write the figures ``names`` (default: all) as ``out_dir/<name>.png``; return the paths.

    Refuses, before drawing anything, to replace an existing file unless
    ``overwrite`` is true. ``out_dir`` is created when missing.
    """
    names = check_names(names)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a folder (made when missing), got the file "
                         f"{str(out_dir)!r}")
    paths = [out_dir / f"{name}.png" for name in names]
    existing = [path for path in paths if path.exists()]
    if existing and not overwrite:
        listing = ", ".join(str(path) for path in existing)
        raise FileExistsError(f"{listing} exist{'s' if len(existing) == 1 else ''} already; "
                              f"nothing was written. Use --force (overwrite=True) to replace")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, path in zip(names, paths):
        plot.save_figure(FIGURES[name](model), path, dpi=dpi)
    return paths
