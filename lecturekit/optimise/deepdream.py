"""DeepDream ("inceptionism") and activation maximisation from noise.

The lecture's step from gradients to optimisation: instead of changing the
weights to lower a loss, change the *input* to raise a pseudo-loss, the
activation of a neuron, an activation map, a whole layer, a logit or a class
probability (FAU Deep Learning, "Visualization & Attention, Part 4").

* :func:`deepdream` starts from a photograph and amplifies whatever a layer
  already sees in it, following the recipe of Mordvintsev, Olah & Tyka's
  original notebook (2015, "Inceptionism: Going Deeper into Neural Networks"):
  objective ``1/2 ||a||^2`` of one layer, 10 gradient steps per octave of size
  1.5 / mean(|g|) * g, a random roll of up to 32 pixels before each step,
  pixels clipped to the valid range, 4 octaves of scale 1.4 with the detail
  carried from the small octaves to the large ones.
* :func:`activation_maximisation` starts from random noise instead. Left
  alone the optimisation paints high-frequency noise, so the lecture adds an
  L2 penalty on the image and a smoothness prior (total variation or a
  low-pass penalty), and runs from small to large scales (octaves).

Both are short recipes over :func:`lecturekit.optimise.loop.optimise`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lecturekit.images import ImageLike, load_image
from lecturekit.models import LayeredNetwork
from lecturekit.optimise.loop import octave_sizes, optimise
from lecturekit.optimise.parameterisation import seeded_start
from lecturekit.optimise.priors import PriorKey, check_priors, prior_terms
from lecturekit.optimise.transforms import Jitter, TransformFn, robust_transform
from lecturekit.result_cache import cached
from lecturekit.targets import LayerL2, PerImage, Target
from lecturekit.validation import check_at_least, check_choice, check_real, check_seed, check_side

__all__ = ["DREAM_PRIORS", "DreamResult", "activation_maximisation", "deepdream",
           "max_octaves", "normalised_step_size"]


DREAM_PRIORS: dict[str, float] = {"l2": 0.1, "tv": 1.0}
"""The priors of :func:`activation_maximisation` unless told: a small L2 penalty and total
variation, the lecture's "L2 regulariser and smoothness"."""

PIXEL_UNITS = 255.0
"""The original DeepDream works on 0..255 pixel values: its step size 1.5 is in these units."""


