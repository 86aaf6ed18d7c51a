"""Inverting a layer: which image produced these activations?

The lecture's last optimisation method (FAU Deep Learning, "Visualization &
Attention, Part 4", A. Maier) follows Mahendran & Vedaldi 2015 ("Understanding
Deep Image Representations by Inverting Them", CVPR): keep only the
activations ``Phi0 = Phi(x0)`` of one layer and search for an image ``x`` that
reproduces them,

    x* = argmin_x  ||Phi(x) - Phi0||^2 / ||Phi0||^2  +  lambda * R(x).

The first term is the *relative feature error* (0 = the layer cannot tell x
from x0); ``R`` is an image prior that picks, among the many images with the
same activations, a natural-looking one. :func:`invert` is a short recipe over
the kit's one optimisation loop (:func:`lecturekit.optimise.loop.optimise`);
:func:`invert_layers` runs it for a whole sequence of layers in one batch
(:meth:`~lecturekit.models.network.LayeredNetwork.staggered_activations`), and
:mod:`lecturekit.measure.inversion_claims` measures the lecture's claims.

Units. The kit optimises ImageNet-normalised pixels (per channel
``(p - mean) / std``). Mahendran & Vedaldi work on 0-255 pixels minus the mean
image and divide both regularisers by ``B^2``, with ``B`` the norm of a
typical image: 68.9 per element times ``sqrt(#elements)``. In the kit's
units one such element is ``rho = 68.9 / (255 * mean(std)) ~= 1.2``
(:func:`typical_magnitude`), so ``B = rho * sqrt(3 H W)``. Every regulariser
here is normalised the same way: total variation and energies by ``B^2``,
alpha-norms as the mean of ``|x / rho|^alpha``. Their lambdas are therefore
comparable across image sizes and close to the paper's own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lecturekit.measure.similarity import psnr, ssim
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.loop import Term, optimise
from lecturekit.optimise.priors import PRIORS, prior_term
from lecturekit.optimise.regularisers import alpha_norm
from lecturekit.optimise.transforms import Compose, Jitter, RandomRotate, RandomScale
from lecturekit.progress import progress_bar
from lecturekit.targets import Blocks, FeatureMatching
from lecturekit.validation import check_callable, check_choice, check_real, check_seed

__all__ = ["InversionResult", "RECIPES", "REGULARISER_LABELS", "REGULARISER_NAMES", "Recipe",
           "default_lambda", "default_recipe", "invert", "invert_layers", "typical_magnitude"]

REGULARISER_NAMES: tuple[str, ...] = ("default", "none", *PRIORS, "robust", "learned")
"""The priors :func:`invert` knows: the recipe's own, none, the penalty priors of
:data:`lecturekit.optimise.priors.PRIORS`, transform robustness and the learned prior."""

REGULARISER_LABELS: dict[str, str] = {
    "default": "kit default (TV + alpha)", "none": "no prior",
    **{name: prior.label for name, prior in PRIORS.items()},
    "robust": "transform robustness", "learned": "learned prior",
}
"""Readable names of the priors for captions and figure titles."""

MV_TYPICAL_ELEMENT = 68.9
"""Mahendran & Vedaldi's typical magnitude of one element of a mean-subtracted 0-255 image."""

OPTION_NAMES: tuple[str, ...] = ("recipe", "alpha", "beta", "sigma", "levels", "prior_layer",
                                 "reference_images", "prior", "max_shift", "init_std",
                                 "callback")
"""Keyword options :func:`invert` accepts besides its named parameters."""

_PRIOR_OPTIONS = ("alpha", "beta", "sigma", "levels")


# --------------------------------------------------------------------------- units and checks

def typical_magnitude(model: LayeredNetwork) -> float:
    """``rho``: Mahendran & Vedaldi's typical pixel (68.9 of 255) in normalised units."""
    std = float(np.mean(model.preprocess.std))
    return MV_TYPICAL_ELEMENT / (255.0 * std)


