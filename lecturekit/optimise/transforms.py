"""Transform robustness: random jitter, scaling and rotation inside the optimisation loop.

An image optimised for one exact pixel grid exploits that grid (high-frequency
patterns); asking the image to work under small random shifts, zooms and
rotations at every step removes most of them (the lecture: the input should be
invariant to these transforms; Olah, Mordvintsev & Schubert 2017, "Feature
Visualization", Distill). Each transform here is a small callable object,

    y = transform(x, generator)

on a batch ``x`` of shape (N, C, H, W) (float32 or float64, any device),
differentiable with respect to ``x`` so that the gradient of the objective on
``y`` flows back to the pixels.

Conventions:

* randomness comes only from the ``torch.Generator`` passed at call time (on
  any device, not necessarily ``x``'s): the same seed gives the same output;
  a random transform called without one raises TypeError;
* all images of a batch share one random draw (one shift, one factor, one
  angle per call): simpler, cheap, and what DeepDream needs to undo a jitter;
  independent optimisations in one batch still see independent draws over
  the steps, only not within one step;
* :class:`Jitter`, :class:`RandomScale` and :class:`RandomRotate` keep the
  shape; :class:`Pad` grows it by ``2 * pixels`` in each spatial axis, so
  :func:`standard_robustness` returns images 24 pixels taller and wider.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol, Sequence

import torch
import torch.nn.functional as F

from lecturekit.filters import reflect_index
from lecturekit.validation import check_image_batch, check_int, check_real

__all__ = ["Compose", "Jitter", "Pad", "RandomRotate", "RandomScale", "Transform", "TransformFn",
           "inversion_robustness", "inversion_shift",
           "light_robustness", "rescale", "robust_transform", "robustness_for", "rotate",
           "standard_robustness"]

TransformFn = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
"""A random transform: ``t(x, generator)`` -> transformed batch."""


class SizedModel(Protocol):
    """Anything with the ``input_size`` (pixels) of a network."""
    input_size: int


_FILL_MODES = ("reflect", "replicate", "zeros")


# --------------------------------------------------------------------------- helpers

def _check_generator(generator: torch.Generator | None, who: str) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{who} draws its randomness from a torch.Generator passed at call time: "
                        f"call it as transform(x, generator), got generator={generator!r}")
    return generator


def _check_fill(name: str, mode: str, valid: Sequence[str]) -> str:
    if mode not in valid:
        raise ValueError(f"{name} must be one of {', '.join(repr(m) for m in valid)}, "
                         f"got {name}={mode!r}")
    return mode


def _uniform(generator: torch.Generator) -> float:
    """One draw from U[0, 1) on the generator's own device."""
    return float(torch.rand((), generator=generator, device=generator.device,
                            dtype=torch.float64))


def _pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int, mode: str,
         value: float = 0.0) -> torch.Tensor:
    if mode == "reflect":
        h, w = x.shape[-2:]
        x = x.index_select(2, reflect_index(h, top, bottom, x.device))
        return x.index_select(3, reflect_index(w, left, right, x.device))
    if mode == "replicate":
        return F.pad(x, (left, right, top, bottom), mode="replicate")
    return F.pad(x, (left, right, top, bottom), mode="constant",
                 value=0.0 if mode == "zeros" else value)


# --------------------------------------------------------------------------- functional forms

