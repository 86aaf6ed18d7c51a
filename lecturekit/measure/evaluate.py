"""The kit's measured claims, computed on scenes the toy model never saw.

``python -m lecturekit evaluate --model toy --json`` prints :func:`evaluate`'s
dictionary. Every number is computed at call time from freshly generated scenes
(seeds from :func:`lecturekit.scenes.test_seeds`), never stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from lecturekit import scenes
from lecturekit.measure.accuracy import scene_accuracy
from lecturekit.measure.anonymisation import anonymisation_claims
from lecturekit.measure.caveats import caveat_claims
from lecturekit.measure.class_model_claims import class_model_claims
from lecturekit.measure.colour_baseline import colour_baseline_accuracy
from lecturekit.measure.context import context_claims
from lecturekit.measure.imagenet_claims import IMAGENET_EVALUATIONS, evaluate_imagenet
from lecturekit.measure.inversion_claims import inversion_claims
from lecturekit.measure.localisation import localisation_table
from lecturekit.measure.sanity_checks import SANITY_SCENES, sanity_claims
from lecturekit.models import LayeredNetwork
from lecturekit.validation import check_at_least


def evaluate(model: LayeredNetwork, n_scenes: int = 1000, localisation_scenes: int = 200,
             keys: Sequence[str] | None = None) -> dict:
    """The measured claims. On an ImageNet network those of
    :func:`~lecturekit.measure.imagenet_claims.evaluate_imagenet`; on the toy model
    ``"accuracy"`` on ``n_scenes`` fresh scenes;
    ``"colour_baseline_accuracy"``, how often the colours of the object's own pixels
    name its class (:mod:`lecturekit.measure.colour_baseline`; it reads no network);
    ``"localisation"``, how well its gradient maps find the object in
    ``localisation_scenes`` fresh scenes (:mod:`lecturekit.measure.localisation`);
    ``"class_model"``, the probability of every class's class-model image, plain and
    under transforms it was not optimised for (:mod:`lecturekit.measure.class_model_claims`);
    ``"inversion"``, per layer the relative feature error and SSIM of Mahendran &
    Vedaldi inversions of 8 fresh scenes, with the rank correlation of depth and SSIM
    (:func:`lecturekit.measure.inversion_claims.inversion_claims`);
    ``"context"``, the share of a grown class model's change where the context class's
    arm belongs and the share of new skin it paints anywhere, against other classes, and
    the share of the arm's skin colour in class models from noise of the context class,
    against the others
    (:mod:`lecturekit.measure.context`);
    ``"anonymisation"``, per layer how often an inversion picks its own scene out of
    scenes of the same class (:mod:`lecturekit.measure.anonymisation`);
    ``"sanity"``, the sanity checks of the gradient maps on :data:`SANITY_SCENES` fresh
    scenes, each explained by its true class: cascading and independent randomisation,
    class sensitivity and the edge baseline (:mod:`lecturekit.measure.sanity_checks`);
    ``"caveats"``, what transform robustness takes away (the orientation of an early map's
    optimised image under rotations up to 0, 10 and 180 degrees) and what a learned prior
    fitted on images of one kind puts into another image's inversion
    (:mod:`lecturekit.measure.caveats`). On both kinds of network."""
    valid = IMAGENET_EVALUATIONS if model.dataset == "imagenet" else EVALUATIONS
    keys = valid if keys is None else tuple(keys)
    unknown = sorted(set(keys) - set(valid))
    if unknown:
        raise ValueError(f"unknown evaluation {unknown} for model {model.name!r}; valid: "
                         f"{', '.join(valid)}")
    if model.dataset == "imagenet":
        return evaluate_imagenet(model, keys)
    if model.name != "toy":
        raise ValueError(f"evaluate measures on the toy scenes or on an ImageNet network, so "
                         f"model must be the toy model or trained on ImageNet, got "
                         f"{model.name!r}")
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("localisation_scenes", localisation_scenes, 1)
    results: dict = {"model": model.name, "n_scenes": n_scenes}
    if "accuracy" in keys:
        results["accuracy"] = scene_accuracy(model, scenes.test_seeds(n_scenes))
    if "colour_baseline_accuracy" in keys:
        results["colour_baseline_accuracy"] = colour_baseline_accuracy()
    if "localisation" in keys:
        results["localisation"] = localisation_table(model, n_scenes=localisation_scenes)
    if "class_model" in keys:
        results["class_model"] = class_model_claims(model)
    if "inversion" in keys:
        images, masks, _ = scenes.make_batch(scenes.test_seeds(8), size=model.input_size)
        results["inversion"] = inversion_claims(model, model.preprocess.normalise(images), masks)
    if "context" in keys:
        results["context"] = context_claims(model)
    if "anonymisation" in keys:
        results["anonymisation"] = anonymisation_claims(model)
    if "sanity" in keys:
        images, _, labels = scenes.make_batch(scenes.test_seeds(SANITY_SCENES),
                                              size=model.input_size)
        results["sanity"] = sanity_claims(model, model.preprocess.normalise(images), labels)
    if "caveats" in keys:
        results["caveats"] = caveat_claims(model)
    return results


EVALUATIONS: tuple[str, ...] = ("accuracy", "colour_baseline_accuracy", "localisation",
                                "class_model", "inversion", "context", "anonymisation", "sanity",
                                "caveats")
