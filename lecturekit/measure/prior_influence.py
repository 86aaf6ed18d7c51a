"""What a learned prior puts in: the lecture's caveat for learned priors, measured.

A learned prior (:class:`~lecturekit.optimise.learned_prior.FeatureStatisticsPrior`)
asks the reconstruction's channels at one layer to have the statistics they have on its
reference images. The lecture: such priors produce "very nice images", but they are
ambiguous, "because parts of what you introduce into the results stem from the
pre-trained network", here from the prior's reference images. To see it, fit the prior on
images of *one kind* (an espresso cup on grass), invert an image of *another kind* (the
cat) with a growing weight lambda, and ask of every reconstruction: how close is it still
to the original, and how close has it come to the prior's images?

Closeness is measured the same way on both sides, by the colours, because the prior's
images share no layout with the original: the intersection of colour histograms (Swain
& Ballard 1991, "Color indexing", IJCV), ``sum_k min(p_k, q_k)`` over ``bins^3`` colour
cells, 1 for the same distribution of colours and 0 for no colour in common. The images
are blurred by ``sigma`` pixels first, so that the pixel noise of an inversion without a
smoothness prior does not count as colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lecturekit.examples import inversion_image, one_kind_images
from lecturekit.filters import gaussian_blur
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import invert
from lecturekit.optimise.learned_prior import FeatureStatisticsPrior
from lecturekit.validation import (check_at_least, check_image_batch, check_int, check_real,
                                   check_seed, check_side)

__all__ = ["LAMBDAS", "PriorInfluence", "colour_histogram", "colour_similarity",
           "histogram_intersection", "learned_prior_influence", "prior_influence_claims"]

LAMBDAS: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0)
"""The learned prior's weights :func:`learned_prior_influence` compares: none, then
growing tenfold."""


def colour_histogram(images01: torch.Tensor, bins: int = 4, sigma: float = 1.0) -> torch.Tensor:
    """The colours of a batch of images (N, 3, H, W) in [0, 1], pooled over the batch: the
    share of pixels in each of ``bins^3`` equal cells of the RGB cube (red slowest, blue
    fastest; the value 1 falls in the last cell), after a Gaussian blur of ``sigma`` pixels
    (0: none). Shape (bins^3,), float64, summing to 1."""
    check_image_batch(images01)
    if images01.shape[1] != 3:
        raise ValueError(f"images01 must have 3 colour channels, shape (N, 3, H, W), got "
                         f"{tuple(images01.shape)}")
    bins = check_int("bins", bins, "in 1..64 (cells per colour channel)",
                     lambda b: 1 <= b <= 64)
    sigma = check_real("sigma", sigma, "a number >= 0 (pixels; 0 for no blur)",
                       lambda s: s >= 0)
    x = images01.detach().double().cpu()
    if sigma:
        x = gaussian_blur(x, sigma)
    cells = (x.clamp(0, 1) * bins).long().clamp(max=bins - 1)
    index = (cells[:, 0] * bins + cells[:, 1]) * bins + cells[:, 2]
    counts = torch.bincount(index.flatten(), minlength=bins ** 3).double()
    return counts / counts.sum()


def histogram_intersection(p: torch.Tensor, q: torch.Tensor) -> float:
    """Swain & Ballard's (1991) intersection ``sum_k min(p_k, q_k)`` of two histograms that
    each sum to 1: 1 for equal histograms, 0 for disjoint ones."""
    if not isinstance(p, torch.Tensor) or not isinstance(q, torch.Tensor) \
            or p.shape != q.shape or p.ndim != 1:
        raise ValueError(f"p and q must be 1-D histograms of the same length, got shapes "
                         f"{getattr(p, 'shape', type(p).__name__)} and "
                         f"{getattr(q, 'shape', type(q).__name__)}")
    return float(torch.minimum(p.double(), q.double()).sum())


def colour_similarity(a01: torch.Tensor, b01: torch.Tensor, bins: int = 4,
                      sigma: float = 1.0) -> float:
    """How alike the colours of two sets of images in [0, 1] are: the
    :func:`histogram_intersection` of their pooled :func:`colour_histogram` s (any sizes,
    any numbers of images)."""
    return histogram_intersection(colour_histogram(a01, bins, sigma),
                                  colour_histogram(b01, bins, sigma))


class _WeightPerImage:
    """The learned prior with one weight per image of the batch: one inversion holds a copy
    of the image per lambda."""

    name = "learned"

    def __init__(self, prior: FeatureStatisticsPrior, weights: torch.Tensor) -> None:
        self.prior, self.weights = prior, weights

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.weights.to(x) * self.prior(x)


@dataclass
class PriorInfluence:
    """What :func:`learned_prior_influence` measured: per lambda in ``lambdas`` the
    reconstruction (``images01``, (N, 3, S, S)), its colour similarity ``to_original`` and
    ``to_prior`` (to the prior's ``sources01``), its ``ssim`` to the original and its
    relative ``feature_error`` at ``layer``; ``original01`` is the inverted image and
    ``original_to_prior`` its own colour similarity to the prior's images."""
    layer: str
    lambdas: tuple[float, ...]
    images01: torch.Tensor
    original01: torch.Tensor
    sources01: torch.Tensor
    to_original: torch.Tensor
    to_prior: torch.Tensor
    ssim: torch.Tensor
    feature_error: torch.Tensor
    original_to_prior: float


def _at_size(batch: torch.Tensor, size: int) -> torch.Tensor:
    """A normalised batch resized to ``size`` x ``size`` (antialiased bilinear)."""
    if tuple(batch.shape[-2:]) == (size, size):
        return batch
    return F.interpolate(batch, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


def learned_prior_influence(model: LayeredNetwork, image: torch.Tensor, sources: torch.Tensor,
                            *, layer: str | None = None, lambdas: Sequence[float] = LAMBDAS,
                            size: int = 128, steps: int = 100, seed: int = 0,
                            bins: int = 4, sigma: float = 1.0) -> PriorInfluence:
    """Fit a :class:`~lecturekit.optimise.learned_prior.FeatureStatisticsPrior` at ``layer``
    (default: the network's ``lecture_layers.prior_layer``) on ``sources`` (a normalised
    batch of images of one kind), invert ``image`` (a normalised batch of one image of
    another kind) from its activations at the same layer with the prior alone at each
    weight of ``lambdas`` (Mahendran & Vedaldi 2015; the kit's default recipe, ``steps``
    steps, all weights in one batch from one seeded start, everything at ``size`` pixels),
    and measure each reconstruction's colour similarity to the original and to the
    sources (:func:`colour_similarity`), its SSIM to the original and its feature error."""
    layer = model.check_layer(model.lecture_layers.prior_layer if layer is None else layer)
    model.check_batch(image, "image")
    model.check_batch(sources, "sources")
    if image.shape[0] != 1:
        raise ValueError(f"image must be one image, a batch (1, 3, H, W), got "
                         f"{tuple(image.shape)}")
    size = check_side("size", size, model.min_input_size)
    check_at_least("steps", steps, 1)
    check_seed(seed)
    weights = tuple(check_real("lambdas", lam, "a list of weights >= 0", lambda v: v >= 0)
                    for lam in lambdas)
    if not weights:
        raise ValueError("lambdas is empty; give at least one weight, e.g. (0, 1, 10, 100)")
    image = _at_size(image.to(model.device), size)
    sources = _at_size(sources.to(model.device), size)
    prior = _WeightPerImage(FeatureStatisticsPrior(model, sources, layer),
                            torch.tensor(weights))
    result = invert(model, image.expand(len(weights), -1, -1, -1), layer, priors={prior: 1.0},
                    steps=steps, seed=seed, progress=False)
    sources01 = model.deprocess(sources)
    original01 = result.original01[:1]
    images01 = result.image01
    original_colours = colour_histogram(original01, bins, sigma)
    prior_colours = colour_histogram(sources01, bins, sigma)
    colours = [colour_histogram(images01[i:i + 1], bins, sigma) for i in range(len(weights))]
    return PriorInfluence(
        layer=layer, lambdas=weights, images01=images01, original01=original01,
        sources01=sources01,
        to_original=torch.tensor([histogram_intersection(c, original_colours) for c in colours]),
        to_prior=torch.tensor([histogram_intersection(c, prior_colours) for c in colours]),
        ssim=result.ssim.double(), feature_error=result.feature_error.double(),
        original_to_prior=histogram_intersection(original_colours, prior_colours))


def prior_influence_claims(model: LayeredNetwork) -> dict[str, object]:
    """``evaluate``'s ``"caveats"`` for the learned prior: :func:`learned_prior_influence`
    of the prior fitted on :func:`~lecturekit.examples.one_kind_images` on the inversion of
    :func:`~lecturekit.examples.inversion_image` (notebook 05's experiment), as numbers: the
    original's own colour similarity to the prior's images, and per lambda the
    reconstruction's similarity to the original and to the prior's images, its SSIM and
    its feature error."""
    influence = learned_prior_influence(model, inversion_image(model), one_kind_images(model))
    return {"layer": influence.layer,
            "original_to_prior": influence.original_to_prior,
            "by_lambda": {f"{lam:g}": {"to_original": float(influence.to_original[k]),
                                       "to_prior": float(influence.to_prior[k]),
                                       "ssim": float(influence.ssim[k]),
                                       "feature_error": float(influence.feature_error[k])}
                          for k, lam in enumerate(influence.lambdas)}}
