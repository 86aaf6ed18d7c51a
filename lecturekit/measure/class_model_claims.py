"""Class models, measured: does the network recognise its own class models, and still
when they are moved a little?

Simonyan et al. (2014) show class models as pictures; the kit also measures
them. :func:`transformed_probability` rates images under random shifts and
rotations they were not optimised for; :func:`class_model_claims` does so for
class models made with and without transform robustness (Olah et al. 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.class_model import (DEFAULT_STEPS, ClassLike, class_model,
                                             resolve_classes)
from lecturekit.optimise.transforms import Compose, Jitter, RandomRotate
from lecturekit.validation import check_at_least, check_seed

__all__ = ["class_model_claims", "transformed_probability"]


def _moves(max_shift: int, max_degrees: float) -> Compose:
    """A random roll by up to ``max_shift`` pixels, then a rotation by up to ``max_degrees``."""
    return Compose([Jitter(max_shift), RandomRotate(max_degrees)])


@torch.no_grad()
def transformed_probability(model: LayeredNetwork, images: torch.Tensor, classes: Sequence[int],
                            *, n_trials: int = 8, seed: int = 0, max_shift: int = 8,
                            max_degrees: float = 15.0) -> torch.Tensor:
    """Mean softmax probability of each image's class over ``n_trials`` random draws of a
    roll by up to ``max_shift`` pixels and a rotation by up to ``max_degrees`` degrees.

    The draws come from ``seed`` alone, so two sets of images called with the
    same seed see the same transforms.
    """
    check_at_least("n_trials", n_trials, 1)
    transform = _moves(max_shift, max_degrees)
    generator = torch.Generator().manual_seed(check_seed(seed))
    model.check_batch(images, "images")
    indices = resolve_classes(model, classes, "classes")
    if len(indices) != images.shape[0]:
        raise ValueError(f"classes must give one class per image, got {len(indices)} classes "
                         f"for {images.shape[0]} images")
    rows = torch.arange(len(indices))
    index = torch.tensor(indices)
    total = torch.zeros(len(indices))
    for _ in range(n_trials):
        probs = torch.softmax(model(transform(images, generator)), dim=1).cpu()
        total += probs[rows, index]
    return total / n_trials


def class_model_claims(model: LayeredNetwork, n_trials: int = 8, seed: int = 0,
                       classes: Sequence[ClassLike] | None = None,
                       steps: int = DEFAULT_STEPS, max_shift: int = 8,
                       max_degrees: float = 15.0) -> dict[str, dict]:
    """Measure the class-model claims for every class (or the given ``classes``).

    Per class: ``probability``, the softmax probability of its class-model
    image (optimised without transforms; the target is >= 0.99), and
    ``probability_transformed``: the mean probability over ``n_trials`` random
    rolls (up to 8 px) and rotations (up to 15 degrees) that the image was not
    optimised for, for the image optimised without (``"plain"``) and with
    (``"robust"``) transform robustness; ``max_shift`` and ``max_degrees`` set
    how far. Both images and all transform draws are seeded. Models with more
    than 32 classes need ``classes``.
    """
    check_at_least("n_trials", n_trials, 1)
    _moves(max_shift, max_degrees)  # refuse bad settings before the optimisations run
    if classes is None:
        if len(model.classes) > 32:
            raise ValueError(f"classes: model {model.name!r} has {len(model.classes)} classes; "
                             f"pass the few to measure, e.g. classes=['dumbbell', 'goose']")
        classes = list(range(len(model.classes)))
    indices = resolve_classes(model, classes, "classes")
    plain = class_model(model, indices, recipe="plain", steps=steps, seed=seed, progress=False)
    robust = class_model(model, indices, recipe="robust-pixel", steps=steps, seed=seed,
                         progress=False)
    moved = {name: transformed_probability(model, result.image, indices, n_trials=n_trials,
                                           seed=seed, max_shift=max_shift,
                                           max_degrees=max_degrees)
             for name, result in (("plain", plain), ("robust", robust))}
    return {model.classes[c]: {"probability": float(plain.probability[i]),
                               "probability_transformed": {name: float(values[i])
                                                           for name, values in moved.items()}}
            for i, c in enumerate(indices)}
