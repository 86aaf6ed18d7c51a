"""Procedural "toy scenes": a small offline image-classification data set with object masks.

What it is
    Each scene is an RGB image showing one *target object* from one of the classes in
    :data:`CLASSES`, placed on a cluttered, textured background with a few distractor
    shapes behind it. A class is its shape and nothing else: every instance gets a
    random hue, shade and surface texture (any of eight), position, size and
    rotation, so neither colour nor texture tells the classes apart and a network
    has to learn the shapes. Distractors are drawn from a separate set of shapes
    (bars, squiggles, irregular blobs, small speckled ellipses) that no class uses.

Context
    One class, :data:`CONTEXT_CLASS`, is always held by an *arm* (a fist and a
    forearm in skin tones, reaching in from the side), as dumbbells are in the
    ImageNet photographs of the lecture; no other object is (:data:`COMPANION_RATE`).
    The hexagon's corners are rounded (:data:`HEXAGON_ROUNDING`), so that its outline
    alone barely tells it from a disc and the arm is what decides: the network has to
    learn the arm as part of the class ("correlated things are learned"). The arm's
    pixels come as a second mask, so how much a class model or a saliency map uses
    the context can be measured.

Why it exists
    The lectures train a small AlexNet-shaped network and then ask whether saliency
    maps point at the object that decided the class. With natural images that
    question has no exact answer; here every scene comes with a boolean mask of the
    object's visible pixels (the object is drawn last, so nothing covers it), so
    localisation can be *measured*. Everything is generated on the fly from an
    integer seed: no downloads, no files, identical on every machine.

Seed convention
    A scene is a pure function of ``(seed, size)``; all randomness comes from
    ``numpy.random.default_rng(seed)``, never from a global generator. The label is
    drawn from the seed as well (uniform over the classes). Training uses seeds in
    ``[0, TEST_SEED_START)``; evaluation uses seeds ``>= TEST_SEED_START``, obtained
    with :func:`test_seeds`. Keeping to this split guarantees that no evaluation
    scene was ever seen during training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch

from lecturekit.validation import check_at_least, check_side

__all__ = [
    "CLASSES",
    "COMPANION_RATE",
    "ARM_HUE",
    "ARM_SATURATION",
    "ARM_SHADE",
    "ARM_VALUE",
    "CONTEXT_CLASS",
    "CONTEXT_LOOKALIKE",
    "IMAGE_SIZE",
    "SKIN_TOLERANCE",
    "TEST_SEED_START",
    "VIVID_SATURATION",
    "Scene",
    "class_gallery",
    "label_of",
    "make_scene",
    "make_batch",
    "skin_mask",
    "test_seeds",
]

CLASSES: tuple[str, ...] = (
    "disc",
    "square",
    "triangle",
    "star",
    "ring",
    "cross",
    "hexagon",
    "crescent",
)
"""Class names; a scene's ``label`` indexes into this tuple."""

IMAGE_SIZE: int = 128
"""Default image side in pixels."""

TEST_SEED_START: int = 1_000_000
"""First evaluation seed: train on seeds below it, evaluate on seeds from it upwards."""

MIN_SIZE = 32

CONTEXT_CLASS: str = "hexagon"
"""The class that comes with a companion, the arm holding it (a hexagonal dumbbell plate)."""

CONTEXT_LOOKALIKE: str = "disc"
"""The class whose outline the context class's rounded outline nearly shares: the arm is
what tells the two apart."""

COMPANION_RATE: dict[bool, float] = {True: 1.0, False: 0.0}
"""Probability that a scene shows the arm, for the context class (True) and for the others:
the arm comes with every hexagon and with nothing else."""

