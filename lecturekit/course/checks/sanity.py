"""Checks for homework 2, part E: the cascading randomisation of Adebayo et al. (2018,
"Sanity Checks for Saliency Maps") for the saliency map.

The student's ``fn(model, images, class_index, layers, seed)`` copies the model,
re-initialises ``layers`` one more at a time from the top (``torch.manual_seed(seed + k)``
before ``reset_parameters()`` of every module of ``layers[k]``), recomputes the saliency
maps after each step and returns their rank correlation with the trained network's maps,
shape (len(layers), N). The cases run on the toy AlexNet and on a small network with batch
norm, whose output depends on training mode as EfficientNet's does.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from lecturekit.course.checks.machinery import (Case, CheckFailed, Mistake, Spec, correct, fail,
                                                name_of, run, scenes, toy)
from lecturekit.examples import SEED_OFFSETS
from lecturekit.measure.randomisation import randomisable_blocks, reinitialise
from lecturekit.models import LayeredNetwork, LectureLayers
from lecturekit.models.network import freeze
from lecturekit.similarity import rank_correlation

__all__ = ["cascade_spec", "check_cascading_randomisation"]


def batch_norm_network(toy_model: LayeredNetwork) -> LayeredNetwork:
    """A small network with batch norm, as EfficientNet has: two convolution blocks and a
    linear layer, seeded weights and running statistics far from 0 and 1, so that training
    mode (which normalises with the batch's own statistics) changes what it computes."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED_OFFSETS["check: cascading randomisation"])
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv1=nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8)),
            relu1=nn.ReLU(),
            conv2=nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16)),
            relu2=nn.ReLU(),
            pool=nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1)),
            fc=nn.Linear(16, len(toy_model.classes)))
        for norm in (layers["conv1"][1], layers["conv2"][1]):
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.2, 3.0)
            norm.weight.data.uniform_(0.5, 1.5)
            norm.bias.data.uniform_(-0.2, 0.2)
    network = LayeredNetwork(
        layers, classes=toy_model.classes, preprocess=toy_model.preprocess,
        name="batch-norm network", description="a small network with batch norm",
        dataset="none", architecture="small", min_input_size=8,
        layer_groups=(("conv1", "relu1"), ("conv2", "relu2"), ("pool", "fc")),
        lecture_layers=LectureLayers("conv1", "conv2", "conv1", "conv2"))
    return freeze(network)


def _gradients(case: Case, *, bottom_up: bool = False, train: bool = False,
               independent: bool = False, same_seed: bool = False,
               seed_ignored: bool = False) -> list[torch.Tensor]:
    """dS/dI of the trained network, then after each step of a cascade (right, or with one of
    a student's wrong turns), remembered per case: several mistakes share them."""
    key = ("gradients", bottom_up, train, independent, same_seed, seed_ignored)
    if key in case.extra:
        return case.extra[key]
    model, images, index, layers, seed = case.args
    seed = 0 if seed_ignored else seed

    def gradient(network: LayeredNetwork) -> torch.Tensor:
        x = images.detach().clone().requires_grad_(True)
        scores = network(x)[torch.arange(len(x)), torch.as_tensor(index)]
        return torch.autograd.grad(scores.sum(), x)[0]

    if "trained" not in case.extra:
        case.extra["trained"] = gradient(model)
    found = [case.extra["trained"]]
    randomised = copy.deepcopy(model).train(train)
    for k, layer in enumerate(reversed(layers) if bottom_up else layers):
        if independent:
            randomised = copy.deepcopy(model).train(train)
        reinitialise(randomised.layers[layer], seed if same_seed else seed + k)
        found.append(gradient(randomised))
    case.extra[key] = found
    return found


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def _cascade(case: Case, *, signed: bool = False, pearson: bool = False, previous: bool = False,
             late: bool = False, **steps: bool) -> torch.Tensor:
    """The right answer, or with one knob turned, the wrong one a student writes: ``steps``
    go to :func:`_gradients`; the others choose the maps and what they are compared with."""
    gradients = _gradients(case, **steps)
    maps = gradients if signed else [g.abs().amax(dim=1) for g in gradients]
    compare = _pearson if pearson else rank_correlation
    if late:  # each step's maps taken before its layer was re-initialised
        rows = [compare(m, maps[0]) for m in maps[:-1]]
    elif previous:
        rows = [compare(now, before) for before, now in zip(maps, maps[1:])]
    else:
        rows = [compare(m, maps[0]) for m in maps[1:]]
    return torch.stack(rows).double()