def rescale(x: torch.Tensor, factor: float, fill: str = "reflect") -> torch.Tensor:
    """Zoom every image by ``factor`` about its centre, keeping the shape (N, C, H, W).

    Resizes to ``(round(H * factor), round(W * factor))`` with bilinear
    interpolation (``align_corners=False``, no antialiasing), then crops the
    centre (factor > 1) or pads around it (factor < 1) back to H x W; ``fill``
    is the padding: ``"reflect"`` (mirror, default), ``"replicate"`` or
    ``"zeros"``. The effective factor is the rounded size ratio, so a factor
    within ``0.5 / H`` of 1 leaves the image unchanged. Differentiable in ``x``.
    """
    check_image_batch(x)
    factor = check_real("factor", factor, "> 0", lambda f: f > 0)
    _check_fill("fill", fill, _FILL_MODES)
    h, w = x.shape[-2:]
    nh, nw = max(1, round(h * factor)), max(1, round(w * factor))
    if (nh, nw) != (h, w):
        x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False)
    if nh > h:
        top = (nh - h) // 2
        x = x[:, :, top:top + h]
    if nw > w:
        left = (nw - w) // 2
        x = x[:, :, :, left:left + w]
    if nh < h or nw < w:
        top, left = max(0, h - nh) // 2, max(0, w - nw) // 2
        x = _pad(x, top, max(0, h - nh) - top, left, max(0, w - nw) - left, fill)
    return x


def rotate(x: torch.Tensor, degrees: float, fill: str = "reflect") -> torch.Tensor:
    """Rotate every image by ``degrees`` about its centre, keeping the shape (N, C, H, W).

    ``affine_grid`` + ``grid_sample`` (bilinear, ``align_corners=False``), with
    the aspect ratio taken into account so non-square images rotate rigidly.
    Positive angles turn the content anticlockwise as displayed (row 0 on top).
    ``fill`` says what enters the corners: ``"reflect"`` (default) mirrors the
    image, ``"replicate"`` repeats the border pixel, ``"zeros"`` puts 0 (the
    dataset mean colour in normalised units). Reflection is the default
    because it adds no new straight edges: zero corners are triangles with
    sharp borders that the network responds to and the optimisation learns to
    paint around. Differentiable in ``x``.
    """
    check_image_batch(x)
    degrees = check_real("degrees", degrees, "(finite)", lambda d: True)
    _check_fill("fill", fill, _FILL_MODES)
    n, _, h, w = x.shape
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    # output pixel p samples input at R p; in normalised coordinates
    # (u = x_n * W/2, v = y_n * H/2) that is this matrix.
    theta = torch.tensor([[c, -s * h / w, 0.0], [s * w / h, c, 0.0]], dtype=x.dtype,
                         device=x.device).expand(n, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    mode = {"reflect": "reflection", "replicate": "border", "zeros": "zeros"}[fill]
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=mode, align_corners=False)


# --------------------------------------------------------------------------- transform objects

class Transform:
    """Base class: ``transform(x, generator)`` maps a batch (N, C, H, W) to a batch."""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError


class Jitter(Transform):
    """Random integer shift of both spatial axes by ``torch.roll`` (the DeepDream way).

    Each call draws ``(dy, dx)`` uniformly from the integers in
    ``[-max_shift, max_shift]`` (one draw for the whole batch) and rolls the
    images by it: what leaves one side comes back on the other, so nothing is
    lost and :meth:`undo` restores the input exactly. The draw is kept in
    ``last_shift`` (Mordvintsev et al. 2015, DeepDream; Olah et al. 2017 use
    jitter 8 and 4).
    """

    def __init__(self, max_shift: int) -> None:
        self.max_shift = check_int("max_shift", max_shift, ">= 0", lambda m: m >= 0)
        self.last_shift: tuple[int, int] | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Roll ``x`` by a fresh random shift and remember it in ``last_shift``."""
        check_image_batch(x)
        g = _check_generator(generator, "Jitter")
        m = self.max_shift
        dy, dx = torch.randint(-m, m + 1, (2,), generator=g, device=g.device).tolist()
        self.last_shift = (int(dy), int(dx))
        return torch.roll(x, shifts=self.last_shift, dims=(2, 3))

    def undo(self, x: torch.Tensor) -> torch.Tensor:
        """Roll ``x`` (the jittered image or a gradient on it) back by ``last_shift``."""
        check_image_batch(x)
        if self.last_shift is None:
            raise RuntimeError("Jitter.undo needs a previous call: there is no last_shift yet")
        dy, dx = self.last_shift
        return torch.roll(x, shifts=(-dy, -dx), dims=(2, 3))

    def __repr__(self) -> str:
        return f"Jitter(max_shift={self.max_shift})"


class RandomScale(Transform):
    """Zoom about the centre by a factor drawn uniformly from ``[low, high]``; see :func:`rescale`.

    One factor per call for the whole batch; the shape is kept (bilinear
    resize, then centre crop or ``fill`` padding). Olah et al. 2017 use 0.9 to 1.1.
    """

    def __init__(self, low: float, high: float, fill: str = "reflect") -> None:
        self.low = check_real("low", low, "> 0", lambda v: v > 0)
        self.high = check_real("high", high, f">= low ({self.low})", lambda v: v >= self.low)
        self.fill = _check_fill("fill", fill, _FILL_MODES)
        self.last_factor: float | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Rescale ``x`` by a fresh random factor, remembered in ``last_factor``."""
        check_image_batch(x)
        g = _check_generator(generator, "RandomScale")
        self.last_factor = self.low + (self.high - self.low) * _uniform(g)
        return rescale(x, self.last_factor, self.fill)

    def __repr__(self) -> str:
        return f"RandomScale(low={self.low}, high={self.high}, fill={self.fill!r})"


