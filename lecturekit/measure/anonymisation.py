"""Does keeping only a deep layer anonymise an image? The lecture's warning, measured.

Mahendran & Vedaldi (2015) reconstruct images from a layer's activations alone.
If a layer hid the image, a reconstruction would be no closer to its own
original than to other images of the same kind. The test here: reconstruct a
gallery of scenes of *one class* (so naming the class does not help), compare
every reconstruction with every original by where their edges are
(:func:`layout_correlation`), and count how often the best match is the
reconstruction's own original (:func:`reidentification_rate`; chance is one in
the gallery's size). Edges, not colours: the toy network is trained on shapes
whose colours are random, and it keeps little colour beyond its first layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from lecturekit import photo_scenes, scenes
from lecturekit.examples import SEED_OFFSETS
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.inversion import invert_layers
from lecturekit.filters import spatial_differences

__all__ = ["PHOTO_GALLERY_OFFSET", "all_pairs", "anonymisation_claims", "layout_correlation",
           "photo_anonymisation", "photo_gallery", "reidentification_rate"]

LAYOUT_BLOCKS = 8
"""The layout is the edge energy averaged over LAYOUT_BLOCKS x LAYOUT_BLOCKS blocks."""


def layout_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per pair of images (N, 3, H, W), the correlation of their edge layouts: the squared
    differences between neighbouring pixels of the grey image, averaged over 8 x 8 blocks,
    the mean removed."""
    def layout(x: torch.Tensor) -> torch.Tensor:
        right, down = spatial_differences(x.mean(dim=1, keepdim=True))
        edges = right ** 2 + down ** 2
        edges = torch.nn.functional.adaptive_avg_pool2d(edges, LAYOUT_BLOCKS).flatten(1)
        edges = edges - edges.mean(dim=1, keepdim=True)
        return edges / edges.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (layout(a) * layout(b)).sum(1)


def all_pairs(score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
              reconstructions: torch.Tensor, originals: torch.Tensor) -> torch.Tensor:
    """``matrix[i, j]``: ``score`` of reconstruction ``i`` against original ``j``."""
    n = originals.shape[0]
    return torch.stack([score(reconstructions[i:i + 1].expand(n, -1, -1, -1), originals)
                        for i in range(reconstructions.shape[0])])


def reidentification_rate(reconstructions: torch.Tensor, originals: torch.Tensor) -> float:
    """Fraction of reconstructions whose best-correlated original (by layout) is their own."""
    best = all_pairs(layout_correlation, reconstructions, originals).argmax(1)
    return float((best == torch.arange(len(best))).float().mean())


def anonymisation_claims(model: LayeredNetwork, layers: Sequence[str] | None = None,
                         per_class: int = 8, steps: int = 100, seed: int = 0) -> dict[str, float]:
    """Per layer, the re-identification rate within a class: for each of the toy's
    classes a gallery of ``per_class`` fresh scenes of that class is inverted from the
    layer (the kit's default recipe, ``steps`` steps), and the rate is averaged over the
    classes. Default layers: the early lecture layer, the last convolutional block's
    output and the class scores."""
    if layers is None:
        layers = [model.lecture_layers.early, model.lecture_layers.last_conv, model.output_layer]
    galleries = [scenes.class_gallery(label, per_class) for label in range(len(model.classes))]
    images, _, _ = scenes.make_batch([s for gallery in galleries for s in gallery],
                                     size=model.input_size)
    results = invert_layers(model, model.preprocess.normalise(images), layers, steps=steps,
                            seed=seed, progress=False)
    return _rates(results, per_class)


def _rates(results: dict, per_gallery: int) -> dict[str, float]:
    """Per layer, the re-identification rate within each gallery of ``per_gallery``
    consecutive images, averaged over the galleries."""
    claims = {}
    for name, result in results.items():
        count = result.image01.shape[0]
        rates = [reidentification_rate(result.image01[k:k + per_gallery],
                                       result.original01[k:k + per_gallery])
                 for k in range(0, count, per_gallery)]
        claims[name] = sum(rates) / len(rates)
    return claims


PHOTO_GALLERY_OFFSET = SEED_OFFSETS["photo galleries (anonymisation)"]
"""The photo galleries' seeds start here, apart from the photo scenes of the localisation."""


def photo_gallery(name: str, n: int = 8, size: int = 160, offset: int = 0) -> torch.Tensor:
    """``n`` photo scenes (N, 3, size, size) in [0, 1] of the same object ``name`` (a key of
    :data:`lecturekit.photo_scenes.PHOTO_OBJECTS`): the class alone cannot tell them
    apart; size, place, flip and background differ."""
    seeds = photo_scenes.photo_seeds(n, PHOTO_GALLERY_OFFSET + offset)
    return photo_scenes.make_photo_batch(seeds, size, names=[name])[0]


def photo_anonymisation(model: LayeredNetwork, layers: Sequence[str] | None = None,
                        objects: Sequence[str] = ("cat", "espresso"), per_gallery: int = 8,
                        size: int = 160, steps: int = 100, seed: int = 0) -> dict[str, float]:
    """The same test on photo scenes for an ImageNet network: for each object of
    ``objects`` a gallery of ``per_gallery`` scenes of that object (:func:`photo_gallery`)
    is inverted from each layer (default: all of the model's; the kit's default recipe,
    ``steps`` steps, at ``size`` pixels) and re-identified by layout; per layer the rate
    averaged over the galleries (chance: one in ``per_gallery``)."""
    images = torch.cat([photo_gallery(name, per_gallery, size) for name in objects])
    results = invert_layers(model, model.preprocess.normalise(images), layers, steps=steps,
                            seed=seed, progress=False)
    return _rates(results, per_gallery)