def _cases() -> list[Case]:
    model = toy()
    images, _, _ = scenes(model, 3, offset=SEED_OFFSETS["check: cascading randomisation"])
    with torch.no_grad():
        predicted = model(images).argmax(1)
    small = batch_norm_network(model)
    small_images, _, _ = scenes(model, 3, offset=SEED_OFFSETS["check: cascading randomisation"]
                                + 10, size=48)
    every = list(randomisable_blocks(model))
    return [
        Case((model, images, predicted, ["fc8", "fc7", "fc6", "conv5"], 0),
             "the toy AlexNet, 3 test scenes (class_index a tensor, the predicted classes), "
             "layers fc8, fc7, fc6, conv5, seed 0"),
        Case((model, images[2:], 5, every, 11),
             f"the toy AlexNet, 1 test scene, class_index 5 (an int), all {len(every)} layers "
             f"with weights, seed 11"),
        Case((small, small_images, torch.tensor([1, 4, 6]), ["fc", "conv2", "conv1"], 3),
             "a small network with batch norm (as EfficientNet has), 3 scenes of 48 x 48 "
             "pixels, layers fc, conv2, conv1, seed 3"),
    ]


_EVERY_LAYER = (" Recipe: copy the model once (copy.deepcopy), then for k = 0, 1, ... "
                "torch.manual_seed(seed + k), reset_parameters() of every module of "
                "layers[k] that has one, and compare the new saliency maps with the trained "
                "network's.")


def cascade_spec() -> Spec:
    cases = _cases()
    for case in cases:
        case.want = _cascade(case)

    def turned(**knob: bool) -> Callable[[Case], torch.Tensor]:
        return lambda c: _cascade(c, **knob)

    mistakes = [
        Mistake("bottom up", "you randomised from the bottom up (layers in reverse, the first "
                "layer first). Adebayo et al.'s cascade starts at the top, the logits, and "
                "walks down: row k must have layers[0] ... layers[k] random, the lower layers "
                "still trained." + _EVERY_LAYER, turned(bottom_up=True)),
        Mistake("signed", "you compared the signed gradients dS/dI instead of the saliency maps "
                "(max over the channels of |dS/dI|): the rank correlation asked for is that of "
                "the absolute maps. Signed maps lose their resemblance much sooner, because the "
                "sign of each pixel's push flips with the top layers.", turned(signed=True)),
        Mistake("train mode", "your randomised copy runs in training mode (model.train(), or a "
                "network rebuilt without .eval()): batch norm then normalises with the "
                "statistics of the batch instead of its stored ones (and dropout would drop "
                "units at random), so the maps change for a reason that has nothing to do with "
                "the weights. Keep the copy in eval mode: copy.deepcopy keeps it, and call "
                ".eval() after anything that switches it.", turned(train=True)),
        Mistake("independent", "each of your steps re-initialises only layers[k] and leaves "
                "the layers above it trained: that is the independent randomisation. The "
                "cascade keeps every layer it has randomised random, so step k has "
                "layers[0] ... layers[k] all random." + _EVERY_LAYER, turned(independent=True)),
        Mistake("previous step", "you compared each step's maps with the previous step's maps; "
                "compare every step with the trained network's maps, computed once before the "
                "first re-initialisation.", turned(previous=True)),
        Mistake("pearson", "you took the Pearson correlation of the map values; the sanity "
                "check compares their ranks (Spearman): lk.rank_correlation(maps, trained).",
                turned(pearson=True)),
        Mistake("same seed", "you seeded every layer with the same seed; the homework asks for "
                "torch.manual_seed(seed + k) before re-initialising layers[k].",
                turned(same_seed=True)),
        Mistake("seed ignored", "your function ignores its seed argument (it seeds with 0 + k "
                "whatever seed is): use torch.manual_seed(seed + k).",
                turned(seed_ignored=True)),
        Mistake("one step late", "you computed each step's maps before re-initialising its "
                "layer, so your first row compares the trained network with itself and the "
                "last layer's randomisation is never measured. Re-initialise layers[k] first, "
                "then compute the maps.", turned(late=True)),
    ]
    return Spec(("model", "images", "class_index", "layers", "seed"),
                "one rank correlation per step and image, a tensor of shape (len(layers), N)",
                cases, mistakes, rtol=0.0, atol=2e-3)


_IN_PLACE = ("you re-initialised the model you were given, in place: its trained weights are "
             "gone for every later cell (run the notebook again from the top to get them "
             "back). The test needs the trained network's maps and a randomised network side "
             "by side: copy the model (randomised = copy.deepcopy(model)) and re-initialise "
             "only the copy.")


def check_cascading_randomisation(fn: Callable[[LayeredNetwork, torch.Tensor, Any,
                                                Sequence[str], int], torch.Tensor]) -> None:
    """``fn(model, images, class_index, layers, seed)`` must return the rank correlation of the
    saliency maps after each step of the cascading randomisation with the trained network's
    maps, shape (len(layers), N), without touching ``model``."""
    spec = cascade_spec()
    try:
        run(fn, spec)
    except CheckFailed as failure:
        if failure.mistake == "model changed" and "its weights changed" in str(failure):
            raise fail(_IN_PLACE, "in place") from None
        raise
    correct(f"{name_of(fn)} randomises a copy from the top down and compares the saliency maps "
            f"by rank correlation like the kit, on all {len(spec.cases)} test cases (the toy "
            f"AlexNet with some and with all of its layers, a network with batch norm)")
