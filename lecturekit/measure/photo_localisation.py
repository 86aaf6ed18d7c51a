"""Does saliency find a small object in a cluttered photograph, and the *right* object?

The lecture shows a saliency map that "localises the dog although the network was never
trained to localise" (Simonyan et al. 2014). On the kit's photo scenes
(:mod:`lecturekit.photo_scenes`: objects cut from the shipped photos, pasted small and
away from the centre onto textures, each with its box) this is counted, on a real
ImageNet network:

* **pointing game** (Zhang et al. 2016, "Top-down neural attention by excitation
  backprop"): a hit when the map's strongest pixel lies within 15 pixels of the
  object's box (their tolerance on photographs), for the saliency map (backprop) and for
  the same reduction of guided backprop's and the Deconvnet's signals; beside them the
  centre baseline (the image's centre as the point) and a random map;
* **the two-object test**: two objects of different classes in one scene; the map for
  object A's class should land on A, not on B. The share of maps on their own object,
  on the other one and elsewhere says how much each rule cares about the class asked
  for (Nie, Zhang & Patel 2018 found guided backprop and the Deconvnet nearly blind to it).
"""

from __future__ import annotations

import torch

from lecturekit import photo_scenes
from lecturekit.examples import SEED_OFFSETS
from lecturekit.measure.localisation import RULE_OF_METHOD, method_maps, pointing_game
from lecturekit.models import LayeredNetwork
from lecturekit.validation import check_at_least

__all__ = ["PHOTO_TOLERANCE", "RULE_METHODS", "photo_localisation", "photo_pointing",
           "two_object_test", "where_maps_land"]

PHOTO_TOLERANCE = 15
"""Pixels by which the strongest pixel may miss the box and still hit (Zhang et al. 2016)."""
RULE_METHODS: tuple[str, ...] = tuple(RULE_OF_METHOD)
"""The gradient maps compared: the saliency map (backprop), Deconvnet and guided backprop."""
PHOTO_BATCH = 8
"""Scenes per forward and backward pass. On EfficientNet-Lite0 8 needs half the memory of
25 (notebook 03's kernel peaks at 1637 against 3254 MiB, runs I and G of
``benchmarks/RESULTS.md``) at about the same speed and with the same rates; the memory
decides how many students share a server."""
TWO_OBJECT_OFFSET = SEED_OFFSETS["two-object photo scenes (localisation)"]
"""The two-object scenes' seeds start here, apart from the one-object scenes'."""


def _require_imagenet(model: LayeredNetwork) -> None:
    if len(model.classes) != 1000:
        raise ValueError(f"photo scenes name ImageNet classes; model {model.name!r} has "
                         f"{len(model.classes)} classes: use efficientnet-lite0 or alexnet")


def _batches(model: LayeredNetwork, seeds: list[int], n_objects: int, batch_size: int):
    """(normalised batch, scenes) of the photo scenes of ``seeds``, ``batch_size`` at a time,
    at the model's input size."""
    for start in range(0, len(seeds), batch_size):
        images01, made = photo_scenes.make_photo_batch(seeds[start:start + batch_size],
                                                       model.input_size, n_objects)
        yield model.preprocess.normalise(images01).to(model.device), made


def _box_masks(made: list[photo_scenes.PhotoScene], which: int, size: int) -> torch.Tensor:
    return torch.stack([photo_scenes.object_boxes_mask(scene.objects[which].box, size)
                        for scene in made])