@dataclass
class DreamResult:
    """What :func:`deepdream` and :func:`activation_maximisation` return.

    ``image``: the optimised batch in the model's normalised space (N, 3, H, W);
    ``image01``: the same for display, in [0, 1] on the CPU; ``objective``: the
    final value of the objective per image; ``history``: one record per step
    (objective, loss and every regulariser, averaged over the batch);
    ``target``: the objective that was maximised.
    """
    image: torch.Tensor
    image01: torch.Tensor
    objective: torch.Tensor
    target: Target
    history: list[dict[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------- checks

def max_octaves(size: tuple[int, int], octave_scale: float, minimum: int) -> int:
    """How many octaves of ``octave_scale`` fit an image of ``size`` (H, W) whose smallest
    octave must keep ``minimum`` pixels a side (``model.min_input_size``); 0 if none."""
    check_real("octave_scale", octave_scale, "a number >= 1", lambda s: s >= 1)
    count = 0
    while True:
        try:
            octave_sizes(size, count + 1, octave_scale, minimum)
        except ValueError:
            return count
        count += 1
        if count >= 64:
            return count


def _check_octaves(model: LayeredNetwork, size: tuple[int, int], octaves: int,
                   octave_scale: float) -> None:
    """Say in one sentence why the octaves do not fit, and how many would."""
    check_at_least("octaves", octaves, 1)
    check_real("octave_scale", octave_scale, "a number >= 1", lambda s: s >= 1)
    minimum = model.min_input_size
    fitting = max_octaves(size, octave_scale, minimum)
    if octaves > fitting:
        smallest = [round(side / octave_scale ** (octaves - 1)) for side in size]
        raise ValueError(
            f"octaves={octaves} is too many for a {size[0]} x {size[1]} image at "
            f"octave_scale={octave_scale:g}: the smallest octave would be {smallest[0]} x "
            f"{smallest[1]} pixels, below the {minimum} x {minimum} the network needs; valid: "
            f"octaves from 1 "
            f"to {fitting} for this image (or use a larger image or a smaller octave_scale)")


def _as_batch(model: LayeredNetwork, image: ImageLike | torch.Tensor) -> torch.Tensor:
    """A normalised batch on the model's device: a 4-D tensor is taken as already
    normalised (what ``model.preprocess`` returns); anything else is loaded as a
    picture in [0, 1] and normalised at its own size."""
    if isinstance(image, torch.Tensor) and image.ndim == 4:
        batch = image.detach()
    else:
        batch = model.preprocess.normalise(load_image(image)[None])
    model.check_batch(batch, "image")
    return batch.to(model.device)


def normalised_step_size(model: LayeredNetwork, step_size: float) -> float:
    """Convert a DeepDream step size in 0..255 pixel units into the model's normalised
    units (divide by 255 and by the mean of the per-channel standard deviations)."""
    std = sum(model.preprocess.std) / 3
    return step_size / (PIXEL_UNITS * std)


def _as_target(model: LayeredNetwork, target: Target | str) -> Target:
    """A target, or a layer name as ``LayerL2`` of that layer (DeepDream's objective)."""
    if isinstance(target, str):
        return LayerL2(model.check_layer(target))
    if not isinstance(target, Target):
        raise TypeError(f"target must be a lecturekit.targets.Target, a layer name or a list "
                        f"of them, got {type(target).__name__}")
    return target


def _result(model: LayeredNetwork, target: Target, optimised) -> DreamResult:
    return DreamResult(image=optimised.image, image01=model.deprocess(optimised.image),
                       objective=optimised.objective, target=target,
                       history=optimised.history)


# --------------------------------------------------------------------------- DeepDream

def deepdream(model: LayeredNetwork, image: ImageLike | torch.Tensor, layer: str | None = None, *,
              objective: Target | None = None, octaves: int = 4, octave_scale: float = 1.4,
              steps: int = 10, step_size: float = 1.5, jitter: int = 32, seed: int = 0,
              progress: bool = True) -> DreamResult:
    """Dream on ``image``: amplify what ``layer`` responds to (Mordvintsev et al. 2015).

    ``image`` is a picture in [0, 1] (a path, PIL image, array or (3, H, W)
    tensor, used at its own size) or a normalised batch (N, 3, H, W) as
    ``model.preprocess`` makes it. The objective is ``1/2 ||a||^2`` of
    ``layer`` (:class:`~lecturekit.targets.LayerL2`; None: the network's deep lecture
    layer ``model.lecture_layers.deep``, ``conv5`` on the AlexNets, ``stage5`` on
    EfficientNet-Lite0); pass ``objective`` (for
    example ``Channel("conv5", 7)`` or ``Neuron("fc8", 3)``) to dream of one
    map or unit instead, then ``layer`` is ignored.

    Per octave (the smallest first, each ``octave_scale`` times larger, the
    detail carried up) ``steps`` plain gradient-ascent steps (SGD without
    momentum) on the gradient divided by its mean absolute value, of
    ``step_size`` in 0..255 pixel units as in the original notebook (see
    :func:`normalised_step_size`); before each step the image is rolled by a
    random shift of up to ``jitter`` pixels (the gradient flows back through
    the roll, so the step lands unshifted); afterwards the pixels are clipped
    to the valid range.
    """
    if layer is None:
        layer = model.lecture_layers.deep
    target = LayerL2(model.check_layer(layer)) if objective is None else objective
    if not isinstance(target, Target):
        raise TypeError(f"objective must be a lecturekit.targets.Target such as Channel or "
                        f"Neuron, got {type(objective).__name__}")
    for name in target.layers:
        model.check_layer(name)
    check_at_least("steps", steps, 1)
    check_at_least("jitter", jitter, 0)
    check_real("step_size", step_size, "a number > 0 (0..255 pixel units; the original "
                "uses 1.5)", lambda s: s > 0)
    batch = _as_batch(model, image)
    _check_octaves(model, tuple(batch.shape[-2:]), octaves, octave_scale)
    optimised = optimise(model, target, batch, maximise=True,
                         transform=Jitter(jitter) if jitter else None,
                         steps=steps, lr=normalised_step_size(model, step_size),
                         optimiser="sgd", momentum=0.0, normalise_step=True, clamp=True,
                         octaves=octaves, octave_scale=octave_scale,
                         progress=progress, seed=seed)
    return _result(model, target, optimised)


# --------------------------------------------------------------------------- from noise

@cached("activation_maximisation")
def activation_maximisation(model: LayeredNetwork,
                            target: Target | str | Sequence[Target | str], *,
                            priors: Mapping[PriorKey, float | None] | None = None,
                            robust: bool | TransformFn = False, size: int | None = None,
                            steps: int = 100, lr: float = 0.05, jitter: int = 4,
                            init_std: float = 0.5, seed: int = 0, octaves: int = 1,
                            octave_scale: float = 1.4, parameterisation: str = "pixel",
                            progress: bool = True, **prior_options: Any) -> DreamResult:
    """Maximise ``target`` starting from random noise, with the lecture's image priors.

    Maximises ``target(x) - sum of weight * R(x) / n`` over ``priors`` (``n`` the number
    of values of one image, so the weights do not depend on the size; names and options
    as in :mod:`lecturekit.optimise.priors`; default :data:`DREAM_PRIORS`, a small L2
    penalty and total variation) with Adam at ``lr`` for ``steps`` steps per octave, in the
    model's normalised space and with pixels clipped to the valid range. The L2
    term is the penalty of Simonyan et al. (2014); the total variation
    (Mahendran & Vedaldi 2015) and the low-pass penalty (the blur prior of
    Yosinski et al. 2015) ask for a smooth image. ``priors={}`` gives
    the unregularised result for comparison. ``target`` is a
    :class:`~lecturekit.targets.Target` or a layer name (then ``1/2 ||a||^2``
    of that layer, as in DeepDream). ``octaves > 1`` cascades from small to
    large scales, carrying the detail up (Mordvintsev et al. 2015). The start
    is seeded Gaussian noise of std ``init_std`` (normalised units) at
    ``size`` x ``size`` pixels (default: the model's input size), rolled by up
    to ``jitter`` pixels before each step.

    Olah et al.'s (2017) readable recipe for networks trained on photographs:
    ``parameterisation="fourier"`` optimises a decorrelated Fourier image
    (:class:`~lecturekit.optimise.parameterisation.FourierImage`, one octave, no
    ``init_std``) instead of pixels, and ``robust=True`` replaces the jitter by their
    random pad, jitter, scale and rotation
    (:func:`~lecturekit.optimise.transforms.robustness_for`); a transform
    ``t(x, generator)`` may be passed instead.
    """
    several = isinstance(target, (list, tuple))
    targets = [_as_target(model, t) for t in (target if several else [target])]
    if not targets:
        raise ValueError("target is an empty list; name at least one target")
    target = PerImage(targets) if several else targets[0]
    size = model.input_size if size is None else check_side("size", size, model.min_input_size)
    check_at_least("steps", steps, 1)
    check_seed(seed)
    priors = check_priors(DREAM_PRIORS if priors is None else priors, prior_options)
    check_real("init_std", init_std, "a number >= 0", lambda v: v >= 0)
    check_at_least("jitter", jitter, 0)
    _check_octaves(model, (size, size), octaves, octave_scale)
    start = seeded_start(len(targets), size, parameterisation, init_std, seed, model.device)
    transform = robust_transform(model, robust) or (Jitter(jitter) if jitter else None)
    terms = prior_terms(priors, prior_options)
    optimised = optimise(model, target, start, maximise=True, terms=terms,
                         transform=transform, steps=steps, lr=lr,
                         optimiser="adam", octaves=octaves, octave_scale=octave_scale,
                         progress=progress, seed=seed)
    return _result(model, target, optimised)