class RandomRotate(Transform):
    """Rotate about the centre by an angle drawn uniformly from ``[-max_degrees, max_degrees]``.

    One angle per call for the whole batch; see :func:`rotate` for the
    interpolation and for why ``fill="reflect"`` is the default. Olah et al.
    2017 use +-10 degrees.
    """

    def __init__(self, max_degrees: float, fill: str = "reflect") -> None:
        self.max_degrees = check_real("max_degrees", max_degrees, "between 0 and 180",
                                       lambda d: 0 <= d <= 180)
        self.fill = _check_fill("fill", fill, _FILL_MODES)
        self.last_degrees: float | None = None

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Rotate ``x`` by a fresh random angle, remembered in ``last_degrees``."""
        check_image_batch(x)
        g = _check_generator(generator, "RandomRotate")
        self.last_degrees = self.max_degrees * (2 * _uniform(g) - 1)
        return rotate(x, self.last_degrees, self.fill)

    def __repr__(self) -> str:
        return f"RandomRotate(max_degrees={self.max_degrees}, fill={self.fill!r})"


class Pad(Transform):
    """Pad ``pixels`` on every side of both spatial axes (output H + 2p, W + 2p).

    ``mode``: ``"reflect"`` (mirror without repeating the edge; works for any
    amount), ``"replicate"`` or ``"constant"`` (the value ``value``; 0 is the
    dataset mean colour in normalised units). Deterministic: the generator is
    accepted and ignored. Olah et al. 2017 pad 12 pixels before the random
    transforms so that the image's own border can move into view.
    """

    def __init__(self, pixels: int, mode: str = "reflect", value: float = 0.0) -> None:
        self.pixels = check_int("pixels", pixels, ">= 0", lambda p: p >= 0)
        self.mode = _check_fill("mode", mode, ("reflect", "replicate", "constant"))
        self.value = check_real("value", value, "(finite)", lambda v: True)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pad ``x``; ``generator`` is unused."""
        check_image_batch(x)
        p = self.pixels
        return _pad(x, p, p, p, p, self.mode, self.value)

    def __repr__(self) -> str:
        extra = f", value={self.value}" if self.mode == "constant" else ""
        return f"Pad(pixels={self.pixels}, mode={self.mode!r}{extra})"


class Compose(Transform):
    """Apply ``transforms`` in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[Callable[..., torch.Tensor]]) -> None:
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise ValueError(f"transforms must be callables t(x, generator), got "
                                 f"transforms[{i}]={t!r}")
        self.transforms = transforms

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Run every transform on the output of the previous one."""
        for t in self.transforms:
            x = t(x, generator)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