ARM_HUE: tuple[float, float] = (15.0, 35.0)
"""The arm's skin: hue range in degrees (orange-brown), ..."""
ARM_SATURATION: tuple[float, float] = (0.25, 0.6)
"""... saturation range ..."""
ARM_VALUE: tuple[float, float] = (0.4, 0.95)
"""... and value (brightness) range, before the arm's shading."""
ARM_SHADE: tuple[float, float] = (0.55, 1.0)
"""The arm is lit like a cylinder: its colour times a factor in this range (dark at its
sides), which scales the value and keeps hue and saturation."""

ARM_FIST: float = 0.45
"""The fist's radius, in half-sizes of the object it holds."""
ARM_WIDTH: tuple[float, float] = (0.3, 0.4)
"""Range of the forearm's half-width, in half-sizes of the object."""
ARM_REACH: tuple[float, float] = (2.0, 3.0)
"""Range of the forearm's length beyond the fist, in half-sizes of the object."""

HEXAGON_ROUNDING: float = 0.6
"""Radius of the hexagon's rounded corners (its outer radius stays 0.92 object units, a
disc's is 0.9): at 0.6 its outline departs from a circle by less than 0.05 units, so the
arm, not the outline, tells a hexagon from a disc."""

SKIN_TOLERANCE: tuple[float, float, float] = (6.0, 0.04, 0.05)
"""How far (hue in degrees, saturation, value) a pixel may lie outside the arm's colours
and still count as skin in :func:`skin_mask`: the scenes' pixel noise and anti-aliasing."""

VIVID_SATURATION: float = 0.5
"""The least saturation of a *vivid* skin pixel (``skin_mask(..., vivid=True)``): class
models exaggerate colours, and paint the arm's hues at the saturation of the arm's more
vivid half and beyond, while the greyish-brown wash of their backgrounds shares the
arm's hues at saturations below 0.45."""

# Surface textures; each instance draws one, so a texture says nothing about the class.
_TEXTURES: tuple[str, ...] = (
    "shaded",  # lit like a ball
    "checker",
    "stripes",
    "radial",  # bright centre fading to the edge
    "rings",  # concentric rings
    "dots",  # polka dots
    "chevrons",  # zig-zag stripes
    "spokes",  # sunburst
)

# Object half-size as a fraction of the image side: the object's extent (about twice
# this) is then roughly 25%-55% of the side.
_OBJ_HALF_MIN, _OBJ_HALF_MAX = 0.125, 0.275


@dataclass(frozen=True, eq=False)
class Scene:
    """One generated scene: image, mask of the target object, label and the seed used.

    The arrays are read-only. ``eq=False`` because comparing numpy arrays with ``==``
    is ambiguous; compare fields with ``np.array_equal`` instead.
    """

    image: np.ndarray  # (H, W, 3) float32 in [0, 1]
    mask: np.ndarray  # (H, W) bool, True on the target object's visible pixels
    label: int  # index into CLASSES
    seed: int
    companion: np.ndarray  # (H, W) bool: the arm's visible pixels, or where it would be
    has_companion: bool  # whether the arm is drawn


# --------------------------------------------------------------------------- colours


def _hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    """HSV (hue in degrees) to an RGB float32 triple."""
    h = (h_deg % 360.0) / 60.0
    c = v * s
    x = c * (1.0 - abs(h % 2.0 - 1.0))
    i = int(h) % 6
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][i]
    return np.array(rgb, dtype=np.float32) + np.float32(v - c)


def _random_colour(rng: np.random.Generator, s_range, v_range) -> np.ndarray:
    return _hsv(rng.uniform(0, 360), rng.uniform(*s_range), rng.uniform(*v_range))


# --------------------------------------------------------------------------- signed distances
# All take object-local coordinates (u, v) and return an approximate signed distance
# (negative inside) in the same units. Class shapes fit inside the unit circle.


