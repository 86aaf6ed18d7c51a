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
the kit's one optimisation loop (:func:`lecturekit.optimisation.optimise`);
:func:`invert_layers` runs it for a whole sequence of layers, and
:func:`inversion_claims` measures the lecture's claims on fresh toy scenes.

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
from tqdm.auto import tqdm

from lecturekit.backward_rules import relu_with_backward
from lecturekit.models import LAYER_NAMES, LayeredAlexNet
from lecturekit.optimisation import Term, optimise
from lecturekit.regularisers import (alpha_norm, low_pass_penalty, total_variation,
                                     wavelet_sparsity)
from lecturekit.similarity import psnr, ssim, ssim_map
from lecturekit.targets import Blocks, FeatureMatching
from lecturekit.transforms import Compose, Jitter, RandomRotate, RandomScale

__all__ = ["InversionResult", "LAYER_GROUPS", "RECIPES", "REGULARISER_LABELS",
           "REGULARISER_NAMES", "Recipe", "default_lambda", "invert", "invert_layers",
           "inversion_claims", "inversion_image", "layer_group", "matched_relu", "object_ssim",
           "leaky_relu_gradient", "spearman", "staggered_activations", "typical_magnitude"]

REGULARISER_NAMES: tuple[str, ...] = ("default", "none", "l2", "alpha", "tv", "low_pass",
                                      "wavelet", "robust", "learned")
"""The priors :func:`invert` knows, by the names the lecture gives them."""

REGULARISER_LABELS: dict[str, str] = {
    "default": "kit default (TV + alpha)", "none": "no prior", "l2": "L2 (alpha-norm, 2)",
    "alpha": "alpha-norm (6)", "tv": "total variation", "low_pass": "low-pass",
    "wavelet": "wavelet sparsity", "robust": "transform robustness", "learned": "learned prior",
}
"""Readable names of the priors for captions and figure titles."""

SHOWCASE_SEED_OFFSET = 3
"""Which fresh scene (``scenes.test_seeds(1, offset=...)``) the toy figures invert."""

MV_TYPICAL_ELEMENT = 68.9
"""Mahendran & Vedaldi's typical magnitude of one element of a mean-subtracted 0-255 image."""

LAYER_GROUPS: tuple[tuple[str, ...], ...] = (
    LAYER_NAMES[:LAYER_NAMES.index("pool2")],                            # conv1 .. relu2
    LAYER_NAMES[LAYER_NAMES.index("pool2"):LAYER_NAMES.index("conv5")],  # pool2 .. relu4
    LAYER_NAMES[LAYER_NAMES.index("conv5"):],                            # conv5 .. fc8
)
"""Mahendran & Vedaldi's three layer groups, each with its own TV weight."""

OPTION_NAMES: tuple[str, ...] = ("recipe", "alpha", "beta", "sigma", "levels", "prior_layer",
                                 "reference_images", "prior", "max_shift", "init_std",
                                 "callback")
"""Keyword options :func:`invert` accepts besides its named parameters."""


# --------------------------------------------------------------------------- units and checks

def typical_magnitude(model: LayeredAlexNet) -> float:
    """``rho``: Mahendran & Vedaldi's typical pixel (68.9 of 255) in normalised units."""
    std = float(np.mean(model.preprocess.std))
    return MV_TYPICAL_ELEMENT / (255.0 * std)


def layer_group(layer: str) -> int:
    """0 for conv1..relu2, 1 for pool2..relu4, 2 for conv5..fc8 (Mahendran & Vedaldi's groups)."""
    for index, group in enumerate(LAYER_GROUPS):
        if layer in group:
            return index
    raise ValueError(f"unknown layer {layer!r}; valid layer names are: {', '.join(LAYER_NAMES)}")


