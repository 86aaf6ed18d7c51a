"""Does a network never trained to localise still point at the object? Measured.

The lecture remarks that a saliency map "kind of" localises the object although
the classifier never saw a bounding box (Simonyan, Vedaldi & Zisserman 2014,
who even seed a GraphCut segmentation with it). On the kit's toy scenes every
image comes with a mask of the object's visible pixels, so the remark can be
put to numbers. Three scores per map:

* **pointing game** (Zhang et al. 2016, "Top-down neural attention by
  excitation backprop"): does the single strongest pixel lie on the object, or
  within a few pixels of it (:data:`POINTING_TOLERANCE`)? ``pointing_exact``
  allows no tolerance.
* **energy in mask**: which fraction of the map's total mass lies on the object?
* **sparsity**: which fraction of the mass sits in the top 1% of the pixels?
  (a uniform map gives 0.01; a map concentrated in a few pixels nears 1).

Two baselines that know nothing about the image keep the scores honest:
uniform noise, and a Gaussian bump in the middle of the image (objects are
often near the centre, so a centre bias alone scores above chance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from lecturekit import scenes
from lecturekit.models import LayeredNetwork
from lecturekit.gradient.saliency import saliency_map
from lecturekit.validation import check_at_least

METHODS: tuple[str, ...] = ("saliency", "deconvnet", "guided", "random", "centre")
"""The rows of :func:`localisation_table`: three gradient maps and two baselines."""

RULE_OF_METHOD = {"saliency": "backprop", "deconvnet": "deconvnet", "guided": "guided"}
"""The ReLU rule behind each gradient method (the saliency map is plain backprop)."""

POINTING_TOLERANCE = 4
"""Pixels by which a map's strongest pixel may miss the object and still point at it.
Zhang et al. (2016) allow 15 pixels on photographs a few hundred pixels wide; the kit
allows 4 on its 128-pixel scenes, the stride of the toy network's first layer. A
gradient map is strongest on the object's outline, and about half of an outline's
pixels lie just outside the mask."""


# --- checks -----------------------------------------------------------------

def _check_maps(maps: torch.Tensor, name: str = "maps") -> torch.Tensor:
    """``maps`` as a detached float tensor (N, H, W), else a ValueError saying what was given."""
    if not isinstance(maps, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, H, W), "
                        f"got {type(maps).__name__}")
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(f"{name} must have shape (N, H, W) with no empty dimension, "
                         f"got {tuple(maps.shape)}")
    maps = maps.detach()
    return maps if maps.is_floating_point() else maps.float()


def _check_mass(maps: torch.Tensor) -> torch.Tensor:
    """Checked maps that may be read as masses: finite and nowhere negative."""
    maps = _check_maps(maps)
    if not torch.isfinite(maps).all():
        raise ValueError("maps must be finite (no NaN or inf)")
    if (maps < 0).any():
        raise ValueError(f"maps must be non-negative (masses), got a minimum of "
                         f"{float(maps.min()):.4g}; take |map| or clamp(min=0) first")
    return maps


def _check_masks(masks: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """``masks`` as a bool tensor shaped like ``maps``, on the maps' device."""
    if not isinstance(masks, torch.Tensor):
        raise TypeError(f"masks must be a torch.Tensor of shape (N, H, W), "
                        f"got {type(masks).__name__}")
    if masks.dtype != torch.bool:
        raise ValueError(f"masks must be a bool tensor (True on the object), got dtype "
                         f"{masks.dtype}")
    if masks.shape != maps.shape:
        raise ValueError(f"masks must have the shape of maps {tuple(maps.shape)}, "
                         f"got {tuple(masks.shape)}")
    return masks.to(maps.device)


def _check_shape(shape: Sequence[int]) -> tuple[int, int, int]:
    try:
        values = tuple(shape)
    except TypeError:
        values = ()
    if (len(values) != 3 or
            not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)):
        raise ValueError(f"shape must be three positive ints (N, H, W), got {shape!r}")
    return values  # type: ignore[return-value]


# --- the three scores ---------------------------------------------------------