def _check_lam(lam: float | None) -> float | None:
    if lam is None:
        return None
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) \
            or lam < 0:
        raise ValueError(f"lam (the regulariser weight lambda) must be a number >= 0 or None "
                         f"for the layer's default, got lam={lam!r}")
    return float(lam)


def _check_steps(steps: int | None) -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1 or None for the recipe's default, "
                         f"got steps={steps!r}")
    return int(steps)


# --------------------------------------------------------------------------- recipes

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
    (:func:`~lecturekit.gradient.backward_rules.leaky_relu_gradient`); ``ramp``
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
    Vedaldi's recipe reaches in 400, with a sharper picture. On the toy's 128-pixel
    scenes plain pixels were much faster at fc6 with its previous weights (0.003 against
    0.091 after 100 steps) and are as fast with the current ones (0.015 against 0.017;
    conv3 0.023 against 0.021)."""
    return "kit" if model.dataset == "scenes" else "kit-pyramid"


def _recipe(name: str | Recipe | None, model: LayeredNetwork) -> Recipe:
    """The recipe ``name`` (None: the model's default)."""
    if isinstance(name, Recipe):
        return name
    if name is None:
        return RECIPES[default_recipe(model)]
    return RECIPES[check_choice("recipe", name, RECIPES)]


# --------------------------------------------------------------------------- default lambdas

_DEFAULT_LAMBDA: dict[str, tuple[float, float, float]] = {
    "none": (0.0, 0.0, 0.0),
    "l2": (0.02, 0.2, 0.3),
    "alpha": (0.003, 0.03, 0.05),
    "tv": (0.3, 3.0, 5.0),
    "low_pass": (0.3, 3.0, 5.0),
    "wavelet": (0.02, 0.2, 0.3),
    "robust": (0.0, 0.0, 0.0),
    "learned": (0.1, 0.3, 0.5),
}


def default_lambda(model: LayeredNetwork, regulariser: str, layer: str,
                   recipe: str | Recipe | None = None) -> float:
    """The weight lambda :func:`invert` uses when ``lam`` is None, by the layer's group
    (``model.layer_group``: early, middle, deep).

    For ``"default"`` it is the recipe's TV weight of the group (``recipe`` None:
    the model's :func:`default_recipe`; the kit: 0.3 / 3 / 5, the kit's pyramid:
    1 / 3 / 5; Mahendran & Vedaldi: 0.5 / 5 / 50). The other priors have kit
    weights per group, chosen on the toy model so that each visibly acts
    without swamping the feature term; ``"robust"`` and ``"none"`` have no
    penalty (0).
    """
    check_choice("regulariser", regulariser, REGULARISER_NAMES)
    group = model.layer_group(layer)
    if regulariser == "default":
        return _recipe(recipe, model).tv_lambda[group]
    return _DEFAULT_LAMBDA[regulariser][group]


# --------------------------------------------------------------------------- the result

@dataclass
class InversionResult:
    """What :func:`invert` found for one layer and a batch of images.

    ``image`` is the reconstruction in the model's normalised units (N, 3, H, W),
    ``image01`` the same in [0, 1] for display, ``original01`` the image that
    was inverted. ``feature_error``, ``ssim`` and ``psnr`` have one value per
    image: the final relative feature error ``||Phi(x) - Phi0||^2 / ||Phi0||^2``
    and the similarity of the reconstruction to the original. ``history`` is
    the loop's per-step record; ``settings`` says how it was made.
    """
    image: torch.Tensor
    image01: torch.Tensor
    original01: torch.Tensor
    feature_error: torch.Tensor
    ssim: torch.Tensor
    psnr: torch.Tensor
    history: list[dict[str, float]]
    layer: str
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: layer, prior, lambda and the mean scores."""
        s = self.settings
        lam = "-" if s.get("lam") is None else f"{s['lam']:.3g}"
        return (f"{self.layer}: {s.get('regulariser')} (lambda {lam}), feature error "
                f"{self.feature_error.mean():.3f}, SSIM {self.ssim.mean():.3f}, "
                f"PSNR {self.psnr.mean():.1f} dB")


# --------------------------------------------------------------------------- the recipe

def _terms(model: LayeredNetwork, recipe: Recipe, regulariser: str, lam: float,
           options: dict[str, Any]) -> list[Term]:
    """The weighted priors of one inversion, scaled by Mahendran & Vedaldi's ``rho``."""
    rho = typical_magnitude(model)
    if regulariser == "default":
        if recipe.style == "baseline":
            return [Term("alpha", recipe.alpha_lambda, lambda x: alpha_norm(x, recipe.alpha)),
                    Term("tv", lam, lambda x: _baseline_tv(x, recipe.tv_beta))]
        return [prior_term("tv", lam, rho, beta=recipe.tv_beta),
                prior_term("alpha", recipe.alpha_lambda, rho, alpha=recipe.alpha)]
    if regulariser in ("none", "robust"):
        return []
    if regulariser == "learned":
        return [Term("learned", lam, options["prior"])]
    allowed = PRIORS[regulariser].options
    return [prior_term(regulariser, lam, rho,
                       **{k: v for k, v in options.items() if k in allowed})]


def _ramp(terms: list[Term], fraction: float, steps: int,
          callback: Callable | None) -> Callable | None:
    """Make every term's weight (a number or one per image) grow linearly over the first
    ``fraction`` of the steps, in place, through a tensor the loop reads each step; chain
    ``callback``."""
    length = round(fraction * steps)
    if length < 2 or not terms:
        return callback
    targets = [torch.as_tensor(term.weight, dtype=torch.float32).clone() for term in terms]
    for term, target in zip(terms, targets):
        term.weight = target / length

    def grow(step: int, image: torch.Tensor, record: dict[str, float]) -> None:
        factor = min(1.0, (step + 2) / length)
        for term, target in zip(terms, targets):
            term.weight.copy_(target * factor)
        if callback is not None:
            callback(step, image, record)

    return grow


def _transform(regulariser: str, size: int, options: dict[str, Any]) -> Callable | None:
    """Transform robustness (``"robust"``): random jitter, scaling and rotation each step."""
    if regulariser != "robust":
        return None
    shift = int(options.get("max_shift", max(1, round(4 * size / 128))))
    return Compose([Jitter(shift), RandomScale(0.95, 1.05), RandomRotate(5.0)])


def _checked(model: LayeredNetwork, image: torch.Tensor, regulariser: str, lam: float | None,
             steps: int | None, seed: int,
             options: dict[str, Any]) -> tuple[float | None, int | None]:
    """Check the arguments :func:`invert` and :func:`invert_layers` share."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"invert() got unknown option(s) {', '.join(unknown)}; valid options "
                        f"are: {', '.join(OPTION_NAMES)}")
    check_choice("regulariser", regulariser, REGULARISER_NAMES)
    model.check_batch(image, "image")
    _recipe(options.get("recipe"), model)
    check_seed(seed)
    if "init_std" in options:
        check_real("init_std", options["init_std"], "a number >= 0", lambda v: v >= 0)
    if options.get("callback") is not None:
        check_callable("callback", options["callback"], "None or a callable "
                       "callback(step, image, record)")
    return _check_lam(lam), _check_steps(steps)


def _per_image(values: Sequence[float], count: int) -> float | torch.Tensor:
    """One weight per block, repeated for the block's ``count`` images (a plain number when
    every block has the same)."""
    if len(set(values)) == 1:
        return values[0]
    return torch.tensor([v for v in values for _ in range(count)], dtype=torch.float32)


def _block_terms(model: LayeredNetwork, recipe: Recipe, regulariser: str,
                 lams: Sequence[float], shape: torch.Size,
                 options: dict[str, Any]) -> list[Term]:
    """The priors of every layer's block as one list of terms with a weight per image."""
    if regulariser == "learned" and options.get("prior") is None:
        from lecturekit.examples import reference_images, showcase
        from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
        reference = options.get("reference_images")
        if reference is None:
            reference = reference_images(model, size=shape[2])
        layer = options.get("prior_layer", showcase(model).prior_layer)
        options = {**options, "prior": FeatureStatisticsPrior(model, layer, reference)}
    per_layer = [_terms(model, recipe, regulariser, lam, options) for lam in lams]
    return [Term(first.name, _per_image([float(terms[k].weight) for terms in per_layer],
                                        shape[0]), first.function)
            for k, first in enumerate(per_layer[0])]


