"""Hidden context in a class model, measured: the toy's arm that holds the hexagon.

The lecture's dumbbell class model shows an arm, because the training photos
showed dumbbells held (Simonyan et al. 2014; Mordvintsev et al. 2015). The toy
scenes copy that: :data:`lecturekit.scenes.CONTEXT_CLASS` is always held by an
arm, other objects never, and its outline alone barely tells it from a disc. Here
a scene of the class is shown *without* its arm and its class score is raised by
gradient ascent, as a class model grown from that image; then :func:`place_energy`
measures which share of the change lands where the arm was drawn, and
:func:`new_skin_share` how much new skin the growth painted anywhere (the network
paints the arm at an angle of its own choosing). The baselines are the same shares
for scenes of the other classes, whose arms would go to places drawn the same way.
:func:`named_context` asks the classification itself: which class the network
names for the same scenes drawn with and without an arm. :func:`class_model_context`
asks the lecture's own question: do class models grown from noise
(:func:`~lecturekit.optimise.class_model.class_model`) paint the arm's skin
(:func:`skin_share`, the colours of :func:`lecturekit.scenes.skin_mask`) for the
context class more than for the others?
"""

from __future__ import annotations

import numpy as np
import torch

from lecturekit import scenes
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.class_model import class_model
from lecturekit.optimise.deepdream import deepdream
from lecturekit.targets import Logit
from lecturekit.validation import check_at_least

__all__ = ["class_model_context", "context_claims", "grow_class", "named_context",
           "new_skin_share", "place_energy", "skin_share"]

STEPS = 40
"""Gradient-ascent steps of :func:`grow_class`."""

SKIN_SEEDS: tuple[int, ...] = (0, 1, 2)
"""Seeds of the class models from noise that :func:`class_model_context` looks at."""


