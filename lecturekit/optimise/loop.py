"""The one optimisation loop behind DeepDream, class models and inversion.

The second half of the lecture changes the *input* until the network responds
as asked: maximise a neuron, a layer or a class score (DeepDream, Mordvintsev
et al. 2015; class models, Simonyan et al. 2014), or match a layer's stored
activations (inversion, Mahendran & Vedaldi 2015). Each is a short recipe over
:func:`optimise`, which does per step:

    image -> random transforms -> model up to the deepest layer needed
          -> objective (a :class:`~lecturekit.targets.Target`) + weighted regularisers
          -> gradient step on the image (optionally normalised) -> clamp to valid pixels

with octaves (small scales first, the detail carried up), an optimiser with a
schedule of phases, a history of every step, a progress bar and a seed. The
model's weights stay frozen; the forward pass stops at the objective's
deepest layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.optim.adam import adam
from torch.optim.sgd import sgd

from lecturekit.models import LayeredNetwork
from lecturekit.optimise.parameterisation import FourierImage, PixelPyramid
from lecturekit.progress import progress_bar
from lecturekit.targets import Target
from lecturekit.validation import (check_at_least, check_callable, check_choice, check_int,
                                   check_real, check_seed)

Regulariser = Callable[[torch.Tensor], torch.Tensor]
Weight = float | torch.Tensor
OPTIMISERS: tuple[str, ...] = ("adam", "sgd")


@dataclass
class Term:
    """A named regulariser with its weight (a number, or one per image)."""
    name: str
    weight: Weight
    function: Regulariser


@dataclass
class OptimisationResult:
    """The optimised images (normalised, detached) and what happened on the way."""
    image: torch.Tensor
    objective: torch.Tensor
    history: list[dict[str, float]] = field(default_factory=list)


def _check_weight(name: str, weight: Weight) -> None:
    try:
        values = torch.as_tensor(weight, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        values = torch.tensor(float("nan"))
    if not torch.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"the weight (lambda) of {name} must be >= 0, got {weight!r}; give a "
                         f"finite number or one per image")


def pixel_bounds(model: LayeredNetwork, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised values of pixel 0 and pixel 1 per channel, shaped (1, 3, 1, 1)."""
    mean = torch.tensor(model.preprocess.mean, dtype=like.dtype, device=like.device)
    std = torch.tensor(model.preprocess.std, dtype=like.dtype, device=like.device)
    return ((0 - mean) / std).view(1, 3, 1, 1), ((1 - mean) / std).view(1, 3, 1, 1)


def octave_sizes(size: tuple[int, int], octaves: int, scale: float,
                 minimum: int) -> list[tuple[int, int]]:
    """Image sizes from the smallest octave up to ``size`` (DeepDream's cascade); the smallest
    must have at least ``minimum`` pixels a side (the network's ``min_input_size``)."""
    check_at_least("octaves", octaves, 1)
    check_real("octave_scale", scale, "a number >= 1", lambda s: s >= 1)
    sizes = [(round(size[0] / scale ** k), round(size[1] / scale ** k))
             for k in reversed(range(octaves))]
    if min(sizes[0]) < minimum:
        raise ValueError(f"octaves={octaves} at octave_scale={scale:g} shrink the {size[0]} x "
                         f"{size[1]} image to {sizes[0][0]} x {sizes[0][1]}, below the {minimum} "
                         f"pixels the network needs; use fewer octaves, a smaller octave_scale "
                         f"or a larger image")
    return sizes


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class _Optimiser:
    """Adam (Kingma & Ba 2015, torch's defaults: betas 0.9 / 0.999, eps 1e-8) or SGD with
    momentum over the image's parameters, through torch's functional optimisers: on the
    CPU and CUDA the fused kernels (one kernel per step instead of one per arithmetic
    operation). The same update as ``torch.optim.Adam`` / ``SGD(fused=True)``, without
    the ``Optimizer`` wrapper, whose per-step bookkeeping (profiling hooks, state
    dictionaries) cost about as much as the update itself on a 1-5 ms step."""

    def __init__(self, name: str, parameters: list[torch.Tensor], lr: float,
                 momentum: float) -> None:
        self.adam = name == "adam"
        self.parameters = parameters
        self.lr = lr
        self.momentum = momentum
        self.fused = True if parameters[0].device.type in ("cpu", "cuda") else None
        if self.adam:
            self.exp_avgs = [torch.zeros_like(p) for p in parameters]
            self.exp_avg_sqs = [torch.zeros_like(p) for p in parameters]
            self.step_counts = [torch.zeros((), dtype=torch.float32, device=p.device)
                                for p in parameters]
        else:
            self.buffers: list[torch.Tensor | None] = [None] * len(parameters)

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grads = [parameter.grad for parameter in self.parameters]
        if self.adam:
            adam(self.parameters, grads, self.exp_avgs, self.exp_avg_sqs, [],
                 self.step_counts, fused=self.fused, amsgrad=False, beta1=0.9, beta2=0.999,
                 lr=self.lr, weight_decay=0.0, eps=1e-8, maximize=False)
        else:
            sgd(self.parameters, grads, self.buffers, fused=self.fused, weight_decay=0.0,
                momentum=self.momentum, lr=self.lr, dampening=0.0, nesterov=False,
                maximize=False)


