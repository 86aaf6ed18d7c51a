"""The model randomisation test: does the picture depend on the network's weights?

Adebayo et al. (2018, "Sanity Checks for Saliency Maps", NeurIPS) re-initialise a
trained network's weights and ask whether an explanation method's map changes. A map
that explains what the network learned must change; one that stays is drawn by the
image and the architecture. Two ways:

* **cascading randomisation** (:func:`cascading_randomisation`): from the top block (the
  logits) down, one more block at a time, so that after step *k* the *k* highest blocks
  are random and the rest still trained;
* **independent randomisation** (:func:`independent_randomisation`): one block at a time,
  every other block trained.

A block is a layer of the network that holds weights (:func:`randomisable_blocks`: on
EfficientNet-Lite0 ``logits, head, stage7, ..., stage1, stem``; on the AlexNets ``fc8``
down to ``conv1``). It is re-initialised by each of its modules' own default
initialisation (``reset_parameters``, which also resets batch norm's statistics), with
``torch.manual_seed(seed + k)`` for the *k*-th block of the list (0 for the top one), so
a block gets the same random weights in both tests. Everything happens on a copy: the
network handed in is never changed, nor torch's global random state.

After every step the maps of each rule (:mod:`~lecturekit.measure.map_similarity`) are
compared with the trained network's maps of the same images and classes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lecturekit.gradient.saliency import ClassIndex, class_indices
from lecturekit.measure.map_similarity import (MEASURE_LABELS, MEASURES, SANITY_RULES, MapRanks,
                                               check_rules, edge_ranks, mean_or_none, number,
                                               rule_maps)
from lecturekit.models import LayeredNetwork
from lecturekit.progress import progress_bar
from lecturekit.validation import check_seed

__all__ = ["TRAINED", "Randomisation", "cascading_randomisation", "independent_randomisation",
           "randomisable_blocks", "randomised_copy", "reinitialise"]

TRAINED = "trained"
"""The name of step 0 of a randomisation: the trained network itself."""


def randomisable_blocks(model: LayeredNetwork) -> tuple[str, ...]:
    """The layers of ``model`` that hold weights, from the top (the logits) down."""
    return tuple(name for name in reversed(model.layer_names)
                 if next(model.layers[name].parameters(), None) is not None)


def _check_blocks(model: LayeredNetwork, blocks: Sequence[str] | None) -> tuple[str, ...]:
    weighted = randomisable_blocks(model)
    if blocks is None:
        return weighted
    chosen = (blocks,) if isinstance(blocks, str) else tuple(blocks)
    if not chosen or any(b not in weighted for b in chosen) or len(set(chosen)) != len(chosen):
        raise ValueError(f"blocks must name one or more layers of model {model.name!r} that "
                         f"hold weights, each once ({', '.join(weighted)}), got "
                         f"blocks={blocks!r}")
    return chosen


def reinitialise(module: nn.Module, seed: int) -> None:
    """Re-initialise ``module`` in place: ``torch.manual_seed(seed)``, then
    ``reset_parameters()`` of every submodule that has one, in the order of
    ``module.modules()``. torch's global random state is put back afterwards."""
    check_seed(seed)
    devices = sorted({p.device.index or 0 for p in module.parameters() if p.is_cuda})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for part in module.modules():
            reset = getattr(part, "reset_parameters", None)
            if callable(reset):
                reset()


def randomised_copy(model: LayeredNetwork, blocks: Sequence[str], seed: int = 0) -> LayeredNetwork:
    """A copy of ``model`` (eval mode, frozen, as the original) whose ``blocks[k]`` is
    re-initialised with seed ``seed + k``; ``model`` itself is not touched."""
    blocks = _check_blocks(model, blocks)
    check_seed(seed)
    copied = copy.deepcopy(model).eval().requires_grad_(False)
    for k, block in enumerate(blocks):
        reinitialise(copied.layers[block], seed + k)
    return copied