def grow_class(model: LayeredNetwork, seeds: list[int], steps: int = STEPS,
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The scenes of ``seeds`` without their arm, their own class score raised for
    ``steps`` steps (DeepDream's normalised, jittered ascent, one octave). Returns
    the start and the result in [0, 1] and the arm's places (N, H, W)."""
    made = [scenes.make_scene(s, model.input_size, companion=False) for s in seeds]
    start = torch.from_numpy(np.stack([sc.image for sc in made])).permute(0, 3, 1, 2).contiguous()
    places = torch.from_numpy(np.stack([sc.companion for sc in made]))  # the place, not drawn
    grown = deepdream(model, model.preprocess.normalise(start),
                      objective=Logit([sc.label for sc in made]), octaves=1, steps=steps,
                      jitter=8, seed=seed, progress=False)
    return start, grown.image01.cpu(), places


def place_energy(start: torch.Tensor, grown: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """Per image, the share of the change's energy (squared difference, summed over
    colours) that falls inside ``places``."""
    energy = ((grown - start) ** 2).sum(1)
    return (energy * places).sum(dim=(1, 2)) / energy.sum(dim=(1, 2)).clamp_min(1e-12)


def skin_share(images01: torch.Tensor, vivid: bool = False) -> torch.Tensor:
    """Per image of ``images01`` (N, 3, H, W) in [0, 1], the share of its pixels that have
    the arm's skin colour (:func:`lecturekit.scenes.skin_mask`; ``vivid``: as class models
    paint it)."""
    return scenes.skin_mask(images01, vivid).float().mean(dim=(1, 2))


def new_skin_share(start: torch.Tensor, grown: torch.Tensor) -> torch.Tensor:
    """Per image, the share of pixels that the growth turned into vivid skin (vivid skin in
    ``grown``, not in ``start``): an arm painted anywhere, at whatever angle the network
    prefers, where :func:`place_energy` looks only at the place the scene drew."""
    return (scenes.skin_mask(grown, True) & ~scenes.skin_mask(start, True)).float().mean(dim=(1, 2))


def class_model_context(model: LayeredNetwork, seeds: tuple[int, ...] = SKIN_SEEDS,
                        recipe: str = "robust-fourier", steps: int | None = None) -> dict:
    """Class models from noise (Simonyan et al. 2014; ``recipe`` as in
    :func:`~lecturekit.optimise.class_model.class_model`), one per class and seed: their
    vivid :func:`skin_share`, ``"skin_context"`` for the context class and ``"skin_others"``
    for the other classes, each the mean over ``seeds``, and ``"skin_by_class"``."""
    if not seeds:
        raise ValueError("seeds must name at least one seed, got an empty sequence")
    classes = list(range(len(model.classes)))
    shares = torch.stack([skin_share(class_model(model, classes, recipe=recipe, steps=steps,
                                                 seed=seed, progress=False).image01, vivid=True)
                          for seed in seeds]).mean(0)
    context = model.classes.index(scenes.CONTEXT_CLASS)
    others = [c for c in classes if c != context]
    return {"skin_context": float(shares[context]), "skin_others": float(shares[others].mean()),
            "skin_by_class": {model.classes[c]: float(shares[c]) for c in classes}}


def named_context(model: LayeredNetwork, seeds: list[int],
                  companion: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """For the scenes of ``seeds`` drawn with (``companion=True``) or without their arm:
    whether the network names each scene's class, and whether it names the context class."""
    images, _, labels = scenes.make_batch(seeds, model.input_size, companion=companion)
    with torch.no_grad():
        guesses = model(model.preprocess.normalise(images).to(model.device)).argmax(1).cpu()
    return guesses == labels, guesses == scenes.CLASSES.index(scenes.CONTEXT_CLASS)


def context_claims(model: LayeredNetwork, n_scenes: int = 16, n_accuracy: int = 200,
                   steps: int = STEPS, skin_seeds: tuple[int, ...] = SKIN_SEEDS) -> dict:
    """The context class's arm in numbers.

    ``companion_energy``: the mean share of the change in the arm's place when the class
    is grown into ``n_scenes`` fresh scenes of the context class without their arm;
    ``baseline_energy``: the same for ``n_scenes`` fresh scenes of the other classes.
    ``grown_skin_context`` / ``grown_skin_others``: the mean share of pixels that the same
    growths turned into vivid skin (:func:`new_skin_share`).
    ``accuracy_held`` / ``accuracy_free``: the accuracy on ``n_accuracy`` fresh scenes of
    the context class drawn with / without their arm; ``others_named_context_held`` /
    ``_free``: how often ``n_accuracy`` fresh scenes of the other classes are named the
    context class with / without an arm. ``skin_context`` / ``skin_others`` (and
    ``skin_by_class``): the share of skin-coloured pixels in class models from noise,
    one per class and seed of ``skin_seeds`` (:func:`class_model_context`).
    """
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("n_accuracy", n_accuracy, 1)
    context = scenes.CLASSES.index(scenes.CONTEXT_CLASS)
    count = max(n_scenes, n_accuracy)
    held = scenes.class_gallery(context, count)
    others = scenes.class_gallery(context, count, exclude=True)
    grown = [grow_class(model, seeds[:n_scenes], steps) for seeds in (held, others)]
    energy = [place_energy(*result).mean().item() for result in grown]
    painted = [new_skin_share(start, image).mean().item() for start, image, _ in grown]
    claims = {"class": scenes.CONTEXT_CLASS, "companion_energy": energy[0],
              "baseline_energy": energy[1], "grown_skin_context": painted[0],
              "grown_skin_others": painted[1]}
    for companion, suffix in ((True, "held"), (False, "free")):
        right, _ = named_context(model, held[:n_accuracy], companion)
        _, called = named_context(model, others[:n_accuracy], companion)
        claims[f"accuracy_{suffix}"] = float(right.float().mean())
        claims[f"others_named_context_{suffix}"] = float(called.float().mean())
    return claims | class_model_context(model, skin_seeds)
