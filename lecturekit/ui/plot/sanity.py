"""Figures for the sanity checks (notebook 06): Adebayo et al.'s (2018) randomisation
figure and the class-sensitivity view after Nie, Zhang & Patel (2018).

* :func:`show_randomisation`: the maps of every rule (rows) after every step of a
  cascading or independent randomisation (columns), as the paper draws them, with the
  similarity curves below;
* :func:`show_class_sensitivity`: each rule's map for two classes of one image, with the
  strongest pixel of each marked.

Absolute maps are drawn in grey, each divided by its own 99th percentile
(:func:`~lecturekit.measure.map_similarity.display_scale`), the scale the SSIM compares.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from lecturekit.images import to_numpy_image
from lecturekit.measure.class_sensitivity import ClassSensitivity
from lecturekit.measure.map_similarity import MEASURES, display_scale
from lecturekit.measure.randomisation import Randomisation
from lecturekit.validation import check_index

__all__ = ["MEASURE_TITLES", "SANITY_RULE_TITLES", "show_class_sensitivity",
           "show_randomisation"]

SANITY_RULE_TITLES = {"backprop": "gradient", "saliency": "saliency map",
                      "guided": "guided backprop", "deconvnet": "Deconvnet"}
"""Row labels of the sanity-check figures."""

_COLOURS = {"backprop": "C0", "saliency": "C1", "guided": "C2", "deconvnet": "C3"}

MEASURE_TITLES = {"spearman_abs": "rank correlation (absolute)",
                  "spearman_signed": "rank correlation (signed)",
                  "ssim": "SSIM (absolute, as shown)", "edge": "rank correlation with edges"}
"""Titles of the similarity curves."""


def _off(axis) -> None:
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)


def _grey(axis, picture: np.ndarray) -> None:
    axis.imshow(picture, cmap="gray", vmin=0, vmax=1)
    _off(axis)


def _drawn(rule: str, measure: str) -> bool:
    """Whether ``rule`` has a curve of ``measure``: the saliency map has no sign, so its
    signed curve would repeat the absolute one."""
    return not (rule == "saliency" and measure == "spearman_signed")


def show_randomisation(result: Randomisation, image: int = 0,
                       measures: Sequence[str] = ("spearman_abs", "spearman_signed", "ssim"),
                       size: float = 1.15) -> Figure:
    """Adebayo et al.'s figure for a :class:`~lecturekit.measure.randomisation.Randomisation`:
    image ``image`` and, for every rule (rows), its absolute map after every step (columns,
    the trained network first); below, per measure, the mean similarity to the trained
    map over all images of the result at every step, one line per rule (a measure no rule
    has, the signed one of the saliency map alone, is left out)."""
    check_index("image", image, result.images01.shape[0], "images in the result")
    unknown = [m for m in measures if m not in MEASURES]
    if not measures or unknown:
        raise ValueError(f"measures must name one or more of {', '.join(MEASURES)}, got "
                         f"measures={measures!r}")
    measures = [m for m in measures if any(_drawn(rule, m) for rule in result.rules)]
    rows, columns = len(result.rules), len(result.steps) + 1
    figure = plt.figure(figsize=(size * columns + 0.9, size * rows + 3.3),
                        layout="constrained")
    top, bottom = figure.subfigures(2, 1, height_ratios=[size * rows + 0.5, 2.8])
    axes = top.subplots(rows, columns, squeeze=False)
    for row, rule in enumerate(result.rules):
        shown = display_scale(result.maps[rule][:, image]).numpy()
        for step in range(len(result.steps)):
            _grey(axes[row][step + 1], shown[step])
        _off(axes[row][0])
        axes[row][0].set_ylabel(SANITY_RULE_TITLES.get(rule, rule), fontsize=9)
    axes[0][0].imshow(to_numpy_image(result.images01[image]))
    axes[0][0].set_title("image", fontsize=8)
    down = "randomised down to" if result.mode == "cascading" else "randomised alone"
    for step, name in enumerate(result.steps):
        axes[0][step + 1].set_title(name, fontsize=8)
    top.suptitle(f"{result.mode} randomisation, from the trained network (left) to more and "
                 f"more random blocks" if result.mode == "cascading" else
                 "independent randomisation: one block random at a time", fontsize=10)
    curves = bottom.subplots(1, len(measures), squeeze=False)[0]
    x = np.arange(len(result.steps))
    for axis, measure in zip(curves, measures):
        for rule in [rule for rule in result.rules if _drawn(rule, measure)]:
            curve = [np.nan if v is None else v for v in result.curve(rule, measure)]
            axis.plot(x, curve, marker="o", markersize=3, color=_COLOURS[rule],
                      label=SANITY_RULE_TITLES.get(rule, rule))
        axis.axhline(0, color="0.7", linewidth=0.8)
        axis.set_xticks(x, result.steps, rotation=60, fontsize=7)
        axis.set_ylim(-0.4, 1.05)
        axis.set_title(MEASURE_TITLES[measure], fontsize=9)
        axis.set_xlabel(down, fontsize=8)
    curves[0].set_ylabel(f"similarity to the trained map\n(mean of {result.labels.numel()} "
                         f"images)", fontsize=8)
    curves[0].legend(fontsize=7, loc="lower left")
    return figure


def show_class_sensitivity(result: ClassSensitivity, class_names: Sequence[str],
                           image: int = 0, size: float = 2.0) -> Figure:
    """Image ``image`` and, for every rule (rows), its absolute map for the first and for the
    second class of :class:`~lecturekit.measure.class_sensitivity.ClassSensitivity`, each
    with its strongest pixel circled; the row says the maps' rank correlation.
    ``class_names`` are the model's classes (``model.classes``)."""
    check_index("image", image, result.images01.shape[0], "images in the result")
    names = [class_names[int(result.classes[image])], class_names[int(result.other_classes[image])]]
    rows = len(result.rules)
    figure, axes = plt.subplots(rows, 3, figsize=(3 * size + 0.6, rows * size + 0.5),
                                squeeze=False, layout="constrained")
    for row, rule in enumerate(result.rules):
        maps = display_scale(result.maps[rule][:, image]).numpy()
        for column in (1, 2):
            axis = axes[row][column]
            _grey(axis, maps[column - 1])
            y, x = result.peaks[rule][column - 1, image].tolist()
            axis.plot(x, y, "o", markersize=10, markerfacecolor="none", markeredgecolor="red",
                      markeredgewidth=1.5)
            if row == 0:
                axis.set_title(f"map for '{names[column - 1]}'", fontsize=9)
        _off(axes[row][0])
        axes[row][0].set_ylabel(f"{SANITY_RULE_TITLES.get(rule, rule)}\nrank correlation "
                                f"{float(result.correlation[rule][image]):.2f}", fontsize=9)
    axes[0][0].imshow(to_numpy_image(result.images01[image]))
    axes[0][0].set_title("image", fontsize=9)
    figure.suptitle("the same image explained for two classes (red circle: strongest pixel)",
                    fontsize=10)
    return figure