def _phases(steps: int | None, lr: float | None,
            schedule: Sequence[tuple[int, float]] | None) -> list[tuple[int, float]]:
    if schedule is None:
        if steps is None or lr is None:
            raise ValueError("give steps and lr, or a schedule of (steps, lr) phases")
        schedule = [(steps, lr)]
    try:
        pairs = [tuple(phase) for phase in schedule]
    except TypeError:
        pairs = []
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise ValueError(f"schedule must be a non-empty list of (steps, lr) pairs, got "
                         f"schedule={schedule!r}")
    return [(check_at_least("steps", n, 1),
             check_real("lr", rate, "a number > 0 (the learning rate)", lambda v: v > 0))
            for n, rate in pairs]


def _record(step: int, loss: torch.Tensor, parts: dict[str, torch.Tensor]) -> dict[str, float]:
    """The step's batch means of the loss and of every part, fetched in one transfer (on a
    GPU each separate ``float()`` would wait for the device)."""
    means = torch.stack([loss.detach().mean()] + [value.detach().mean()
                                                  for value in parts.values()]).tolist()
    return {"step": float(step), "loss": means[0], **dict(zip(parts, means[1:]))}


def _raise_if_diverged(step: int, record: dict[str, float], lr: float) -> None:
    """A NaN or an infinity in any image makes its part's batch mean non-finite too."""
    bad = [name for name, value in record.items()
           if name not in ("step", "loss") and not math.isfinite(value)]
    if bad:
        raise FloatingPointError(
            f"the optimisation diverged at step {step}: {', '.join(bad)} became NaN or "
            f"infinite; lower the learning rate (now {lr:g})"
            + (f" or the weight of {', '.join(b for b in bad if b != 'objective')}"
               if any(b != "objective" for b in bad) else ""))


def _check_objective(model: LayeredNetwork, objective: Target, terms: Sequence[Term]) -> None:
    if not isinstance(objective, Target):
        raise TypeError(f"objective must be a lecturekit.targets.Target, got "
                        f"{type(objective).__name__}")
    for layer in objective.layers:
        model.check_layer(layer)
    for index, term in enumerate(terms):
        _check_weight(term.name, term.weight)
        check_callable(f"terms[{index}].function", term.function,
                       "a regulariser R(x), one value per image")


@dataclass(frozen=True)
class _Search:
    """What one run of steps optimises: its ``parameters``, how they ``render`` the
    normalised images the network sees, and how they are ``project``-ed back after each
    step (the pixels clipped to the valid range, or nothing). Pixels, a pixel pyramid and a
    Fourier image all enter the loop in this one shape."""
    parameters: list[torch.Tensor]
    render: Callable[[], torch.Tensor]
    project: Callable[[], None]


