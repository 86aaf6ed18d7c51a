"""The kit's measured claims, computed on scenes the toy model never saw.

``python -m lecturekit evaluate --model toy --json`` prints :func:`evaluate`'s
dictionary. Every number is computed at call time from freshly generated scenes
(seeds from :func:`lecturekit.scenes.test_seeds`), never stored.
"""

from __future__ import annotations

from lecturekit import scenes
from lecturekit.class_model import class_model_claims
from lecturekit.inversion import inversion_claims
from lecturekit.localisation import localisation_table
from lecturekit.models import LayeredAlexNet
from lecturekit.toy_training import scene_accuracy


def evaluate(model: LayeredAlexNet, n_scenes: int = 1000, localisation_scenes: int = 200,
             keys: tuple[str, ...] = ("accuracy", "localisation", "class_model", "inversion")
             ) -> dict:
    """The toy model's measured claims: ``"accuracy"`` on ``n_scenes`` fresh scenes;
    ``"localisation"``, how well its gradient maps find the object in
    ``localisation_scenes`` fresh scenes (:mod:`lecturekit.localisation`);
    ``"class_model"``, the probability of every class's class-model image, plain and
    under transforms it was not optimised for (:mod:`lecturekit.class_model`);
    ``"inversion"``, per layer the relative feature error and SSIM of Mahendran &
    Vedaldi inversions of 8 fresh scenes, with the rank correlation of depth and SSIM
    (:func:`lecturekit.inversion.inversion_claims`)."""
    if model.name != "toy":
        raise ValueError(f"evaluate measures on the toy scenes, so model must be the toy model, "
                         f"got {model.name!r}")
    if n_scenes < 1:
        raise ValueError(f"n_scenes must be a positive number of scenes, got {n_scenes}")
    if isinstance(localisation_scenes, bool) or not isinstance(localisation_scenes, int) \
            or localisation_scenes < 1:
        raise ValueError(f"localisation_scenes must be a positive number of scenes, "
                         f"got {localisation_scenes!r}")
    unknown = set(keys) - set(EVALUATIONS)
    if unknown:
        raise ValueError(f"unknown evaluation {sorted(unknown)}; valid: {', '.join(EVALUATIONS)}")
    results: dict = {"model": model.name, "n_scenes": n_scenes}
    if "accuracy" in keys:
        results["accuracy"] = scene_accuracy(model, scenes.test_seeds(n_scenes))
    if "localisation" in keys:
        results["localisation"] = localisation_table(model, n_scenes=localisation_scenes)
    if "class_model" in keys:
        results["class_model"] = class_model_claims(model)
    if "inversion" in keys:
        results["inversion"] = inversion_claims(model)
    return results


EVALUATIONS: tuple[str, ...] = ("accuracy", "localisation", "class_model", "inversion")