def pointing_game(maps: torch.Tensor, masks: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """(N,) bool: does each map's maximum lie inside its mask, or at most ``tolerance``
    pixels (Euclidean distance) from a mask pixel?

    Ties are broken by taking the *first* maximal pixel in row-major order
    (``argmax`` of the flattened map), so a constant map points at its
    top-left pixel; other equally strong pixels inside the mask do not count.
    """
    maps = _check_maps(maps)
    masks = _check_masks(masks, maps)
    check_at_least("tolerance", tolerance, 0)
    best = maps.flatten(1).argmax(dim=1, keepdim=True)
    if not tolerance:
        return masks.flatten(1).gather(1, best).squeeze(1)
    height, width = masks.shape[1:]
    rows, cols = (best // width).view(-1, 1, 1), (best % width).view(-1, 1, 1)
    ys = torch.arange(height, device=masks.device).view(1, -1, 1)
    xs = torch.arange(width, device=masks.device).view(1, 1, -1)
    near = (ys - rows) ** 2 + (xs - cols) ** 2 <= tolerance ** 2
    return (near & masks).flatten(1).any(dim=1)


def energy_in_mask(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N,) fraction of each non-negative map's total mass that lies inside its mask.

    A map that is zero everywhere has no mass to put on the object and scores 0.
    Maps with negative values are refused: take ``|map|`` first.
    """
    maps = _check_mass(maps)
    masks = _check_masks(masks, maps)
    total = maps.flatten(1).sum(1)
    inside = (maps * masks).flatten(1).sum(1)
    return torch.where(total > 0, inside / total.clamp_min(torch.finfo(maps.dtype).tiny),
                       torch.zeros_like(total))


def sparsity(maps: torch.Tensor, top: float = 0.01) -> torch.Tensor:
    """(N,) fraction of each non-negative map's mass held by its strongest pixels.

    The strongest ``ceil(top * H * W)`` pixels are counted (at least one); a
    constant map scores about ``top`` (uniform noise about ``2 * top``), a
    single bright pixel scores 1. A map that is zero everywhere scores 0.
    """
    if isinstance(top, bool) or not isinstance(top, (int, float)) or not 0 < top <= 1:
        raise ValueError(f"top must be a fraction of the pixels in (0, 1], got {top!r}")
    maps = _check_mass(maps)
    flat = maps.flatten(1)
    count = min(max(math.ceil(top * flat.shape[1] - 1e-9), 1), flat.shape[1])
    total = flat.sum(1)
    strongest = flat.topk(count, dim=1).values.sum(1)
    return torch.where(total > 0, strongest / total.clamp_min(torch.finfo(flat.dtype).tiny),
                       torch.zeros_like(total))


# --- baselines that ignore the image ----------------------------------------

def random_maps(shape: Sequence[int], generator: torch.Generator | int = 0) -> torch.Tensor:
    """Uniform noise in [0, 1) of shape (N, H, W): the chance level of every score.

    ``generator`` is a ``torch.Generator`` or an int seed, so runs repeat.
    """
    size = _check_shape(shape)
    if isinstance(generator, int) and not isinstance(generator, bool):
        generator = torch.Generator().manual_seed(generator)
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or an int seed, "
                        f"got {type(generator).__name__}")
    return torch.rand(size, generator=generator, device=generator.device)


def centre_gaussian_maps(shape: Sequence[int], sigma_fraction: float = 0.25) -> torch.Tensor:
    """The same Gaussian bump for all N images, peak 1 at the image centre.

    The centre is the middle of the pixel grid, ``((H - 1) / 2, (W - 1) / 2)``;
    the standard deviations are ``sigma_fraction * H`` and ``sigma_fraction * W``.
    """
    n, height, width = _check_shape(shape)
    if (isinstance(sigma_fraction, bool) or not isinstance(sigma_fraction, (int, float))
            or not sigma_fraction > 0):
        raise ValueError(f"sigma_fraction must be a positive number, got {sigma_fraction!r}")
    y = (torch.arange(height, dtype=torch.float32) - (height - 1) / 2) / (sigma_fraction * height)
    x = (torch.arange(width, dtype=torch.float32) - (width - 1) / 2) / (sigma_fraction * width)
    bump = torch.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))
    return bump.expand(n, height, width).clone()


# --- the table ----------------------------------------------------------------

def method_maps(model: LayeredNetwork, method: str, images: torch.Tensor,
                labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The maps (N, H, W) of one method for a normalised batch, on the CPU: a gradient
    method's map of each image's class in ``labels``, or a baseline (``generator`` drives
    the random one)."""
    if method in RULE_OF_METHOD:
        return saliency_map(model, images, labels, rule=RULE_OF_METHOD[method]).cpu()
    shape = (images.shape[0], *images.shape[-2:])
    if method == "random":
        return random_maps(shape, generator)
    return centre_gaussian_maps(shape)


def localisation_table(model: LayeredNetwork, n_scenes: int = 200, batch_size: int = 50,
                       seed: int = 0) -> dict:
    """Mean pointing, energy-in-mask and sparsity of each of :data:`METHODS` on test scenes.

    The scenes are ``scenes.test_seeds(n_scenes)`` at the model's input size.
    Every gradient method explains the logit of the scene's *true* label
    (also where the model gets the class wrong); its map is the maximum over
    colour channels of ``|gradient|`` under the method's ReLU rule. ``seed``
    drives the random baseline. Returns ``{method: {"pointing", "pointing_exact",
    "energy_in_mask", "sparsity"}, "mean_mask_area": ..., "n_scenes": n_scenes}`` with
    floats rounded to 4 decimals; ``"pointing"`` allows :data:`POINTING_TOLERANCE`.
    """
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("batch_size", batch_size, 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if list(model.classes) != list(scenes.CLASSES):
        raise ValueError(f"localisation_table needs a model trained on the toy scenes (classes "
                         f"{', '.join(scenes.CLASSES)}), got model {model.name!r} with "
                         f"{len(model.classes)} classes")
    generator = torch.Generator().manual_seed(seed)
    scores = {m: {"pointing": [], "pointing_exact": [], "energy_in_mask": [], "sparsity": []}
              for m in METHODS}
    areas = []
    seeds = scenes.test_seeds(n_scenes)
    for start in range(0, n_scenes, batch_size):
        images01, masks, labels = scenes.make_batch(seeds[start:start + batch_size],
                                                    size=model.input_size)
        images = model.preprocess.normalise(images01).to(model.device)
        areas.append(masks.flatten(1).float().mean(1))
        for method in METHODS:
            maps = method_maps(model, method, images, labels, generator)
            scores[method]["pointing"].append(
                pointing_game(maps, masks, POINTING_TOLERANCE).float())
            scores[method]["pointing_exact"].append(pointing_game(maps, masks).float())
            scores[method]["energy_in_mask"].append(energy_in_mask(maps, masks))
            scores[method]["sparsity"].append(sparsity(maps))
    table: dict = {method: {score: round(float(torch.cat(values).mean()), 4)
                            for score, values in per_score.items()}
                   for method, per_score in scores.items()}
    table["mean_mask_area"] = round(float(torch.cat(areas).mean()), 4)
    table["n_scenes"] = n_scenes
    return table
