"""How alike are two explanations of one image? The measures of the sanity checks.

Adebayo et al. (2018, "Sanity Checks for Saliency Maps", NeurIPS) compare the map a
method draws for a trained network with the map it draws for a damaged one, by

* the Spearman rank correlation of the **absolute** maps (does the order of importance
  of the pixels stay, whatever the sign?),
* the Spearman rank correlation of the **signed** maps,
* the SSIM (Wang et al. 2004) of the absolute maps, each scaled to [0, 1] as it is shown.

Four maps per image, :data:`SANITY_RULES`: what backprop (the gradient), guided
backprop and the Deconvnet send back to the pixels, reduced over colour as Adebayo et
al. show them (absolute map: the sum of ``|g|`` over the channels; signed map: the sum
of ``g``), and Simonyan et al.'s saliency map, the maximum of ``|g|`` over the channels
(it has no sign: its signed map is the absolute one). A fifth number asks whether a map
merely looks like the image: its rank correlation with the image's own edge map
(:func:`~lecturekit.filters.sobel_edges`), which needs no network at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lecturekit.filters import sobel_edges
from lecturekit.gradient.gradients import input_gradient
from lecturekit.gradient.saliency import channel_max_abs
from lecturekit.models import LayeredNetwork
from lecturekit.similarity import rank_correlation, ranks, ssim
from lecturekit.targets import Logit

__all__ = ["DISPLAY_PERCENTILE", "MEASURES", "MEASURE_LABELS", "MapRanks", "RuleMaps", "SANITY_RULES",
           "SSIM_WINDOW", "check_rules", "display_scale", "edge_correlation", "edge_ranks",
           "mean_or_none", "number", "rule_maps", "standard_ranks"]

SANITY_RULES: tuple[str, ...] = ("backprop", "saliency", "guided", "deconvnet")
"""The maps the sanity checks compare: three backward rules and the saliency map."""

_BACKWARD_RULE = {"backprop": "backprop", "saliency": "backprop", "guided": "guided",
                  "deconvnet": "deconvnet"}

MEASURES: tuple[str, ...] = ("spearman_abs", "spearman_signed", "ssim", "edge")
"""Similarity to the reference map: rank correlation of the absolute and of the signed
maps, SSIM of the absolute maps as shown; ``edge``: rank correlation of the absolute map
with the image's edge map (not a comparison with the reference)."""

SSIM_WINDOW = 11
"""SSIM's window (Wang et al. 2004); maps smaller than that use the largest odd window
that fits."""

MEASURE_LABELS = {"spearman_abs": "rank |map|", "spearman_signed": "rank signed",
                  "ssim": "SSIM |map|", "edge": "rank edges"}
"""Short names of the measures in printed tables."""

DISPLAY_PERCENTILE = 99.0
"""An absolute map is shown (and compared by SSIM) divided by this percentile of its
values and clipped at 1, as Adebayo et al. show theirs."""


def mean_or_none(values: torch.Tensor, digits: int = 4) -> float | None:
    """The mean of ``values`` over the entries that are not NaN, rounded; None when every
    entry is NaN (a map that is zero everywhere has no ranks to compare)."""
    mean = float(values.nanmean())
    return None if math.isnan(mean) else round(mean, digits)


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or "-" for None (no map to compare)."""
    return "-" if value is None else f"{value:.{digits}f}"


def check_rules(rules: Sequence[str]) -> tuple[str, ...]:
    """``rules`` as a tuple if it names one or more of :data:`SANITY_RULES`, each once."""
    chosen = (rules,) if isinstance(rules, str) else tuple(rules) if isinstance(
        rules, Sequence) else None
    if not chosen or any(rule not in SANITY_RULES for rule in chosen) or \
            len(set(chosen)) != len(chosen):
        raise ValueError(f"rules must name one or more of {', '.join(SANITY_RULES)}, each "
                         f"once, got rules={rules!r}")
    return chosen


@dataclass(frozen=True)
class RuleMaps:
    """One rule's maps of a batch: ``absolute`` and ``signed``, each (N, H, W), on the CPU."""
    absolute: torch.Tensor
    signed: torch.Tensor