def _check_regulariser(name: str) -> str:
    if name not in REGULARISER_NAMES:
        raise ValueError(f"unknown regulariser {name!r}; valid regularisers are: "
                         f"{', '.join(REGULARISER_NAMES)}")
    return name


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
    ``tv_lambda`` holds the TV weight per layer group (:data:`LAYER_GROUPS`).
    ``style="normalised"`` uses the kit's normalised priors (see the module
    docstring); ``style="baseline"`` the public baseline's raw sums.
    ``leaky_slope > 0`` lets the gradient through switched-off ReLUs with that
    factor (see :func:`surrogate_relu_gradient`); ``ramp`` is the fraction of
    the steps over which the priors' weights grow linearly from 0 to their
    lambda (the fit comes first, then the prior); ``jitter`` is the largest
    random shift per layer group, in pixels at 128 px (scaled with the image).
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
    clamp: bool = True
    leaky_slope: float = 0.0
    ramp: float = 0.0
    data_weight: float = 1.0
    style: str = "normalised"
    jitter: tuple[int, int, int] = (0, 0, 0)

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
    "mahendran2015": Recipe(
        name="mahendran2015",
        description=("Mahendran & Vedaldi 2015: gradient descent with momentum 0.9 (reset at "
                     "each rate change), rates 0.004 x100, 0.0004 x200, 0.00004 x100 on the "
                     "image divided by B, start randn scaled to norm B, TV (beta 2) / B^2 with "
                     "lambda 0.5 / 5 / 50 per layer group, alpha-norm (alpha 6), no clamping"),
        optimiser="sgd", schedule=((100, 0.004), (200, 0.0004), (100, 0.00004)),
        tv_lambda=(0.5, 5.0, 50.0), alpha_lambda=1e-3, lr_per_b2=True, init_std=-1.0,
        clamp=False, momentum=0.9, reset_momentum=True),
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
"""Named inversion recipes over the same loop. ``"kit"`` is the default.

Translation notes. ``"mahendran2015"``: the paper's rates apply to ``x / B``;
in the kit's units they become ``rate * B^2`` (about 7e4 * rate at 128 px).
``init_std=-1`` means "randn scaled to norm B", i.e. ``rho`` per element.
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


def default_lambda(regulariser: str, layer: str, recipe: str = "kit") -> float:
    """The weight lambda :func:`invert` uses when ``lam`` is None.

    For ``"default"`` it is the recipe's TV weight of the layer's group (the
    kit: 0.3 / 3 / 5; Mahendran & Vedaldi: 0.5 / 5 / 50). The other priors
    have kit weights per group, chosen on the toy model so that each visibly
    acts without swamping the feature term; ``"robust"`` and ``"none"`` have no
    penalty (0).
    """
    _check_regulariser(regulariser)
    group = layer_group(layer)
    if regulariser == "default":
        return _recipe(recipe).tv_lambda[group]
    return _DEFAULT_LAMBDA[regulariser][group]


def _recipe(name: str | Recipe) -> Recipe:
    if isinstance(name, Recipe):
        return name
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes are: {', '.join(RECIPES)}")
    return RECIPES[name]


# --------------------------------------------------------------------------- one pass for many layers

def leaky_relu_gradient(x: torch.Tensor, slope: float) -> torch.Tensor:
    """``max(x, 0)`` with an exact forward value, whose gradient is ``slope`` times the
    incoming one where ``x <= 0`` (1 where ``x > 0``).

    Why: a unit that the reference switches on but the current image switches
    off gets no gradient through its ReLU, so the optimisation cannot turn it
    on. In sparse layers (the toy's ``relu5`` fires at 3 % of its positions)
    whole images get stuck at a feature error of 1. Inversion leaks only the
    ReLU of the matched layer (:func:`matched_relu`): there the leaked signal
    says "switch this unit on", and at zero feature error the gradient is zero
    either way, so the solution does not move. Leaking the ReLUs below would
    send the gradient along paths that do not change the output, and the
    images get noisy.
    """
    if not (isinstance(slope, (int, float)) and 0 <= slope <= 1):
        raise ValueError(f"slope must be a number in [0, 1], got {slope!r}")
    return relu_with_backward(x, lambda f_in, r_out: torch.where(f_in > 0, r_out,
                                                                 r_out * slope))


def matched_relu(layer: str) -> str | None:
    """The ReLU whose output ``layer`` matches directly: ``relu_k`` itself, ``relu_k`` for the
    pooling right after it (max-pooling commutes with the ReLU); None for conv and fc layers."""
    index = LAYER_NAMES.index(layer)
    if layer.startswith("relu"):
        return layer
    if layer.startswith("pool") and LAYER_NAMES[index - 1].startswith("relu"):
        return LAYER_NAMES[index - 1]
    return None


def staggered_activations(model: LayeredAlexNet, x: torch.Tensor,
                          blocks: Sequence[tuple[str, int]],
                          slope: float = 0.0) -> dict[str, torch.Tensor]:
    """The activations of consecutive blocks of the batch ``x``, each at its own layer.

    ``blocks`` lists ``(layer, count)`` in network order, each layer once: the
    first ``count`` images are wanted at the first layer, the next ones at the
    next, and so on. A block leaves the batch right after its layer, so no
    image is carried past the layer it is needed at, and one pass (and one
    backward pass) serves a whole layer-wise inversion: the deep layers' large
    matrices are read once per step for all blocks that reach them, and on a
    GPU one launch serves every block. With ``slope > 0`` the blocks matched at
    a ReLU or at the pooling right after it get :func:`leaky_relu_gradient`
    there; every other image passes that ReLU exactly.
    """
    depths = [LAYER_NAMES.index(model.check_layer(layer)) for layer, _ in blocks]
    if depths != sorted(set(depths)) or sum(count for _, count in blocks) != x.shape[0]:
        raise ValueError(f"blocks must name distinct layers in network order whose counts add "
                         f"up to the batch size {x.shape[0]}, got {list(blocks)}")
    remaining = list(blocks)
    found: dict[str, torch.Tensor] = {}
    for name in LAYER_NAMES:
        if not remaining:
            break
        leaking = sum(count for layer, count in remaining
                      if slope > 0 and matched_relu(layer) == name)
        if leaking:  # the leaking blocks come first: every earlier block has left
            parts = [leaky_relu_gradient(x[:leaking], slope)]
            if leaking < x.shape[0]:
                parts.append(model.apply_layer(name, x[leaking:]))
            x = torch.cat(parts)
        else:
            x = model.apply_layer(name, x)
        if remaining[0][0] == name:
            count = remaining.pop(0)[1]
            found[name], x = x[:count], x[count:]
    return found


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

def _terms(model: LayeredAlexNet, recipe: Recipe, regulariser: str, lam: float, layer: str,
           shape: torch.Size, options: dict[str, Any]) -> list[Term]:
    """The weighted priors for one inversion."""
    n = shape[1] * shape[2] * shape[3]
    rho = typical_magnitude(model)
    b2 = rho * rho * n
    if regulariser == "default":
        if recipe.style == "baseline":
            return [Term("alpha", recipe.alpha_lambda,
                         lambda x: alpha_norm(x, recipe.alpha)),
                    Term("tv", lam, lambda x: _baseline_tv(x, recipe.tv_beta))]
        beta = recipe.tv_beta
        return [Term("tv", lam, lambda x: total_variation(x, beta) / (n * rho ** beta)),
                Term("alpha", recipe.alpha_lambda,
                     lambda x: alpha_norm(x / rho, recipe.alpha) / n)]
    if regulariser in ("none", "robust"):
        return []
    if regulariser == "tv":
        beta = float(options.get("beta", 2.0))
        return [Term("tv", lam, lambda x: total_variation(x, beta) / (n * rho ** beta))]
    if regulariser in ("l2", "alpha"):
        power = float(options.get("alpha", 2.0 if regulariser == "l2" else 6.0))
        return [Term(regulariser, lam, lambda x: alpha_norm(x / rho, power) / n)]
    if regulariser == "low_pass":
        sigma = float(options.get("sigma", 1.0))
        return [Term("low_pass", lam, lambda x: low_pass_penalty(x, sigma) / b2)]
    if regulariser == "wavelet":
        levels = int(options.get("levels", 2))
        if shape[2] % 2 ** levels or shape[3] % 2 ** levels:
            raise ValueError(f"the wavelet prior with levels={levels} needs H and W divisible by "
                             f"{2 ** levels}, got an image of {shape[2]} x {shape[3]}; pass "
                             f"levels=1 or resize the image")
        return [Term("wavelet", lam, lambda x: wavelet_sparsity(x, levels) / (n * rho))]
    return [Term("learned", lam, options["prior"])]  # built once by _block_terms


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


def _transform(recipe: Recipe, regulariser: str, layer: str, size: int,
               options: dict[str, Any]) -> Callable | None:
    scale = size / 128
    if regulariser == "robust":
        shift = int(options.get("max_shift", max(1, round(4 * scale))))
        return Compose([Jitter(shift), RandomScale(0.95, 1.05), RandomRotate(5.0)])
    shift = recipe.jitter[layer_group(layer)]
    if regulariser == "default" and shift:
        return Jitter(max(1, round(shift * scale)))
    return None


def _shared_transform(recipe: Recipe, regulariser: str, layers: Sequence[str]) -> bool:
    """Whether every layer of ``layers`` gets the same random transforms, so that they can
    be inverted together (:func:`invert_layers` with ``batched=True``)."""
    if regulariser != "default":
        return True
    return len({recipe.jitter[layer_group(layer)] for layer in layers}) == 1


def _checked(model: LayeredAlexNet, image: torch.Tensor, regulariser: str, lam: float | None,
             steps: int | None, options: dict[str, Any]) -> tuple[float | None, int | None]:
    """Check the arguments :func:`invert` and :func:`invert_layers` share."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(f"invert() got unknown option(s) {', '.join(unknown)}; valid options "
                        f"are: {', '.join(OPTION_NAMES)}")
    _check_regulariser(regulariser)
    model.check_batch(image)
    _recipe(options.get("recipe", "kit"))
    return _check_lam(lam), _check_steps(steps)