@dataclass(frozen=True)
class _Steps:
    """How every step of a run is made: the scored objective (with its sign), the priors,
    the random transform, the phases of the schedule, the optimiser and the gradient's
    normalisation."""
    score: Callable[[torch.Tensor], torch.Tensor]
    sign: float
    terms: Sequence[Term]
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None
    phases: list[tuple[int, float]]
    optimiser: str
    momentum: float
    reset_momentum: bool
    normalise_step: bool


@dataclass
class _Record:
    """What the steps leave behind: the history, the progress bar, the callback and the
    generator of the random transforms."""
    history: list[dict[str, float]]
    bar: object
    callback: Callable[[int, torch.Tensor, dict[str, float]], None] | None
    generator: torch.Generator


def _run(search: _Search, how: _Steps, record: _Record) -> None:
    """The steps of every phase on one search: render the image, transform it, score it
    (objective with its sign) and add the priors, step, project."""
    opt = None
    for n_steps, rate in how.phases:
        if opt is None or how.reset_momentum:
            opt = _Optimiser(how.optimiser, search.parameters, rate, how.momentum)
        else:
            opt.lr = rate
        for _ in range(n_steps):
            image = search.render()
            seen = how.transform(image, record.generator) if how.transform else image
            values = how.score(seen)
            parts = {"objective": values}
            loss = how.sign * values
            for term in how.terms:
                penalty = term.function(image)
                parts[term.name] = penalty
                weight = torch.as_tensor(term.weight, dtype=image.dtype, device=image.device)
                loss = loss + weight * penalty
            step = _record(len(record.history), loss, parts)
            _raise_if_diverged(len(record.history), step, rate)
            opt.zero_grad()
            loss.sum().backward()
            if how.normalise_step:
                for parameter in search.parameters:
                    grad = parameter.grad
                    scale = grad.abs().flatten(1).mean(1).clamp_min(1e-12)
                    parameter.grad = grad / scale.view(-1, *[1] * (grad.ndim - 1))
            opt.step()
            search.project()
            record.history.append(step)
            if record.callback is not None:
                with torch.no_grad():
                    record.callback(len(record.history) - 1, search.render().detach(), step)
            record.bar.update()


