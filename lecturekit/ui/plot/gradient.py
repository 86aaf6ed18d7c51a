"""Figures for the gradient half of the lecture: input gradients, the three ReLU rules,
saliency maps and the top-9 view (notebooks 01-03).

Images are tensors in [0, 1], shaped (3, H, W) or (N, 3, H, W); signed
gradients are shown with :func:`lecturekit.gradient.saliency.gradient_to_rgb` (grey is
zero), non-negative maps as a heat layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from lecturekit.images import to_numpy_image
from lecturekit.gradient.saliency import gradient_to_rgb
from lecturekit.gradient.top9 import TopActivation, to_display

RULE_TITLES = {"backprop": "backprop (the gradient)", "deconvnet": "Deconvnet",
               "guided": "guided backprop"}
"""Display names of the three ReLU rules of :mod:`lecturekit.gradient.backward_rules`."""

HEAT_PERCENTILE = 99.5
"""Non-negative maps are shown divided by this percentile of their values, clipped at 1,
so that a few extreme pixels do not leave the rest of the map black."""

_GRADIENT_NOTE = ("grey = 0; a brighter colour channel raises the target, a darker one "
                  "lowers it (each panel scaled to its own 99th percentile of |gradient|)")
_COMMON_NOTE = ("grey = 0; a brighter colour channel raises the target, a darker one "
                "lowers it (all panels at one scale: the largest 99th percentile of "
                "|gradient| among them)")


def _batch(images: torch.Tensor, what: str) -> torch.Tensor:
    """``images`` as a detached CPU batch (N, C, H, W); a single (C, H, W) becomes N = 1."""
    images = torch.as_tensor(images).detach().cpu().float()
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(f"{what} must have shape (C, H, W) or (N, C, H, W), "
                         f"got {tuple(images.shape)}")
    return images


def _panel(axis, picture: np.ndarray | torch.Tensor, title: str | None = None, **imshow) -> None:
    """One picture on ``axis``, without ticks or frame."""
    if isinstance(picture, torch.Tensor) and picture.ndim == 3:
        picture = to_numpy_image(picture)
    axis.imshow(np.asarray(picture), **imshow)
    axis.axis("off")
    if title:
        axis.set_title(title, fontsize=9)


def show_gradients(images01: torch.Tensor, gradients: torch.Tensor,
                   titles: Sequence[str] | None = None, size: float = 2.4,
                   common_scale: bool = False) -> Figure:
    """Images next to their signed input gradients, shown as colour images.

    ``gradients`` is (N, 3, H, W). With one image (3, H, W) it is shown once,
    left of all N gradients (several targets on the same image); with N images
    the images form the top row and their gradients the row below.
    ``titles`` name the gradients, one each. Each panel is scaled to its own
    range, or with ``common_scale`` all to one, so that a short gradient looks
    faint (:func:`~lecturekit.gradient.saliency.gradient_to_rgb`).
    """
    grads, images = _batch(gradients, "gradients"), _batch(images01, "images01")
    count = grads.shape[0]
    if titles is not None and len(titles) != count:
        raise ValueError(f"titles has {len(titles)} entries for {count} gradients")
    if images.shape[0] not in (1, count):
        raise ValueError(f"give one image or one per gradient: {images.shape[0]} images for "
                         f"{count} gradients")
    shared = images.shape[0] == 1
    nrows, ncols = (1, count + 1) if shared else (2, count)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.6),
                                squeeze=False, layout="constrained")
    panels = list(axes.flat[1:] if shared else axes[1])
    pictures = gradient_to_rgb(grads, common_scale=common_scale)
    for index, (axis, picture) in enumerate(zip(panels, pictures)):
        _panel(axis, picture, titles[index] if titles is not None else None)
    for axis, image in zip(axes.flat[:1] if shared else axes[0], images):
        _panel(axis, image, "image")
    figure.supxlabel(_COMMON_NOTE if common_scale else _GRADIENT_NOTE, fontsize=8, color="0.3")
    return figure


def _heat_level(values: torch.Tensor, percentile: float = HEAT_PERCENTILE) -> float:
    """The value a non-negative map is divided by: its ``percentile``-th percentile (its
    maximum when that is 0, 1 when the map is all zero)."""
    values = values.detach().cpu().float().numpy()
    return float(np.percentile(values, percentile) or values.max() or 1.0)


def _heat(values: torch.Tensor, percentile: float = HEAT_PERCENTILE,
          level: float | None = None) -> np.ndarray:
    """A non-negative map divided by ``level`` (default: its ``percentile``-th percentile),
    clipped to [0, 1]."""
    level = _heat_level(values, percentile) if level is None else level
    return np.clip(values.detach().cpu().float().numpy() / level, 0, 1)


def _as_map(values: torch.Tensor) -> torch.Tensor:
    """A rule's map as a CPU tensor: signed (3, H, W) or non-negative (H, W)."""
    values = torch.as_tensor(values).detach().cpu().float()
    values = values.squeeze(0) if values.ndim == 4 else values
    signed = values.ndim == 3 and values.shape[0] == 3
    return values if signed else values.reshape(values.shape[-2:])


