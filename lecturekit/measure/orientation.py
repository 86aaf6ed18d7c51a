"""Orientation, lost and measured: the lecture's caveat for transform robustness.

Transform robustness (Olah, Mordvintsev & Schubert 2017, "Feature Visualization") asks
an optimised image to excite the unit under random shifts, zooms and rotations. The
lecture warns: it is "simple and effective in producing recognisable features", but
"often the orientation is suppressed even if it was informative". A unit that prefers
edges of one direction cannot get them from an image that must work at every angle.

How strongly an image prefers one direction is read off its *structure tensor*
(Bigün & Granlund 1987, "Optimal orientation detection of linear symmetry"; Förstner
& Gülch 1987): the sum over pixels of ``g g^T``, ``g`` the image gradient (Sobel, after
a Gaussian blur of ``sigma`` pixels, summed over the colour channels as Di Zenzo 1986
does for colour images). Its eigenvalues ``l1 >= l2`` give the *coherence*
``(l1 - l2) / (l1 + l2)``: 1 for stripes of one direction, near 0 for isotropic noise.
The *share* of the gradient energy whose structures lie within +-15 degrees of a given
direction is the second measure: 1 for stripes of that direction, 1/6 (30 of 180
degrees) for isotropic noise.

Angles are the direction of the *structures* (edges, stripes), not of the gradient, in
degrees in [0, 180), anticlockwise from the horizontal as the image is displayed (row 0
on top): 0 is a horizontal edge, 45 an edge rising to the right, 90 a vertical edge.

:func:`rotation_caveat` runs the lecture's experiment: one unit, maximised from the same
start under the kit's robust recipe with rotations up to 0, 10 (the recipe's own) and
180 degrees, each result measured against the unit's preferred direction, which
:func:`preferred_orientation` reads off its top-9 patches (Zeiler & Fergus 2014).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lecturekit.examples import top9_images
from lecturekit.filters import gaussian_blur
from lecturekit.gradient.top9 import TopActivation, most_active_channel, top9
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.deepdream import activation_maximisation
from lecturekit.optimise.transforms import robustness_for
from lecturekit.targets import Channel
from lecturekit.validation import (check_at_least, check_image_batch, check_int, check_real,
                                   check_seed)

__all__ = ["ROTATIONS", "TOLERANCE", "Orientation", "RotationCaveat", "dominant_orientation",
           "orientation_claims", "orientation_histogram", "orientation_share",
           "preferred_orientation", "rotation_caveat", "structure_tensor"]

TOLERANCE = 15.0
"""Half-width, in degrees, of the band around a direction that :func:`orientation_share`
counts: 30 of 180 degrees, so isotropic noise scores 1/6."""

ROTATIONS: tuple[float, ...] = (0.0, 10.0, 180.0)
"""The rotation ranges :func:`rotation_caveat` compares: none, the kit's (Olah et al.'s
+-10 degrees) and any angle."""

_FLAT = 1e-18
"""Gradient energy (summed squares, float64) below which an image or pixel counts as flat:
rounding in the blur leaves about 1e-30 on a constant image, real structure far more."""

_SOBEL = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8


@dataclass(frozen=True)
class Orientation:
    """The dominant direction of structures in each image: ``angle`` in degrees in
    [0, 180) and its ``coherence`` in [0, 1], each of shape (N,)."""
    angle: torch.Tensor
    coherence: torch.Tensor


def _gradients(images: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sobel derivatives of every channel after a Gaussian blur of ``sigma`` (0: none),
    ``gx`` to the right and ``gy`` upwards as displayed; each (N, C, H - 2, W - 2)."""
    check_image_batch(images)
    sigma = check_real("sigma", sigma, "a number >= 0 (pixels; 0 for no blur)",
                       lambda s: s >= 0)
    if min(images.shape[-2:]) < 3:
        raise ValueError(f"images must be at least 3 x 3 pixels for the Sobel derivatives, got "
                         f"{tuple(images.shape[-2:])}")
    x = images.detach().double()
    if sigma:
        x = gaussian_blur(x, sigma)
    n, c, h, w = x.shape
    kernel = _SOBEL.to(x).view(1, 1, 3, 3)
    flat = x.reshape(n * c, 1, h, w)
    gx = F.conv2d(flat, kernel).reshape(n, c, h - 2, w - 2)
    gy = -F.conv2d(flat, kernel.transpose(2, 3)).reshape(n, c, h - 2, w - 2)
    return gx, gy


