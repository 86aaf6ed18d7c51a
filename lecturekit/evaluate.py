"""The kit's measured claims, computed on scenes the toy model never saw.

``python -m lecturekit evaluate --model toy --json`` prints :func:`evaluate`'s
dictionary. Every number is computed at call time from freshly generated scenes
(seeds from :func:`lecturekit.scenes.test_seeds`), never stored.
"""

from __future__ import annotations

from lecturekit import scenes
from lecturekit.localisation import localisation_table
from lecturekit.models import LayeredAlexNet
from lecturekit.toy_training import scene_accuracy


def evaluate(model: LayeredAlexNet, n_scenes: int = 1000, localisation_scenes: int = 200) -> dict:
    """Classification accuracy of the toy model on ``n_scenes`` fresh scenes, and under
    ``"localisation"`` how well its gradient maps find the object in ``localisation_scenes``
    fresh scenes (:func:`lecturekit.localisation.localisation_table`)."""
    if model.name != "toy":
        raise ValueError(f"evaluate measures on the toy scenes, so model must be the toy model, "
                         f"got {model.name!r}")
    if n_scenes < 1:
        raise ValueError(f"n_scenes must be a positive number of scenes, got {n_scenes}")
    if isinstance(localisation_scenes, bool) or not isinstance(localisation_scenes, int) \
            or localisation_scenes < 1:
        raise ValueError(f"localisation_scenes must be a positive number of scenes, "
                         f"got {localisation_scenes!r}")
    return {"model": model.name, "n_scenes": n_scenes,
            "accuracy": scene_accuracy(model, scenes.test_seeds(n_scenes)),
            "localisation": localisation_table(model, n_scenes=localisation_scenes)}