def show_rule_comparison(image01: torch.Tensor, maps_by_rule: Mapping[str, torch.Tensor],
                         size: float = 2.8, common_scale: bool = False) -> Figure:
    """The lecture's side by side: the image, then one panel per ReLU rule.

    ``maps_by_rule`` maps a rule name ("backprop", "deconvnet", "guided", or
    any title) to what that rule sent back to the pixels: a signed gradient
    (3, H, W) or (1, 3, H, W), shown as colour, or a non-negative map (H, W),
    shown as heat scaled to its :data:`HEAT_PERCENTILE`-th percentile. With
    ``common_scale`` the signed maps share one scale and the heat maps another
    (the largest level among them), so that a weaker map looks weaker.
    """
    if not maps_by_rule:
        raise ValueError("maps_by_rule is empty; give at least one rule's map")
    maps = {rule: _as_map(values) for rule, values in maps_by_rule.items()}
    signed = [rule for rule, values in maps.items() if values.ndim == 3]
    heat = [rule for rule in maps if rule not in signed]
    pictures = dict(zip(signed, gradient_to_rgb(torch.stack([maps[r] for r in signed]),
                                                common_scale=common_scale))) if signed else {}
    level = max(_heat_level(maps[r]) for r in heat) if common_scale and heat else None
    figure, axes = plt.subplots(1, len(maps) + 1, figsize=(size * (len(maps) + 1), size + 0.7),
                                layout="constrained")
    _panel(axes[0], _batch(image01, "image01")[0], "image")
    for axis, rule in zip(axes[1:], maps):
        title = RULE_TITLES.get(rule, rule)
        if rule in pictures:
            _panel(axis, pictures[rule], title)
        else:
            _panel(axis, _heat(maps[rule], level=level), title, cmap="inferno", vmin=0, vmax=1)
    if heat:
        scale = (f"the largest {HEAT_PERCENTILE:g}th percentile among them" if common_scale
                 else f"its {HEAT_PERCENTILE:g}th percentile")
        figure.colorbar(axes[1 + list(maps).index(heat[0])].images[-1], ax=list(axes),
                        shrink=0.7, label=f"map / {scale}")
    if signed:
        figure.supxlabel(_COMMON_NOTE if common_scale else _GRADIENT_NOTE, fontsize=8,
                         color="0.3")
    return figure


