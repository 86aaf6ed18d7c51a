"""Figures for DeepDream and class models (notebook 04). Imports matplotlib; the numeric
core (:mod:`lecturekit.optimise.deepdream`, :mod:`lecturekit.optimise.class_model`) does not.

Each figure takes only the model and picks its own inputs: generated scenes,
a photograph and the eight classes for the toy network; sample photographs
and a few classes including "dumbbell" for the ImageNet AlexNet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from lecturekit.examples import CLASS_MODEL_CLASSES, dream_inputs
from lecturekit.measure.orientation import TOLERANCE, RotationCaveat
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.class_model import ClassModelResult, class_model
from lecturekit.optimise.deepdream import deepdream, max_octaves
from lecturekit.ui.plot.common import show_images

__all__ = ["class_model_figure", "deepdream_figure", "show_class_models", "show_context",
           "show_orientation"]


def deepdream_figure(model: LayeredNetwork, layers: Sequence[str] | None = None,
                     progress: bool = False) -> Figure:
    """DeepDream (Mordvintsev et al. 2015) on two inputs, for an early and a deep layer.

    The original recipe, with as many of its 4 octaves as the image size allows
    (3 at the toy model's 128 pixels). Early layers add strokes and fine
    texture; deep layers add the parts of objects the network knows. ``layers``
    default to the network's early and deep lecture layers (``model.lecture_layers``).
    """
    if layers is None:
        layers = (model.lecture_layers.early, model.lecture_layers.deep)
    batch, names = dream_inputs(model)
    octaves = min(4, max_octaves(tuple(batch.shape[-2:]), 1.4, model.min_input_size))
    dreams = {layer: deepdream(model, batch, layer, octaves=octaves, progress=progress)
              for layer in layers}
    originals = model.deprocess(batch)
    images, titles = [], []
    for i, name in enumerate(names):
        images += [originals[i]] + [dreams[layer].image01[i] for layer in layers]
        titles += [name] + [f"dream {layer}" + (" (early)" if k == 0 else " (deep)"
                                                if k == len(layers) - 1 else "")
                            for k, layer in enumerate(layers)]
    figure = show_images(images, titles, ncols=len(layers) + 1)
    figure.suptitle(f"DeepDream, {octaves} octaves x 10 steps ({model.name} model)", fontsize=10)
    figure.tight_layout()
    return figure


def class_model_figure(model: LayeredNetwork, progress: bool = False) -> Figure:
    """Class models (Simonyan et al. 2014) with the softmax probability of each.

    The toy model: all its classes, by the plain recipe and with transform
    robustness (one row each). ImageNet networks:
    :data:`~lecturekit.examples.CLASS_MODEL_CLASSES` by the kit's default recipe
    (Olah et al.'s Fourier image with transforms).
    """
    if model.dataset == "scenes":
        recipes, classes = ("plain", "robust-pixel"), list(range(len(model.classes)))
    else:
        recipes, classes = ("robust-fourier",), list(CLASS_MODEL_CLASSES)
    results = [class_model(model, classes, recipe=recipe, progress=progress)
               for recipe in recipes]
    images = [image for result in results for image in result.image01]
    titles = [f"{name}  p = {p:.2f}" for result in results
              for name, p in zip(result.names, result.probability.tolist())]
    figure = show_images(images, titles, ncols=len(classes), size=2.2, row_labels=recipes)
    figure.suptitle(f"class models: argmax S_c(I) - lambda ||I||^2 ({model.name} model)",
                    fontsize=10)
    figure.tight_layout()
    return figure


def show_class_models(result: ClassModelResult, label: str, size: float = 2.4) -> Figure:
    """One row of class models (:func:`~lecturekit.optimise.class_model.class_model`), each
    titled with its class and the softmax probability the network gives it; ``label``
    names the row (the recipe)."""
    titles = [f"{name}  p = {p:.2f}" for name, p in zip(result.names, result.probability.tolist())]
    return show_images(list(result.image01), titles, ncols=len(result.names), size=size,
                       row_labels=[label])


def show_context(held: torch.Tensor, start: torch.Tensor, grown: torch.Tensor,
                 places: torch.Tensor, shares: Sequence[float], size: float = 2.2) -> Figure:
    """The toy's hidden context (:mod:`lecturekit.measure.context`), one column per scene:
    the scene as drawn (a hexagon held by its arm), the scene without an arm, the class
    grown into it, and the change's energy with the arm's place outlined and its
    ``shares`` of the change in the titles; ``size``: inches per picture. All images
    (N, 3, H, W) in [0, 1], ``places`` (N, H, W)."""
    energy = ((grown - start) ** 2).sum(1)
    energy = energy / energy.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    n = len(start)
    images = [*held, *start, *grown, *(e.expand(3, -1, -1) for e in energy)]
    titles = ([""] * 3 * n) + [f"{share:.0%} in the arm's place" for share in shares]
    masks = [torch.zeros_like(places[0])] * (3 * n) + list(places)
    return show_images(images, titles, masks=masks, ncols=n, size=size,
                       row_labels=["as drawn", "without an arm", "class grown", "change"])


def _patch_mosaic(patches: Sequence[torch.Tensor], side: int = 24) -> torch.Tensor:
    """Up to nine image patches of any sizes, each enlarged (nearest pixel) to ``side`` x
    ``side``, in a 3 x 3 mosaic with a one-pixel white gap; (3, H, W)."""
    tiles = [F.interpolate(p[None].float(), size=(side, side), mode="nearest")[0]
             for p in patches[:9]]
    tiles += [torch.ones(3, side, side)] * (9 - len(tiles))
    mosaic = torch.ones(3, 3 * side + 2, 3 * side + 2)
    for k, tile in enumerate(tiles):
        row, col = divmod(k, 3)
        mosaic[:, row * (side + 1):row * (side + 1) + side,
               col * (side + 1):col * (side + 1) + side] = tile
    return mosaic


def _direction_line(axis, angle: float, width: int, height: int, **style) -> None:
    """A line through the centre of a ``width`` x ``height`` picture in direction ``angle``
    (degrees, anticlockwise as displayed), across 80 % of it."""
    half = 0.4 * min(width, height)
    dx, dy = half * math.cos(math.radians(angle)), -half * math.sin(math.radians(angle))
    cx, cy = (width - 1) / 2, (height - 1) / 2
    axis.plot([cx - dx, cx + dx], [cy - dy, cy + dy], **style)


def show_orientation(caveat: RotationCaveat, size: float = 2.6) -> Figure:
    """The lecture's caveat for transform robustness, as computed by
    :func:`lecturekit.measure.orientation.rotation_caveat`: the unit's top-9 image patches
    with its preferred direction (a line), then the image optimised under rotations up to
    each range, titled with the unit's activation and the share of its gradient energy
    near the preferred direction; under each image its orientation histogram (share of
    gradient energy per direction), the band around the preferred direction shaded and
    the share of isotropic noise dashed."""
    count = len(caveat.max_degrees)
    if caveat.images01.shape[0] != count:
        raise ValueError(f"caveat holds {caveat.images01.shape[0]} images for {count} "
                         f"rotation ranges")
    figure, axes = plt.subplots(2, count + 1, figsize=(size * (count + 1), size * 1.75),
                                gridspec_kw={"height_ratios": [1, 0.6]}, squeeze=False)
    preferred = float(caveat.preferred.angle[0])
    mosaic = _patch_mosaic(caveat.patches)
    axes[0][0].imshow(mosaic.permute(1, 2, 0).clamp(0, 1).numpy())
    _direction_line(axes[0][0], preferred, mosaic.shape[2], mosaic.shape[1], color="yellow",
                    linewidth=2.5)
    axes[0][0].set_title(f"{caveat.layer}[{caveat.channel}]: top-9 patches\npreferred "
                         f"{preferred:.0f}° (coherence "
                         f"{float(caveat.preferred.coherence[0]):.2f})", fontsize=9)
    axes[1][0].axis("off")
    axes[1][0].text(0.0, 0.5, "gradient energy by\ndirection of the edges;\nshaded: preferred "
                    f"± {TOLERANCE:.0f}°;\ndashed: isotropic noise", fontsize=8,
                    va="center", transform=axes[1][0].transAxes)
    bins = caveat.histogram.shape[1]
    centres = [k * 180 / bins for k in range(bins)]
    for k, degrees in enumerate(caveat.max_degrees):
        axis = axes[0][k + 1]
        axis.imshow(caveat.images01[k].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
        axis.set_title(f"rotations up to ±{degrees:g}°\nactivation "
                       f"{float(caveat.activation[k]):.3g} · share "
                       f"{float(caveat.share[k]):.2f}", fontsize=9)
        chart = axes[1][k + 1]
        chart.bar(centres, caveat.histogram[k].numpy(), width=180 / bins * 0.85,
                  color="tab:blue")
        for shift in (-180, 0, 180):
            chart.axvspan(preferred - TOLERANCE + shift, preferred + TOLERANCE + shift,
                          color="gold", alpha=0.35, zorder=0)
        chart.axhline(1 / bins, color="grey", linestyle="--", linewidth=1)
        chart.set_xlim(-180 / bins / 2, 180 - 180 / bins / 2)
        chart.set_ylim(0, max(0.35, float(caveat.histogram.max()) * 1.1))
        chart.set_xticks([0, 45, 90, 135])
        chart.tick_params(labelsize=7)
        chart.set_xlabel("direction (°)", fontsize=8)
    for axis in axes[0]:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("transform robustness: rotating more wipes out the orientation the unit "
                    "prefers", fontsize=10)
    figure.tight_layout()
    return figure