def _per_image(values: Sequence[float], count: int) -> float | torch.Tensor:
    """One weight per block, repeated for the block's ``count`` images (a plain number when
    every block has the same)."""
    if len(set(values)) == 1:
        return values[0]
    return torch.tensor([v for v in values for _ in range(count)], dtype=torch.float32)


def _block_terms(model: LayeredAlexNet, recipe: Recipe, regulariser: str,
                 lams: Sequence[float], layers: Sequence[str], shape: torch.Size,
                 options: dict[str, Any]) -> list[Term]:
    """The priors of every layer's block as one list of terms with a weight per image."""
    if regulariser == "learned" and options.get("prior") is None:
        from lecturekit.learned_prior import FeatureStatisticsPrior, default_reference_images
        reference = options.get("reference_images")
        if reference is None:
            reference = default_reference_images(model, size=shape[2])
        prior = FeatureStatisticsPrior(model, options.get("prior_layer", "conv4"), reference)
        options = {**options, "prior": prior}  # one prior for all blocks
    per_layer = [_terms(model, recipe, regulariser, lam, layer, shape, options)
                 for lam, layer in zip(lams, layers)]
    return [Term(first.name, _per_image([float(terms[k].weight) for terms in per_layer],
                                        shape[0]), first.function)
            for k, first in enumerate(per_layer[0])]