def _pixel_tensors(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each pixel's structure tensor summed over the channels: (N, 3, H - 2, W - 2) holding
    ``gx^2``, ``gy^2`` and ``gx gy``."""
    gx, gy = _gradients(images, sigma)
    return torch.stack([(gx * gx).sum(1), (gy * gy).sum(1), (gx * gy).sum(1)], dim=1)


def structure_tensor(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """The structure tensor of each image of the batch (N, C, H, W): the sums over pixels
    and channels of ``gx^2``, ``gy^2`` and ``gx gy`` (Bigün & Granlund 1987), shape (N, 3),
    float64. ``gx`` points right, ``gy`` up; ``sigma`` blurs first (0: not at all)."""
    return _pixel_tensors(images, sigma).sum(dim=(2, 3))


def _structure_angle(jxx: torch.Tensor, jyy: torch.Tensor, jxy: torch.Tensor) -> torch.Tensor:
    """The structures' direction (the gradient's plus 90 degrees), in degrees in [0, 180)."""
    gradient = 0.5 * torch.atan2(2 * jxy, jxx - jyy)
    return torch.remainder(torch.rad2deg(gradient) + 90.0, 180.0)


def _orientation(tensor: torch.Tensor) -> Orientation:
    jxx, jyy, jxy = tensor.unbind(-1)
    spread = torch.sqrt((jxx - jyy).square() + 4 * jxy.square())
    trace = jxx + jyy
    coherence = torch.where(trace > _FLAT, spread / trace.clamp_min(_FLAT), 0.0)
    return Orientation(_structure_angle(jxx, jyy, jxy), coherence)


def dominant_orientation(images: torch.Tensor, sigma: float = 1.0) -> Orientation:
    """The dominant direction of the structures in each image and its coherence
    ``(l1 - l2) / (l1 + l2)`` from the eigenvalues of :func:`structure_tensor` (Bigün &
    Granlund 1987): 1 for stripes of one direction, near 0 for isotropic noise, 0 for a
    flat image."""
    return _orientation(structure_tensor(images, sigma))


def _angular_distance(a: torch.Tensor, b: float) -> torch.Tensor:
    """Distance of directions ``a`` to ``b`` modulo 180 degrees, in [0, 90]."""
    d = torch.remainder(a - b, 180.0)
    return torch.minimum(d, 180.0 - d)


def orientation_share(images: torch.Tensor, angle: float, tolerance: float = TOLERANCE,
                      sigma: float = 1.0) -> torch.Tensor:
    """Per image (N,), the share of the gradient energy (``gx^2 + gy^2`` summed over the
    channels) at pixels whose structures lie within ``tolerance`` degrees of ``angle``
    (each pixel's direction from its own structure tensor, Di Zenzo 1986). 1 for stripes
    of that direction, ``tolerance / 90`` for isotropic noise, 0 for a flat image."""
    angle = check_real("angle", angle, "a direction in degrees (finite)", lambda a: True)
    tolerance = check_real("tolerance", tolerance, "a number of degrees in (0, 90]",
                           lambda t: 0 < t <= 90)
    jxx, jyy, jxy = _pixel_tensors(images, sigma).unbind(1)
    energy = jxx + jyy
    near = _angular_distance(_structure_angle(jxx, jyy, jxy), angle) <= tolerance
    total = energy.sum(dim=(1, 2))
    return torch.where(total > _FLAT, (energy * near).sum(dim=(1, 2)) / total.clamp_min(_FLAT),
                       0.0)


def orientation_histogram(images: torch.Tensor, bins: int = 12,
                          sigma: float = 1.0) -> torch.Tensor:
    """Per image, the share of the gradient energy whose structures point into each of
    ``bins`` equal sectors of [0, 180) degrees, sector ``k`` centred on ``k * 180 / bins``
    degrees (sector 0 holds the directions within half a sector of horizontal); shape
    (N, bins), each row summing to 1 (0 for a flat image)."""
    bins = check_int("bins", bins, "in 2..180", lambda b: 2 <= b <= 180)
    jxx, jyy, jxy = _pixel_tensors(images, sigma).unbind(1)
    energy = (jxx + jyy).flatten(1)
    width = 180.0 / bins
    sector = torch.floor(torch.remainder(_structure_angle(jxx, jyy, jxy) + width / 2, 180.0)
                         / width).long().clamp(max=bins - 1).flatten(1)
    counts = torch.zeros(energy.shape[0], bins, dtype=energy.dtype)
    counts.scatter_add_(1, sector, energy)
    total = energy.sum(1, keepdim=True)
    return torch.where(total > _FLAT, counts / total.clamp_min(_FLAT), 0.0)


def preferred_orientation(tops: Sequence[TopActivation], sigma: float = 1.0) -> Orientation:
    """A unit's preferred direction, read off the image patches of its strongest
    activations (:func:`lecturekit.gradient.top9.top9`, Zeiler & Fergus 2014): the
    structure tensors of the patches, each divided by its trace so that every patch
    votes alike, averaged. Returns one angle and one coherence, each of shape (1,)."""
    patches = [top.patch for top in tops] if tops is not None else []
    if not patches:
        raise ValueError("tops is empty; pass the list that lk.top9(model, images, layer, "
                         "channel) returns")
    votes = []
    for patch in patches:
        tensor = structure_tensor(patch[None], sigma)[0]
        trace = tensor[0] + tensor[1]
        votes.append(tensor / trace if trace > _FLAT else torch.zeros_like(tensor))
    return _orientation(torch.stack(votes).mean(0, keepdim=True))


@dataclass
class RotationCaveat:
    """What :func:`rotation_caveat` measured for one unit (``layer``, ``channel``):
    ``preferred``, its direction from its top-9 patches (``patches``); per rotation range
    in ``max_degrees`` the optimised image (``images01``, (N, 3, H, W)), the unit's
    ``activation`` on it (unrotated), the ``coherence`` of its dominant direction, the
    ``share`` of its gradient energy within :data:`TOLERANCE` of the preferred direction
    and its orientation ``histogram`` (N, 12)."""
    layer: str
    channel: int
    preferred: Orientation
    patches: list[torch.Tensor]
    max_degrees: tuple[float, ...]
    images01: torch.Tensor
    activation: torch.Tensor
    coherence: torch.Tensor
    share: torch.Tensor
    histogram: torch.Tensor


def rotation_caveat(model: LayeredNetwork, layer: str, channel: int,
                    tops: Sequence[TopActivation], *,
                    max_degrees: Sequence[float] = ROTATIONS, size: int = 128,
                    steps: int = 64, seed: int = 0, sigma: float = 1.0,
                    parameterisation: str = "fourier") -> RotationCaveat:
    """Maximise the map ``channel`` of ``layer`` from noise under the kit's robust recipe
    (:func:`~lecturekit.optimise.transforms.robustness_for`: pad, jitter, scale) with
    rotations up to each of ``max_degrees`` degrees (Olah et al. 2017's Fourier image,
    the same seeded start, ``steps`` Adam steps at ``size`` pixels), and measure each
    result: the unit's activation on the unrotated image, the coherence of its dominant
    direction and the share of its gradient energy near the unit's preferred direction,
    read off ``tops``, the unit's top-9 activations (:func:`preferred_orientation`)."""
    model.check_layer(layer)
    check_at_least("steps", steps, 1)
    check_seed(seed)
    degrees = tuple(check_real("max_degrees", d, "a list of angles between 0 and 180",
                               lambda v: 0 <= v <= 180) for d in max_degrees)
    if not degrees:
        raise ValueError("max_degrees is empty; give at least one rotation range, e.g. "
                         "(0, 10, 180)")
    preferred = preferred_orientation(tops, sigma)
    runs = [activation_maximisation(model, Channel(layer, channel), parameterisation=parameterisation,
                                    robust=robustness_for(model, d), size=size, steps=steps,
                                    seed=seed, progress=False) for d in degrees]
    images01 = torch.cat([run.image01 for run in runs])
    angle = float(preferred.angle[0])
    return RotationCaveat(
        layer=layer, channel=channel, preferred=preferred,
        patches=[top.patch for top in tops], max_degrees=degrees, images01=images01,
        activation=torch.cat([run.objective.detach().cpu() for run in runs]).double(),
        coherence=dominant_orientation(images01, sigma).coherence,
        share=orientation_share(images01, angle, sigma=sigma),
        histogram=orientation_histogram(images01, sigma=sigma))


def orientation_claims(model: LayeredNetwork) -> dict[str, object]:
    """``evaluate``'s ``"caveats"``: :func:`rotation_caveat` for the most active map of the
    model's early layer over :func:`~lecturekit.examples.top9_images` (notebook 04's
    experiment), as numbers: the preferred direction and its coherence, and per rotation
    range the map's activation, the result's coherence and its share of gradient energy
    within :data:`TOLERANCE` degrees of the preferred direction."""
    layer = model.lecture_layers.early
    images = top9_images(model)
    channel = most_active_channel(model, images, layer)
    caveat = rotation_caveat(model, layer, channel, top9(model, images, layer, channel))
    return {"layer": layer, "channel": channel,
            "preferred_degrees": round(float(caveat.preferred.angle[0]), 1),
            "preferred_coherence": float(caveat.preferred.coherence[0]),
            "tolerance_degrees": TOLERANCE,
            "by_max_rotation": {f"{degrees:g}": {
                "activation": float(caveat.activation[k]),
                "coherence": float(caveat.coherence[k]),
                "share_near_preferred": float(caveat.share[k])}
                for k, degrees in enumerate(caveat.max_degrees)}}
