"""A photo world with ground truth: objects cut from the shipped photos, pasted by seed.

The lecture's photo claims (a saliency map "localises the dog", the top-9 view over many
images, "keep only layer 5 and nobody can reconstruct the input") need more than the
handful of photos that ship with scikit-image and matplotlib, each one object filling
its frame. A photo scene is a *composite*: one or two objects, each a crop of a shipped
photo that an ImageNet network names on its own (:data:`PHOTO_OBJECTS`, with the class
EfficientNet-Lite0 gives the crop alone), scaled down and pasted at a seeded place,
away from the centre, onto a shipped texture (grass, gravel or brick, tinted and cut at
random). Each object's box and class come with the scene, so whether a map points at
the object, or at the other one, can be counted.

Composites are not photographs: the object's edge is a soft cut, the background is a
texture the object was never seen on, and the same few photos repeat at other sizes and
places. They test what a network does with an object it recognises in an unusual place,
which is what the lecture's localisation claim is about; they say nothing about how
often real photographs look like this.

Everything follows from the seed (same seed, same pixels), like the toy's
:mod:`lecturekit.scenes`. Only torch, NumPy and the kit's image loading are used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from lecturekit.images import sample_image
from lecturekit.validation import check_choice, check_int, check_seed, check_side

__all__ = ["BACKGROUNDS", "PHOTO_OBJECTS", "PhotoObject", "PhotoScene", "PlacedObject",
           "SIZE", "make_photo_batch", "make_photo_scene", "object_boxes_mask",
           "photo_seeds"]

SIZE = 224
"""Side of a photo scene in pixels: an ImageNet network's input size."""


@dataclass(frozen=True)
class PhotoObject:
    """An object of the photo world: a crop ``box`` (left, top, right, bottom, in the
    source photo's pixels) of the sample image ``source``, the ImageNet class that
    EfficientNet-Lite0 gives the crop alone, and the range of its pasted size
    (``side``: its longer side as a fraction of the scene's side)."""
    source: str
    box: tuple[int, int, int, int]
    imagenet_class: str
    side: tuple[float, float]


PHOTO_OBJECTS: dict[str, PhotoObject] = {
    "cat": PhotoObject("chelsea", (40, 0, 400, 300), "Egyptian cat", (0.30, 0.42)),
    "espresso": PhotoObject("coffee", (150, 10, 470, 250), "espresso", (0.32, 0.45)),
    "tripod": PhotoObject("camera", (80, 80, 450, 512), "tripod", (0.42, 0.52)),
    "moped": PhotoObject("motorcycle", (40, 170, 710, 490), "moped", (0.55, 0.65)),
}
"""The objects, by name. Each crop alone is named first by EfficientNet-Lite0 (Egyptian
cat 0.67, espresso 0.96, tripod 0.95, moped 0.34) and, pasted at its ``side``, among its
top five in most scenes (``evaluate``'s ``photo_localisation`` counts how many). Crops
of the rocket, the space shuttle and Grace Hopper's uniform were tried and left out:
pasted small, the network no longer named them at all (0 of 12 scenes each)."""

BACKGROUNDS: dict[str, tuple[float, float, float]] = {
    "grass": (0.55, 0.85, 0.35),
    "gravel": (0.85, 0.80, 0.70),
    "brick": (0.95, 0.55, 0.45),
}
"""The textures (scikit-image's greyscale grass, gravel and brick) and the colour each is
tinted with (RGB factors; each scene varies them a little)."""

MIN_CENTRE_DISTANCE = 0.28
"""Each object's centre lies at least this fraction of the side away from the scene's
centre (objects off the centre, so that a centre bias does not find them)."""
FEATHER = 0.12
"""Half-width of the soft cut at the object's edge, as a fraction of the object's half
size along each axis."""


@dataclass(frozen=True)
class PlacedObject:
    """One object in a scene: its ``name`` (a key of :data:`PHOTO_OBJECTS`), its ImageNet
    class, and its ``box`` in the scene (top, left, bottom, right; bottom and right
    exclusive): the pixels where the object shows at more than half strength."""
    name: str
    imagenet_class: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class PhotoScene:
    """One composite: ``image`` (3, H, W) float32 in [0, 1], its ``objects``, the
    ``background`` texture and the ``seed`` it was drawn from."""
    image: torch.Tensor
    objects: tuple[PlacedObject, ...]
    background: str
    seed: int