def optimise(model: LayeredNetwork, objective: Target,
             init: torch.Tensor | FourierImage, *,
             maximise: bool = True, terms: Sequence[Term] = (),
             transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
             steps: int | None = 200, lr: float | None = 0.05,
             schedule: Sequence[tuple[int, float]] | None = None,
             optimiser: str = "adam", momentum: float = 0.9, reset_momentum: bool = True,
             normalise_step: bool = False, clamp: bool = True,
             octaves: int = 1, octave_scale: float = 1.4, pyramid: int = 1,
             callback: Callable[[int, torch.Tensor, dict[str, float]], None] | None = None,
             progress: bool = True, seed: int = 0,
             forward: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None
             ) -> OptimisationResult:
    """Optimise a batch of normalised images ``init`` (N, 3, H, W) for ``objective``.

    The loss per image is ``-objective`` (``maximise=True``) or ``objective``,
    plus ``weight * term(image)`` for each term. ``schedule`` is a list of
    ``(steps, lr)`` phases (the optimiser's momentum is reset at each phase, as
    Mahendran & Vedaldi do; ``reset_momentum=False`` keeps one optimiser and only
    changes its rate, as a plain learning-rate decay does); without it, one phase
    of ``steps`` at ``lr``.
    ``normalise_step`` divides the gradient by its mean absolute value per image
    before the step (DeepDream). With ``octaves > 1`` every phase runs at each
    of the growing sizes, and what was added to the image is carried up.
    ``steps`` per octave; the history counts steps over all octaves. ``pyramid > 1``
    optimises each octave's image as a
    :class:`~lecturekit.optimise.parameterisation.PixelPyramid` of that many levels
    (coarse pixels move whole patches: broad shapes form in fewer steps).
    ``forward`` maps the (transformed) images to the activations the objective
    reads; the default is ``model.activations(x, objective.layers)``.

    ``init`` may instead be a :class:`~lecturekit.optimise.parameterisation.FourierImage`
    (Olah et al. 2017): its spectrum is optimised and the rendered image, in
    [0, 1] by construction, is normalised for the model (no clamp, one octave).
    """
    _check_objective(model, objective, terms)
    check_choice("optimiser", optimiser, OPTIMISERS)
    check_real("momentum", momentum, "a number in [0, 1)", lambda m: 0 <= m < 1)
    check_seed(seed)
    for name, value, valid in (("transform", transform, "t(x, generator)"),
                               ("callback", callback, "callback(step, image, record)"),
                               ("forward", forward, "forward(x) -> activations")):
        if value is not None:
            check_callable(name, value, f"None or a callable {valid}")
    phases = _phases(steps, lr, schedule)
    if forward is None:
        def forward(x: torch.Tensor) -> dict[str, torch.Tensor]:
            return model.activations(x, objective.layers)

    def score(x: torch.Tensor) -> torch.Tensor:
        return objective(forward(x))

    how = _Steps(score, -1.0 if maximise else 1.0, terms, transform, phases, optimiser,
                 momentum, reset_momentum, normalise_step)
    parameterised = isinstance(init, FourierImage)
    if parameterised:
        check_int("octaves", octaves, "equal to 1 for a FourierImage (octaves resize pixels)",
                  lambda n: n == 1)
        check_int("pyramid", pyramid, "equal to 1 for a FourierImage (a pyramid holds pixels)",
                  lambda n: n == 1)
        sizes = [(init.size, init.size)]
    else:
        model.check_batch(init, "init")
        sizes = octave_sizes(tuple(init.shape[-2:]), octaves, octave_scale,
                             model.min_input_size)
    total = len(sizes) * sum(n for n, _ in phases)
    bar = progress_bar(total=total, enabled=progress, desc="optimising", unit="step", leave=False)
    record = _Record([], bar, callback, torch.Generator().manual_seed(seed))
    try:
        if parameterised:
            final = _optimise_fourier(model, init, how, record)
        else:
            final = _optimise_pixels(model, init, sizes, clamp, pyramid, how, record)
    finally:
        bar.close()
    with torch.no_grad():
        final_values = score(final)
    return OptimisationResult(image=final, objective=final_values.detach(),
                              history=record.history)


def _optimise_fourier(model: LayeredNetwork, init: FourierImage, how: _Steps,
                      record: _Record) -> torch.Tensor:
    """The Fourier path of :func:`optimise`: the spectrum is the parameter, the rendered image
    in [0, 1] is normalised for the network, nothing to project."""
    init.to(model.device)
    search = _Search(list(init.parameters()),
                     lambda: model.preprocess.normalise(init()), lambda: None)
    _run(search, how, record)
    return search.render().detach()


def _optimise_pixels(model: LayeredNetwork, init: torch.Tensor, sizes: list[tuple[int, int]],
                     clamp: bool, pyramid: int, how: _Steps, record: _Record) -> torch.Tensor:
    """The pixel path of :func:`optimise`: the normalised image (or its pyramid of ``pyramid``
    levels) is the parameter, clamped to the valid pixels after each step; octaves carry
    what was added up to the next size."""
    base = init.detach().to(model.device)
    low, high = pixel_bounds(model, base)
    image = _resize(base, sizes[0]).clone()
    previous_base = _resize(base, sizes[0])
    for octave, size in enumerate(sizes):
        if octave:  # carry what was added so far up to the larger size
            octave_base = _resize(base, size)
            image = octave_base + _resize(image - previous_base, size)
            previous_base = octave_base
        levels = PixelPyramid(image, pyramid)
        project = (lambda levels=levels: levels.project(low, high)) if clamp else (lambda: None)
        _run(_Search(levels.levels, levels.render, project), how, record)
        image = levels.render().detach()
    return image
