"""The sanity checks of the gradient pictures, gathered for ``python -m lecturekit evaluate``.

Three questions about every rule's map (:data:`~lecturekit.measure.map_similarity.SANITY_RULES`):
does it depend on the network's weights (Adebayo et al. 2018: cascading and independent
randomisation, :mod:`~lecturekit.measure.randomisation`), on the class asked for (Nie,
Zhang & Patel 2018, :mod:`~lecturekit.measure.class_sensitivity`), and how much does it
look like the image's own edge map (:func:`~lecturekit.measure.map_similarity.edge_correlation`)?
"""

from __future__ import annotations

from typing import Any

import torch

from lecturekit.measure.class_sensitivity import class_sensitivity
from lecturekit.measure.randomisation import cascading_randomisation, independent_randomisation
from lecturekit.models import LayeredNetwork

__all__ = ["SANITY_SCENES", "sanity_claims"]

SANITY_SCENES = 16
"""How many fresh toy scenes ``evaluate`` runs the sanity checks on (the photo networks use
the four sample photos of :data:`~lecturekit.examples.EXAMPLE_PHOTOS`)."""


def sanity_claims(model: LayeredNetwork, images: torch.Tensor, labels: torch.Tensor,
                  seed: int = 0) -> dict[str, Any]:
    """The sanity checks on a normalised batch with one class per image: ``"cascading"`` and
    ``"independent"`` (per rule and measure, the mean over the images after each step),
    ``"class_sensitivity"`` (the class ``labels`` against a random other class) and
    ``"edge_baseline"`` (per rule, the rank correlation of the map with the image's edge
    map, for the trained network and once every block is random)."""
    cascade = cascading_randomisation(model, images, labels, seed=seed, progress=False)
    independent = independent_randomisation(model, images, labels, seed=seed, progress=False)
    cascading = cascade.table()
    return {"images": int(labels.numel()), "seed": seed, "cascading": cascading,
            "independent": independent.table(),
            "class_sensitivity": class_sensitivity(model, images, labels, seed=seed).table(),
            "edge_baseline": {rule: {"trained": cascading[rule]["edge"][0],
                                     "random": cascading[rule]["edge"][-1]}
                              for rule in cascade.rules}}