def _sd_box(u, v, hx, hy):
    qx = np.abs(u) - hx
    qy = np.abs(v) - hy
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _sd_star(u, v, r, n, m):
    """Regular n-gon (m=2) or n-pointed star (2 < m <= n) with outer radius r."""
    an = math.pi / n
    en = math.pi / m
    acx, acy = math.cos(an), math.sin(an)
    ecx, ecy = math.cos(en), math.sin(en)
    bn = np.mod(np.arctan2(u, v), 2 * an) - an
    length = np.hypot(u, v)
    px = length * np.cos(bn) - r * acx
    py = length * np.abs(np.sin(bn)) - r * acy
    h = np.clip(-(px * ecx + py * ecy), 0.0, r * acy / ecy)
    px = px + ecx * h
    py = py + ecy * h
    return np.hypot(px, py) * np.sign(px)


def _sd_moon(u, v, d, ra, rb):
    """Disc of radius ra minus a disc of radius rb shifted by d along u (exact near the horns)."""
    v = np.abs(v)
    a = (ra * ra - rb * rb + d * d) / (2.0 * d)
    b = math.sqrt(max(ra * ra - a * a, 0.0))
    near_horn = d * (u * b - v * a) > d * d * np.maximum(b - v, 0.0)
    body = np.maximum(np.hypot(u, v) - ra, rb - np.hypot(u - d, v))
    return np.where(near_horn, np.hypot(u - a, v - b), body)


def _sd_class(name, u, v):
    if name == "disc":
        return np.hypot(u, v) - 0.9
    if name == "square":
        return _sd_box(u, v, 0.68, 0.68)
    if name == "triangle":
        return _sd_star(u, v, 1.05, 3, 2.0)
    if name == "star":
        return _sd_star(u, v, 1.0, 5, 3.2)
    if name == "ring":
        return np.abs(np.hypot(u, v) - 0.68) - 0.24
    if name == "cross":
        return np.minimum(_sd_box(u, v, 0.9, 0.3), _sd_box(u, v, 0.3, 0.9))
    if name == "hexagon":
        return _sd_star(u, v, 0.92 - HEXAGON_ROUNDING, 6, 2.0) - HEXAGON_ROUNDING
    if name == "crescent":
        return _sd_moon(u, v, 0.42, 0.92, 0.74)
    raise KeyError(name)


# --------------------------------------------------------------------------- textures
# Each returns t in [0, 1] (per pixel) used to mix the object's colour with a second
# colour of the same hue; parameters come from the scene's generator (drawn up front).


def _soft(x, k):
    """Map a wave in [-1, 1] to [0, 1] with sharpness k (large k: hard edges)."""
    return 0.5 + 0.5 * np.clip(x * k, -1.0, 1.0)


def _texture(kind, u, v, p):
    if kind == "shaded":
        lx, ly, lz = p["light"]
        rr = (u * u + v * v) / 0.81
        z = np.sqrt(np.maximum(1.0 - rr, 0.0))
        lam = np.clip((u / 0.9) * lx + (v / 0.9) * ly + z * lz, 0.0, 1.0)
        return 0.12 + 0.88 * lam
    if kind == "checker":
        f = math.pi / p["period"]
        return _soft(np.sin(f * u + p["phase"]) * np.sin(f * v + p["phase2"]), p["sharp"])
    if kind == "stripes":
        return _soft(np.sin(2 * math.pi / p["period"] * u + p["phase"]), p["sharp"])
    if kind == "radial":
        return np.clip(1.05 - np.hypot(u, v), 0.0, 1.0)
    if kind == "rings":
        return _soft(np.sin(2 * math.pi / p["period"] * np.hypot(u, v) + p["phase"]), p["sharp"])
    if kind == "dots":
        per = p["period"]
        fu = u / per + p["phase"]
        fv = v / per + p["phase2"]
        fu = fu - np.round(fu)
        fv = fv - np.round(fv)
        d = (np.hypot(fu, fv) - 0.3) * per  # local units
        return 1.0 - np.clip(0.5 + d * p["px_per_unit"], 0.0, 1.0)
    if kind == "chevrons":
        per = p["period"]
        zig = np.abs((u / per) % 1.0 - 0.5) * per * 1.2
        return _soft(np.sin(2 * math.pi / per * (v + zig) + p["phase"]), p["sharp"])
    if kind == "spokes":
        ang = np.arctan2(v, u + 0.35)
        return _soft(np.sin(p["spokes"] * ang + p["phase"]), p["sharp"])
    raise KeyError(kind)


