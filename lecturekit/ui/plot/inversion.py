"""Figures for the inversion notebook (imports matplotlib; the numeric core does not).

Two figures after Mahendran & Vedaldi 2015 and the lecture ("Visualization &
Attention, Part 4", FAU Deep Learning):

* :func:`inversion_grid_figure`: the original and its reconstruction from each
  of the network's layers (conv1 ... fc8 on AlexNet), titled with feature error and SSIM;
* :func:`regulariser_figure`: one layer inverted under each image prior of
  the lecture, side by side.

Each ``*_figure(model)`` takes only the model (the image comes from
:func:`lecturekit.examples.inversion_image`), so it can be registered in the kit's
``figures`` command; :func:`plot_inversion_grid` and :func:`plot_regularisers`
draw results that were computed already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from lecturekit.examples import inversion_image
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import (REGULARISER_LABELS, InversionResult, invert,
                                           invert_layers)
from lecturekit.ui.plot.common import show_images
from lecturekit.validation import check_index

__all__ = ["COMPARED_REGULARISERS", "inversion_grid_figure", "plot_inversion_grid",
           "plot_regularisers", "regulariser_figure"]

COMPARED_REGULARISERS: tuple[str, ...] = ("none", "l2", "alpha", "tv", "low_pass", "wavelet",
                                          "robust", "learned")
"""The priors of the side-by-side figure, in the lecture's order."""


def plot_inversion_grid(results: Mapping[str, InversionResult], index: int = 0,
                        ncols: int = 5, size: float = 2.2) -> Figure:
    """The original and one reconstruction per layer (image ``index`` of the batch), each
    titled with its relative feature error and SSIM to the original."""
    if not results:
        raise ValueError("results is empty; pass the dict that invert_layers returns")
    first = next(iter(results.values()))
    check_index("index", index, first.image01.shape[0], "images in the batch")
    titles = ["original"] + [f"{layer}\nerror {float(result.feature_error[index]):.3f} · "
                             f"SSIM {float(result.ssim[index]):.2f}"
                             for layer, result in results.items()]
    return show_images([first.original01[index]] + [r.image01[index] for r in results.values()],
                       titles, ncols=ncols, size=size)


def plot_regularisers(results: Mapping[str, InversionResult], index: int = 0,
                      ncols: int = 5, size: float = 2.4) -> Figure:
    """One layer under several priors: the original, then one panel per prior with its
    lambda, feature error and SSIM."""
    if not results:
        raise ValueError("results is empty; pass a dict prior name -> InversionResult")
    first = next(iter(results.values()))
    check_index("index", index, first.image01.shape[0], "images in the batch")
    titles = [f"original\n(inverting {first.layer})"]
    for name, result in results.items():
        lam = result.settings.get("lam")
        weight = "" if name in ("none", "robust") or lam is None else f", λ {lam:.2g}"
        titles.append(f"{REGULARISER_LABELS.get(name, name)}{weight}\nerror "
                      f"{float(result.feature_error[index]):.3f} · SSIM "
                      f"{float(result.ssim[index]):.2f}")
    return show_images([first.original01[index]] + [r.image01[index] for r in results.values()],
                       titles, ncols=ncols, size=size)


def inversion_grid_figure(model: LayeredNetwork, layers: Sequence[str] | None = None,
                          steps: int | None = None) -> Figure:
    """Invert every layer for the model's showcase image and draw the grid."""
    image = inversion_image(model)
    results = invert_layers(model, image, layers, steps=steps, progress=False)
    return plot_inversion_grid(results)


def regulariser_figure(model: LayeredNetwork, layer: str | None = None,
                       regularisers: Sequence[str] = COMPARED_REGULARISERS,
                       steps: int | None = None) -> Figure:
    """Invert one layer (default: the architecture's showcase prior layer) of the showcase
    image under each prior and draw them side by side."""
    from lecturekit.examples import showcase

    layer = showcase(model).prior_layer if layer is None else layer
    image = inversion_image(model)
    results = {name: invert(model, image, layer, regulariser=name, steps=steps, progress=False)
               for name in regularisers}
    return plot_regularisers(results)
