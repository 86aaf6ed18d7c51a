"""The recipes of inversion: how the one loop searches for the image behind a layer.

A recipe fixes the optimiser and its schedule of rates, the start, the recipe's own
priors and their weights per layer group, the clamp, and two devices of the kit (the
leaky gradient at the matched layer, the ramp of the priors' weights, the pixel
pyramid). :func:`lecturekit.optimise.inversion.invert` follows one of them:

* ``"kit"`` and ``"kit-pyramid"``, the kit's defaults on the toy's scenes and on
  photographs (:func:`default_recipe`);
* ``"mahendran2015"``, the paper's own (gradient descent with momentum, 400 steps);
* ``"baseline"``, the recipe of a popular public implementation *with its defects*
  (its total variation slices the wrong axes), kept only so that ``benchmarks/bench.py``
  races the kit against what that code really does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.loop import Term
from lecturekit.optimise.priors import prior_term
from lecturekit.optimise.regularisers import alpha_norm
from lecturekit.validation import check_choice

__all__ = ["RECIPES", "Recipe", "default_recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """One configuration of the optimisation loop for inversion.

    ``schedule`` lists ``(steps, lr)`` phases; :func:`invert` stretches it to
    another number of steps keeping the proportions. With ``lr_per_b2`` the
    rates are Mahendran & Vedaldi's, given for images divided by ``B``: the
    loop, which works on the unscaled image, multiplies them by ``B^2``.
    ``tv_lambda`` holds the TV weight per layer group (the model's
    ``layer_groups``: early, middle, deep). ``style="normalised"`` uses the
    kit's normalised priors (see the module docstring); ``style="baseline"``
    the public baseline's raw sums. The start is Gaussian noise of std
    ``init_std`` (times ``rho`` with ``init_in_rho``: Mahendran & Vedaldi's
    randn scaled to norm ``B``). ``leaky_slope > 0`` lets the gradient through
    the matched layer's switched-off ReLUs with that factor
    (:func:`~lecturekit.models.rectifiers.leaky_relu_gradient`); ``ramp``
    is the fraction of the steps over which the priors' weights grow linearly
    from 0 to their lambda (the fit comes first, then the prior). ``pyramid``
    optimises the image as a
    :class:`~lecturekit.optimise.parameterisation.PixelPyramid` of that many
    levels (1: plain pixels).
    """
    name: str
    description: str
    optimiser: str
    schedule: tuple[tuple[int, float], ...]
    tv_lambda: tuple[float, float, float]
    alpha_lambda: float
    alpha: float = 6.0
    tv_beta: float = 2.0
    momentum: float = 0.9
    reset_momentum: bool = True
    lr_per_b2: bool = False
    init_std: float = 1.0
    init_in_rho: bool = False
    clamp: bool = True
    leaky_slope: float = 0.0
    ramp: float = 0.0
    data_weight: float = 1.0
    style: str = "normalised"
    pyramid: int = 1

    def default_terms(self, tv_weight: float | torch.Tensor, rho: float) -> list[Term]:
        """The recipe's own priors with the TV weight of the layer's group: TV plus a weak
        alpha-norm, normalised by ``rho`` (the public baseline: its raw sums, its TV as it
        slices it)."""
        if self.style == "baseline":
            return [Term("alpha", self.alpha_lambda, lambda x: alpha_norm(x, self.alpha)),
                    Term("tv", tv_weight, lambda x: _baseline_tv(x, self.tv_beta))]
        return [prior_term("tv", tv_weight, rho, beta=self.tv_beta),
                prior_term("alpha", self.alpha_lambda, rho, alpha=self.alpha)]

    @property
    def steps(self) -> int:
        """The recipe's own number of steps."""
        return sum(n for n, _ in self.schedule)

    def phases(self, steps: int | None = None, lr_factor: float = 1.0) -> list[tuple[int, float]]:
        """The schedule stretched to ``steps`` (same proportions), rates times ``lr_factor``."""
        total = self.steps
        steps = total if steps is None else steps
        if steps < len(self.schedule):
            return [(steps, self.schedule[0][1] * lr_factor)]
        counts = [max(1, round(n * steps / total)) for n, _ in self.schedule]
        counts[-1] = max(1, counts[-1] + steps - sum(counts))
        while sum(counts) > steps:  # rounding overshoot on tiny budgets
            counts[counts.index(max(counts))] -= 1
        return [(n, rate * lr_factor) for n, (_, rate) in zip(counts, self.schedule) if n > 0]


