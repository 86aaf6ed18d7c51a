"""Figures for DeepDream and class models (notebook 04). Imports matplotlib; the numeric
core (:mod:`lecturekit.deepdream`, :mod:`lecturekit.class_model`) does not.

Each figure takes only the model and picks its own inputs: generated scenes,
a photograph and the eight classes for the toy network; sample photographs
and a few classes including "dumbbell" for the ImageNet AlexNet.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from lecturekit.class_model import class_model
from lecturekit.deepdream import deepdream, max_octaves
from lecturekit.images import sample_image, to_numpy_image
from lecturekit.models import LayeredAlexNet
from lecturekit.scenes import TEST_SEED_START, make_scene

__all__ = ["IMAGENET_CLASSES", "class_model_figure", "deepdream_figure", "dream_inputs",
           "image_grid"]

IMAGENET_CLASSES: tuple[str, ...] = ("dumbbell", "goose", "ostrich", "bell pepper", "lemon",
                                     "dalmatian")
"""ImageNet classes shown by :func:`class_model_figure`, several of them from Simonyan et
al.'s (2014) figure; "dumbbell" is the lecture's example."""

EARLY_LAYER, DEEP_LAYER = "relu2", "conv5"
TOY_SCENE_SEED = TEST_SEED_START + 3


def image_grid(rows: Sequence[Sequence[torch.Tensor]], titles: Sequence[Sequence[str]],
               row_labels: Sequence[str] | None = None, size: float = 2.2) -> Figure:
    """Rows of (3, H, W) images in [0, 1] with a title per image and an optional label per row."""
    nrows, ncols = len(rows), max(len(row) for row in rows)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.35 * nrows),
                                squeeze=False)
    for r, (row, row_titles) in enumerate(zip(rows, titles)):
        for c, axis in enumerate(axes[r]):
            axis.set_xticks([])
            axis.set_yticks([])
            if c >= len(row):
                axis.axis("off")
                continue
            axis.imshow(to_numpy_image(row[c]))
            axis.set_title(row_titles[c], fontsize=9)
        if row_labels is not None:
            axes[r][0].set_ylabel(row_labels[r], fontsize=10)
    figure.tight_layout()
    return figure


def dream_inputs(model: LayeredAlexNet) -> tuple[torch.Tensor, list[str]]:
    """Normalised inputs for the DeepDream figure: a fresh scene and a photograph for the toy
    model (128 pixels), two sample photographs for ImageNet (224 pixels)."""
    if model.name == "toy":
        scene = make_scene(TOY_SCENE_SEED, model.input_size)
        scene_image = torch.from_numpy(scene.image.transpose(2, 0, 1).copy())
        batch = model.preprocess([scene_image, sample_image("chelsea")])
        return batch, [f"scene ({model.classes[scene.label]})", "photo (Chelsea)"]
    return model.preprocess([sample_image("chelsea"), sample_image("coffee")]), ["Chelsea",
                                                                                  "coffee"]


def deepdream_figure(model: LayeredAlexNet, layers: Sequence[str] = (EARLY_LAYER, DEEP_LAYER),
                     progress: bool = False) -> Figure:
    """DeepDream (Mordvintsev et al. 2015) on two inputs, for an early and a deep layer.

    The original recipe, with as many of its 4 octaves as the image size allows
    (3 at the toy model's 128 pixels). Early layers add strokes and fine
    texture; deep layers add the parts of objects the network knows.
    """
    batch, names = dream_inputs(model)
    octaves = min(4, max_octaves(tuple(batch.shape[-2:]), 1.4))
    dreams = {layer: deepdream(model, batch, layer, octaves=octaves, progress=progress)
              for layer in layers}
    originals = model.deprocess(batch)
    rows, titles = [], []
    for i, name in enumerate(names):
        rows.append([originals[i]] + [dreams[layer].image01[i] for layer in layers])
        titles.append([name] + [f"dream {layer}" + (" (early)" if k == 0 else " (deep)"
                                                    if k == len(layers) - 1 else "")
                                for k, layer in enumerate(layers)])
    figure = image_grid(rows, titles, size=2.6)
    figure.suptitle(f"DeepDream, {octaves} octaves x 10 steps ({model.name} model)", fontsize=10)
    figure.tight_layout()
    return figure


def class_model_figure(model: LayeredAlexNet, progress: bool = False) -> Figure:
    """Class models (Simonyan et al. 2014) with the softmax probability of each.

    The toy model: all its classes, optimised plainly and with transform
    robustness (one row each). ImageNet: :data:`IMAGENET_CLASSES` with
    transform robustness and 200 steps.
    """
    if model.name == "toy":
        results = [class_model(model, list(range(len(model.classes))), robust=robust,
                               progress=progress) for robust in (False, True)]
        labels = ["plain", "robust"]
    else:
        results = [class_model(model, list(IMAGENET_CLASSES), robust=True, steps=200,
                               progress=progress)]
        labels = ["robust"]
    rows = [list(result.image01) for result in results]
    titles = [[f"{name}  p = {p:.2f}" for name, p in zip(result.names, result.probability.tolist())]
              for result in results]
    figure = image_grid(rows, titles, row_labels=labels)
    figure.suptitle(f"class models: argmax S_c(I) - lambda ||I||^2 ({model.name} model)",
                    fontsize=10)
    figure.tight_layout()
    return figure