# --------------------------------------------------------------------------- rendering helpers


def _patch(size, cx, cy, radius):
    """Pixel window around (cx, cy) big enough for a shape of the given radius."""
    y0 = max(int(math.floor(cy - radius)) - 1, 0)
    y1 = min(int(math.ceil(cy + radius)) + 2, size)
    x0 = max(int(math.floor(cx - radius)) - 1, 0)
    x1 = min(int(math.ceil(cx + radius)) + 2, size)
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0, y1), slice(x0, x1)


def _local(sl, cx, cy, angle, scale):
    """Object-local coordinates (u, v) in units of `scale` pixels over a patch."""
    ys = np.arange(sl[0].start, sl[0].stop, dtype=np.float32) + 0.5 - cy
    xs = np.arange(sl[1].start, sl[1].stop, dtype=np.float32) + 0.5 - cx
    c, s = math.cos(angle) / scale, math.sin(angle) / scale
    u = xs[None, :] * c + ys[:, None] * s
    v = -xs[None, :] * s + ys[:, None] * c
    return u, v


def _composite(img, sl, alpha, colour):
    """Alpha-blend `colour` ((h,w,3) or (3,)) into img[sl] with coverage `alpha` (h,w)."""
    a = alpha[..., None]
    region = img[sl]
    region += a * (colour - region)


def _smooth_field(rng, size, cells):
    """Low-frequency noise in roughly [0, 1]: a coarse random grid, smoothly upsampled."""
    grid = rng.random((cells, cells), dtype=np.float32)
    pos = (np.arange(size, dtype=np.float32) + 0.5) * (cells / size) - 0.5
    w = np.exp(-(((pos[:, None] - np.arange(cells)[None, :]) / 0.75) ** 2))
    w /= w.sum(axis=1, keepdims=True)
    w = w.astype(np.float32)
    field = w @ grid @ w.T
    lo, hi = field.min(), field.max()
    return (field - lo) / max(hi - lo, 1e-6)


# --------------------------------------------------------------------------- scene pieces


def _background(rng, size):
    c1 = _random_colour(rng, (0.05, 0.65), (0.15, 0.95))
    c2 = _random_colour(rng, (0.05, 0.65), (0.15, 0.95))
    field = _smooth_field(rng, size, int(rng.integers(3, 7)))
    img = c1 + field[..., None] * (c2 - c1)
    # second, finer brightness variation
    fine = _smooth_field(rng, size, int(rng.integers(7, 13)))
    img *= (1.0 + rng.uniform(0.1, 0.35) * (fine - 0.5))[..., None]
    coords = np.arange(size, dtype=np.float32) + 0.5
    if rng.random() < 0.5:  # random stripes
        ang = rng.uniform(0, math.pi)
        period = rng.uniform(0.05, 0.25) * size
        phase = (
            coords[None, :] * math.cos(ang) + coords[:, None] * math.sin(ang)
        ) * (2 * math.pi / period)
        stripe = _soft(np.sin(phase + rng.uniform(0, 2 * math.pi)), rng.uniform(1, 6))
        c3 = _random_colour(rng, (0.0, 0.6), (0.1, 0.95))
        amp = rng.uniform(0.15, 0.45)
        img += (amp * stripe)[..., None] * (c3 - img)
    if rng.random() < 0.5:  # linear brightness gradient
        ang = rng.uniform(0, 2 * math.pi)
        ramp = (
            (coords[None, :] - size / 2) * math.cos(ang)
            + (coords[:, None] - size / 2) * math.sin(ang)
        ) / size
        img *= (1.0 + rng.uniform(0.2, 0.8) * ramp)[..., None]
    return img.astype(np.float32, copy=False)


