"""Does the picture depend on the class asked for? Measured.

A map that explains a class score should change when another class is asked for. Nie,
Zhang & Patel (2018, "A Theoretical Explanation for Perplexing Behaviors of
Backpropagation-based Visualizations", ICML) showed that guided backprop and the
Deconvnet hardly do: they mostly reconstruct the image, whatever the class. Here each
rule's map for one class of an image (by default the class the network predicts) is
held against its map for a second class of the same image (by default a random other
class; on a scene with two objects, the other object's class), by

* the Spearman rank correlation of the two absolute maps (1: the same picture) and of
  the two signed maps (:mod:`~lecturekit.measure.map_similarity`), and
* where their maxima land: the distance between the two strongest pixels, and whether
  they lie within :data:`~lecturekit.measure.localisation.POINTING_TOLERANCE` pixels of
  each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lecturekit.gradient.saliency import ClassIndex, class_indices
from lecturekit.measure.localisation import POINTING_TOLERANCE
from lecturekit.measure.map_similarity import (SANITY_RULES, check_rules, mean_or_none, number,
                                               rule_maps)
from lecturekit.models import LayeredNetwork
from lecturekit.similarity import rank_correlation
from lecturekit.validation import check_at_least, check_seed

__all__ = ["ClassSensitivity", "class_sensitivity", "other_classes", "peaks"]


def other_classes(labels: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """For each label a class drawn at random among the ``count`` classes, never the label
    itself (seeded by ``seed``)."""
    check_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    drawn = torch.randint(0, count - 1, labels.shape, generator=generator)
    return drawn + (drawn >= labels).long()  # skip the label itself


def peaks(maps: torch.Tensor) -> torch.Tensor:
    """The (row, column) of each map's strongest pixel (the first in reading order at
    ties), (N, 2)."""
    flat = maps.flatten(1).argmax(dim=1)
    return torch.stack([flat // maps.shape[-1], flat % maps.shape[-1]], dim=1)


@dataclass
class ClassSensitivity:
    """Per rule, the maps of two classes of each image and how alike they are.

    ``maps[rule]`` (2, N, H, W): the absolute maps for ``classes`` and for
    ``other_classes``; ``correlation[rule]`` (N,) their rank correlation, and
    ``signed_correlation[rule]`` that of the signed maps; ``peaks[rule]`` (2, N, 2) the
    absolute maps' strongest pixels; ``peak_distance[rule]`` (N,) the distance between
    those, in pixels."""
    rules: tuple[str, ...]
    images01: torch.Tensor
    classes: torch.Tensor
    other_classes: torch.Tensor
    maps: dict[str, torch.Tensor]
    correlation: dict[str, torch.Tensor]
    signed_correlation: dict[str, torch.Tensor]
    peaks: dict[str, torch.Tensor]
    peak_distance: dict[str, torch.Tensor]
    tolerance: int

    def table(self, digits: int = 4) -> dict:
        """Per rule the mean ``spearman_abs`` and ``spearman_signed``, the mean
        ``peak_distance`` as a fraction of the image's side, and ``same_peak``, the share of
        images whose two maxima lie within ``tolerance`` pixels."""
        side = max(self.images01.shape[-2:])
        table: dict = {"images": int(self.classes.numel()), "tolerance": self.tolerance}
        for rule in self.rules:
            distance = self.peak_distance[rule]
            table[rule] = {
                "spearman_abs": mean_or_none(self.correlation[rule], digits),
                "spearman_signed": mean_or_none(self.signed_correlation[rule], digits),
                "peak_distance": round(float(distance.mean()) / side, digits),
                "same_peak": round(float((distance <= self.tolerance).float().mean()), digits)}
        return table

    def text(self, class_names: Sequence[str], digits: int = 2) -> str:
        """The two classes of every image, then per rule the mean rank correlations, the mean
        distance between the two maxima in pixels and in how many images they stay within
        ``tolerance`` pixels; ``class_names`` are the model's classes."""
        lines = [f"image {i}: {class_names[int(a)]!r} against {class_names[int(b)]!r}"
                 for i, (a, b) in enumerate(zip(self.classes, self.other_classes))]
        count = int(self.classes.numel())
        lines.append(f"{'rule':<11}{'rank |map|':>11}{'rank signed':>12}{'peaks apart (px)':>18}"
                     f"{f'peak within {self.tolerance} px':>20}")
        for rule in self.rules:
            distance = self.peak_distance[rule]
            same = int((distance <= self.tolerance).sum())
            lines.append(f"{rule:<11}{number(mean_or_none(self.correlation[rule]), digits):>11}"
                         f"{number(mean_or_none(self.signed_correlation[rule]), digits):>12}"
                         f"{float(distance.mean()):>18.1f}{f'{same} of {count}':>20}")
        return "\n".join(lines)


def class_sensitivity(model: LayeredNetwork, images: torch.Tensor, classes: ClassIndex = None,
                      second: ClassIndex = None, *, rules: Sequence[str] = SANITY_RULES,
                      seed: int = 0, tolerance: int = POINTING_TOLERANCE) -> ClassSensitivity:
    """Each rule's map of every image for ``classes`` (default: the predicted class) against
    its map for ``second`` (default: a random other class per image, :func:`other_classes`),
    after Nie, Zhang & Patel (2018). Both classes of all images go through the network in
    one batch per backward rule. Returns a :class:`ClassSensitivity`."""
    rules = check_rules(rules)
    check_at_least("tolerance", tolerance, 0)
    model.check_batch(images, "images")
    images = images.detach().to(model.device)
    first = class_indices(model, images, classes)
    other = other_classes(first, len(model.classes), seed) if second is None else \
        class_indices(model, images, second)
    same = (first == other).nonzero().flatten()
    if same.numel():
        raise ValueError(f"second must differ from classes in every image, but image "
                         f"{int(same[0])} has class {int(first[same[0]])} twice")
    n = images.shape[0]
    found = rule_maps(model, torch.cat([images, images]), torch.cat([first, other]), rules)
    result = ClassSensitivity(rules, model.deprocess(images).cpu(), first, other, {}, {}, {}, {},
                              {}, tolerance)
    for rule in rules:
        maps = found[rule].absolute.view(2, n, *images.shape[-2:])
        signed = found[rule].signed.view(2, n, *images.shape[-2:])
        where = torch.stack([peaks(maps[0]), peaks(maps[1])])
        result.maps[rule] = maps
        result.correlation[rule] = rank_correlation(maps[0], maps[1]).float()
        result.signed_correlation[rule] = rank_correlation(signed[0], signed[1]).float()
        result.peaks[rule] = where
        result.peak_distance[rule] = (where[0] - where[1]).float().norm(dim=1)
    return result