def _rotation(max_degrees: float) -> list[Transform]:
    """``[RandomRotate(max_degrees)]``, or nothing for 0 (no rotation at all)."""
    check_real("max_degrees", max_degrees, "between 0 and 180", lambda d: 0 <= d <= 180)
    return [RandomRotate(max_degrees)] if max_degrees else []


def standard_robustness(max_degrees: float = 10.0) -> Compose:
    """Olah et al. 2017's transform recipe ("Feature Visualization", Distill; lucid's
    ``standard_transforms``): pad 12, jitter 8, scale 0.9-1.1, rotate -10..10 degrees, jitter 4.

    ``max_degrees`` widens or narrows the rotation (0: none, 180: any angle), the
    lecture's caveat for transform robustness, measured in
    :mod:`lecturekit.measure.orientation`: rotating more can wipe out an orientation
    the unit prefers.

    Differences from lucid: the padding is the constant 0 (the dataset mean
    colour in normalised units, where lucid pads with 0.5 grey in [0, 1]
    pixels); jitter rolls instead of cropping, so only the padding changes the
    size (output H + 24, W + 24); scale and angle are drawn from continuous
    uniform distributions instead of lucid's lists (scales 0.90, 0.92, ..., 1.10;
    integer angles with extra weight on 0). Scaling and rotation fill with
    reflection.
    """
    return Compose([
        Pad(12, mode="constant", value=0.0),
        Jitter(8),
        RandomScale(0.9, 1.1),
        *_rotation(max_degrees),
        Jitter(4),
    ])


def light_robustness(max_degrees: float = 5.0) -> Compose:
    """Olah et al.'s (2017) transform recipe at about half strength, for small images:
    pad 6, jitter 4, scale 0.95-1.05, rotate -5..5 degrees (``max_degrees``), jitter 2.

    On the 128-pixel toy network the full recipe (:func:`standard_robustness`)
    sometimes lets another class win for the hexagon's class model (its logit
    rises, the crescent's rises faster); with this lighter one every class reaches
    probability 1 (``evaluate``'s ``class_model``).
    """
    return Compose([Pad(6, mode="constant", value=0.0), Jitter(4), RandomScale(0.95, 1.05),
                    *_rotation(max_degrees), Jitter(2)])


def robustness_for(model: SizedModel, max_degrees: float | None = None) -> Compose:
    """The transform robustness used by ``robust=True``: Olah et al.'s standard recipe
    for ImageNet-sized models (input 200 pixels or more), the light one below that;
    ``max_degrees`` replaces the recipe's rotation range (None: its own, 10 or 5)."""
    large = model.input_size >= 200
    if max_degrees is None:
        return standard_robustness() if large else light_robustness()
    return standard_robustness(max_degrees) if large else light_robustness(max_degrees)


def inversion_shift(size: int) -> int:
    """The jitter of :func:`inversion_robustness` for images of ``size`` pixels: 4 per 128."""
    return max(1, round(4 * size / 128))


def inversion_robustness(size: int, max_shift: int | None = None) -> Compose:
    """Transform robustness for inversion, where the size must not change (the activations
    are compared position by position): jitter by up to ``max_shift`` pixels (default:
    :func:`inversion_shift`), scale 0.95-1.05, rotate -5..5 degrees."""
    shift = inversion_shift(size) if max_shift is None else max_shift
    return Compose([Jitter(shift), RandomScale(0.95, 1.05), RandomRotate(5.0)])


def robust_transform(model: SizedModel, robust: bool | TransformFn) -> TransformFn | None:
    """What a ``robust=`` argument means: True -> :func:`robustness_for` ``model``,
    False -> no transform, a callable ``t(x, generator)`` -> itself."""
    if robust is True:
        return robustness_for(model)
    if robust is False:
        return None
    if callable(robust):
        return robust
    raise ValueError(f"robust must be False, True or a transform t(x, generator), got "
                     f"robust={robust!r}")