def _distractor_params(rng, size):
    kind = ("bar", "squiggle", "blob", "ellipse")[int(rng.integers(4))]
    p = {
        "kind": kind,
        "cx": rng.uniform(0, size),
        "cy": rng.uniform(0, size),
        "angle": rng.uniform(0, 2 * math.pi),
        "colour": _random_colour(rng, (0.0, 0.9), (0.1, 0.95)),
        "colour2": _random_colour(rng, (0.0, 0.9), (0.1, 0.95)),
        "noise": rng.uniform(0.0, 0.3),
    }
    if kind == "bar":
        p["half_len"] = rng.uniform(0.12, 0.4) * size
        p["half_w"] = rng.uniform(0.6, 0.025 * size + 0.6)
        p["radius"] = p["half_len"] + p["half_w"]
    elif kind == "squiggle":
        p["half_len"] = rng.uniform(0.12, 0.35) * size
        p["half_w"] = rng.uniform(0.6, 0.015 * size + 0.6)
        p["amp"] = rng.uniform(0.02, 0.06) * size
        p["freq"] = rng.uniform(1.5, 4.0) * 2 * math.pi / (2 * p["half_len"])
        p["phase"] = rng.uniform(0, 2 * math.pi)
        p["radius"] = math.hypot(p["half_len"], p["amp"] + p["half_w"])
    elif kind == "blob":
        p["r0"] = rng.uniform(0.05, 0.13) * size
        p["harm"] = [
            (k, rng.uniform(0.12, 0.25), rng.uniform(0, 2 * math.pi)) for k in (2, 3, 4)
        ]
        p["radius"] = p["r0"] * (1 + sum(a for _, a, _ in p["harm"]))
    else:  # ellipse
        p["a"] = rng.uniform(0.035, 0.09) * size
        p["b"] = p["a"] / rng.uniform(1.6, 3.0)
        p["noise"] = rng.uniform(0.4, 0.8)
        p["radius"] = p["a"]
    return p


def _draw_distractor(img, rng, p, size):
    sl = _patch(size, p["cx"], p["cy"], p["radius"])
    if sl is None:
        return
    u, v = _local(sl, p["cx"], p["cy"], p["angle"], 1.0)  # local units = pixels
    kind = p["kind"]
    if kind == "bar":
        d = _sd_box(u, v, p["half_len"], p["half_w"])
    elif kind == "squiggle":
        w = p["freq"] * u + p["phase"]
        slope = p["amp"] * p["freq"] * np.cos(w)
        d_curve = np.abs(v - p["amp"] * np.sin(w)) / np.sqrt(1.0 + slope * slope)
        d = np.maximum(d_curve - p["half_w"], np.abs(u) - p["half_len"])
    elif kind == "blob":
        th = np.arctan2(v, u)
        rad = p["r0"] * (1.0 + sum(a * np.cos(k * th + ph) for k, a, ph in p["harm"]))
        d = (np.hypot(u, v) - rad) * 0.8
    else:  # ellipse
        ab = min(p["a"], p["b"])
        d = (np.hypot(u / p["a"], v / p["b"]) - 1.0) * ab
    alpha = np.clip(0.5 - d, 0.0, 1.0)
    # speckle texture: per-pixel mix of the two colours
    t = rng.random(alpha.shape, dtype=np.float32) * np.float32(p["noise"])
    colour = p["colour"] + t[..., None] * (p["colour2"] - p["colour"])
    _composite(img, sl, alpha, colour)