def _invert_blocks(model: LayeredAlexNet, image: torch.Tensor, layers: Sequence[str], *,
                   regulariser: str, lam: float | None, steps: int | None, seed: int,
                   progress: bool, options: dict[str, Any]) -> dict[str, InversionResult]:
    """Invert ``image`` (N images) at each of ``layers`` (distinct, in network order) in one
    optimisation: the batch holds a block of the N images per layer, every block starts
    from the same noise, and :func:`staggered_activations` stops each block at its layer.
    Adam, SGD, the priors and the clamp act on each image alone, so each block follows
    the path it would follow alone (up to rounding)."""
    recipe = _recipe(options.get("recipe", "kit"))
    n = image.shape[0]
    image = image.detach().to(model.device)
    blocks = [(layer, n) for layer in layers]
    with torch.no_grad():
        references = model.activations(image, layers)
    data = Blocks([FeatureMatching(layer, references[layer]) for layer in layers])
    objective = data * recipe.data_weight if recipe.data_weight != 1.0 else data
    lams = [default_lambda(regulariser, layer, recipe) if lam is None else lam
            for layer in layers]
    terms = _block_terms(model, recipe, regulariser, lams, layers, image.shape, options)
    transform = _transform(recipe, regulariser, layers[0], image.shape[2], options)
    rho = typical_magnitude(model)
    init_std = float(options.get("init_std", recipe.init_std))
    if init_std < 0:  # Mahendran & Vedaldi: randn scaled to norm B
        init_std = rho
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
                      callback=callback, progress=progress, seed=seed,
                      forward=lambda x: staggered_activations(model, x, blocks,
                                                              recipe.leaky_slope))
    errors = (result.objective / recipe.data_weight).cpu()  # the loop's last evaluation
    images01 = model.deprocess(result.image)
    original01 = model.deprocess(image)
    shared = {"recipe": recipe.name, "regulariser": regulariser,
              "steps": sum(k for k, _ in phases), "seed": seed, "schedule": phases,
              "optimiser": recipe.optimiser, "init_std": init_std,
              **{k: v for k, v in options.items()
                 if k in ("alpha", "beta", "sigma", "levels", "prior_layer", "max_shift")}}
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