def _invert_blocks(model: LayeredNetwork, image: torch.Tensor, layers: Sequence[str], *,
                   regulariser: str, lam: float | None, steps: int | None, seed: int,
                   progress: bool, options: dict[str, Any]) -> dict[str, InversionResult]:
    """Invert ``image`` (N images) at each of ``layers`` (distinct, in network order) in one
    optimisation: the batch holds a block of the N images per layer, every block starts
    from the same noise, and the network's ``staggered_activations`` stops each block at
    its layer. Adam, SGD, the priors and the clamp act on each image alone, so each block
    follows the path it would follow alone (up to rounding)."""
    recipe = _recipe(options.get("recipe"), model)
    n = image.shape[0]
    image = image.detach().to(model.device)
    blocks = [(layer, n) for layer in layers]
    with torch.no_grad():
        references = model.activations(image, layers)
    data = Blocks([FeatureMatching(layer, references[layer]) for layer in layers])
    objective = data * recipe.data_weight if recipe.data_weight != 1.0 else data
    lams = [default_lambda(model, regulariser, layer, recipe) if lam is None else lam
            for layer in layers]
    terms = _block_terms(model, recipe, regulariser, lams, image.shape, options)
    transform = _transform(regulariser, image.shape[2], options)
    rho = typical_magnitude(model)
    init_std = float(options.get("init_std", recipe.init_std * (rho if recipe.init_in_rho
                                                                 else 1.0)))
    generator = torch.Generator().manual_seed(seed)
    init = (torch.randn(image.shape, generator=generator) * init_std).to(model.device,
                                                                         image.dtype)
    b2 = rho * rho * image[0].numel()
    phases = recipe.phases(steps, b2 if recipe.lr_per_b2 else 1.0)
    callback = _ramp(terms, recipe.ramp, sum(k for k, _ in phases), options.get("callback"))
    result = optimise(model, objective, init.repeat(len(layers), 1, 1, 1), maximise=False,
                      terms=terms, transform=transform, schedule=phases,
                      optimiser=recipe.optimiser, momentum=recipe.momentum,
                      reset_momentum=recipe.reset_momentum, clamp=recipe.clamp,
                      callback=callback, progress=progress, seed=seed, pyramid=recipe.pyramid,
                      forward=lambda x: model.staggered_activations(x, blocks,
                                                                    recipe.leaky_slope))
    errors = (result.objective / recipe.data_weight).cpu()  # the loop's last evaluation
    images01 = model.deprocess(result.image)
    original01 = model.deprocess(image)
    shared = {"recipe": recipe.name, "regulariser": regulariser,
              "steps": sum(k for k, _ in phases), "seed": seed, "schedule": phases,
              "optimiser": recipe.optimiser, "init_std": init_std,
              **{k: v for k, v in options.items()
                 if k in (*_PRIOR_OPTIONS, "prior_layer", "max_shift")}}
    if len(layers) > 1:
        shared["inverted_together"] = list(layers)
    results = {}
    for index, layer in enumerate(layers):
        rows = slice(index * n, (index + 1) * n)
        results[layer] = InversionResult(
            image=result.image[rows], image01=images01[rows], original01=original01,
            feature_error=errors[rows], ssim=ssim(images01[rows], original01).float(),
            psnr=psnr(images01[rows], original01).float(), history=result.history,
            layer=layer, settings={**shared, "lam": lams[index]})
    return results