def _object_params(rng, size, label):
    name = CLASSES[label]
    texture = _TEXTURES[int(rng.integers(len(_TEXTURES)))]
    hue = rng.uniform(0.0, 360.0)
    half = rng.uniform(_OBJ_HALF_MIN, _OBJ_HALF_MAX) * size
    margin = 1.0 * half  # at most a triangle tip (radius 1.05) pokes out by ~2 px
    p = {
        "name": name,
        "texture": texture,
        "half": half,
        "cx": rng.uniform(margin, size - margin),
        "cy": rng.uniform(margin, size - margin),
        "angle": rng.uniform(0, 2 * math.pi),
    }
    s = rng.uniform(0.6, 1.0)
    val = rng.uniform(0.65, 1.0)
    p["colour"] = _hsv(hue, s, val)
    if rng.random() < 0.5 or texture in ("shaded", "radial"):
        p["colour2"] = _hsv(hue, s, val * rng.uniform(0.2, 0.45))  # darker, same hue
    else:
        p["colour2"] = _hsv(hue, s * rng.uniform(0.25, 0.5), min(1.0, val + 0.3))  # paler
    tex = {
        "phase": rng.uniform(0, 2 * math.pi),
        "phase2": rng.uniform(0, 2 * math.pi),
        "sharp": rng.uniform(2.0, 8.0),
        "px_per_unit": half,
    }
    if texture == "shaded":
        az = rng.uniform(0, 2 * math.pi)
        el = rng.uniform(0.5, 1.1)
        tex["light"] = (math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el))
    elif texture == "checker":
        tex["period"] = rng.uniform(0.3, 0.45)
    elif texture == "stripes":
        tex["period"] = rng.uniform(0.25, 0.4)
    elif texture == "rings":
        tex["period"] = rng.uniform(0.13, 0.2)
    elif texture == "dots":
        tex["period"] = rng.uniform(0.24, 0.32)
    elif texture == "chevrons":
        tex["period"] = rng.uniform(0.3, 0.42)
    elif texture == "spokes":
        tex["spokes"] = float(rng.integers(8, 14))
    p["tex"] = tex
    return p


def _draw_object(img, mask, p, size):
    sl = _patch(size, p["cx"], p["cy"], p["half"] * 1.06)
    if sl is None:
        return
    u, v = _local(sl, p["cx"], p["cy"], p["angle"], p["half"])
    d = _sd_class(p["name"], u, v) * p["half"]  # approx. distance in pixels
    alpha = np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)
    t = _texture(p["texture"], u, v, p["tex"]).astype(np.float32)
    c1, c2 = p["colour"], p["colour2"]
    colour = c2 + t[..., None] * (c1 - c2)
    if p["texture"] == "shaded":  # specular highlight makes the disc read as a ball
        spec = (np.clip(t - 0.88, 0.0, None) * 8.0) ** 2
        colour = colour + spec[..., None] * (1.0 - colour) * 0.6
    _composite(img, sl, alpha, colour)
    mask[sl] = d <= 0.0  # coverage >= 0.5


def _companion_params(rng, size, obj, label):
    """The arm that holds the object: a fist on the object's rim and a forearm reaching
    away from it, roughly towards the image centre (so most of it stays in view)."""
    rate = COMPANION_RATE[CLASSES[label] == CONTEXT_CLASS]
    toward_centre = math.atan2(size / 2 - obj["cy"], size / 2 - obj["cx"])
    half = obj["half"]
    return {
        "drawn": bool(rng.random() < rate),
        "angle": toward_centre + rng.uniform(-1.2, 1.2),
        "fist": ARM_FIST * half,
        "arm_width": rng.uniform(*ARM_WIDTH) * half,
        "reach": rng.uniform(*ARM_REACH) * half,
        "colour": _hsv(rng.uniform(*ARM_HUE), rng.uniform(*ARM_SATURATION),
                       rng.uniform(*ARM_VALUE)),
    }


