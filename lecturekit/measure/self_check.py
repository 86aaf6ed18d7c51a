"""A teacher's check before the lecture: does each method do on this network what the
notebooks say it does? ``python -m lecturekit doctor --deep [--model NAME]``.

Each claim runs its method briefly on the chosen network and compares one number with a
floor; together they take about a minute on a 2-core laptop. The claims that need a
trained network (the network names what it sees, saliency points at the object, a second
network recognises the class model) must fail on a network with random weights
(``alexnet-random``), which is how the check itself is tested: it can fail.

On an ImageNet network the images are the photo world's composites
(:mod:`lecturekit.photo_scenes`) and the sample photographs; on the toy network its own
scenes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lecturekit import scenes
from lecturekit.examples import photo_example, scene_example
from lecturekit.gradient.saliency import saliency_map
from lecturekit.measure.class_model_claims import transformed_probability
from lecturekit.measure.imagenet_claims import rate_images
from lecturekit.measure.localisation import POINTING_TOLERANCE, pointing_game, sparsity
from lecturekit.measure.photo_localisation import PHOTO_TOLERANCE, where_maps_land
from lecturekit.models import LayeredNetwork, load_model
from lecturekit.photo_scenes import object_boxes_mask
from lecturekit.optimise.class_model import class_model
from lecturekit.optimise.deepdream import deepdream
from lecturekit.optimise.inversion import invert_layers

__all__ = ["Claim", "deep_check"]


@dataclass(frozen=True)
class Claim:
    """One line of the check: what was claimed, the number measured, the floor it needed."""
    name: str
    value: float
    floor: float
    unit: str = ""

    @property
    def passed(self) -> bool:
        return self.value >= self.floor

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return (f"{verdict}  {self.name}: {self.value:.3g}{self.unit} "
                f"(needs >= {self.floor:g}{self.unit})")


def _imagenet(model: LayeredNetwork) -> bool:
    return len(model.classes) == 1000


def _sees(model: LayeredNetwork) -> Claim:
    """The network names what it sees: among its top 5 of 1000 classes in composites, first
    of its 8 classes in the toy's scenes."""
    imagenet = _imagenet(model)
    example = photo_example(model, 16) if imagenet else scene_example(model, 32)
    top = 5 if imagenet else 1
    with torch.no_grad():
        best = model(example.batch.to(model.device)).topk(top, dim=1).indices.cpu()
    share = float((best == example.labels[:, None]).any(dim=1).float().mean())
    what = "fresh composites among its top 5" if imagenet else "fresh scenes first"
    return Claim(f"names the object of {what}", share, 0.5 if imagenet else 0.8)


def _points(model: LayeredNetwork) -> Claim:
    """Saliency points at the object of the class asked for. On an ImageNet network a
    random network's map points at a pasted object too (its edges stand out), so the
    claim is the two-object test: the map for each object's class lands on that object
    rather than on the other. On the toy, the pointing game on the classes told by their
    shape alone: the hexagon's evidence is its arm and the disc's the arm it lacks
    (:data:`lecturekit.scenes.CONTEXT_CLASS`, :data:`lecturekit.scenes.CONTEXT_LOOKALIKE`),
    so their maps rightly point beside the object. An untrained toy scores about 0.63 on
    all scenes; the trained one 0.74 on the shape-only scenes among these 60."""
    if not _imagenet(model):
        example = scene_example(model, 60)
        shape_only = torch.tensor([model.classes[label] not in
                                   (scenes.CONTEXT_CLASS, scenes.CONTEXT_LOOKALIKE)
                                   for label in example.labels.tolist()])
        maps = saliency_map(model, example.batch[shape_only], example.labels[shape_only]).cpu()
        hits = float(pointing_game(maps, example.masks[shape_only],
                                   POINTING_TOLERANCE).float().mean())
        return Claim("the saliency map points at the object (classes told by their shape)",
                     hits, 0.7)
    example = photo_example(model, 6, n_objects=2)
    size = model.input_size
    margins = []
    for which in (0, 1):
        labels = torch.tensor([model.class_index(o[which].imagenet_class)
                               for o in example.objects])
        own, other = (torch.stack([object_boxes_mask(o[k].box, size) for o in example.objects])
                      for k in (which, 1 - which))
        landed = where_maps_land(saliency_map(model, example.batch, labels).cpu(), own, other,
                                 PHOTO_TOLERANCE)
        margins.append(landed["on_own"].float().mean() - landed["on_other"].float().mean())
    return Claim("the saliency map of each object's class lands on it, not on the other "
                 "object (share on its own minus on the other)", float(sum(margins) / 2), 0.3)


def _rules(model: LayeredNetwork) -> Claim:
    """Guided backprop is sparser than the plain gradient (the rules differ as they should)."""
    example = photo_example(model, 4) if _imagenet(model) else scene_example(model, 4)
    plain = saliency_map(model, example.batch, example.labels).cpu()
    guided = saliency_map(model, example.batch, example.labels, rule="guided").cpu()
    ratio = float(sparsity(guided).mean() / sparsity(plain).mean().clamp_min(1e-12))
    return Claim("guided backprop is sparser than the plain gradient (ratio)", ratio, 1.1)


def _class_model(model: LayeredNetwork) -> Claim:
    """A class model is an image of its class: a second network recognises it (ImageNet),
    or it keeps its class when moved (the toy)."""
    if _imagenet(model):
        classes = ["goldfish", "volcano"]
        result = class_model(model, classes, steps=60, progress=False)
        judge = load_model("efficientnet-lite1", device=model.device, verbose=False)
        judged = rate_images(judge, result.image01, result.classes, top=5)
        return Claim("a second network (EfficientNet-Lite1) recognises class models "
                     "(share of 2, top 5)", float(judged.float().mean()), 0.5)
    result = class_model(model, [0, 3], recipe="robust-pixel", steps=80, progress=False)
    moved = transformed_probability(model, result.image, result.classes, n_trials=4)
    return Claim("robust class models keep their class when moved (probability)",
                 float(moved.mean()), 0.5)


def _inversion(model: LayeredNetwork) -> Claim:
    """Two layers are inverted within a small feature error."""
    image = (photo_example(model, 1, size=128) if _imagenet(model)
             else scene_example(model, 1)).batch
    layers = [model.lecture_layers.early, model.lecture_layers.deep]
    results = invert_layers(model, image, layers, steps=60, progress=False)
    worst = max(float(r.feature_error.max()) for r in results.values())
    return Claim(f"inverting {' and '.join(layers)} fits the activations "
                 f"(1 - worst feature error)", 1 - worst, 0.8)


def _dream(model: LayeredNetwork) -> Claim:
    """A DeepDream step raises the layer's activation and changes the image."""
    image = (photo_example(model, 1, size=128) if _imagenet(model)
             else scene_example(model, 1)).batch
    result = deepdream(model, image, octaves=1, steps=4, progress=False)
    start, end = result.history[0]["objective"], float(result.objective.mean())
    return Claim("DeepDream raises its layer's objective (end / start)",
                 end / max(start, 1e-12), 1.05)


CHECKS: tuple[Callable[[LayeredNetwork], Claim], ...] = (
    _sees, _points, _rules, _class_model, _inversion, _dream)
"""The claims, in the lecture's order."""


def deep_check(model: LayeredNetwork, report: Callable[[str], None] = print) -> list[Claim]:
    """Run every claim of :data:`CHECKS` on ``model``, reporting each line as it is done."""
    claims = []
    for check in CHECKS:
        claim = check(model)
        report(claim.line())
        claims.append(claim)
    return claims