def invert(model: LayeredAlexNet, image: torch.Tensor, layer: str, *,
           regulariser: str = "default", lam: float | None = None, steps: int | None = None,
           seed: int = 0, progress: bool = True, **options: Any) -> InversionResult:
    """Reconstruct ``image`` from its activations at ``layer`` (Mahendran & Vedaldi 2015).

    ``image`` is a normalised batch (N, 3, H, W), e.g. ``model.preprocess(photo)``.
    Its activations ``Phi0`` are computed once; then the loop minimises
    ``||Phi(x) - Phi0||^2 / ||Phi0||^2 + lam * R(x)`` over ``x``, for every
    image of the batch independently.

    ``regulariser`` names ``R`` (:data:`REGULARISER_NAMES`): ``"default"`` (the
    recipe's own priors: TV plus a weak alpha-norm for ``"kit"``), ``"none"``,
    ``"l2"`` (alpha-norm with alpha 2), ``"alpha"`` (alpha 6), ``"tv"``,
    ``"low_pass"`` (energy removed by a Gaussian blur), ``"wavelet"`` (L1 of
    Haar details), ``"robust"`` (random jitter, scaling and rotation every step,
    no penalty) or ``"learned"`` (:class:`~lecturekit.learned_prior.FeatureStatisticsPrior`).
    ``lam`` is its weight (None: :func:`default_lambda`); for ``"default"`` it
    replaces the TV weight. ``steps`` stretches the recipe's schedule (None:
    the recipe's own, 150 for ``"kit"``). ``seed`` fixes the random start and
    any random transforms.

    Options: ``recipe`` (a name in :data:`RECIPES` or a :class:`Recipe`),
    ``alpha`` (power of ``"l2"``/``"alpha"``), ``beta`` (power of ``"tv"``),
    ``sigma`` (``"low_pass"``), ``levels`` (``"wavelet"``), ``prior_layer``,
    ``reference_images`` or a ready ``prior`` (``"learned"``), ``max_shift``
    (``"robust"``), ``init_std`` (std of the random start), ``callback``
    (passed to the loop).
    """
    lam, steps = _checked(model, image, regulariser, lam, steps, options)
    model.check_layer(layer)
    return _invert_blocks(model, image, [layer], regulariser=regulariser, lam=lam, steps=steps,
                          seed=seed, progress=progress, options=options)[layer]


def invert_layers(model: LayeredAlexNet, image: torch.Tensor,
                  layers: Iterable[str] = LAYER_NAMES, *, regulariser: str = "default",
                  lam: float | None = None, steps: int | None = None, seed: int = 0,
                  progress: bool = True, batched: bool = True,
                  **options: Any) -> dict[str, InversionResult]:
    """:func:`invert` at every layer of ``layers`` (default: all eighteen); the results in the
    order of ``layers``. The other arguments are :func:`invert`'s.

    With ``batched=True`` (the default) all layers are inverted in one optimisation
    whose batch holds one block of images per layer (:func:`staggered_activations`):
    the same results up to rounding, in fewer, larger steps (each result's ``history``
    is then the whole batch's). Priors with a random transform that differs between
    layers fall back to one layer after the other, as ``batched=False`` does, with one
    progress bar over the layers.
    """
    lam, steps = _checked(model, image, regulariser, lam, steps, options)
    layers = list(dict.fromkeys(model.check_layer(name) for name in layers))
    if not layers:
        raise ValueError("layers is empty; name at least one of: " + ", ".join(LAYER_NAMES))
    recipe = _recipe(options.get("recipe", "kit"))
    arguments = dict(regulariser=regulariser, lam=lam, steps=steps, seed=seed)
    if batched and _shared_transform(recipe, regulariser, layers):
        ordered = sorted(layers, key=LAYER_NAMES.index)
        results = _invert_blocks(model, image, ordered, progress=progress, options=options,
                                 **arguments)
        return {name: results[name] for name in layers}
    results = {}
    bar = tqdm(layers, desc="inverting", unit="layer", disable=not progress, leave=False)
    try:
        for name in bar:
            bar.set_postfix_str(name)
            results[name] = invert(model, image, name, progress=False, **arguments, **options)
    finally:
        bar.close()
    return results