RECIPES: dict[str, Recipe] = {
    "kit": Recipe(
        name="kit",
        description=("the kit's default: Adam with a decaying rate (0.1, 0.03, 0.01), start "
                     "from noise of std 0.3, TV (beta 2) weighted per layer group plus a weak "
                     "alpha-norm (alpha 6) whose weights ramp up over the first 30 % of the "
                     "steps, pixels clamped to the valid range, and a leaky ReLU gradient "
                     "(0.1) at the matched layer so that switched-off units can come back"),
        optimiser="adam", schedule=((75, 0.1), (45, 0.03), (30, 0.01)),
        tv_lambda=(0.3, 3.0, 5.0), alpha_lambda=1e-3, init_std=0.3, clamp=True,
        leaky_slope=0.1, ramp=0.3),
    "kit-pyramid": Recipe(
        name="kit-pyramid",
        description=("the kit's default for photographs: the kit's recipe on a pyramid of five "
                     "levels of pixels (each half the resolution of the one before), Adam at "
                     "0.03 for 80 % of the steps and 0.003 after, and TV weighted 1 / 3 / 5 "
                     "per layer group (early layers: 1 instead of 0.3)"),
        optimiser="adam", schedule=((120, 0.03), (30, 0.003)),
        tv_lambda=(1.0, 3.0, 5.0), alpha_lambda=1e-3, init_std=0.3, clamp=True,
        leaky_slope=0.1, ramp=0.3, pyramid=5),
    "mahendran2015": Recipe(
        name="mahendran2015",
        description=("Mahendran & Vedaldi 2015: gradient descent with momentum 0.9 (reset at "
                     "each rate change), rates 0.004 x100, 0.0004 x200, 0.00004 x100 on the "
                     "image divided by B, start randn scaled to norm B, TV (beta 2) / B^2 with "
                     "lambda 0.5 / 5 / 50 per layer group, alpha-norm (alpha 6), no clamping"),
        optimiser="sgd", schedule=((100, 0.004), (200, 0.0004), (100, 0.00004)),
        tv_lambda=(0.5, 5.0, 50.0), alpha_lambda=1e-3, lr_per_b2=True, init_std=1.0,
        init_in_rho=True, clamp=False, momentum=0.9, reset_momentum=True),
    "baseline": Recipe(
        name="baseline",
        description=("the public baseline (pytorch-cnn-visualizations): start 0.1 * randn, SGD "
                     "lr 1e4 momentum 0.9, rate divided by 10 after step 0 and every 40 steps "
                     "(momentum kept), 201 steps, loss 0.1 * relative feature error + 1e-7 * "
                     "sum x^6 + 1e-8 * its TV (beta 2, slicing channel x height as it does)"),
        optimiser="sgd",
        schedule=((1, 1e4), (40, 1e3), (40, 1e2), (40, 1e1), (40, 1.0), (40, 0.1)),
        tv_lambda=(1e-8, 1e-8, 1e-8), alpha_lambda=1e-7, init_std=0.1, clamp=False,
        momentum=0.9, reset_momentum=False, data_weight=0.1, style="baseline"),
}
"""Named inversion recipes over the same loop. :func:`default_recipe` says which one
:func:`invert` uses unless told: ``"kit"`` on the toy's scenes, ``"kit-pyramid"`` on
photographs.

Translation notes. ``"mahendran2015"``: the paper's rates apply to ``x / B``;
in the kit's units they become ``rate * B^2`` (about 7e4 * rate at 128 px).
The paper's alpha-norm weight is not among the facts the kit could confirm:
the recipe uses the kit's 1e-3 on ``mean(|x / rho|^6)``, which only bites on
pixels far outside the range. ``"baseline"``: it already works in
ImageNet-normalised units like the kit, so its constants carry over as they
are; its TV differences along the channel and height axes (a known defect) are
reproduced so that the benchmark compares with what that code really does.
"""


def _baseline_tv(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """The baseline's TV as written: on (N, C, H, W) its ``[:, :-1, :-1]`` slices
    channels and height, so it differences along height and across channels."""
    centre = x[:, :-1, :-1, :]
    along_h = x[:, :-1, 1:, :]
    across_c = x[:, 1:, :-1, :]
    return ((centre - along_h).square() + (centre - across_c).square()).pow(beta / 2) \
        .sum(dim=(1, 2, 3))


def default_recipe(model: LayeredNetwork) -> str:
    """The name of the recipe :func:`invert` uses on ``model`` unless told: ``"kit"`` on the
    toy's scenes, ``"kit-pyramid"`` on photo networks. Chosen by measurement
    (``python benchmarks/bench.py --only recipes``, benchmarks/RESULTS.md): on
    EfficientNet-Lite0 at 224 px the pyramid reaches in 100 steps the error Mahendran &
    Vedaldi's recipe reaches in 400, with a sharper picture; on the toy's 128-pixel scenes
    plain pixels are as fast (the race's numbers are in RESULTS.md)."""
    return "kit" if model.dataset == "scenes" else "kit-pyramid"


def get_recipe(name: str | Recipe | None, model: LayeredNetwork) -> Recipe:
    """The recipe ``name`` (a name of :data:`RECIPES` or a :class:`Recipe`; None: the
    model's :func:`default_recipe`)."""
    if isinstance(name, Recipe):
        return name
    if name is None:
        return RECIPES[default_recipe(model)]
    return RECIPES[check_choice("recipe", name, RECIPES)]
