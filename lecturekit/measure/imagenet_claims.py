"""The lecture's claims on a real ImageNet network, measured on photos and classes.

The measurements of ``python -m lecturekit evaluate --model efficientnet-lite0``:

* :func:`photo_predictions`: what the network sees in the sample photos (its
  top-3 classes), the check that its weights and normalisation are right;
* :func:`class_model_table`: class models (Simonyan et al. 2014) by each recipe
  of :data:`~lecturekit.optimise.class_model.CLASS_MODEL_RECIPES`, rated by the
  network itself and by an independent judge, another ImageNet network
  (EfficientNet-Lite1): a class model the judge also recognises is an image of
  the class, not an adversarial pattern that only its own network reads
  (the lecture's point about transform robustness, measured);
* the inversion of a photograph at every layer
  (:func:`~lecturekit.measure.inversion_claims.inversion_claims`);
* on the photo scenes (:mod:`lecturekit.photo_scenes`), whether saliency finds a small
  object and the right one of two, and whether a layer's activations re-identify a
  photograph among others of the same object;
* the sanity checks of the gradient maps on the sample photos
  (:func:`~lecturekit.measure.sanity_checks.sanity_claims`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lecturekit.examples import CLASS_MODEL_CLASSES, EXAMPLE_PHOTOS
from lecturekit.images import sample_image
from lecturekit.models import LayeredNetwork, top_predictions
from lecturekit.measure.sanity_checks import sanity_claims
from lecturekit.optimise.class_model import CLASS_MODEL_RECIPES, class_model

__all__ = ["JUDGE_TOP", "class_model_table", "photo_predictions", "rate_images"]

JUDGE_TOP = 5
"""A judge recognises a class model when the class is among its top five."""


def photo_predictions(model: LayeredNetwork, names: Sequence[str] = EXAMPLE_PHOTOS,
                      k: int = 3) -> dict[str, list[str]]:
    """The ``k`` most probable classes of each sample photo."""
    batch = model.preprocess([sample_image(name) for name in names])
    return {name: [p.name for p in row]
            for name, row in zip(names, top_predictions(model, batch, k))}


@torch.no_grad()
def rate_images(model: LayeredNetwork, images01: torch.Tensor, classes: Sequence[int],
                top: int | None = None) -> torch.Tensor:
    """Each image's probability of its class under ``model`` (images resized to its input
    size), or with ``top``, whether the class is among its ``top`` most probable."""
    size = model.input_size
    images = F.interpolate(images01.to(model.device), size=(size, size), mode="bilinear",
                           align_corners=False, antialias=True).clamp(0, 1)
    probs = torch.softmax(model(model.preprocess.normalise(images)), dim=1).cpu()
    index = torch.tensor(list(classes))
    if top is None:
        return probs[torch.arange(len(index)), index]
    return (probs.topk(top, dim=1).indices == index[:, None]).any(dim=1)


def class_model_table(model: LayeredNetwork, judge: LayeredNetwork,
                      classes: Sequence[str] = CLASS_MODEL_CLASSES,
                      recipes: Sequence[str] = tuple(CLASS_MODEL_RECIPES), *,
                      size: int = 192, seed: int = 0,
                      progress: bool = False) -> dict[str, dict[str, dict[str, Any]]]:
    """Per recipe and class: ``probability`` (of the class-model image under ``model``, at
    its input size) and ``judge_top5`` (whether ``judge`` puts the class in its top five).
    All classes of a recipe are optimised in one batch at ``size`` pixels."""
    indices = [model.class_index(name, "classes") for name in classes]
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for recipe in recipes:
        result = class_model(model, indices, recipe=recipe, size=size, seed=seed,
                             progress=progress)
        probability = rate_images(model, result.image01, indices)
        judged = rate_images(judge, result.image01,
                             [judge.class_index(name, "classes") for name in classes],
                             top=JUDGE_TOP)
        table[recipe] = {name: {"probability": float(p), "judge_top5": bool(j)}
                         for name, p, j in zip(classes, probability, judged)}
    return table


IMAGENET_EVALUATIONS: tuple[str, ...] = ("photos", "class_model", "inversion",
                                         "photo_localisation", "photo_anonymisation",
                                         "sanity", "caveats")
"""What ``evaluate`` measures on a network trained on ImageNet."""

INVERSION_STEPS = 300
"""Steps of the kit's default recipe for ``evaluate``'s inversion of a photograph. The
sparse ReLU6 output of EfficientNet-Lite0's ``head`` (about 6 % of its units on for the
cat) sits on a plateau near feature error 0.9 for some 200 steps and then falls: measured
on the cat at 224 px, 0.66 / 0.64 / 0.60 after 100 / 150 / 200 steps and 0.046-0.063 after
300 over three seeds; every other layer is below 0.08 after 100. Run channels-last (other
rounding, another path through the plateau): 0.58 after 100, 0.074-0.100 after 300. With
the pyramid recipe (``"kit-pyramid"``, 2026-12-01, seeds 0-2): 0.25-0.53 after 100,
0.045-0.126 after 200, 0.024-0.047 after 300."""


def evaluate_imagenet(model: LayeredNetwork, keys: Sequence[str] = IMAGENET_EVALUATIONS,
                      judge: LayeredNetwork | None = None) -> dict[str, Any]:
    """The claims on an ImageNet network: ``"photos"`` (:func:`photo_predictions`),
    ``"class_model"`` (the kit's default recipe: per class its probability and the judge's
    verdict) with ``"class_model_recipes"`` (every recipe, with counts), and
    ``"inversion"`` (the cat photograph inverted at every layer with
    :data:`INVERSION_STEPS` steps, with ``"depth_ssim_spearman"``; the steps are reported
    as ``"inversion_steps"``), ``"photo_localisation"`` (the pointing game and the
    two-object test on photo scenes, :mod:`lecturekit.measure.photo_localisation`),
    ``"photo_anonymisation"`` (re-identification of photo scenes of one object from
    each layer, :func:`~lecturekit.measure.anonymisation.photo_anonymisation`) and
    ``"sanity"`` (the sanity checks on the four sample photos of
    :func:`~lecturekit.examples.lecture_example`, the cat explained as "tabby", the
    others by the network's first guess) and ``"caveats"`` (what transform robustness
    takes away and what a learned prior puts in, :mod:`lecturekit.measure.caveats`). ``judge``
    defaults to EfficientNet-Lite1."""
    from lecturekit.examples import inversion_image, lecture_example
    from lecturekit.measure.inversion_claims import inversion_claims
    from lecturekit.models import load_model

    results: dict[str, Any] = {"model": model.name}
    if "photos" in keys:
        results["photos"] = photo_predictions(model)
    if "class_model" in keys:
        judge = load_model("efficientnet-lite1", device=model.device,
                           verbose=False) if judge is None else judge
        table = class_model_table(model, judge)
        results["class_model"] = table["robust-fourier"]
        results["class_model_recipes"] = {
            recipe: {"probability_at_least_0.9": sum(v["probability"] >= 0.9
                                                     for v in rows.values()),
                     "judge_top5": sum(v["judge_top5"] for v in rows.values()),
                     "classes": len(rows)}
            for recipe, rows in table.items()}
    if "inversion" in keys:
        results["inversion"] = inversion_claims(model, inversion_image(model),
                                                steps=INVERSION_STEPS)
        results["inversion_steps"] = INVERSION_STEPS
    if "photo_localisation" in keys:
        from lecturekit.measure.photo_localisation import photo_localisation
        results["photo_localisation"] = photo_localisation(model)
    if "photo_anonymisation" in keys:
        from lecturekit.measure.anonymisation import photo_anonymisation
        results["photo_anonymisation"] = photo_anonymisation(model)
    if "sanity" in keys:
        example = lecture_example(model, n=len(EXAMPLE_PHOTOS))
        results["sanity"] = sanity_claims(model, example.batch, example.labels)
    if "caveats" in keys:
        from lecturekit.measure.caveats import caveat_claims
        results["caveats"] = caveat_claims(model)
    return results
