"""Figures for the inversion notebook (imports matplotlib; the numeric core does not).

Two figures after Mahendran & Vedaldi 2015 and the lecture ("Visualization &
Attention, Part 4", FAU Deep Learning):

* :func:`inversion_grid_figure`: the original and its reconstruction from each
  of the network's layers (conv1 ... fc8 on AlexNet), titled with feature error and SSIM;
* :func:`regulariser_figure`: one layer inverted under each image prior of
  the lecture, side by side;
* :func:`show_edge_zoom`: one edge of the original, enlarged, under several priors, with
  the grey values across it (the lecture's "TV keeps jumps, low-pass smears them");
* :func:`show_prior_influence`: what a learned prior fitted on images of one kind puts
  into the inversion of another image as its weight grows.

Each ``*_figure(model)`` takes only the model (the image comes from
:func:`lecturekit.examples.inversion_image`), so it can be registered in the kit's
``figures`` command; :func:`plot_inversion_grid` and :func:`plot_regularisers`
draw results that were computed already.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from lecturekit.examples import inversion_image, reference_images
from lecturekit.measure.edge_profile import EdgeSpot, edge_profile, strongest_edge
from lecturekit.measure.prior_influence import PriorInfluence
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import (CHOICE_LABELS, PRIOR_CHOICES, InversionResult,
                                           invert, invert_layers, prior_choice)
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.ui.plot.common import show_images
from lecturekit.validation import check_at_least, check_index

__all__ = ["inversion_grid_figure", "lecture_priors", "regulariser_figure", "show_edge_zoom",
           "show_inversion_grid", "show_prior_influence", "show_regularisers",
           "show_similarity_matrices"]


def lecture_priors(model: LayeredNetwork) -> dict[str, dict]:
    """The lecture's list of priors for inversion, in its order, as :func:`invert`'s
    arguments by label: no prior, L2, alpha-norm, total variation, low-pass, wavelet,
    transform robustness and a learned prior (fitted to
    :func:`~lecturekit.examples.reference_images`)."""
    learned = FeatureStatisticsPrior(model, reference_images(model))
    return {CHOICE_LABELS[choice]: prior_choice(choice, learned=learned)
            for choice in PRIOR_CHOICES if choice != "default"}


def show_inversion_grid(results: Mapping[str, InversionResult], index: int = 0,
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


def show_regularisers(results: Mapping[str, InversionResult], index: int = 0,
                      ncols: int = 5, size: float = 2.4) -> Figure:
    """One layer under several priors: the original, then one panel per entry (titled by its
    key) with the priors' weights, the feature error and SSIM."""
    if not results:
        raise ValueError("results is empty; pass a dict label -> InversionResult")
    first = next(iter(results.values()))
    check_index("index", index, first.image01.shape[0], "images in the batch")
    titles = [f"original\n(inverting {first.layer})"]
    for label, result in results.items():
        weights = ", ".join(f"λ {weight:.2g}" for weight in result.priors.values())
        titles.append(f"{label}{', ' + weights if weights else ''}\nerror "
                      f"{float(result.feature_error[index]):.3f} · SSIM "
                      f"{float(result.ssim[index]):.2f}")
    return show_images([first.original01[index]] + [r.image01[index] for r in results.values()],
                       titles, ncols=ncols, size=size)


def _crop(image01: torch.Tensor, spot: EdgeSpot, half: int) -> tuple[torch.Tensor, int, int]:
    """The ``2 * half + 1`` square of ``image01`` (C, H, W) around ``spot``, moved inside the
    image where the spot is near its border; with the crop's top-left corner."""
    height, width = image01.shape[-2:]
    side = min(2 * half + 1, height, width)
    top = min(max(spot.row - half, 0), height - side)
    left = min(max(spot.col - half, 0), width - side)
    return image01[:, top:top + side, left:left + side], top, left


