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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from lecturekit import plot, plot_dream, plot_inversion, scenes
from lecturekit.backward_rules import RULES
from lecturekit.gradients import input_gradient
from lecturekit.images import sample_image
from lecturekit.models import LayeredAlexNet
from lecturekit.saliency import saliency_map
from lecturekit.targets import Logit
from lecturekit.top9 import photo_collection, scene_collection, top9

if TYPE_CHECKING:  # matplotlib is imported by lecturekit.plot only
    from matplotlib.figure import Figure

EXAMPLE_SCENES: tuple[int, ...] = (14, 12, 7, 2)
"""Offsets into :func:`lecturekit.scenes.test_seeds` of the toy examples: fresh scenes
(a star, a ring, a crescent, a cross) that the toy model classifies correctly."""

CAT_CLASS = "tabby"
"""The ImageNet class of the cat photograph (Chelsea is a tabby)."""


@dataclass
class Example:
    """Images to explain, with the class to explain them by.

    ``images01`` (N, 3, H, W) in [0, 1] at the model's input size, ``batch``
    the same normalised for the model, ``labels`` one class index per image,
    ``masks`` (N, H, W) the objects' pixels (toy scenes only, else None).
    """

    images01: torch.Tensor
    batch: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor | None

    def class_names(self, model: LayeredAlexNet) -> list[str]:
        """The name of each image's class."""
        return [model.classes[int(label)] for label in self.labels]


def lecture_example(model: LayeredAlexNet, n: int = 1) -> Example:
    """The image(s) the notebooks explain on ``model``.

    ImageNet AlexNet: the cat photograph, class "tabby" (one image, whatever
    ``n``). Toy model: the first ``n`` (at most 4) of :data:`EXAMPLE_SCENES`,
    each with its true class and object mask.
    """
    if model.name == "toy":
        if not 1 <= n <= len(EXAMPLE_SCENES):
            raise ValueError(f"n must be in 1..{len(EXAMPLE_SCENES)}, got {n!r}")
        seeds = [scenes.test_seeds(1, offset)[0] for offset in EXAMPLE_SCENES[:n]]
        images01, masks, labels = scenes.make_batch(seeds, size=model.input_size)
        return Example(images01, model.preprocess.normalise(images01), labels, masks)
    batch = model.preprocess(sample_image("chelsea"))
    labels = torch.tensor([model.class_index(CAT_CLASS)])
    return Example(model.deprocess(batch), batch, labels, None)


def top9_collection(model: LayeredAlexNet) -> torch.Tensor:
    """Images to search for the strongest activations: 200 fresh scenes on the toy
    model, the sample photographs and crops of them on the ImageNet AlexNet."""
    return scene_collection(model, 200) if model.name == "toy" else photo_collection(model)


@torch.no_grad()
def most_active_channel(model: LayeredAlexNet, images: torch.Tensor, layer: str,
                        batch_size: int = 50) -> int:
    """The channel of ``layer`` with the largest mean rectified activation over ``images``."""
    total = 0
    for start in range(0, images.shape[0], batch_size):
        activation = model.forward_to(images[start:start + batch_size].to(model.device), layer)
        total = total + activation.clamp(min=0).sum(dim=(0, 2, 3))
    return int(torch.as_tensor(total).argmax())


def rule_comparison_figure(model: LayeredAlexNet) -> Figure:
    """The class score sent back to the pixels under backprop, Deconvnet and guided backprop."""
    example = lecture_example(model)
    target = Logit(example.labels)
    maps = {rule: input_gradient(model, example.batch, target, rule=rule)[0] for rule in RULES}
    figure = plot.rule_comparison(example.images01[0], maps)
    figure.suptitle(f"score of class '{example.class_names(model)[0]}' sent back to the pixels "
                    f"({model.name} model)", fontsize=11)
    return figure


def saliency_overlay_figure(model: LayeredAlexNet) -> Figure:
    """Simonyan et al.'s saliency maps over their images (object outlines on toy scenes)."""
    example = lecture_example(model, n=4)
    maps = saliency_map(model, example.batch, example.labels)
    return plot.saliency_overlay(example.images01, maps, example.masks,
                                 titles=[f"saliency of '{name}'"
                                         for name in example.class_names(model)])


def top9_view(model: LayeredAlexNet, layer: str = "conv5") -> Figure:
    """Zeiler & Fergus' top-9 view of the most active channel of ``layer``."""
    images = top9_collection(model)
    channel = most_active_channel(model, images, layer)
    return plot.top9_figure(top9(model, images, layer, channel), layer, channel)


FIGURES: dict[str, Callable[[LayeredAlexNet], Figure]] = {
    "rule_comparison": rule_comparison_figure,
    "saliency_overlay": saliency_overlay_figure,
    "top9": top9_view,
    "deepdream": plot_dream.deepdream_figure,
    "class_model": plot_dream.class_model_figure,
    "inversion_grid": plot_inversion.inversion_grid_figure,
    "inversion_regularisers": plot_inversion.regulariser_figure,
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


def write_figures(model: LayeredAlexNet, out_dir: str | Path,
                  names: Iterable[str] | None = None, overwrite: bool = False,
                  dpi: int = 120) -> list[Path]:
    """Write the figures ``names`` (default: all) as ``out_dir/<name>.png``; return the paths.

    Refuses, before drawing anything, to replace an existing file unless
    ``overwrite`` is true. ``out_dir`` is created when missing.
    """
    names = check_names(names)
    out_dir = Path(out_dir)
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