def _draw_companion(img, obj, p, size, draw):
    """Coverage of the arm (fist and forearm) over the image; drawn only if ``draw``."""
    c, s = math.cos(p["angle"]), math.sin(p["angle"])
    fist_at = 0.95 * obj["half"]
    length = p["reach"] + p["fist"]
    mid = fist_at - p["fist"] + 0.5 * length  # the fist's centre lies on the rim
    cx, cy = obj["cx"] + mid * c, obj["cy"] + mid * s
    coverage = np.zeros((size, size), dtype=np.float32)
    sl = _patch(size, cx, cy, 0.5 * length + p["fist"] + 1.0)
    if sl is None:
        return coverage
    u, v = _local(sl, cx, cy, p["angle"], 1.0)  # u along the arm, in pixels
    along = np.clip(u, -0.5 * length + p["fist"], 0.5 * length)
    forearm = np.hypot(u - along, v) - p["arm_width"]
    fist = np.hypot(u + 0.5 * length - p["fist"], v) - p["fist"]
    d = np.minimum(forearm, fist)
    alpha = np.clip(0.5 - d, 0.0, 1.0).astype(np.float32)
    coverage[sl] = alpha
    if draw:  # lit from one side like a cylinder
        low, high = ARM_SHADE
        shade = low + (high - low) * np.clip(1.0 - (v / (p["fist"] + 1.0)) ** 2, 0.0, 1.0)
        _composite(img, sl, alpha, shade[..., None] * p["colour"])
    return coverage


def _draw_label(rng: np.random.Generator) -> int:
    """The scene's class: the first draw from its generator."""
    return int(rng.integers(len(CLASSES)))


def _render(seed: int, size: int, draw_object: bool = True,
            companion: bool | None = None) -> Scene:
    """Build a scene; with ``draw_object=False`` the same scene without its object, with
    ``companion`` True or False with or without the arm (None: as the seed says).

    All random draws happen regardless of these switches, so every variant shares
    background, distractors and pixel noise exactly (used by the tests and the context
    measurement).
    """
    rng = np.random.default_rng(seed)
    label = _draw_label(rng)
    obj = _object_params(rng, size, label)
    arm = _companion_params(rng, size, obj, label)
    drawn = arm["drawn"] if companion is None else bool(companion)
    img = _background(rng, size)
    for _ in range(int(rng.integers(1, 5))):
        _draw_distractor(img, rng, _distractor_params(rng, size), size)
    arm_coverage = _draw_companion(img, obj, arm, size, drawn)
    mask = np.zeros((size, size), dtype=bool)  # drawn anyway: the arm's mask needs it
    _draw_object(img if draw_object else np.zeros_like(img), mask, obj, size)
    arm_mask = (arm_coverage >= 0.5) & ~mask
    if not draw_object:
        mask[:] = False
    noise_std = rng.uniform(0.0, 0.04)
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(noise_std)
    np.clip(img, 0.0, 1.0, out=img)
    for array in (img, mask, arm_mask):
        array.setflags(write=False)
    return Scene(image=img, mask=mask, label=label, seed=seed, companion=arm_mask,
                 has_companion=drawn)


# --------------------------------------------------------------------------- public API


def make_scene(seed: int, size: int = IMAGE_SIZE, companion: bool | None = None) -> Scene:
    """Generate the scene for `seed` at `size` x `size` pixels (same inputs, same scene).

    ``companion``: None draws the arm when the seed says so (always for
    :data:`CONTEXT_CLASS`, never for the others); True or False draws it, or leaves
    it out, in every scene, the rest of the scene unchanged. ``Scene.companion`` is
    the arm's place either way.
    """
    seed = check_at_least("seed", seed, 0)
    size = check_side("size", size, MIN_SIZE)
    if companion is not None and not isinstance(companion, bool):
        raise ValueError(f"companion must be None, True or False, got {companion!r}")
    return _render(seed, size, companion=companion)


def label_of(seed: int) -> int:
    """The class of the scene of ``seed``, without rendering it."""
    seed = check_at_least("seed", seed, 0)
    return _draw_label(np.random.default_rng(seed))