# --------------------------------------------------------------------------- sources

@lru_cache(maxsize=None)
def _texture(name: str) -> torch.Tensor:
    """The greyscale texture ``name`` as (1, H, W) in [0, 1]."""
    return sample_image(name).mean(dim=0, keepdim=True)


@lru_cache(maxsize=None)
def _object_pixels(name: str) -> torch.Tensor:
    """The crop of the object ``name`` as (3, h, w) in [0, 1]."""
    entry = PHOTO_OBJECTS[name]
    left, top, right, bottom = entry.box
    return sample_image(entry.source)[:, top:bottom, left:right].contiguous()


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(image[None], size=(height, width), mode="bilinear", antialias=True,
                         align_corners=False)[0]


# --------------------------------------------------------------------------- drawing

def _background(rng: np.random.Generator, size: int,
                forced: str | None = None) -> tuple[str, torch.Tensor]:
    """A tinted, randomly cut and flipped texture of ``size`` x ``size`` pixels; ``forced``
    names the texture instead of the seed (the seed's draw is still made, so that cut,
    tint and places stay those of the seed)."""
    drawn = str(rng.choice(list(BACKGROUNDS)))
    name = drawn if forced is None else forced
    texture = _texture(name)
    side = int(rng.integers(size, texture.shape[-1] + 1))
    top = int(rng.integers(0, texture.shape[-2] - side + 1))
    left = int(rng.integers(0, texture.shape[-1] - side + 1))
    patch = _resize(texture[:, top:top + side, left:left + side], size, size)
    if rng.random() < 0.5:
        patch = patch.flip(-1)
    contrast, brightness = rng.uniform(0.6, 1.0), rng.uniform(-0.1, 0.1)
    grey = ((patch - patch.mean()) * contrast + patch.mean() + brightness).clamp(0, 1)
    tint = torch.tensor(BACKGROUNDS[name]) * torch.from_numpy(rng.uniform(0.9, 1.1, 3))
    return name, (grey * tint.float().view(3, 1, 1)).clamp(0, 1)


def _soft_mask(height: int, width: int) -> torch.Tensor:
    """A rounded cut-out (superellipse, exponent 4) with a soft edge, (h, w) in [0, 1]."""
    ys = (torch.arange(height) + 0.5) / height * 2 - 1
    xs = (torch.arange(width) + 0.5) / width * 2 - 1
    radius = (ys.view(-1, 1).abs() ** 4 + xs.view(1, -1).abs() ** 4) ** 0.25
    return ((1 - radius) / (2 * FEATHER) + 0.5).clamp(0, 1)


