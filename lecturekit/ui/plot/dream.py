"""Figures for DeepDream and class models (notebook 04). Imports matplotlib; the numeric
core (:mod:`lecturekit.optimise.deepdream`, :mod:`lecturekit.optimise.class_model`) does not.

Each figure takes only the model and picks its own inputs: generated scenes,
a photograph and the eight classes for the toy network; sample photographs
and a few classes including "dumbbell" for the ImageNet AlexNet.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from lecturekit.examples import CLASS_MODEL_CLASSES, dream_inputs
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.class_model import ClassModelResult, class_model
from lecturekit.optimise.deepdream import deepdream, max_octaves
from lecturekit.ui.plot.common import show_images

__all__ = ["class_model_figure", "deepdream_figure", "show_class_models", "show_context"]


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
                 places: torch.Tensor, shares: Sequence[float]) -> Figure:
    """The toy's hidden context (:mod:`lecturekit.measure.context`), one column per scene:
    the scene as drawn (held by its arm), the scene without the arm, the class grown into
    it, and the change's energy with the arm's place outlined and its ``shares`` of the
    change in the titles. All images (N, 3, H, W) in [0, 1], ``places`` (N, H, W)."""
    energy = ((grown - start) ** 2).sum(1)
    energy = energy / energy.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    n = len(start)
    images = [*held, *start, *grown, *(e.expand(3, -1, -1) for e in energy)]
    titles = ([""] * 3 * n) + [f"{share:.0%} in the arm's place" for share in shares]
    masks = [torch.zeros_like(places[0])] * (3 * n) + list(places)
    return show_images(images, titles, masks=masks, ncols=n, size=2.2,
                       row_labels=["as drawn", "arm removed", "class grown", "change"])