def rule_maps(model: LayeredNetwork, images: torch.Tensor, labels: torch.Tensor,
              rules: Sequence[str] = SANITY_RULES) -> dict[str, RuleMaps]:
    """The maps of each rule for the logit of ``labels[i]`` in image ``i``: one backward
    pass per backward rule (backprop serves the gradient and the saliency map)."""
    rules = check_rules(rules)
    gradients = {}
    for rule in rules:
        backward = _BACKWARD_RULE[rule]
        if backward not in gradients:
            gradients[backward] = input_gradient(model, images, Logit(labels),
                                                 rule=backward).cpu()
    found = {}
    for rule in rules:
        g = gradients[_BACKWARD_RULE[rule]]
        if rule == "saliency":
            peak = channel_max_abs(g)
            found[rule] = RuleMaps(peak, peak)
        else:
            found[rule] = RuleMaps(g.abs().sum(dim=1), g.sum(dim=1))
    return found


def display_scale(maps: torch.Tensor, percentile: float = DISPLAY_PERCENTILE) -> torch.Tensor:
    """Non-negative maps (N, H, W) divided by their own ``percentile``-th percentile (the
    maximum where that is 0; a map of zeros stays zero), clipped to [0, 1]."""
    flat = maps.detach().flatten(1).double()
    rank = max(1, min(flat.shape[1], round(percentile / 100 * flat.shape[1])))
    level = flat.kthvalue(rank, dim=1).values
    level = torch.where(level > 0, level, flat.amax(dim=1))
    level = torch.where(level > 0, level, torch.ones_like(level))
    return (flat / level[:, None]).clamp(0, 1).view_as(maps)


def standard_ranks(values: torch.Tensor) -> torch.Tensor:
    """The ranks of each row of ``values`` (N, M) (:func:`~lecturekit.similarity.ranks`),
    centred and scaled to length 1, float32: the dot product of two rows is Spearman's rho.
    A constant row has no order and becomes NaN."""
    centred = ranks(values)
    centred = centred - centred.mean(dim=1, keepdim=True)
    return (centred / centred.norm(dim=1, keepdim=True)).float()


def _rho(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman's rho of each row of two tables of :func:`standard_ranks`, (N,)."""
    return (a * b).sum(dim=1)


@dataclass
class MapRanks:
    """Maps prepared for comparison: the :func:`standard_ranks` of the absolute and signed
    maps and the absolute maps as shown (:func:`display_scale`)."""
    absolute: torch.Tensor
    signed: torch.Tensor
    shown: torch.Tensor

    @classmethod
    def of(cls, maps: RuleMaps) -> MapRanks:
        absolute = standard_ranks(maps.absolute.flatten(1))
        signed = absolute if maps.signed is maps.absolute else \
            standard_ranks(maps.signed.flatten(1))
        return cls(absolute, signed, display_scale(maps.absolute))

    def compare(self, other: MapRanks, edges: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each measure of :data:`MEASURES` for ``other`` against these maps, (N,) each;
        ``edges`` are the :func:`standard_ranks` of the images' edge maps
        (:func:`edge_ranks`)."""
        side = min(self.shown.shape[-2:])
        window = min(SSIM_WINDOW, side if side % 2 else side - 1)
        return {"spearman_abs": _rho(other.absolute, self.absolute),
                "spearman_signed": _rho(other.signed, self.signed),
                "ssim": ssim(other.shown[:, None], self.shown[:, None],
                             window_size=window).float(),
                "edge": _rho(other.absolute, edges)}


def edge_ranks(images01: torch.Tensor) -> torch.Tensor:
    """The :func:`standard_ranks` of the images' edge maps
    (:func:`~lecturekit.filters.sobel_edges`), (N, H * W)."""
    return standard_ranks(sobel_edges(images01.detach().cpu().double()).flatten(1))


def edge_correlation(maps: torch.Tensor, images01: torch.Tensor) -> torch.Tensor:
    """The rank correlation of each map (N, H, W) with its image's edge map (N, 3, H, W in
    [0, 1]); (N,). Near 1: the map orders the pixels as an edge detector does, which needs
    neither a network nor training (Adebayo et al. 2018)."""
    if not isinstance(maps, torch.Tensor) or maps.ndim != 3:
        got = tuple(maps.shape) if isinstance(maps, torch.Tensor) else type(maps).__name__
        raise ValueError(f"maps must be a tensor of shape (N, H, W), got {got}")
    if not isinstance(images01, torch.Tensor) or images01.ndim != 4 or \
            images01.shape[0] != maps.shape[0] or images01.shape[-2:] != maps.shape[-2:]:
        got = tuple(images01.shape) if isinstance(images01, torch.Tensor) else \
            type(images01).__name__
        raise ValueError(f"images01 must be a batch (N, C, H, W) with one image of the maps' "
                         f"size per map {tuple(maps.shape)}, got {got}")
    return rank_correlation(maps.detach().cpu(), sobel_edges(images01.detach().cpu())).float()
