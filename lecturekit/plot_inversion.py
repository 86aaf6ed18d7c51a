"""Figures for the inversion notebook (imports matplotlib; the numeric core does not).

Two figures after Mahendran & Vedaldi 2015 and the lecture ("Visualization &
Attention, Part 4", FAU Deep Learning):

* :func:`inversion_grid_figure`: the original and its reconstruction from each
  of the eighteen layers, conv1 ... fc8, titled with feature error and SSIM;
* :func:`regulariser_figure`: one layer inverted under each image prior of
  the lecture, side by side.

Each ``*_figure(model)`` takes only the model (a fresh scene for the toy model,
Chelsea the cat for ImageNet AlexNet), so it can be registered in the kit's
``figures`` command; :func:`plot_inversion_grid` and :func:`plot_regularisers`
draw results that were computed already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from lecturekit.inversion import (InversionResult, invert, invert_layers, inversion_image,
                                  REGULARISER_LABELS)
from lecturekit.models import LAYER_NAMES, LayeredAlexNet

__all__ = ["inversion_grid_figure", "plot_inversion_grid", "plot_regularisers",
           "regulariser_figure"]

COMPARED_REGULARISERS: tuple[str, ...] = ("none", "l2", "alpha", "tv", "low_pass", "wavelet",
                                          "robust", "learned")
"""The priors of the side-by-side figure, in the lecture's order."""


def _display(image01: torch.Tensor) -> np.ndarray:
    return image01.detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy()


def _grid(count: int, ncols: int, size: float) -> tuple[Figure, np.ndarray]:
    nrows = -(-count // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.35 * nrows),
                                squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    return figure, axes


def plot_inversion_grid(results: Mapping[str, InversionResult], index: int = 0,
                        ncols: int = 5, size: float = 2.2) -> Figure:
    """The original and one reconstruction per layer (image ``index`` of the batch), each
    titled with its relative feature error and SSIM to the original."""
    if not results:
        raise ValueError("results is empty; pass the dict that invert_layers returns")
    first = next(iter(results.values()))
    if not 0 <= index < first.image01.shape[0]:
        raise ValueError(f"index must be in 0..{first.image01.shape[0] - 1}, got {index}")
    figure, axes = _grid(len(results) + 1, ncols, size)
    axes.flat[0].imshow(_display(first.original01[index]))
    axes.flat[0].set_title("original", fontsize=9, fontweight="bold")
    for axis, (layer, result) in zip(axes.flat[1:], results.items()):
        axis.imshow(_display(result.image01[index]))
        axis.set_title(f"{layer}\nerror {float(result.feature_error[index]):.3f} · "
                       f"SSIM {float(result.ssim[index]):.2f}", fontsize=8)
    figure.tight_layout()
    return figure


def plot_regularisers(results: Mapping[str, InversionResult], index: int = 0,
                      ncols: int = 5, size: float = 2.4) -> Figure:
    """One layer under several priors: the original, then one panel per prior with its
    lambda, feature error and SSIM."""
    if not results:
        raise ValueError("results is empty; pass a dict prior name -> InversionResult")
    first = next(iter(results.values()))
    figure, axes = _grid(len(results) + 1, ncols, size)
    axes.flat[0].imshow(_display(first.original01[index]))
    axes.flat[0].set_title(f"original\n(inverting {first.layer})", fontsize=9,
                           fontweight="bold")
    for axis, (name, result) in zip(axes.flat[1:], results.items()):
        lam = result.settings.get("lam")
        weight = "" if name in ("none", "robust") or lam is None else f", λ {lam:.2g}"
        axis.imshow(_display(result.image01[index]))
        axis.set_title(f"{REGULARISER_LABELS.get(name, name)}{weight}\nerror "
                       f"{float(result.feature_error[index]):.3f} · SSIM "
                       f"{float(result.ssim[index]):.2f}", fontsize=8)
    figure.tight_layout()
    return figure


def inversion_grid_figure(model: LayeredAlexNet, layers: Sequence[str] = LAYER_NAMES,
                          steps: int | None = None) -> Figure:
    """Invert every layer for the model's showcase image and draw the grid."""
    image = inversion_image(model)
    results = invert_layers(model, image, layers, steps=steps, progress=False)
    return plot_inversion_grid(results)


def regulariser_figure(model: LayeredAlexNet, layer: str = "conv4",
                       regularisers: Sequence[str] = COMPARED_REGULARISERS,
                       steps: int | None = None) -> Figure:
    """Invert one layer of the showcase image under each prior and draw them side by side."""
    image = inversion_image(model)
    results = {name: invert(model, image, layer, regulariser=name, steps=steps, progress=False)
               for name in regularisers}
    return plot_regularisers(results)


"""Figure name -> function of the model, for the kit's ``figures`` command."""