def invert(model: LayeredNetwork, image: torch.Tensor, layer: str, *,
           regulariser: str = "default", lam: float | None = None, steps: int | None = None,
           seed: int = 0, progress: bool = True, **options: Any) -> InversionResult:
    """Reconstruct ``image`` from its activations at ``layer`` (Mahendran & Vedaldi 2015).

    ``image`` is a normalised batch (N, 3, H, W), e.g. ``model.preprocess(photo)``.
    Its activations ``Phi0`` are computed once; then the loop minimises
    ``||Phi(x) - Phi0||^2 / ||Phi0||^2 + lam * R(x)`` over ``x``, for every
    image of the batch independently.

    ``regulariser`` names ``R`` (:data:`REGULARISER_NAMES`): ``"default"`` (the
    recipe's own priors: TV plus a weak alpha-norm for ``"kit"``), ``"none"``,
    one of :data:`lecturekit.optimise.priors.PRIORS` (``"l2"``, ``"alpha"``,
    ``"tv"``, ``"low_pass"``, ``"wavelet"``), ``"robust"`` (random jitter,
    scaling and rotation every step, no penalty) or ``"learned"``
    (:class:`~lecturekit.optimise.learned_prior.FeatureStatisticsPrior`).
    ``lam`` is its weight (None: :func:`default_lambda`); for ``"default"`` it
    replaces the TV weight. ``steps`` stretches the recipe's schedule (None:
    the recipe's own, 150 for both of the kit's). ``seed`` fixes the random start
    and any random transforms.

    Options: ``recipe`` (a name in :data:`RECIPES` or a :class:`Recipe`; default:
    :func:`default_recipe`),
    ``alpha`` (power of ``"l2"``/``"alpha"``), ``beta`` (power of ``"tv"``),
    ``sigma`` (``"low_pass"``), ``levels`` (``"wavelet"``), ``prior_layer``,
    ``reference_images`` or a ready ``prior`` (``"learned"``), ``max_shift``
    (``"robust"``), ``init_std`` (std of the random start), ``callback``
    (passed to the loop).
    """
    lam, steps = _checked(model, image, regulariser, lam, steps, seed, options)
    layer = model.check_layer(layer)
    return _invert_blocks(model, image, [layer], regulariser=regulariser, lam=lam, steps=steps,
                          seed=seed, progress=progress, options=options)[layer]