def show_edge_zoom(results: Mapping[str, InversionResult], spot: EdgeSpot | None = None,
                   half: int = 12, index: int = 0, size: float = 2.2) -> Figure:
    """One edge, enlarged (the lecture's "TV keeps jumps, low-pass smears them"): the
    ``2 * half + 1`` pixels square around the original's strongest edge
    (:func:`~lecturekit.measure.edge_profile.strongest_edge`, or ``spot``), for the original
    and each reconstruction of ``results`` (label -> result), drawn pixel by pixel with the
    line across the edge marked; below, the grey values along that line
    (:func:`~lecturekit.measure.edge_profile.edge_profile`, three lines wide), one curve each."""
    if not results:
        raise ValueError("results is empty; pass a dict label -> InversionResult")
    first = next(iter(results.values()))
    check_index("index", index, first.image01.shape[0], "images in the batch")
    half = check_at_least("half", half, 2)
    original = first.original01[index].detach().cpu()
    spot = strongest_edge(original[None]) if spot is None else spot
    images = [original] + [r.image01[index].detach().cpu() for r in results.values()]
    labels = ["original"] + list(results)
    profiles = edge_profile(torch.stack(images), spot, half_length=half, width=3)
    figure = plt.figure(figsize=(size * len(images), size * 2.1))
    grid = figure.add_gridspec(2, len(images), height_ratios=[1.0, 0.9])
    colours = ["black"] + [f"C{k}" for k in range(len(results))]
    for k, (image, label) in enumerate(zip(images, labels)):
        crop, top, left = _crop(image, spot, half)
        axis = figure.add_subplot(grid[0, k])
        axis.imshow(crop.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        row, col = spot.row - top, spot.col - left
        if spot.across == "row":
            axis.plot([col - half, col + half], [row, row], color=colours[k], linewidth=1.5)
        else:
            axis.plot([col, col], [row - half, row + half], color=colours[k], linewidth=1.5)
        axis.set_xlim(-0.5, crop.shape[-1] - 0.5)
        axis.set_ylim(crop.shape[-2] - 0.5, -0.5)
        axis.set_title(f"{label}\n(rows {top}-{top + crop.shape[-2] - 1}, columns "
                       f"{left}-{left + crop.shape[-1] - 1})", fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    chart = figure.add_subplot(grid[1, :])
    offsets = list(range(-half, half + 1))
    for profile, label, colour in zip(profiles, labels, colours):
        chart.plot(offsets, profile.numpy(), color=colour, label=label,
                   linewidth=2.5 if label == "original" else 1.5, marker=".")
    chart.set_xlabel("pixels along the marked line, across the edge")
    chart.set_ylabel("grey value (0 to 1)")
    chart.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def show_prior_influence(influence: PriorInfluence, sources_shown: int = 3,
                         size: float = 2.2) -> Figure:
    """What a learned prior puts in
    (:func:`~lecturekit.measure.prior_influence.learned_prior_influence`): the original and the first ``sources_shown`` images the prior was fitted on (top row),
    the reconstruction at each weight lambda (bottom row), and the colour similarity of each
    reconstruction to the original and to the prior's images against lambda (right)."""
    count = len(influence.lambdas)
    sources_shown = check_at_least("sources_shown", sources_shown, 1)
    shown = min(sources_shown, influence.sources01.shape[0])
    columns = max(count, 1 + shown)
    figure = plt.figure(figsize=(size * (columns + 1.6), size * 2.2))
    grid = figure.add_gridspec(2, columns + 1, width_ratios=[1.0] * columns + [1.6])
    top = [(influence.original01[0], "original (inverted)")] + \
        [(influence.sources01[k], f"prior's image {k + 1}") for k in range(shown)]
    bottom = [(influence.images01[k], f"λ = {lam:g}\nfeature error "
               f"{float(influence.feature_error[k]):.2f}")
              for k, lam in enumerate(influence.lambdas)]
    for row, panels in enumerate((top, bottom)):
        for column, (image, title) in enumerate(panels):
            axis = figure.add_subplot(grid[row, column])
            axis.imshow(image.detach().cpu().permute(1, 2, 0).clamp(0, 1).numpy())
            axis.set_title(title, fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    chart = figure.add_subplot(grid[:, columns])
    positions = list(range(count))
    chart.plot(positions, influence.to_original.tolist(), marker="o", color="black",
               label="colours like the original")
    chart.plot(positions, influence.to_prior.tolist(), marker="o", color="tab:green",
               label="colours like the prior's images")
    chart.set_xticks(positions, [f"{lam:g}" for lam in influence.lambdas])
    chart.set_xlabel("weight λ of the learned prior")
    chart.set_ylabel("colour similarity (histogram intersection)")
    chart.set_ylim(0, 1)
    chart.legend(fontsize=8, loc="upper center")
    figure.tight_layout()
    return figure


def inversion_grid_figure(model: LayeredNetwork, layers: Sequence[str] | None = None,
                          steps: int | None = None) -> Figure:
    """Invert every layer for the model's inversion image and draw the grid."""
    image = inversion_image(model)
    results = invert_layers(model, image, layers, steps=steps, progress=False)
    return show_inversion_grid(results)


def regulariser_figure(model: LayeredNetwork, layer: str | None = None,
                       steps: int | None = None) -> Figure:
    """Invert one layer (default: the network's ``lecture_layers.prior_layer``) of the
    inversion image under each of the lecture's priors and draw them side by side."""
    layer = model.lecture_layers.prior_layer if layer is None else layer
    image = inversion_image(model)
    results = {label: invert(model, image, layer, steps=steps, progress=False, **arguments)
               for label, arguments in lecture_priors(model).items()}
    return show_regularisers(results)


def show_similarity_matrices(matrices: Mapping[str, torch.Tensor], size: float = 2.8) -> Figure:
    """Re-identification as the lecture's warning needs it: per layer a heatmap whose row
    ``i`` compares reconstruction ``i`` with every original (e.g.
    ``all_pairs(layout_correlation, ...)``); a dot marks each row's best match, a ring the
    row's own original, so rings with dots are images found again."""
    if not matrices:
        raise ValueError("matrices is empty; pass a dict layer -> (N, N) similarity matrix")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size + 0.4),
                                squeeze=False)
    for axis, (layer, matrix) in zip(axes[0], matrices.items()):
        matrix = matrix.detach().cpu().float()
        n = matrix.shape[0]
        axis.imshow(matrix.numpy(), cmap="viridis")
        best = matrix.argmax(dim=1)
        axis.scatter(best.numpy(), range(n), s=12, c="red")
        axis.scatter(range(n), range(n), s=70, facecolors="none", edgecolors="white")
        found = int((best == torch.arange(n)).sum())
        axis.set_title(f"from {layer}: {found} of {n} found", fontsize=10)
        axis.set_xlabel("original")
        axis.set_ylabel("reconstruction")
        axis.set_xticks(range(n))
        axis.set_yticks(range(n))
    figure.tight_layout()
    return figure