@dataclass
class Randomisation:
    """The result of a randomisation test.

    ``steps[0]`` is :data:`TRAINED`; ``steps[s]`` names the block randomised at step ``s``
    (cascading: every block above it is random too). ``maps[rule]`` holds the absolute maps
    (S, N, H, W) of every step; ``scores[rule][measure]`` (S, N) each image's similarity to
    the trained network's map (:data:`~lecturekit.measure.map_similarity.MEASURES`).
    """
    mode: str
    steps: tuple[str, ...]
    rules: tuple[str, ...]
    images01: torch.Tensor
    labels: torch.Tensor
    maps: dict[str, torch.Tensor]
    scores: dict[str, dict[str, torch.Tensor]]

    def curve(self, rule: str, measure: str, digits: int = 4) -> list[float | None]:
        """The mean over the images of ``measure`` at every step, rounded; images whose map
        is zero everywhere (no ranks) are left out, and a step where every map is zero
        gives None."""
        if rule not in self.scores or measure not in MEASURES:
            raise ValueError(f"rule must be one of {', '.join(self.rules)} and measure one of "
                             f"{', '.join(MEASURES)}, got rule={rule!r}, measure={measure!r}")
        return [mean_or_none(row, digits) for row in self.scores[rule][measure]]

    def table(self, digits: int = 4) -> dict:
        """``{"mode", "steps", "images", rule: {measure: [mean per step]}}`` (:meth:`curve`)."""
        table: dict = {"mode": self.mode, "steps": list(self.steps),
                       "images": int(self.labels.numel())}
        for rule in self.rules:
            table[rule] = {m: self.curve(rule, m, digits) for m in MEASURES}
        return table

    def text(self, measures: Sequence[str] = ("spearman_abs", "spearman_signed", "ssim"),
             digits: int = 2) -> str:
        """The curves as a printed table: a row per rule and measure, a column per step
        ("-": no map, every image's map zero). The saliency map has no signed row."""
        width = max(7, *(len(step) + 1 for step in self.steps))
        down = "randomised down to" if self.mode == "cascading" else "randomised alone"
        lines = [f"{down:<24}" + "".join(f"{step:>{width}}" for step in self.steps)]
        for rule in self.rules:
            for measure in measures:
                if measure == "spearman_signed" and rule == "saliency":
                    continue
                cells = "".join(f"{number(v, digits):>{width}}"
                                for v in self.curve(rule, measure, digits))
                lines.append(f"{rule:<11}{MEASURE_LABELS[measure]:<13}{cells}")
        return "\n".join(lines)


def _randomise(model: LayeredNetwork, images: torch.Tensor, labels: ClassIndex,
               rules: Sequence[str], blocks: Sequence[str] | None, seed: int, mode: str,
               progress: bool) -> Randomisation:
    """Both tests: step ``k`` re-initialises ``blocks[k]`` of one copy of ``model``; in the
    independent test it is restored before the next step."""
    rules = check_rules(rules)
    blocks = _check_blocks(model, blocks)
    check_seed(seed)
    model.check_batch(images, "images")
    labels = class_indices(model, images, labels)
    images = images.detach().to(model.device)
    images01 = model.deprocess(images).cpu()
    edges = edge_ranks(images01)
    trained = rule_maps(model, images, labels, rules)
    reference = {rule: MapRanks.of(maps) for rule, maps in trained.items()}
    maps = {rule: [trained[rule].absolute] for rule in rules}
    scores = {rule: {m: [v] for m, v in reference[rule].compare(reference[rule], edges).items()}
              for rule in rules}
    randomised = copy.deepcopy(model).eval().requires_grad_(False)
    for k, block in enumerate(progress_bar(blocks, enabled=progress, desc=f"{mode} randomisation",
                                           unit="block")):
        reinitialise(randomised.layers[block], seed + k)
        for rule, found in rule_maps(randomised, images, labels, rules).items():
            maps[rule].append(found.absolute)
            for measure, value in reference[rule].compare(MapRanks.of(found), edges).items():
                scores[rule][measure].append(value)
        if mode == "independent":
            randomised.layers[block].load_state_dict(model.layers[block].state_dict())
    return Randomisation(mode, (TRAINED, *blocks), rules, images01, labels,
                         {rule: torch.stack(found) for rule, found in maps.items()},
                         {rule: {m: torch.stack(v) for m, v in per.items()}
                          for rule, per in scores.items()})


def cascading_randomisation(model: LayeredNetwork, images: torch.Tensor,
                            labels: ClassIndex = None, *, rules: Sequence[str] = SANITY_RULES,
                            blocks: Sequence[str] | None = None, seed: int = 0,
                            progress: bool = True) -> Randomisation:
    """Adebayo et al.'s (2018) cascading randomisation of ``model`` on a normalised batch.

    ``blocks`` (default: :func:`randomisable_blocks`, top first) are re-initialised one
    more at a time, on a copy; after each step the maps of ``rules`` for the logit of
    ``labels`` (default: each image's predicted class, by the trained network) are
    compared with the trained network's. Returns a :class:`Randomisation`.
    """
    return _randomise(model, images, labels, rules, blocks, seed, "cascading", progress)


def independent_randomisation(model: LayeredNetwork, images: torch.Tensor,
                              labels: ClassIndex = None, *, rules: Sequence[str] = SANITY_RULES,
                              blocks: Sequence[str] | None = None, seed: int = 0,
                              progress: bool = True) -> Randomisation:
    """Adebayo et al.'s (2018) independent randomisation: like
    :func:`cascading_randomisation`, but step *k* re-initialises ``blocks[k]`` alone, every
    other block trained."""
    return _randomise(model, images, labels, rules, blocks, seed, "independent", progress)