def inversion_image(model: LayeredAlexNet) -> torch.Tensor:
    """The image the notebook and the figures invert, as a normalised batch (1, 3, S, S):
    a fresh scene for the toy model, Chelsea the cat for ImageNet AlexNet."""
    if model.name == "alexnet":
        from lecturekit.images import sample_image
        return model.preprocess(sample_image("chelsea")).to(model.device)
    from lecturekit import scenes
    images, _, _ = scenes.make_batch(scenes.test_seeds(1, offset=SHOWCASE_SEED_OFFSET),
                                     size=model.input_size)
    return model.preprocess.normalise(images).to(model.device)


# --------------------------------------------------------------------------- the claims

def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (ties get mean ranks)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"x and y must be 1-D sequences of the same length >= 2, got shapes "
                         f"{a.shape} and {b.shape}")

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=float)
        for value in np.unique(v):
            tie = v == value
            r[tie] = r[tie].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / denominator) if denominator else float("nan")


def inversion_claims(model: LayeredAlexNet, n_scenes: int = 8, *, steps: int = 100,
                     layers: Sequence[str] = LAYER_NAMES, seed: int = 0,
                     progress: bool = False) -> dict[str, Any]:
    """The lecture's inversion claims, measured on ``n_scenes`` fresh scenes.

    Every layer of ``layers`` is inverted with the kit's default recipe
    (``steps`` steps, all scenes in one batch). Returns, per layer, the mean
    relative feature error, the mean SSIM to the original and the mean SSIM on
    the object's pixels (:func:`object_ssim`); then ``"depth_ssim_spearman"``
    and ``"depth_object_ssim_spearman"``, the rank correlations of layer depth
    with the two SSIMs.
    Mahendran & Vedaldi report errors that rarely exceed 0.2; the lecture's
    figure shows reconstructions growing less faithful with depth (a clearly
    negative correlation). The scenes are drawn at the model's input size
    from :func:`lecturekit.scenes.test_seeds`, so no training scene is used.
    """
    from lecturekit import scenes

    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or n_scenes < 1:
        raise ValueError(f"n_scenes must be a whole number >= 1, got {n_scenes!r}")
    layers = [model.check_layer(name) for name in layers]
    if len(layers) < 2:
        raise ValueError(f"layers must name at least two layers to correlate depth and SSIM, "
                         f"got {layers}")
    images, masks, _ = scenes.make_batch(scenes.test_seeds(n_scenes), size=model.input_size)
    batch = model.preprocess.normalise(images)
    results = invert_layers(model, batch, layers, steps=steps, seed=seed, progress=progress)
    claims: dict[str, Any] = {
        name: {"feature_error": float(r.feature_error.mean()), "ssim": float(r.ssim.mean()),
               "object_ssim": float(object_ssim(r.image01, r.original01, masks).mean())}
        for name, r in results.items()}
    depth = [LAYER_NAMES.index(name) for name in layers]
    claims["depth_ssim_spearman"] = spearman(depth, [claims[name]["ssim"] for name in layers])
    claims["depth_object_ssim_spearman"] = spearman(
        depth, [claims[name]["object_ssim"] for name in layers])
    return claims


def object_ssim(image01: torch.Tensor, original01: torch.Tensor, masks: torch.Tensor,
                window_size: int = 11) -> torch.Tensor:
    """Mean local SSIM over the windows centred on the object (a scene's mask), shape (N,).

    The toy scenes' backgrounds are lost early in the toy network (it never
    needed them), and a flat grey image already scores an SSIM of about 0.45
    against a scene; the object's own pixels show what the layers keep.
    """
    local = ssim_map(image01, original01, window_size=window_size)
    half = window_size // 2
    inner = masks[:, half:masks.shape[1] - half, half:masks.shape[2] - half].to(local)
    return (local * inner).sum(dim=(1, 2)) / inner.sum(dim=(1, 2)).clamp_min(1)