def _place(rng: np.random.Generator, size: int, height: int, width: int,
           taken: Sequence[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    """A top-left corner for an object of ``height`` x ``width``: inside the scene, its
    centre off the scene's centre, its box clear of the ``taken`` boxes (with a gap)."""
    gap = size // 16
    for _ in range(200):
        top = int(rng.integers(0, size - height + 1))
        left = int(rng.integers(0, size - width + 1))
        centre = (top + height / 2 - size / 2, left + width / 2 - size / 2)
        if math.hypot(*centre) < MIN_CENTRE_DISTANCE * size:
            continue
        if all(top + height + gap <= t or b + gap <= top or left + width + gap <= l
               or r + gap <= left for t, l, b, r in taken):
            return top, left
    return None


def _paste(image: torch.Tensor, name: str, rng: np.random.Generator,
           taken: list[tuple[int, int, int, int]]) -> PlacedObject | None:
    """Paste the object ``name`` at a seeded size and place; its box, or None if it fits
    nowhere."""
    size = image.shape[-1]
    pixels = _object_pixels(name)
    if rng.random() < 0.5:
        pixels = pixels.flip(-1)
    longer = rng.uniform(*PHOTO_OBJECTS[name].side) * size
    corner = None
    while corner is None and longer >= size / 8:  # no room: try it smaller
        scale = longer / max(pixels.shape[-2:])
        height, width = (max(8, round(s * scale)) for s in pixels.shape[-2:])
        corner = _place(rng, size, height, width, taken)
        longer *= 0.9
    if corner is None:
        return None
    top, left = corner
    alpha = _soft_mask(height, width)
    region = image[:, top:top + height, left:left + width]
    region.mul_(1 - alpha).add_(alpha * _resize(pixels, height, width).clamp(0, 1))
    rows, cols = torch.nonzero(alpha > 0.5, as_tuple=True)
    box = (top + int(rows.min()), left + int(cols.min()), top + int(rows.max()) + 1,
           left + int(cols.max()) + 1)
    taken.append((top, left, top + height, left + width))
    return PlacedObject(name, PHOTO_OBJECTS[name].imagenet_class, box)


def make_photo_scene(seed: int, size: int = SIZE, n_objects: int = 1,
                     names: Sequence[str] | None = None,
                     background: str | None = None) -> PhotoScene:
    """The photo scene of ``seed``: ``n_objects`` (1 or 2) objects of different classes on
    a textured background, ``size`` x ``size`` pixels. ``names`` picks the objects (keys
    of :data:`PHOTO_OBJECTS`) and ``background`` the texture (a key of
    :data:`BACKGROUNDS`) instead of the seed; places, sizes, cut and tint still follow
    the seed."""
    check_seed(seed)
    size = check_side("size", size, 64)
    check_int("n_objects", n_objects, "1 or 2", lambda n: n in (1, 2))
    if background is not None:
        check_choice("background", background, BACKGROUNDS)
    rng = np.random.default_rng(seed)
    if names is None:
        names = _draw_names(rng, n_objects)
    else:
        names = [check_choice("names", name, PHOTO_OBJECTS) for name in names]
        check_int("len(names)", len(names), f"equal to n_objects={n_objects}",
                  lambda n: n == n_objects)
    background, image = _background(rng, size, background)
    taken: list[tuple[int, int, int, int]] = []
    placed = []
    for name in names:
        found = _paste(image, name, rng, taken)
        if found is None:
            raise ValueError(f"photo scene {seed}: no room for {name!r} at size={size}; "
                             f"use a larger size")
        placed.append(found)
    return PhotoScene(image, tuple(placed), background, seed)


def _draw_names(rng: np.random.Generator, n_objects: int) -> list[str]:
    """``n_objects`` object names whose ImageNet classes differ."""
    names = list(PHOTO_OBJECTS)
    first = str(rng.choice(names))
    if n_objects == 1:
        return [first]
    others = [n for n in names if PHOTO_OBJECTS[n].imagenet_class !=
              PHOTO_OBJECTS[first].imagenet_class]
    return [first, str(rng.choice(others))]


def make_photo_batch(seeds: Iterable[int], size: int = SIZE, n_objects: int = 1,
                     names: Sequence[str] | None = None,
                     background: str | None = None) -> tuple[torch.Tensor, list[PhotoScene]]:
    """The scenes of ``seeds`` as a batch (N, 3, size, size) in [0, 1], with the scenes
    (their objects and boxes); ``names`` and ``background`` as in :func:`make_photo_scene`,
    for every scene."""
    made = [make_photo_scene(seed, size, n_objects, names, background) for seed in seeds]
    if not made:
        raise ValueError("seeds is empty; give at least one seed")
    return torch.stack([scene.image for scene in made]), made


def photo_seeds(n: int, offset: int = 0) -> list[int]:
    """``n`` seeds of photo scenes, from ``offset`` on (the photo world has no training
    set: every seed is fresh for every network)."""
    check_int("n", n, ">= 1", lambda v: v >= 1)
    check_int("offset", offset, ">= 0", lambda v: v >= 0)
    return list(range(offset, offset + n))


def object_boxes_mask(box: tuple[int, int, int, int], size: int) -> torch.Tensor:
    """A (size, size) bool mask that is True inside ``box`` (top, left, bottom, right)."""
    top, left, bottom, right = box
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top:bottom, left:right] = True
    return mask