def invert_layers(model: LayeredNetwork, image: torch.Tensor,
                  layers: Iterable[str] | None = None, *, regulariser: str = "default",
                  lam: float | None = None, steps: int | None = None, seed: int = 0,
                  progress: bool = True, batched: bool = True,
                  **options: Any) -> dict[str, InversionResult]:
    """:func:`invert` at every layer of ``layers`` (default: all of the model's); the results
    in the order of ``layers``. The other arguments are :func:`invert`'s.

    With ``batched=True`` (the default) all layers are inverted in one optimisation
    whose batch holds one block of images per layer (the network's
    ``staggered_activations``): the same results up to rounding, in fewer, larger
    steps (each result's ``history`` is then the whole batch's). ``batched=False``
    inverts one layer after the other, with one progress bar over the layers.
    """
    lam, steps = _checked(model, image, regulariser, lam, steps, seed, options)
    names = model.layer_names if layers is None else layers
    layers = list(dict.fromkeys(model.check_layer(name) for name in names))
    if not layers:
        raise ValueError("layers is empty; name at least one of: "
                         + ", ".join(model.layer_names))
    arguments = dict(regulariser=regulariser, lam=lam, steps=steps, seed=seed)
    if batched:
        ordered = sorted(layers, key=model.depth)
        results = _invert_blocks(model, image, ordered, progress=progress, options=options,
                                 **arguments)
        return {name: results[name] for name in layers}
    results = {}
    bar = progress_bar(layers, enabled=progress, desc="inverting", unit="layer", leave=False)
    try:
        for name in bar:
            bar.set_postfix_str(name)
            results[name] = invert(model, image, name, progress=False, **arguments, **options)
    finally:
        bar.close()
    return results