def photo_pointing(model: LayeredNetwork, n_scenes: int = 100, *, offset: int = 0,
                   tolerance: int = PHOTO_TOLERANCE, batch_size: int = PHOTO_BATCH,
                   seed: int = 0) -> dict:
    """The pointing game on ``n_scenes`` one-object photo scenes (seeds from ``offset``).

    Returns, rounded to 4 decimals: per method of :data:`RULE_METHODS` and for the
    ``"centre"`` and ``"random"`` baselines, the share of hits; ``"recognised"``, the
    share of scenes whose object's class is among the network's top 5; the mean share of
    the image that the boxes cover; and ``n_scenes``. Each map explains the object's
    class (the class the network gives the object's crop alone)."""
    _require_imagenet(model)
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("batch_size", batch_size, 1)
    generator = torch.Generator().manual_seed(seed)
    hits = {method: [] for method in (*RULE_METHODS, "centre", "random")}
    recognised, areas = [], []
    size = model.input_size
    for batch, made in _batches(model, photo_scenes.photo_seeds(n_scenes, offset), 1,
                                batch_size):
        labels = torch.tensor([model.class_index(s.objects[0].imagenet_class) for s in made])
        masks = _box_masks(made, 0, size)
        areas.append(masks.flatten(1).float().mean(1))
        with torch.no_grad():
            top5 = model(batch).topk(5, dim=1).indices.cpu()
        recognised.append((top5 == labels[:, None]).any(dim=1).float())
        for method in hits:
            maps = method_maps(model, method, batch, labels, generator)
            hits[method].append(pointing_game(maps, masks, tolerance).float())
    table: dict = {method: round(float(torch.cat(values).mean()), 4)
                   for method, values in hits.items()}
    table["recognised"] = round(float(torch.cat(recognised).mean()), 4)
    table["mean_box_area"] = round(float(torch.cat(areas).mean()), 4)
    table["n_scenes"] = n_scenes
    return table


def where_maps_land(maps: torch.Tensor, own: torch.Tensor, other: torch.Tensor,
                    tolerance: int = PHOTO_TOLERANCE) -> dict[str, torch.Tensor]:
    """(N,) bool each: whether each map's strongest pixel lands ``"on_own"`` (within
    ``tolerance`` of the ``own`` mask), ``"on_other"`` (of the ``other`` mask, and not of the
    own) or ``"elsewhere"``. Exactly one is True per map."""
    on_own = pointing_game(maps, own, tolerance)
    on_other = pointing_game(maps, other, tolerance) & ~on_own
    return {"on_own": on_own, "on_other": on_other, "elsewhere": ~(on_own | on_other)}


def two_object_test(model: LayeredNetwork, n_scenes: int = 100, *,
                    offset: int = TWO_OBJECT_OFFSET, tolerance: int = PHOTO_TOLERANCE,
                    batch_size: int = PHOTO_BATCH) -> dict:
    """Where each rule's map for one object's class lands in two-object photo scenes.

    For every scene and each of its two objects, the map for that object's class is
    counted as on its own object (its strongest pixel within ``tolerance`` of the own
    box), on the other object (within ``tolerance`` of the other box and not of the own)
    or elsewhere. Returns per method of :data:`RULE_METHODS` the shares ``on_own``,
    ``on_other`` and ``elsewhere`` (over 2 x ``n_scenes`` maps, rounded to 4 decimals),
    and ``n_maps``."""
    _require_imagenet(model)
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("batch_size", batch_size, 1)
    counts = {method: {"on_own": [], "on_other": [], "elsewhere": []} for method in RULE_METHODS}
    size = model.input_size
    for batch, made in _batches(model, photo_scenes.photo_seeds(n_scenes, offset), 2,
                                batch_size):
        for which in (0, 1):
            labels = torch.tensor([model.class_index(s.objects[which].imagenet_class)
                                   for s in made])
            own, other = _box_masks(made, which, size), _box_masks(made, 1 - which, size)
            for method in RULE_METHODS:
                maps = method_maps(model, method, batch, labels, None)
                landed = where_maps_land(maps, own, other, tolerance)
                for part, hit in landed.items():
                    counts[method][part].append(hit.float())
    table: dict = {method: {part: round(float(torch.cat(values).mean()), 4)
                            for part, values in parts.items()}
                   for method, parts in counts.items()}
    table["n_maps"] = 2 * n_scenes
    return table


def photo_localisation(model: LayeredNetwork, n_scenes: int = 100) -> dict:
    """Both tests for ``evaluate``: ``{"pointing": photo_pointing(...), "two_objects":
    two_object_test(...)}`` on ``n_scenes`` scenes each."""
    return {"pointing": photo_pointing(model, n_scenes),
            "two_objects": two_object_test(model, n_scenes)}