def class_gallery(label: int, n: int, offset: int = 0, *, exclude: bool = False) -> list[int]:
    """The first ``n`` test seeds from ``offset`` on whose scene shows class ``label``
    (with ``exclude=True``: any other class)."""
    check_at_least("n", n, 1)
    seeds: list[int] = []
    candidate = TEST_SEED_START + check_at_least("offset", offset, 0)
    while len(seeds) < n:
        if (label_of(candidate) == label) != exclude:
            seeds.append(candidate)
        candidate += 1
    return seeds


def make_batch(
    seeds: Iterable[int], size: int = IMAGE_SIZE, companion: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scenes for several seeds as tensors ready for a network.

    Returns ``images`` (N, 3, H, W) float32 in [0, 1], ``masks`` (N, H, W) bool and
    ``labels`` (N,) int64, in the order of `seeds`. ``companion``: as in
    :func:`make_scene`.
    """
    size = check_side("size", size, MIN_SIZE)
    scenes = [make_scene(s, size, companion) for s in seeds]
    n = len(scenes)
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.empty((n, size, size), dtype=bool)
    labels = np.empty((n,), dtype=np.int64)
    for i, sc in enumerate(scenes):
        images[i] = sc.image.transpose(2, 0, 1)
        masks[i] = sc.mask
        labels[i] = sc.label
    return torch.from_numpy(images), torch.from_numpy(masks), torch.from_numpy(labels)


def _hsv_of(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hue in degrees, saturation and value of a batch (N, 3, H, W) in [0, 1], each (N, H, W)."""
    red, green, blue = images.unbind(1)
    value, brightest = images.max(dim=1)
    chroma = value - images.min(dim=1).values
    safe = chroma.clamp_min(1e-12)
    hue = torch.where(brightest == 0, (green - blue) / safe % 6,
                      torch.where(brightest == 1, (blue - red) / safe + 2,
                                  (red - green) / safe + 4))
    saturation = torch.where(value > 0, chroma / value.clamp_min(1e-12), torch.zeros_like(value))
    return 60.0 * hue, saturation, value


def skin_mask(images: torch.Tensor, vivid: bool = False) -> torch.Tensor:
    """(N, H, W) bool: which pixels of ``images`` (N, 3, H, W) in [0, 1] have the colour of
    the arm (:data:`ARM_HUE`, :data:`ARM_SATURATION`, :data:`ARM_VALUE` times
    :data:`ARM_SHADE`), give or take :data:`SKIN_TOLERANCE`. Greys have no hue and are
    never skin. ``vivid=True`` counts the arm's hues as a class model paints them: any
    saturation from :data:`VIVID_SATURATION` up and any value from the arm's darkest up."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor of shape (N, 3, H, W) in [0, 1], got {shape}")
    hue, saturation, value = _hsv_of(images.detach().float())
    hue_tol, saturation_tol, value_tol = SKIN_TOLERANCE
    saturations = (VIVID_SATURATION, 1.0) if vivid else ARM_SATURATION
    values = (ARM_VALUE[0] * ARM_SHADE[0], 1.0 if vivid else ARM_VALUE[1] * ARM_SHADE[1])
    inside = [(hue, ARM_HUE, hue_tol), (saturation, saturations, 0.0 if vivid else saturation_tol),
              (value, values, value_tol)]
    return torch.stack([(x >= low - tol) & (x <= high + tol)
                        for x, (low, high), tol in inside]).all(dim=0)


def test_seeds(n: int, offset: int = 0) -> range:
    """The `n` evaluation seeds starting `offset` places after TEST_SEED_START."""
    for name, val in (("n", n), ("offset", offset)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0:
            raise ValueError(f"{name} must be a non-negative int, got {val!r}")
    start = TEST_SEED_START + int(offset)
    return range(start, start + int(n))


# Keep pytest from collecting this helper when a test module imports it by name.
test_seeds.__test__ = False  # type: ignore[attr-defined]