def show_saliency(images01: torch.Tensor, saliency_maps: torch.Tensor,
                  masks: torch.Tensor | None = None, titles: Sequence[str] | None = None,
                  ncols: int = 4, size: float = 2.8,
                  percentile: float = HEAT_PERCENTILE) -> Figure:
    """Saliency maps (N, H, W) as a heat layer over their images (shown in grey).

    Each map is divided by its own ``percentile`` (so a few extreme pixels do
    not hide the rest) and clipped to [0, 1]; its opacity follows its value, so
    weak pixels leave the image visible. ``masks`` (N, H, W), when given, are
    outlined in cyan.
    """
    images = _batch(images01, "images01")
    maps = torch.as_tensor(saliency_maps).detach().cpu().float()
    maps = maps.unsqueeze(0) if maps.ndim == 2 else maps
    if maps.ndim != 3 or maps.shape[0] != images.shape[0]:
        raise ValueError(f"saliency_maps must be (N, H, W) with one map per image: "
                         f"{images.shape[0]} images, maps of shape {tuple(maps.shape)}")
    count = maps.shape[0]
    for name, extra in (("titles", titles), ("masks", masks)):
        if extra is not None and len(extra) != count:
            raise ValueError(f"{name} has {len(extra)} entries for {count} maps")
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 0.8, size * nrows + 0.3),
                                squeeze=False)
    heat = None
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= count:
            continue
        grey = to_numpy_image(images[index]).mean(axis=2)
        values = _heat(maps[index], percentile)
        _panel(axis, grey, titles[index] if titles is not None else None,
               cmap="gray", vmin=0, vmax=1.4)
        heat = axis.imshow(values, cmap="inferno", vmin=0, vmax=1, alpha=0.15 + 0.85 * values)
        if masks is not None:
            axis.contour(np.asarray(masks[index], dtype=float), levels=[0.5], colors="cyan",
                         linewidths=1.2)
    figure.colorbar(heat, ax=list(axes.flat), shrink=0.8,
                    label=f"saliency / its {percentile:g}th percentile")
    return figure


def show_top9(tops: Sequence[TopActivation], layer: str, channel: int,
              size: float = 1.25) -> Figure:
    """Zeiler & Fergus' view of one feature map: a 3 x 3 grid of the projections of its
    strongest activations (Deconvnet or guided backprop; grey = 0), next to a 3 x 3 grid
    of the image patches those activations see (:func:`lecturekit.gradient.top9.top9`)."""
    if not tops:
        raise ValueError("tops is empty; pass the result of lecturekit.gradient.top9.top9")
    figure = plt.figure(figsize=(6 * size + 0.6, 3 * size + 0.8))
    left, right = figure.subfigures(1, 2, wspace=0.04)
    for sub, title, pictures in (
            (left, f"{tops[0].method} projections",
             [to_display(t.projection_patch) for t in tops]),
            (right, "image patches", [t.patch for t in tops])):
        axes = sub.subplots(3, 3, gridspec_kw={"wspace": 0.06, "hspace": 0.06,
                                               "left": 0.02, "right": 0.98, "bottom": 0.02,
                                               "top": 0.86})
        sub.suptitle(title, fontsize=10, y=0.95)
        for index, axis in enumerate(axes.flat):
            axis.axis("off")
            if index < len(pictures):
                _panel(axis, pictures[index])
    figure.suptitle(f"{layer}, channel {channel}: its {len(tops)} strongest activations",
                    fontsize=11, y=1.03)
    return figure


def show_relu_rules(f_in: torch.Tensor, r_out: torch.Tensor,
                    results: Mapping[str, torch.Tensor], size: float = 2.3) -> Figure:
    """The worked example of the ReLU rules as small tables of numbers.

    Top row: the forward input, the forward output and the signal from above;
    bottom row: what each rule in ``results`` passes down. Negative entries are
    highlighted in yellow, zeros are greyed out.
    """
    tables = [("forward input $f_{in}$", f_in), ("forward output max($f_{in}$, 0)",
              f_in.clamp(min=0)), ("signal from above $R_{out}$", r_out)]
    tables += [(f"{RULE_TITLES.get(rule, rule)}: $R_{{in}}$", values)
               for rule, values in results.items()]
    ncols = max(3, len(results))
    figure, axes = plt.subplots(2, ncols, figsize=(size * ncols, size * 2 + 0.4), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    positions = list(axes[0][:3]) + list(axes[1][:len(results)])
    for axis, (title, values) in zip(positions, tables):
        array = torch.as_tensor(values).detach().cpu().reshape(values.shape[-2:]).numpy()
        colours = np.where(array[..., None] < 0, (1.0, 0.9, 0.3), (1.0, 1.0, 1.0))
        axis.imshow(colours)
        for (row, col), value in np.ndenumerate(array):
            axis.text(col, row, f"{value:g}", ha="center", va="center", fontsize=11,
                      color="0.65" if value == 0 else "black")
        axis.set_xticks(np.arange(-0.5, array.shape[1]), minor=True)
        axis.set_yticks(np.arange(-0.5, array.shape[0]), minor=True)
        axis.grid(which="minor", color="0.6", linewidth=0.8)
        axis.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        axis.axis("on")
        axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure
