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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion_recipes import Recipe, get_recipe
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.optimise.loop import Term, optimise
from lecturekit.optimise.priors import PRIORS, PriorKey, check_priors, prior_terms
from lecturekit.optimise.transforms import TransformFn, inversion_robustness
from lecturekit.progress import progress_bar
from lecturekit.result_cache import cached
from lecturekit.similarity import psnr, ssim
from lecturekit.targets import Blocks, FeatureMatching
from lecturekit.validation import check_callable, check_choice, check_real, check_seed

__all__ = ["CHOICE_LABELS", "InversionResult", "PRIOR_CHOICES", "choice_weight", "invert",
           "invert_layers", "prior_choice", "typical_magnitude"]

MV_TYPICAL_ELEMENT = 68.9
"""Mahendran & Vedaldi's typical magnitude of one element of a mean-subtracted 0-255 image."""

PRIOR_CHOICES: tuple[str, ...] = ("default", "none", *PRIORS, "robust", "learned")
"""The lecture's list of priors for inversion, as one menu (the regulariser figure and the
explorer): the recipe's own priors, none, each penalty prior of
:data:`~lecturekit.optimise.priors.PRIORS`, transform robustness and the learned prior.
:func:`prior_choice` says what each means as :func:`invert`'s arguments."""

CHOICE_LABELS: dict[str, str] = {
    "default": "kit default (TV + alpha)", "none": "no prior",
    **{name: prior.label for name, prior in PRIORS.items()},
    "robust": "transform robustness", "learned": "learned prior",
}
"""Readable names of :data:`PRIOR_CHOICES` for captions and figure titles."""


# --------------------------------------------------------------------------- units and checks

def typical_magnitude(model: LayeredNetwork) -> float:
    """``rho``: Mahendran & Vedaldi's typical pixel (68.9 of 255) in normalised units."""
    std = float(np.mean(model.preprocess.std))
    return MV_TYPICAL_ELEMENT / (255.0 * std)


def _check_steps(steps: int | None) -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1 or None for the recipe's default, "
                         f"got steps={steps!r}")
    return int(steps)


# --------------------------------------------------------------------------- the result

@dataclass
class InversionResult:
    """What :func:`invert` found for one layer and a batch of images.

    ``image`` is the reconstruction in the model's normalised units (N, 3, H, W),
    ``image01`` the same in [0, 1] for display, ``original01`` the image that
    was inverted. ``feature_error``, ``ssim`` and ``psnr`` have one value per
    image: the final relative feature error ``||Phi(x) - Phi0||^2 / ||Phi0||^2``
    and the similarity of the reconstruction to the original. ``priors`` names
    each prior with the weight it had at this layer (empty: no prior), ``robust``
    whether random transforms acted; ``history`` is the loop's per-step record;
    ``settings`` says how else it was made.
    """
    image: torch.Tensor
    image01: torch.Tensor
    original01: torch.Tensor
    feature_error: torch.Tensor
    ssim: torch.Tensor
    psnr: torch.Tensor
    history: list[dict[str, float]]
    layer: str
    priors: dict[str, float] = field(default_factory=dict)
    robust: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def prior_text(self) -> str:
        """The priors in words: ``"tv 3, alpha 0.001"``, ``"no prior"``, ``"+ robust"``."""
        text = ", ".join(f"{name} {weight:.3g}" for name, weight in self.priors.items())
        if self.robust:
            text = f"{text} + transform robustness" if text else "transform robustness"
        return text or "no prior"

    def summary(self) -> str:
        """One line: layer, priors and the mean scores."""
        return (f"{self.layer}: {self.prior_text}; feature error "
                f"{self.feature_error.mean():.3f}, SSIM {self.ssim.mean():.3f}, "
                f"PSNR {self.psnr.mean():.1f} dB")


# --------------------------------------------------------------------------- the lecture's menu

def choice_weight(model: LayeredNetwork, choice: str, layer: str) -> float | None:
    """The default weight of the menu entry ``choice`` at ``layer`` (by its layer group), or
    None for the entries without a weight (``"default"``, ``"none"``, ``"robust"``)."""
    check_choice("choice", choice, PRIOR_CHOICES)
    group = model.layer_group(layer)
    if choice in PRIORS:
        return PRIORS[choice].inversion_weights[group]
    if choice == "learned":
        return FeatureStatisticsPrior.inversion_weights[group]
    return None


def prior_choice(choice: str, weight: float | None = None, *,
                 learned: FeatureStatisticsPrior | None = None) -> dict[str, Any]:
    """:func:`invert`'s ``priors`` and ``robust`` for the menu entry ``choice`` of
    :data:`PRIOR_CHOICES` with ``weight`` (None: the prior's default weight). The learned
    prior is built by the caller from its reference images and passed as ``learned``."""
    check_choice("choice", choice, PRIOR_CHOICES)
    if choice == "default":
        return {"priors": None}
    if choice in ("none", "robust"):
        return {"priors": {}, "robust": choice == "robust"}
    if choice == "learned":
        if learned is None:
            raise ValueError("the learned prior is built from reference images: pass "
                             "learned=lk.FeatureStatisticsPrior(model, reference_images)")
        return {"priors": {learned: weight}}
    return {"priors": {choice: weight}}


# --------------------------------------------------------------------------- the recipe

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


def _checked(model: LayeredNetwork, image: torch.Tensor,
             priors: Mapping[PriorKey, float | None] | None, steps: int | None, seed: int,
             init_std: float | None, callback: Callable | None, recipe: str | Recipe | None,
             options: dict[str, Any]) -> tuple[dict[PriorKey, float | None] | None, int | None]:
    """Check the arguments :func:`invert` and :func:`invert_layers` share."""
    if priors is not None:
        priors = check_priors(priors, options)
    elif options:
        raise TypeError(f"option(s) {', '.join(sorted(options))} need the priors they belong "
                        f"to, e.g. priors={{'tv': None}}, beta=1.0 (the recipe's own priors "
                        f"take no options)")
    model.check_batch(image, "image")
    get_recipe(recipe, model)
    check_seed(seed)
    if init_std is not None:
        check_real("init_std", init_std, "a number >= 0", lambda v: v >= 0)
    if callback is not None:
        check_callable("callback", callback, "None or a callable callback(step, image, record)")
    return priors, _check_steps(steps)


def _per_image(values: Sequence[float], count: int) -> float | torch.Tensor:
    """One weight per block, repeated for the block's ``count`` images (a plain number when
    every block has the same)."""
    if len(set(values)) == 1:
        return values[0]
    return torch.tensor([v for v in values for _ in range(count)], dtype=torch.float32)


def _default_weights(key: PriorKey) -> tuple[float, float, float]:
    """A prior's default inversion weights per layer group."""
    weights = PRIORS[key].inversion_weights if isinstance(key, str) else \
        getattr(key, "inversion_weights", None)
    if weights is None:
        raise ValueError(f"the prior {key!r} has no default weight for inversion; give one")
    return weights


def _layer_priors(recipe: Recipe, priors: dict[PriorKey, float | None] | None,
                  group: int) -> dict[str, float]:
    """Each prior's name and weight at a layer of ``group``, for the result."""
    if priors is None:
        return {"tv": recipe.tv_lambda[group], "alpha": recipe.alpha_lambda}
    return {(key if isinstance(key, str) else getattr(key, "name", "prior")):
            (_default_weights(key)[group] if weight is None else weight)
            for key, weight in priors.items()}


def _block_terms(model: LayeredNetwork, recipe: Recipe,
                 priors: dict[PriorKey, float | None] | None, groups: Sequence[int], count: int,
                 options: dict[str, Any]) -> list[Term]:
    """The priors of every layer's block as one list of terms with a weight per image
    (default weights by each block's layer group)."""
    rho = typical_magnitude(model)
    if priors is None:
        return recipe.default_terms(_per_image([recipe.tv_lambda[g] for g in groups], count),
                                    rho)
    return prior_terms(priors, options, scale=rho, weight_of=lambda key: _per_image(
        [_default_weights(key)[g] for g in groups], count))


def _invert_blocks(model: LayeredNetwork, image: torch.Tensor, layers: Sequence[str], *,
                   priors: dict[PriorKey, float | None] | None, robust: bool | TransformFn,
                   recipe: Recipe, steps: int | None, seed: int, init_std: float | None,
                   callback: Callable | None, progress: bool,
                   options: dict[str, Any]) -> dict[str, InversionResult]:
    """Invert ``image`` (N images) at each of ``layers`` (distinct, in network order) in one
    optimisation: the batch holds a block of the N images per layer, every block starts
    from the same noise, and the network's ``staggered_activations`` stops each block at
    its layer. Adam, SGD, the priors and the clamp act on each image alone, so each block
    follows the path it would follow alone (up to rounding)."""
    n = image.shape[0]
    image = image.detach().to(model.device)
    blocks = [(layer, n) for layer in layers]
    with torch.no_grad():
        references = model.activations(image, layers)
    data = Blocks([FeatureMatching(layer, references[layer]) for layer in layers])
    objective = data * recipe.data_weight if recipe.data_weight != 1.0 else data
    groups = [model.layer_group(layer) for layer in layers]
    terms = _block_terms(model, recipe, priors, groups, n, options)
    transform = robust if callable(robust) else (
        inversion_robustness(image.shape[-1]) if robust else None)
    rho = typical_magnitude(model)
    if init_std is None:
        init_std = recipe.init_std * (rho if recipe.init_in_rho else 1.0)
    generator = torch.Generator().manual_seed(seed)
    init = (torch.randn(image.shape, generator=generator) * init_std).to(model.device,
                                                                         image.dtype)
    b2 = rho * rho * image[0].numel()
    phases = recipe.phases(steps, b2 if recipe.lr_per_b2 else 1.0)
    ramp = _ramp(terms, recipe.ramp, sum(k for k, _ in phases), callback)
    result = optimise(model, objective, init.repeat(len(layers), 1, 1, 1), maximise=False,
                      terms=terms, transform=transform, schedule=phases,
                      optimiser=recipe.optimiser, momentum=recipe.momentum,
                      reset_momentum=recipe.reset_momentum, clamp=recipe.clamp,
                      callback=ramp, progress=progress, seed=seed, pyramid=recipe.pyramid,
                      forward=lambda x: model.staggered_activations(x, blocks,
                                                                    recipe.leaky_slope))
    errors = (result.objective / recipe.data_weight).cpu()  # the loop's last evaluation
    images01 = model.deprocess(result.image)
    original01 = model.deprocess(image)
    shared = {"recipe": recipe.name, "steps": sum(k for k, _ in phases), "seed": seed,
              "schedule": phases, "optimiser": recipe.optimiser, "init_std": init_std,
              **options}
    if len(layers) > 1:
        shared["inverted_together"] = list(layers)
    results = {}
    for index, (layer, group) in enumerate(zip(layers, groups)):
        rows = slice(index * n, (index + 1) * n)
        results[layer] = InversionResult(
            image=result.image[rows], image01=images01[rows], original01=original01,
            feature_error=errors[rows], ssim=ssim(images01[rows], original01).float(),
            psnr=psnr(images01[rows], original01).float(), history=result.history,
            layer=layer, priors=_layer_priors(recipe, priors, group),
            robust=transform is not None, settings=dict(shared))
    return results


@cached("invert")
def invert(model: LayeredNetwork, image: torch.Tensor, layer: str, *,
           priors: Mapping[PriorKey, float | None] | None = None,
           robust: bool | TransformFn = False, recipe: str | Recipe | None = None,
           steps: int | None = None, seed: int = 0, init_std: float | None = None,
           callback: Callable | None = None, progress: bool = True,
           **prior_options: Any) -> InversionResult:
    """Reconstruct ``image`` from its activations at ``layer`` (Mahendran & Vedaldi 2015).

    ``image`` is a normalised batch (N, 3, H, W), e.g. ``model.preprocess(photo)``.
    Its activations ``Phi0`` are computed once; then the loop minimises
    ``||Phi(x) - Phi0||^2 / ||Phi0||^2 + sum of weight * R(x)`` over ``x``, for every
    image of the batch independently.

    ``priors`` as everywhere in the kit (:mod:`lecturekit.optimise.priors`): ``{name:
    weight}`` with the priors' options as keywords (``beta=1.0``), a weight of None for
    the prior's default at this layer's group, a learned prior
    (:class:`~lecturekit.optimise.learned_prior.FeatureStatisticsPrior`) as a key, ``{}``
    for none; None (the default) uses the recipe's own priors, total variation and a weak
    alpha-norm weighted per layer group. ``robust=True`` moves the image at random every
    step (:func:`~lecturekit.optimise.transforms.inversion_robustness`; or pass a
    transform). ``recipe`` names the search (:data:`~lecturekit.optimise.inversion_recipes.
    RECIPES`; default: :func:`~lecturekit.optimise.inversion_recipes.default_recipe`);
    ``steps`` stretches its schedule (None: its own, 150 for both of the kit's); ``seed``
    fixes the random start and any random transforms; ``init_std`` overrides the start's
    spread; ``callback(step, image, record)`` is passed to the loop.
    """
    priors, steps = _checked(model, image, priors, steps, seed, init_std, callback, recipe,
                             prior_options)
    layer = model.check_layer(layer)
    return _invert_blocks(model, image, [layer], priors=priors, robust=robust,
                          recipe=get_recipe(recipe, model), steps=steps, seed=seed,
                          init_std=init_std, callback=callback, progress=progress,
                          options=prior_options)[layer]


@cached("invert_layers")
def invert_layers(model: LayeredNetwork, image: torch.Tensor,
                  layers: Iterable[str] | None = None, *,
                  priors: Mapping[PriorKey, float | None] | None = None,
                  robust: bool | TransformFn = False, recipe: str | Recipe | None = None,
                  steps: int | None = None, seed: int = 0, init_std: float | None = None,
                  callback: Callable | None = None, progress: bool = True,
                  batched: bool = True, **prior_options: Any) -> dict[str, InversionResult]:
    """:func:`invert` at every layer of ``layers`` (default: all of the model's); the results
    in the order of ``layers``. The other arguments are :func:`invert`'s.

    With ``batched=True`` (the default) all layers are inverted in one optimisation
    whose batch holds one block of images per layer (the network's
    ``staggered_activations``): the same results up to rounding, in fewer, larger
    steps (each result's ``history`` is then the whole batch's). ``batched=False``
    inverts one layer after the other, with one progress bar over the layers.
    """
    priors, steps = _checked(model, image, priors, steps, seed, init_std, callback, recipe,
                             prior_options)
    names = model.layer_names if layers is None else layers
    layers = list(dict.fromkeys(model.check_layer(name) for name in names))
    if not layers:
        raise ValueError("layers is empty; name at least one of: "
                         + ", ".join(model.layer_names))
    arguments = dict(priors=priors, robust=robust, recipe=get_recipe(recipe, model),
                     steps=steps, seed=seed, init_std=init_std, callback=callback,
                     options=prior_options)
    if batched:
        ordered = sorted(layers, key=model.depth)
        results = _invert_blocks(model, image, ordered, progress=progress, **arguments)
        return {name: results[name] for name in layers}
    results = {}
    bar = progress_bar(layers, enabled=progress, desc="inverting", unit="layer", leave=False)
    try:
        for name in bar:
            bar.set_postfix_str(name)
            results[name] = _invert_blocks(model, image, [name], progress=False,
                                           **arguments)[name]
    finally:
        bar.close()
    return results
