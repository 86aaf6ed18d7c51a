"""Hidden context in a class model, measured: the toy's arm that holds the hexagon.

The lecture's dumbbell class model shows an arm, because the training photos
showed dumbbells held (Simonyan et al. 2014; Mordvintsev et al. 2015). The toy
scenes copy that: :data:`lecturekit.scenes.CONTEXT_CLASS` is nearly always held
by an arm, other objects rarely. Here a scene of the class is shown *without*
its arm and its class score is raised by gradient ascent, as a class model
grown from that image; then :func:`place_energy` measures which share of the
change lands where the arm belongs. The baseline is the same share for scenes
of the other classes, whose arms would go to places drawn the same way.
:func:`named_context` asks the classification itself: which class the network
names for the same scenes drawn with and without an arm.
"""

from __future__ import annotations

import numpy as np
import torch

from lecturekit import scenes
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.deepdream import deepdream
from lecturekit.targets import Logit
from lecturekit.validation import check_at_least

__all__ = ["context_claims", "grow_class", "named_context", "place_energy"]

STEPS = 40
"""Gradient-ascent steps of :func:`grow_class`."""


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


def named_context(model: LayeredNetwork, seeds: list[int],
                  companion: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """For the scenes of ``seeds`` drawn with (``companion=True``) or without their arm:
    whether the network names each scene's class, and whether it names the context class."""
    images, _, labels = scenes.make_batch(seeds, model.input_size, companion=companion)
    with torch.no_grad():
        guesses = model(model.preprocess.normalise(images).to(model.device)).argmax(1).cpu()
    return guesses == labels, guesses == scenes.CLASSES.index(scenes.CONTEXT_CLASS)


def context_claims(model: LayeredNetwork, n_scenes: int = 16, n_accuracy: int = 200,
                   steps: int = STEPS) -> dict:
    """The context class's arm in numbers.

    ``companion_energy``: the mean share of the change in the arm's place when the class
    is grown into ``n_scenes`` fresh scenes of the context class without their arm;
    ``baseline_energy``: the same for ``n_scenes`` fresh scenes of the other classes.
    ``accuracy_held`` / ``accuracy_free``: the accuracy on ``n_accuracy`` fresh scenes of
    the context class drawn with / without their arm; ``others_named_context_held`` /
    ``_free``: how often ``n_accuracy`` fresh scenes of the other classes are named the
    context class with / without an arm.
    """
    check_at_least("n_scenes", n_scenes, 1)
    check_at_least("n_accuracy", n_accuracy, 1)
    context = scenes.CLASSES.index(scenes.CONTEXT_CLASS)
    count = max(n_scenes, n_accuracy)
    held = scenes.class_gallery(context, count)
    others = scenes.class_gallery(context, count, exclude=True)
    shares = [place_energy(*grow_class(model, seeds[:n_scenes], steps)).mean().item()
              for seeds in (held, others)]
    claims = {"class": scenes.CONTEXT_CLASS, "companion_energy": shares[0],
              "baseline_energy": shares[1]}
    for companion, suffix in ((True, "held"), (False, "free")):
        right, _ = named_context(model, held[:n_accuracy], companion)
        _, called = named_context(model, others[:n_accuracy], companion)
        claims[f"accuracy_{suffix}"] = float(right.float().mean())
        claims[f"others_named_context_{suffix}"] = float(called.float().mean())
    return claims
